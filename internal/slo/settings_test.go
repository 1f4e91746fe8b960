package slo

import (
	"strings"
	"testing"
)

type mapSettings map[string]string

func (m mapSettings) String(name, fallback string) string {
	if v, ok := m[name]; ok {
		return v
	}
	return fallback
}

func TestResolve(t *testing.T) {
	s := mapSettings{
		"slo_window_hours":                                  "12",
		"slo_ingestor_latency_p99_window_hours":             "6",
		"slo_forwarder_latency_p99_window_hours":            "0", // out of range: global wins
		"slo_ingest_success_target":                         "0.99",
		"slo_forward_success_target":                        "1.5", // not a ratio: definition wins
		"slo_alerter_processing_success_burn_rate_warning":  " 2.5 ",
		"slo_alerter_processing_success_burn_rate_critical": "NaN",
		"slo_ingestor_latency_p99_upper_bound_warning":      "0.6",
		"slo_ingestor_latency_p99_upper_bound_critical":     "fast",
	}
	got := map[string]Definition{}
	for _, d := range Definitions() {
		r := resolve(d, s)
		got[r.Name] = r
		if strings.Contains(r.Query, "[5m]") {
			t.Errorf("%s: query still has [5m]: %s", r.Name, r.Query)
		}
	}
	checks := []struct {
		name      string
		got, want any
	}{
		{"ingest latency window", got["ingestor_latency_p99"].WindowHours, 6},
		{"ingest latency query", strings.Count(got["ingestor_latency_p99"].Query, "[6h]"), 1},
		{"forwarder latency window", got["forwarder_latency_p99"].WindowHours, 12},
		{"cache reload query", strings.Count(got["alerter_cache_reload_success"].Query, "[12h]"), 3},
		{"ingest target", got["ingestor_availability"].Target, 0.99},
		{"forward target", got["forwarder_availability"].Target, 0.995},
		{"processing burn warning", got["alerter_processing_success"].BurnWarning, 2.5},
		{"processing burn critical", got["alerter_processing_success"].BurnCritical, 10.0},
		{"latency upper warning", got["ingestor_latency_p99"].UpperWarning, 0.6},
		{"latency upper critical", got["ingestor_latency_p99"].UpperCritical, 1.0},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s = %v, want %v", c.name, c.got, c.want)
		}
	}
}

func TestResolveWithoutSettings(t *testing.T) {
	for _, d := range Definitions() {
		r := resolve(d, nil)
		if r.WindowHours != 24 || !strings.Contains(r.Query, "[24h]") || strings.Contains(r.Query, "[5m]") {
			t.Errorf("%s: window %d, query %s", r.Name, r.WindowHours, r.Query)
		}
		if r.Target != d.Target {
			t.Errorf("%s: target %v, want %v", r.Name, r.Target, d.Target)
		}
	}
}

func TestDefinitions(t *testing.T) {
	defs := Definitions()
	wantNames := []string{"ingestor_availability", "ingestor_latency_p99", "forwarder_availability",
		"forwarder_latency_p99", "alerter_processing_success", "alerter_cache_reload_success"}
	if len(defs) != len(wantNames) {
		t.Fatalf("%d definitions, want %d", len(defs), len(wantNames))
	}
	for i, d := range defs {
		if d.Name != wantNames[i] {
			t.Errorf("definition %d is %s, want %s", i, d.Name, wantNames[i])
		}
		if d.Description == "" || !strings.Contains(d.Query, "[5m]") || d.WindowHours != 24 {
			t.Errorf("%s: incomplete definition %+v", d.Name, d)
		}
	}
	reload := defs[5].Query
	// The reload SLO must be a ratio of rates, not a boolean filter.
	if strings.Contains(reload, "==") || !strings.Contains(reload, "mutt_alerter_cache_reload_latency_seconds_count") {
		t.Errorf("cache reload query is not a success ratio: %s", reload)
	}
}
