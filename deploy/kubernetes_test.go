package deploy_test

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"

	"github.com/mutt-go/mutt/internal/config"
)

// manifests holds every object of deploy/kubernetes, decoded strictly into
// its API type.
type manifests struct {
	deployments map[string]*appsv1.Deployment
	pdbs        []*policyv1.PodDisruptionBudget
	services    map[string]*corev1.Service
	configMaps  map[string]*corev1.ConfigMap
	secrets     map[string]*corev1.Secret
	cronJobs    map[string]*batchv1.CronJob
	namespaces  []string
}

func loadManifests(t *testing.T) manifests {
	t.Helper()
	files, err := filepath.Glob(filepath.Join("kubernetes", "*.yaml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no manifests: %v", err)
	}
	m := manifests{
		deployments: map[string]*appsv1.Deployment{}, services: map[string]*corev1.Service{},
		configMaps: map[string]*corev1.ConfigMap{}, secrets: map[string]*corev1.Secret{},
		cronJobs: map[string]*batchv1.CronJob{},
	}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for i, doc := range bytes.Split(data, []byte("\n---\n")) {
			var tm metav1.TypeMeta
			if err := yaml.Unmarshal(doc, &tm); err != nil {
				t.Fatalf("%s document %d: %v", f, i+1, err)
			}
			strict := func(into any) {
				if err := yaml.UnmarshalStrict(doc, into); err != nil {
					t.Fatalf("%s document %d (%s): %v", f, i+1, tm.Kind, err)
				}
			}
			switch tm.APIVersion + " " + tm.Kind {
			case "apps/v1 Deployment":
				var d appsv1.Deployment
				strict(&d)
				m.deployments[d.Name] = &d
			case "policy/v1 PodDisruptionBudget":
				var p policyv1.PodDisruptionBudget
				strict(&p)
				m.pdbs = append(m.pdbs, &p)
			case "v1 Service":
				var s corev1.Service
				strict(&s)
				m.services[s.Name] = &s
			case "v1 ConfigMap":
				var c corev1.ConfigMap
				strict(&c)
				m.configMaps[c.Name] = &c
			case "v1 Secret":
				var s corev1.Secret
				strict(&s)
				m.secrets[s.Name] = &s
			case "batch/v1 CronJob":
				var c batchv1.CronJob
				strict(&c)
				m.cronJobs[c.Name] = &c
			case "v1 Namespace":
				var n corev1.Namespace
				strict(&n)
				m.namespaces = append(m.namespaces, n.Name)
			default:
				t.Fatalf("%s document %d: unexpected %s %s", f, i+1, tm.APIVersion, tm.Kind)
			}
		}
	}
	return m
}

// roleSpec is what each role's Deployment must say: the canonical ports.
type roleSpec struct {
	args        string
	healthPort  int32
	metricsPort int32
}

var roleSpecs = map[string]roleSpec{
	"mutt-ingestor":       {"ingestor", 8080, 8080},
	"mutt-alerter":        {"alerter", 8082, 8081},
	"mutt-moog-forwarder": {"forwarder", 8084, 8083},
	"mutt-remediation":    {"remediation", 8087, 8086},
	"mutt-webui":          {"webui", 8090, 8090},
}

func TestKubernetesManifests(t *testing.T) {
	m := loadManifests(t)
	if !slices.Contains(m.namespaces, "mutt") {
		t.Error("no mutt namespace")
	}
	cm, ok := m.configMaps["mutt-config"]
	if !ok {
		t.Fatal("no mutt-config ConfigMap")
	}
	secret, ok := m.secrets["mutt-secrets"]
	if !ok {
		t.Fatal("no mutt-secrets Secret")
	}
	// The ConfigMap is a valid MUTT configuration for the real loader.
	env := map[string]string{}
	for k, v := range cm.Data {
		env[k] = v
	}
	cfg, err := config.Load("", func(k string) (string, bool) { v, ok := env[k]; return v, ok })
	if err != nil {
		t.Fatalf("mutt-config does not load: %v", err)
	}
	cfg.Finish()
	if err := cfg.Validate(); err != nil {
		t.Fatalf("mutt-config does not validate: %v", err)
	}
	for k := range cm.Data {
		if strings.Contains(k, "PASS") || strings.HasSuffix(k, "_KEY") {
			t.Errorf("mutt-config holds %s, which belongs in mutt-secrets", k)
		}
	}

	for name, want := range roleSpecs {
		t.Run(name, func(t *testing.T) {
			d, ok := m.deployments[name]
			if !ok {
				t.Fatal("no Deployment")
			}
			if d.Namespace != "mutt" {
				t.Errorf("namespace %q", d.Namespace)
			}
			sel, err := metav1.LabelSelectorAsSelector(d.Spec.Selector)
			if err != nil {
				t.Fatal(err)
			}
			if !sel.Matches(labelSet(d.Spec.Template.Labels)) {
				t.Error("selector does not match the pod template")
			}
			if name == "mutt-remediation" {
				if d.Spec.Replicas == nil || *d.Spec.Replicas != 1 || d.Spec.Strategy.Type != appsv1.RecreateDeploymentStrategyType {
					t.Error("remediation must be one replica with strategy Recreate")
				}
			}
			pod := d.Spec.Template.Spec
			if len(pod.Containers) != 1 {
				t.Fatalf("%d containers", len(pod.Containers))
			}
			c := pod.Containers[0]
			if !slices.Equal(c.Args, []string{want.args}) {
				t.Errorf("args %q, want [%s]", c.Args, want.args)
			}
			ports := map[string]int32{}
			for _, p := range c.Ports {
				ports[p.Name] = p.ContainerPort
			}
			probePort := func(what string, p *corev1.Probe) int32 {
				if p == nil {
					t.Errorf("no %s probe", what)
					return 0
				}
				var port string
				switch {
				case p.HTTPGet != nil:
					if p.HTTPGet.Path != "/health" {
						t.Errorf("%s probe path %q", what, p.HTTPGet.Path)
					}
					port = p.HTTPGet.Port.String()
				case p.TCPSocket != nil:
					port = p.TCPSocket.Port.String()
				default:
					t.Errorf("%s probe is neither HTTP nor TCP", what)
				}
				return ports[port]
			}
			if got := probePort("readiness", c.ReadinessProbe); got != want.healthPort {
				t.Errorf("readiness probe on %d, want %d", got, want.healthPort)
			}
			if got := probePort("liveness", c.LivenessProbe); got != want.healthPort {
				t.Errorf("liveness probe on %d, want %d", got, want.healthPort)
			}
			if d.Spec.Template.Annotations["prometheus.io/port"] != itoa(want.metricsPort) {
				t.Errorf("scrape port %q, want %d", d.Spec.Template.Annotations["prometheus.io/port"], want.metricsPort)
			}
			if c.Resources.Requests.Cpu().IsZero() || c.Resources.Limits.Memory().IsZero() ||
				c.Resources.Requests.Cpu().Cmp(*c.Resources.Limits.Cpu()) > 0 {
				t.Errorf("resources %v", c.Resources)
			}
			sc := c.SecurityContext
			if sc == nil || sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem ||
				sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation ||
				sc.Capabilities == nil || !slices.Contains(sc.Capabilities.Drop, "ALL") {
				t.Errorf("container security context %+v", sc)
			}
			if pod.SecurityContext == nil || pod.SecurityContext.RunAsNonRoot == nil || !*pod.SecurityContext.RunAsNonRoot {
				t.Error("pod may run as root")
			}
			// Every secret file named by a *_FILE variable is a key of mutt-secrets.
			for _, e := range c.Env {
				if rest, ok := strings.CutSuffix(e.Name, "_FILE"); ok {
					key := filepath.Base(e.Value)
					if key != rest {
						t.Errorf("%s names %s", e.Name, e.Value)
					}
					if _, ok := secret.StringData[key]; !ok {
						t.Errorf("%s: mutt-secrets has no key %s", e.Name, key)
					}
				}
			}
			var covered bool
			for _, p := range m.pdbs {
				s, err := metav1.LabelSelectorAsSelector(p.Spec.Selector)
				if err == nil && p.Namespace == d.Namespace && s.Matches(labelSet(d.Spec.Template.Labels)) {
					covered = true
				}
			}
			if !covered {
				t.Error("no PodDisruptionBudget selects its pods")
			}
		})
	}
	cj, ok := m.cronJobs["retention-cleanup"]
	if !ok {
		t.Fatal("no retention-cleanup CronJob")
	}
	if cj.Spec.ConcurrencyPolicy != batchv1.ForbidConcurrent ||
		!slices.Equal(cj.Spec.JobTemplate.Spec.Template.Spec.Containers[0].Args, []string{"retention", "run"}) {
		t.Errorf("retention-cleanup: %+v", cj.Spec)
	}
	for _, e := range cj.Spec.JobTemplate.Spec.Template.Spec.Containers[0].Env {
		if key, ok := strings.CutSuffix(e.Name, "_FILE"); ok && strings.HasPrefix(e.Value, "/etc/mutt/secrets/") {
			if _, ok := secret.StringData[key]; !ok {
				t.Errorf("retention-cleanup: mutt-secrets has no key %s", key)
			}
		}
	}
	for name, s := range m.services {
		d, ok := m.deployments[name]
		if !ok {
			t.Errorf("Service %s selects no Deployment of its name", name)
			continue
		}
		if sel := s.Spec.Selector; !metav1LabelsMatch(sel, d.Spec.Template.Labels) {
			t.Errorf("Service %s selector %v does not match its pods", name, sel)
		}
	}
}

type labelSet map[string]string

func (l labelSet) Has(k string) bool              { _, ok := l[k]; return ok }
func (l labelSet) Get(k string) string            { return l[k] }
func (l labelSet) Lookup(k string) (string, bool) { v, ok := l[k]; return v, ok }

func metav1LabelsMatch(sel, labels map[string]string) bool {
	if len(sel) == 0 {
		return false
	}
	for k, v := range sel {
		if labels[k] != v {
			return false
		}
	}
	return true
}

func itoa(n int32) string {
	b, _ := yaml.Marshal(n)
	return strings.TrimSpace(string(b))
}
