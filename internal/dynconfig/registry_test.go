package dynconfig

import (
	"errors"
	"flag"
	"os"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite docs/operations/dynamic-config.md from the registry")

func TestValidateEveryKind(t *testing.T) {
	tests := []struct {
		name, key, value, wantErr string
	}{
		{"int ok", "unhandled_threshold", "50", ""},
		{"int spaces ok", "unhandled_threshold", " 50 ", ""},
		{"int below min", "max_ingest_queue_size", "10", "from 1000"},
		{"int above max", "ingest_rate_window", "86401", "from 1 to 86400"},
		{"int not int", "cache_reload_interval", "soon", "integer"},
		{"int float refused", "cache_reload_interval", "1.5", "integer"},
		{"int zero allowed", "moog_rate_limit", "0", ""},
		{"float ok", "slo_ingestor_availability_burn_rate_warning", "2.5", ""},
		{"float integer form ok", "slo_ingestor_availability_burn_rate_critical", "12", ""},
		{"float exponent ok", "slo_forwarder_latency_p99_upper_bound_critical", "5e0", ""},
		{"float zero refused", "slo_ingestor_availability_burn_rate_warning", "0", "greater than 0"},
		{"float negative refused", "slo_ingestor_latency_p99_upper_bound_warning", "-1", "greater than 0"},
		{"float NaN refused", "slo_ingestor_availability_burn_rate_warning", "NaN", "number"},
		{"float Inf refused", "slo_ingestor_availability_burn_rate_warning", "Inf", "number"},
		{"float text refused", "slo_ingestor_availability_burn_rate_warning", "high", "number"},
		{"target ok", "slo_ingest_success_target", "0.995", ""},
		{"target 1 refused", "slo_ingest_success_target", "1", "less than 1"},
		{"target 0 refused", "slo_forward_success_target", "0", "greater than 0"},
		{"window hours int", "slo_alerter_processing_success_window_hours", "48", ""},
		{"window hours zero", "slo_window_hours", "0", "from 1"},
		{"bool true", "retention_enforcement_enabled", "true", ""},
		{"bool FALSE", "retention_enforcement_enabled", "FALSE", ""},
		{"bool True", "remediation_enabled", "True", ""},
		{"bool yes refused", "retention_enforcement_enabled", "yes", "true or false"},
		{"bool 1 refused", "retention_enforcement_enabled", "1", "true or false"},
		{"enum ok", "alerter_shed_mode", "dlq", ""},
		{"enum case matters", "alerter_shed_mode", "DLQ", "one of"},
		{"retention days", "event_retention_days", "0", "from 1"},
		{"unknown", "no_such_key", "1", "unknown"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := Validate(tt.key, tt.value)
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("Validate(%s, %q) = %v, want nil", tt.key, tt.value, err)
				}
				return
			}
			var ve *ValueError
			if !errors.As(err, &ve) || ve.Key != tt.key || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("Validate(%s, %q) = %v, want a ValueError with %q", tt.key, tt.value, err, tt.wantErr)
			}
		})
	}
}

func TestStringKind(t *testing.T) {
	k := Key{Name: "banner", Kind: String}
	if err := k.Check("anything at all"); err != nil {
		t.Errorf("string key refused text: %v", err)
	}
	if err := (Key{Name: "x", Kind: "color"}).Check("red"); err == nil {
		t.Error("a key of an unknown kind accepted a value")
	}
}

func TestValidateWithCrossKeyRules(t *testing.T) {
	const warn, crit = "slo_ingestor_availability_burn_rate_warning", "slo_ingestor_availability_burn_rate_critical"
	stored := map[string]string{}
	current := func(n string) (string, bool) { v, ok := stored[n]; return v, ok }
	tests := []struct {
		name, key, value string
		stored           map[string]string
		wantErr          string
	}{
		{"warning under default critical", warn, "9", nil, ""},
		{"warning equal to critical", warn, "10", nil, ""},
		{"warning over default critical", warn, "11", nil, "must not exceed " + crit + " (10)"},
		{"warning over stored critical", warn, "4", map[string]string{crit: "3"}, "must not exceed"},
		{"warning under raised critical", warn, "15", map[string]string{crit: "20"}, ""},
		{"critical under default warning", crit, "4", nil, "must not be below " + warn + " (5)"},
		{"critical under stored warning", crit, "6", map[string]string{warn: "7"}, "must not be below"},
		{"critical ok", crit, "6", map[string]string{warn: "2"}, ""},
		{"latency bounds", "slo_forwarder_latency_p99_upper_bound_warning", "6", nil, "must not exceed"},
		{"kind still checked", warn, "x", nil, "number"},
		{"no rule for others", "unhandled_threshold", "5", nil, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clear(stored)
			for k, v := range tt.stored {
				stored[k] = v
			}
			err := ValidateWith(tt.key, tt.value, current)
			if tt.wantErr == "" && err != nil || tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)) {
				t.Errorf("ValidateWith(%s, %s) = %v, want %q", tt.key, tt.value, err, tt.wantErr)
			}
		})
	}
	if err := ValidateWith(warn, "11", nil); err == nil {
		t.Error("nil current must fall back to defaults")
	}
}

// TestRegistry checks the declarations themselves: unique names, every
// default valid and consistent with the cross-key rules, the §7.3 keys all
// present.
func TestRegistry(t *testing.T) {
	seen := map[string]bool{}
	for _, k := range Keys() {
		if seen[k.Name] {
			t.Errorf("%s declared twice", k.Name)
		}
		seen[k.Name] = true
		if k.Name == "updates" || strings.Contains(k.Name, ":") {
			t.Errorf("%s: invalid name", k.Name)
		}
		if k.Doc == "" || len(k.Roles) == 0 {
			t.Errorf("%s: needs a doc and a role", k.Name)
		}
		if err := ValidateWith(k.Name, k.Default, nil); err != nil {
			t.Errorf("default of %s: %v", k.Name, err)
		}
		if k.AtMost != "" {
			if _, ok := Lookup(k.AtMost); !ok {
				t.Errorf("%s: AtMost names unknown key %s", k.Name, k.AtMost)
			}
		}
	}
	want := []string{"max_ingest_queue_size", "alerter_shed_mode", "max_poison_retries", "slo_window_hours",
		"slo_ingest_success_target", "slo_forward_success_target", "event_retention_days",
		"event_archive_retention_years", "config_audit_retention_days", "retention_enforcement_enabled",
		"remediation_enabled", "slo_burn_rate_warning", "slo_burn_rate_critical"}
	for _, slo := range SLONames() {
		p := "slo_" + slo + "_"
		want = append(want, p+"window_hours")
		if strings.HasSuffix(slo, "latency_p99") {
			want = append(want, p+"upper_bound_warning", p+"upper_bound_critical")
		} else {
			want = append(want, p+"burn_rate_warning", p+"burn_rate_critical")
		}
	}
	for _, n := range want {
		if !seen[n] {
			t.Errorf("registry lacks %s", n)
		}
	}
	reserved := 0
	for _, k := range Keys() {
		if k.Reserved {
			reserved++
		}
	}
	if reserved != 3 {
		t.Errorf("%d reserved keys, want 3", reserved)
	}
	if k, _ := Lookup("moog_rate_limit"); k.Default != "50" {
		t.Errorf("moog_rate_limit default %q, want the forwarder's 50", k.Default)
	}
}

const (
	docsPath    = "../../docs/operations/dynamic-config.md"
	beginMarker = "<!-- BEGIN GENERATED: dynconfig registry -->\n"
	endMarker   = "<!-- END GENERATED: dynconfig registry -->"
)

// TestDocs fails when the committed table differs from the registry.
// Regenerate with: go test ./internal/dynconfig -run TestDocs -update
func TestDocs(t *testing.T) {
	raw, err := os.ReadFile(docsPath)
	if err != nil {
		t.Fatal(err)
	}
	doc := string(raw)
	head, rest, ok1 := strings.Cut(doc, beginMarker)
	old, tail, ok2 := strings.Cut(rest, endMarker)
	if !ok1 || !ok2 {
		t.Fatalf("%s lacks the generated-table markers", docsPath)
	}
	want := MarkdownTable()
	if old == want {
		return
	}
	if *update {
		if err := os.WriteFile(docsPath, []byte(head+beginMarker+want+endMarker+tail), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	t.Errorf("%s is out of date with the registry; run: go test ./internal/dynconfig -run TestDocs -update", docsPath)
}
