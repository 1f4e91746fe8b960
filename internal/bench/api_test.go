package bench

import (
	"context"
	"strings"
	"testing"
)

func TestRunAPI(t *testing.T) {
	e := setup(t, nil)
	r, err := e.RunAPI(context.Background(), APIOptions{
		Seed:     SeedOptions{Rows: 1_000, Rules: 30, Hosts: 10, Months: 2},
		Requests: 40, Concurrency: []int{1, 4}, Warmup: 5,
	})
	if err != nil {
		t.Fatalf("RunAPI: %v", err)
	}
	if r.Seed.Rows != 1_000 || r.Seed.BusyHostRow != 100 {
		t.Errorf("seeded %+v", r.Seed)
	}
	if len(r.Endpoints) != 6 {
		t.Fatalf("%d endpoint results, want 3 endpoints × 2 concurrencies", len(r.Endpoints))
	}
	for _, ep := range r.Endpoints {
		if ep.Requests != 40 || ep.RequestsPerSecond <= 0 || ep.ResponseBytes <= 0 {
			t.Errorf("%s c%d: %d requests, %v/s, %d bytes", ep.Endpoint, ep.Concurrency, ep.Requests, ep.RequestsPerSecond, ep.ResponseBytes)
		}
		if ep.P50Millis <= 0 || ep.P95Millis < ep.P50Millis || ep.P99Millis < ep.P95Millis || ep.MaxMillis < ep.P99Millis {
			t.Errorf("%s c%d: p50 %v, p95 %v, p99 %v, max %v", ep.Endpoint, ep.Concurrency, ep.P50Millis, ep.P95Millis, ep.P99Millis, ep.MaxMillis)
		}
		if ep.Met != (ep.P99Millis < TargetAPIP99Millis) {
			t.Errorf("%s c%d: met %v with p99 %v", ep.Endpoint, ep.Concurrency, ep.Met, ep.P99Millis)
		}
	}
	// Count and page query for each of the two hosts, each the SQL the
	// store sent, with the hostname as its parameter.
	if len(r.Plans) != 4 {
		t.Fatalf("%d plans, want 4", len(r.Plans))
	}
	for _, p := range r.Plans {
		if !strings.Contains(p.SQL, "FROM event_audit_log WHERE hostname = $1") || len(p.Args) != 1 || len(p.Plan) == 0 {
			t.Errorf("plan %q: SQL %q, args %v, %d plan lines", p.Name, p.SQL, p.Args, len(p.Plan))
		}
		if !strings.Contains(strings.Join(p.Plan, "\n"), "Execution Time") {
			t.Errorf("plan %q is not EXPLAIN ANALYZE: %q", p.Name, p.Plan)
		}
	}
	var out strings.Builder
	if err := r.WriteText(&out); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"GET /api/v2/rules (30 rules), concurrency 4", "busiest host, 100 rows", "p99", "Execution Time"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("report lacks %q:\n%s", want, out.String())
		}
	}
}
