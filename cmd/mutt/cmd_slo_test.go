package main

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/mutt-go/mutt/internal/slo/slotest"
)

// healthyPrometheus is a fake Prometheus where every SLO is within target.
func healthyPrometheus(t *testing.T) *slotest.Prometheus {
	t.Helper()
	p := slotest.New(t)
	p.Set("ingestor_availability", "0.9995")
	p.Set("ingestor_latency_p99", "0.2")
	p.Set("forwarder_availability", "0.999")
	p.Set("forwarder_latency_p99", "1.1")
	p.Set("alerter_processing_success", "1")
	p.Set("alerter_cache_reload_success", "0.985") // burn 1.5: breaching
	return p
}

func TestSLOCheckTable(t *testing.T) {
	p := healthyPrometheus(t)
	var out, errOut bytes.Buffer
	if code := run([]string{"slo", "check", "--prometheus-url", p.URL}, &out, &errOut); code != exitOK {
		t.Fatalf("exit %d: %s", code, errOut.String())
	}
	lines := strings.Split(out.String(), "\n")
	if !strings.HasPrefix(lines[0], "SLO") {
		t.Errorf("no header: %q", lines[0])
	}
	for _, want := range []string{
		"ingestor_availability", "ok", "0.9995", "0.9990", "0.50",
		"ingestor_latency_p99", "0.200s", "0.500s",
		"alerter_cache_reload_success", "breaching", "Below target", "24h",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("table lacks %q:\n%s", want, out.String())
		}
	}
}

func TestSLOCheckJSONAndEnvironment(t *testing.T) {
	p := healthyPrometheus(t)
	t.Setenv("PROMETHEUS_URL", p.URL)
	var out, errOut bytes.Buffer
	if code := run([]string{"slo", "check", "--json"}, &out, &errOut); code != exitOK {
		t.Fatalf("exit %d: %s", code, errOut.String())
	}
	var doc struct {
		Timestamp   string                       `json:"timestamp"`
		WindowHours int                          `json:"window_hours"`
		Components  map[string]map[string]any    `json:"components"`
		SLOs        []map[string]json.RawMessage `json:"slos"`
	}
	if err := json.Unmarshal(out.Bytes(), &doc); err != nil {
		t.Fatalf("output is not JSON: %v\n%s", err, out.String())
	}
	if doc.Timestamp == "" || doc.WindowHours != 24 || len(doc.SLOs) != 6 {
		t.Errorf("report = %s", out.String())
	}
	if doc.Components["ingestor"]["state"] != "ok" || doc.Components["forwarder"]["state"] != "ok" {
		t.Errorf("components = %v", doc.Components)
	}
	if p.Requests("ingestor_availability") != 1 {
		t.Error("PROMETHEUS_URL was not used")
	}
}

func TestSLOCheckCriticalExitsOne(t *testing.T) {
	p := healthyPrometheus(t)
	p.Set("forwarder_latency_p99", "6")     // above the critical bound
	p.Set("alerter_processing_success", "") // no data
	var out, errOut bytes.Buffer
	code := run([]string{"slo", "check", "--prometheus-url", p.URL}, &out, &errOut)
	if code != exitFailure {
		t.Fatalf("exit %d, want %d", code, exitFailure)
	}
	for _, want := range []string{"2 of 6 SLOs critical", "forwarder_latency_p99", "alerter_processing_success"} {
		if !strings.Contains(errOut.String(), want) {
			t.Errorf("stderr lacks %q: %s", want, errOut.String())
		}
	}
	if !strings.Contains(out.String(), "No data from Prometheus") {
		t.Errorf("table does not show the missing data:\n%s", out.String())
	}
}

func TestSLOCheckBadURLIsUsageError(t *testing.T) {
	var out, errOut bytes.Buffer
	if code := run([]string{"slo", "check", "--prometheus-url", "localhost:9090"}, &out, &errOut); code != exitUsage {
		t.Errorf("exit %d, want %d: %s", code, exitUsage, errOut.String())
	}
	if !strings.Contains(errOut.String(), "--prometheus-url") {
		t.Errorf("error does not say what to do: %s", errOut.String())
	}
}
