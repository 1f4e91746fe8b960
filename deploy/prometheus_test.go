package deploy_test

import (
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mutt-go/mutt/internal/itest"
	"github.com/mutt-go/mutt/internal/retention"
)

// promtool runs promtool with args in deploy/prometheus.
func promtool(t *testing.T, args ...string) {
	t.Helper()
	cmd := exec.Command(itest.Tool(t, "promtool", "prometheus"), args...)
	cmd.Dir = "prometheus"
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("promtool %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

func TestServiceRulesCheckAndUnitTests(t *testing.T) {
	promtool(t, "check", "rules", "mutt-rules.yml")
	promtool(t, "test", "rules", "mutt-rules_test.yml")
}

// TestEveryAlertHasAUnitTest keeps mutt-rules_test.yml in step with the
// rules: an alert added without a test fails here.
func TestEveryAlertHasAUnitTest(t *testing.T) {
	rules := readFile(t, filepath.Join("prometheus", "mutt-rules.yml"))
	tests := readFile(t, filepath.Join("prometheus", "mutt-rules_test.yml"))
	for _, m := range regexp.MustCompile(`(?m)^\s+- alert: (\w+)$`).FindAllStringSubmatch(rules, -1) {
		if !strings.Contains(tests, "alertname: "+m[1]+"\n") {
			t.Errorf("alert %s has no unit test in mutt-rules_test.yml", m[1])
		}
	}
}

// metricName finds the metrics MUTT's roles register: the Name of every
// prometheus.*Opts literal in the non-test sources under internal/.
var metricName = regexp.MustCompile(`Name:\s*"(mutt_[a-z0-9_]+)"`)

// exportedMetrics lists the metric names the roles register.
func exportedMetrics(t *testing.T) []string {
	t.Helper()
	var names []string
	err := filepath.WalkDir(filepath.Join("..", "internal"), func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") ||
			strings.Contains(path, string(filepath.Separator)+"bench"+string(filepath.Separator)) {
			return err
		}
		src := readFile(t, path)
		if !strings.Contains(src, "github.com/prometheus/client_golang/prometheus") {
			return nil
		}
		for _, m := range metricName.FindAllStringSubmatch(src, -1) {
			if !slices.Contains(names, m[1]) {
				names = append(names, m[1])
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(names)
	return names
}

// TestEveryExportedMetricHasARule fails when a role exports a metric no
// alert or recording rule reads: a metric nobody watches is either missing
// its rule or should not exist.
func TestEveryExportedMetricHasARule(t *testing.T) {
	rules := readFile(t, filepath.Join("prometheus", "mutt-rules.yml")) +
		readFile(t, filepath.Join("prometheus", "mutt-backup-rules.yml"))
	names := exportedMetrics(t)
	if len(names) < 40 {
		t.Fatalf("found only %d metric names under internal/: %v", len(names), names)
	}
	for _, n := range names {
		if !regexp.MustCompile(`\b` + n + `(_bucket|_sum|_count)?\b`).MatchString(rules) {
			t.Errorf("metric %s is read by no rule in deploy/prometheus", n)
		}
	}
	// The names the original's rules used but never exported are exported now.
	for _, n := range []string{"mutt_moog_circuit_open", "mutt_moog_circuit_trips_total",
		"mutt_moog_circuit_blocked_total", "mutt_alerter_cache_reload_total"} {
		if !slices.Contains(names, n) {
			t.Errorf("%s is not exported", n)
		}
	}
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestEveryRetentionMetricHasARule does for the retention job's textfile
// what TestEveryExportedMetricHasARule does for the roles.
func TestEveryRetentionMetricHasARule(t *testing.T) {
	path := filepath.Join(t.TempDir(), "mutt_retention.prom")
	now := time.Now()
	err := retention.WriteMetrics(path, retention.Report{
		Result: retention.Result{At: now, Actions: []retention.Action{{Kind: "trim_dlq", Rows: 1, Done: true}}},
		Policy: retention.DefaultPolicy(), Duration: time.Second,
		Tables: []retention.TableStat{{Table: "event_audit_log", Bytes: 1, Oldest: now}},
	})
	if err != nil {
		t.Fatal(err)
	}
	rules := readFile(t, filepath.Join("prometheus", "mutt-rules.yml"))
	names := regexp.MustCompile(`(?m)^# TYPE (\S+) `).FindAllStringSubmatch(readFile(t, path), -1)
	if len(names) < 10 {
		t.Fatalf("only %d metrics in the retention file", len(names))
	}
	for _, m := range names {
		if !regexp.MustCompile(`\b` + m[1] + `\b`).MatchString(rules) {
			t.Errorf("retention metric %s is read by no rule", m[1])
		}
	}
}
