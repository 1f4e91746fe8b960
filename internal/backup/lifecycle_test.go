package backup

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/minio/minio-go/v7/pkg/lifecycle"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/")

func lifecycleOpts(t *testing.T, target string, byPrefix bool) LifecycleOptions {
	t.Helper()
	tg, err := ParseRemoteTarget(target)
	if err != nil {
		t.Fatal(err)
	}
	return LifecycleOptions{Target: tg, Components: DefaultRemoteLifecycle(), ByPrefix: byPrefix, Hosts: []string{"mutt-prod-01"}}
}

// seedLifecycle is the seed's configuration: rules on "postgres/",
// "redis/" and "config/", which its own uploads under "<hostname>/…"
// never matched.
func seedLifecycle() *lifecycle.Configuration {
	return &lifecycle.Configuration{Rules: []lifecycle.Rule{
		{ID: "MoveToGlacierAfter90Days", Status: "Enabled", RuleFilter: lifecycle.Filter{Prefix: "postgres/"},
			Transition: lifecycle.Transition{Days: 90, StorageClass: "GLACIER"}, Expiration: lifecycle.Expiration{Days: 365}},
		{ID: "DeleteRedisAfter30Days", Status: "Enabled", RuleFilter: lifecycle.Filter{Prefix: "redis/"}, Expiration: lifecycle.Expiration{Days: 30}},
		{ID: "RetainConfigFor365Days", Status: "Enabled", RuleFilter: lifecycle.Filter{Prefix: "config/"},
			Transition: lifecycle.Transition{Days: 90, StorageClass: "STANDARD_IA"}, Expiration: lifecycle.Expiration{Days: 365}},
	}}
}

func TestRenderLifecycleGolden(t *testing.T) {
	tests := []struct {
		name     string
		target   string
		byPrefix bool
	}{
		{name: "lifecycle_tags", target: "s3://mutt-backups-prod/"},
		{name: "lifecycle_tags_prefix", target: "s3://shared-bucket/mutt"},
		{name: "lifecycle_by_prefix", target: "s3://mutt-backups-prod/", byPrefix: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := RenderLifecycle(lifecycleOpts(t, tt.target, tt.byPrefix))
			if err != nil {
				t.Fatal(err)
			}
			got, err := json.MarshalIndent(cfg, "", "  ")
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, '\n')
			golden := filepath.Join("testdata", tt.name+".json")
			if *update {
				if err := os.MkdirAll("testdata", 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(golden, got, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run with -update to create it)", err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("rendered lifecycle differs from %s (run with -update if intended):\n%s", golden, got)
			}
			// Every rule that expires objects spares pinned sets.
			for _, r := range cfg.Rules {
				if r.Expiration.IsNull() {
					continue
				}
				pinnedSafe := false
				for _, tag := range r.RuleFilter.And.Tags {
					if tag.Key == TagPinned && tag.Value == "false" {
						pinnedSafe = true
					}
				}
				if !pinnedSafe {
					t.Errorf("rule %s expires objects without requiring %s=false", r.ID, TagPinned)
				}
			}
		})
	}
}

func TestRenderLifecycleRejects(t *testing.T) {
	base := func() LifecycleOptions { return lifecycleOpts(t, "s3://b/p", false) }
	tests := []struct {
		name   string
		mutate func(*LifecycleOptions)
		want   string
	}{
		{name: "file target", mutate: func(o *LifecycleOptions) { o.Target = RemoteTarget{Scheme: "file", Prefix: "/mnt"} }, want: "s3://"},
		{name: "transition after expiry", mutate: func(o *LifecycleOptions) {
			o.Components[ComponentPostgres] = ComponentLifecycle{ExpireDays: 60, TransitionDays: 90, TransitionClass: "GLACIER"}
		}, want: "postgres: transition to GLACIER after 90 days must come before expiry after 60 days"},
		{name: "IA too early", mutate: func(o *LifecycleOptions) {
			o.Components[ComponentConfig] = ComponentLifecycle{ExpireDays: 365, TransitionDays: 10, TransitionClass: "STANDARD_IA"}
		}, want: "at least 30 days"},
		{name: "zero retention", mutate: func(o *LifecycleOptions) { o.Components[ComponentRedis] = ComponentLifecycle{} }, want: "redis: remote retention"},
		{name: "by prefix without hosts", mutate: func(o *LifecycleOptions) { o.ByPrefix, o.Hosts = true, nil }, want: "at least one host"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := base()
			tt.mutate(&o)
			if _, err := RenderLifecycle(o); err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("RenderLifecycle: %v, want an error containing %q", err, tt.want)
			}
		})
	}
}

func TestDiffLifecycle(t *testing.T) {
	o := lifecycleOpts(t, "s3://mutt-backups-prod/", false)
	rendered, err := RenderLifecycle(o)
	if err != nil {
		t.Fatal(err)
	}
	clone := func() *lifecycle.Configuration {
		c := *rendered
		c.Rules = append([]lifecycle.Rule(nil), rendered.Rules...)
		return &c
	}
	tests := []struct {
		name   string
		bucket func() *lifecycle.Configuration
		want   []string // substrings, one per difference
	}{
		{name: "identical", bucket: clone},
		{name: "identical plus seed rules that cannot match", bucket: func() *lifecycle.Configuration {
			return MergeLifecycle(seedLifecycle(), rendered, o)
		}},
		{name: "empty bucket", bucket: lifecycle.NewConfiguration, want: []string{
			"rule mutt/abort-incomplete-uploads is missing", "rule mutt/config is missing", "rule mutt/logs is missing",
			"rule mutt/manifests is missing", "rule mutt/pgconfig is missing", "rule mutt/postgres is missing",
			"rule mutt/prometheus is missing", "rule mutt/redis is missing", "rule mutt/sqlite is missing", "rule mutt/vault is missing",
		}},
		{name: "changed expiry and lost pinned guard", bucket: func() *lifecycle.Configuration {
			c := clone()
			for i := range c.Rules {
				if c.Rules[i].ID == "mutt/redis" {
					c.Rules[i].Expiration.Days = 7
					c.Rules[i].RuleFilter.And.Tags = c.Rules[i].RuleFilter.And.Tags[:1]
				}
			}
			return c
		}, want: []string{`rule mutt/redis: expiration is "7 days" in the bucket, "30 days" rendered`, `rule mutt/redis: filter tags is "mutt-component=redis" in the bucket`}},
		{name: "stale own rule and overlapping foreign rule", bucket: func() *lifecycle.Configuration {
			c := clone()
			c.Rules = append(c.Rules,
				lifecycle.Rule{ID: "mutt/old-component", Status: "Enabled", Expiration: lifecycle.Expiration{Days: 1}},
				lifecycle.Rule{ID: "cleanup-everything", Status: "Enabled", Expiration: lifecycle.Expiration{Days: 3}},
			)
			return c
		}, want: []string{`foreign rule "cleanup-everything"`, "rule mutt/old-component is in the bucket but not rendered"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			diffs := DiffLifecycle(rendered, tt.bucket(), o)
			if len(diffs) != len(tt.want) {
				t.Fatalf("diffs = %q, want %d", diffs, len(tt.want))
			}
			for i, w := range tt.want {
				if !strings.Contains(diffs[i], w) {
					t.Errorf("diff %d = %q, want it to contain %q", i, diffs[i], w)
				}
			}
		})
	}
}

// TestLifecycleApplyCheckRoundTrip sets the merged configuration on a bucket
// over the S3 protocol, reads it back and finds no difference; the seed's
// foreign rules are kept.
func TestLifecycleApplyCheckRoundTrip(t *testing.T) {
	for _, byPrefix := range []bool{false, true} {
		t.Run(map[bool]string{false: "tags", true: "by-prefix"}[byPrefix], func(t *testing.T) {
			ctx := t.Context()
			f := newFakeS3(t)
			st := f.remote(t, "", "mutt-prod-01")
			o := lifecycleOpts(t, st.Target(), byPrefix)
			rendered, err := RenderLifecycle(o)
			if err != nil {
				t.Fatal(err)
			}
			empty, err := st.Lifecycle(ctx)
			if err != nil {
				t.Fatalf("reading a bucket without lifecycle: %v", err)
			}
			if len(DiffLifecycle(rendered, empty, o)) != len(rendered.Rules) {
				t.Errorf("check of an empty bucket: %q", DiffLifecycle(rendered, empty, o))
			}
			if err := st.SetLifecycle(ctx, seedLifecycle()); err != nil {
				t.Fatal(err)
			}
			current, err := st.Lifecycle(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if err := st.SetLifecycle(ctx, MergeLifecycle(current, rendered, o)); err != nil {
				t.Fatal(err)
			}
			back, err := st.Lifecycle(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if diffs := DiffLifecycle(rendered, back, o); len(diffs) != 0 {
				t.Errorf("check after apply: %q", diffs)
			}
			if len(back.Rules) != len(rendered.Rules)+3 || back.Rules[0].ID != "MoveToGlacierAfter90Days" {
				t.Errorf("bucket rules after apply: %d, want the 3 seed rules kept plus %d", len(back.Rules), len(rendered.Rules))
			}
			f.mu.Lock()
			sent := string(f.lifecycle[testBucket])
			f.mu.Unlock()
			if !strings.Contains(sent, "<Key>mutt-pinned</Key><Value>false</Value>") {
				t.Errorf("configuration sent to S3 has no pinned guard:\n%s", sent)
			}
		})
	}
}
