package slo_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/mutt-go/mutt/internal/slo"
	"github.com/mutt-go/mutt/internal/slo/slotest"
)

var testNow = time.Date(2025, 11, 10, 10, 0, 0, 123, time.UTC)

type mapSettings map[string]string

func (m mapSettings) String(name, fallback string) string {
	if v, ok := m[name]; ok {
		return v
	}
	return fallback
}

// healthy sets every SLO of p to a value within target.
func healthy(p *slotest.Prometheus) {
	p.Set("ingestor_availability", "0.9995")
	p.Set("ingestor_latency_p99", "0.2")
	p.Set("forwarder_availability", "0.999")
	p.Set("forwarder_latency_p99", "1.1")
	p.Set("alerter_processing_success", "1")
	p.Set("alerter_cache_reload_success", "1")
}

func evaluate(t *testing.T, e *slo.Evaluator) slo.Report {
	t.Helper()
	r, err := e.Report(t.Context(), testNow)
	if err != nil {
		t.Fatalf("Report: %v", err)
	}
	return r
}

func byName(r slo.Report) map[string]slo.Result {
	m := map[string]slo.Result{}
	for _, s := range r.SLOs {
		m[s.Name] = s
	}
	return m
}

func TestReportStatuses(t *testing.T) {
	p := slotest.New(t)
	p.Set("ingestor_availability", "0.9995")      // ok
	p.Set("ingestor_latency_p99", "0.75")         // warning, exactly at the bound
	p.Set("forwarder_availability", "0.975")      // burn exactly 5: warning
	p.Set("forwarder_latency_p99", "2.5")         // breaching
	p.Set("alerter_processing_success", "NaN")    // no traffic: no data
	p.Set("alerter_cache_reload_success", "0.90") // burn exactly 10: critical
	e := slo.NewEvaluator(p.URL, nil, nil)
	e.RetryWait = 10 * time.Millisecond
	r := evaluate(t, e)

	want := map[string]slo.Status{
		"ingestor_availability":        slo.StatusOK,
		"ingestor_latency_p99":         slo.StatusWarning,
		"forwarder_availability":       slo.StatusWarning,
		"forwarder_latency_p99":        slo.StatusBreaching,
		"alerter_processing_success":   slo.StatusCritical,
		"alerter_cache_reload_success": slo.StatusCritical,
	}
	got := byName(r)
	if len(r.SLOs) != 6 || len(got) != 6 {
		t.Fatalf("%d results, want 6", len(r.SLOs))
	}
	for name, status := range want {
		if got[name].Status != status {
			t.Errorf("%s: %s (%s), want %s", name, got[name].Status, got[name].Message, status)
		}
	}
	if r.SLOs[0].Name != "ingestor_availability" || r.SLOs[5].Name != "alerter_cache_reload_success" {
		t.Errorf("results out of definition order: %s … %s", r.SLOs[0].Name, r.SLOs[5].Name)
	}
	if !r.Timestamp.Equal(time.Date(2025, 11, 10, 10, 0, 0, 0, time.UTC)) || r.WindowHours != 24 {
		t.Errorf("timestamp %v window %d", r.Timestamp, r.WindowHours)
	}
	ing, fwd := r.Components.Ingestor, r.Components.Forwarder
	if ing.Component != "ingestor" || ing.State != slo.StateOK || *ing.Availability != 0.9995 ||
		*ing.Target != 0.999 || *ing.BurnRate != 0.5 || *ing.ErrorBudgetRemaining != 0.5 || ing.WindowHours != 24 {
		t.Errorf("ingestor component = %+v", ing)
	}
	if fwd.Component != "forwarder" || fwd.State != slo.StateWarn || *fwd.BurnRate != 5 {
		t.Errorf("forwarder component = %+v", fwd)
	}
	if crit := r.Critical(); len(crit) != 2 {
		t.Errorf("Critical() = %d results, want 2", len(crit))
	}
	for name := range want {
		if n := p.Requests(name); n != 1 {
			t.Errorf("%s queried %d times, want 1", name, n)
		}
	}
}

func TestReportJSONShape(t *testing.T) {
	p := slotest.New(t)
	healthy(p)
	p.Set("forwarder_availability", "") // empty result: no data
	e := slo.NewEvaluator(p.URL, nil, nil)
	b, err := json.Marshal(evaluate(t, e))
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	if doc["timestamp"] != "2025-11-10T10:00:00Z" || doc["window_hours"] != 24.0 {
		t.Errorf("timestamp/window: %s", b)
	}
	comps := doc["components"].(map[string]any)
	fwd := comps["forwarder"].(map[string]any)
	for _, k := range []string{"target", "availability", "error_budget_remaining", "burn_rate"} {
		if v, ok := fwd[k]; !ok || v != nil {
			t.Errorf("forwarder without data: %s = %v, want null", k, v)
		}
	}
	if fwd["state"] != "critical" || fwd["component"] != "forwarder" || fwd["window_hours"] != 24.0 {
		t.Errorf("forwarder component: %v", fwd)
	}
	if comps["ingestor"].(map[string]any)["state"] != "ok" {
		t.Errorf("ingestor component: %v", comps["ingestor"])
	}
	slos := doc["slos"].([]any)
	if len(slos) != 6 {
		t.Fatalf("%d slos", len(slos))
	}
	wantKeys := map[string][]string{
		"ingestor_availability":  {"slo_name", "description", "window_hours", "actual_value", "target", "status", "error_budget_remaining", "burn_rate", "message"},
		"ingestor_latency_p99":   {"slo_name", "description", "window_hours", "actual_value", "target_seconds", "status", "error_budget_remaining", "burn_rate", "message"},
		"forwarder_availability": {"slo_name", "description", "window_hours", "actual_value", "status", "error_budget_remaining", "burn_rate", "message"},
	}
	for _, s := range slos {
		m := s.(map[string]any)
		keys, ok := wantKeys[m["slo_name"].(string)]
		if !ok {
			continue
		}
		if len(m) != len(keys) {
			t.Errorf("%s has keys %v, want %v", m["slo_name"], m, keys)
		}
		for _, k := range keys {
			if _, ok := m[k]; !ok {
				t.Errorf("%s lacks %s", m["slo_name"], k)
			}
		}
	}
}

func TestReportRetriesAFailedQueryAfterTwoSeconds(t *testing.T) {
	p := slotest.New(t)
	healthy(p)
	p.FailNext("ingestor_availability", 1)
	e := slo.NewEvaluator(p.URL, nil, nil) // the default two-second wait
	start := time.Now()
	r := evaluate(t, e)
	elapsed := time.Since(start)
	if got := byName(r)["ingestor_availability"]; got.Status != slo.StatusOK {
		t.Errorf("after one failure: %s (%s), want ok", got.Status, got.Message)
	}
	if r.Components.Ingestor.State != slo.StateOK {
		t.Errorf("ingestor state %s, want ok", r.Components.Ingestor.State)
	}
	if n := p.Requests("ingestor_availability"); n != 2 {
		t.Errorf("%d requests, want 2", n)
	}
	if elapsed < slo.DefaultRetryWait {
		t.Errorf("retried after %s, want at least %s", elapsed, slo.DefaultRetryWait)
	}
}

func TestReportGivesUpAfterOneRetry(t *testing.T) {
	p := slotest.New(t)
	healthy(p)
	p.FailNext("forwarder_latency_p99", 5)
	p.SetStatus("alerter_processing_success", "error")
	e := slo.NewEvaluator(p.URL, nil, nil)
	e.RetryWait = 10 * time.Millisecond
	got := byName(evaluate(t, e))
	for _, name := range []string{"forwarder_latency_p99", "alerter_processing_success"} {
		if got[name].Status != slo.StatusCritical || got[name].Message != "No data from Prometheus" || got[name].ActualValue != nil {
			t.Errorf("%s: %+v, want critical with no data", name, got[name])
		}
	}
	if n := p.Requests("forwarder_latency_p99"); n != 2 {
		t.Errorf("HTTP failures: %d requests, want 2", n)
	}
	if n := p.Requests("alerter_processing_success"); n != 1 {
		t.Errorf("status error: %d requests, want 1 (no retry)", n)
	}
	if got["ingestor_availability"].Status != slo.StatusOK {
		t.Errorf("a healthy SLO suffered: %+v", got["ingestor_availability"])
	}
}

func TestReportWithoutPrometheus(t *testing.T) {
	e := slo.NewEvaluator("http://127.0.0.1:1", nil, nil)
	e.RetryWait = 10 * time.Millisecond
	r := evaluate(t, e)
	for _, s := range r.SLOs {
		if s.Status != slo.StatusCritical || s.ActualValue != nil {
			t.Errorf("%s: %s, want critical with no data", s.Name, s.Status)
		}
	}
	if r.Components.Ingestor.State != slo.StateCritical || r.Components.Forwarder.State != slo.StateCritical {
		t.Errorf("components = %+v", r.Components)
	}
}

func TestReportWindowOverride(t *testing.T) {
	p := slotest.New(t)
	healthy(p)
	settings := mapSettings{
		"slo_window_hours":                      "12",
		"slo_ingestor_latency_p99_window_hours": "6",
		"slo_ingest_success_target":             "0.9999",
	}
	e := slo.NewEvaluator(p.URL, settings, nil)
	r := evaluate(t, e)
	if r.WindowHours != 12 {
		t.Errorf("window_hours = %d, want 12", r.WindowHours)
	}
	for _, q := range p.Queries() {
		want := "[12h]"
		if strings.Contains(q, "mutt_ingest_latency_seconds_bucket") {
			want = "[6h]"
		}
		if !strings.Contains(q, want) || strings.Contains(q, "[5m]") {
			t.Errorf("query %s: want window %s", q, want)
		}
	}
	got := byName(r)
	if got["ingestor_latency_p99"].WindowHours != 6 || got["forwarder_availability"].WindowHours != 12 {
		t.Errorf("per-SLO windows: %d, %d", got["ingestor_latency_p99"].WindowHours, got["forwarder_availability"].WindowHours)
	}
	// 0.9995 against 0.9999: burn 5, warning.
	ing := r.Components.Ingestor
	if *ing.Target != 0.9999 || ing.State != slo.StateWarn || *ing.BurnRate != 5 || ing.WindowHours != 12 {
		t.Errorf("ingestor component with target override: %+v", ing)
	}
}

func TestReportQueriesRunConcurrently(t *testing.T) {
	p := slotest.New(t)
	healthy(p)
	p.HoldUntil(6, 3*time.Second)
	e := slo.NewEvaluator(p.URL, nil, nil)
	e.RetryWait = 10 * time.Millisecond
	r := evaluate(t, e)
	if p.HoldTimedOut() {
		t.Fatal("the six queries were not in flight together")
	}
	for _, s := range r.SLOs {
		if s.Status != slo.StatusOK {
			t.Errorf("%s: %s (%s)", s.Name, s.Status, s.Message)
		}
	}
}

func TestReportDeadline(t *testing.T) {
	p := slotest.New(t)
	healthy(p)
	p.HoldUntil(100, 2*time.Second) // never reached: every request hangs
	e := slo.NewEvaluator(p.URL, nil, nil)
	e.Deadline = 200 * time.Millisecond
	start := time.Now()
	r := evaluate(t, e)
	if elapsed := time.Since(start); elapsed > time.Second {
		t.Errorf("Report took %s with a 200ms deadline", elapsed)
	}
	for _, s := range r.SLOs {
		if s.Status != slo.StatusCritical || s.ActualValue != nil {
			t.Errorf("%s: %s, want no data", s.Name, s.Status)
		}
	}
}

func TestReportErrors(t *testing.T) {
	for _, u := range []string{"", "localhost:9090", "ftp://x", "http://"} {
		if _, err := slo.NewEvaluator(u, nil, nil).Report(t.Context(), testNow); err == nil {
			t.Errorf("URL %q accepted", u)
		}
	}
	p := slotest.New(t)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := slo.NewEvaluator(p.URL, nil, nil).Report(ctx, testNow); err == nil {
		t.Error("Report succeeded with a cancelled context")
	}
}
