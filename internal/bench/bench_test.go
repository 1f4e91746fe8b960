package bench

import (
	"bytes"
	"context"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/redis/go-redis/v9"

	"github.com/mutt-go/mutt/internal/config"
	"github.com/mutt-go/mutt/internal/itest"
)

// setup makes an Env on the test servers and checks, when the test ends,
// that Close removed the scratch database and every scratch key.
func setup(t *testing.T, progress io.Writer) *Env {
	t.Helper()
	cfg := config.Default()
	// A worker blocked on an empty queue notices a stop only when its
	// block ends; the end-to-end runs use the blocks given here.
	cfg.Alerter.Block, cfg.Forwarder.Block = 100*time.Millisecond, 100*time.Millisecond
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	e, err := Setup(ctx, Options{Config: cfg, RedisURL: itest.RedisURL(), AdminDatabaseURL: itest.AdminDatabaseURL(), Progress: progress})
	if err != nil {
		t.Fatalf("Setup: %v", err)
	}
	name := e.Name()
	if !strings.HasPrefix(name, "mutt_bench_") {
		t.Errorf("scratch name %q, want mutt_bench_…", name)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := e.Close(ctx); err != nil {
			t.Errorf("Close: %v", err)
		}
		assertGone(t, name)
	})
	return e
}

// assertGone checks that neither the database nor any key named name is
// left.
func assertGone(t *testing.T, name string) {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, itest.AdminDatabaseURL())
	if err != nil {
		t.Fatalf("connecting: %v", err)
	}
	defer conn.Close(ctx)
	var n int
	if err := conn.QueryRow(ctx, "SELECT count(*) FROM pg_database WHERE datname = $1", name).Scan(&n); err != nil {
		t.Fatalf("looking for database: %v", err)
	}
	if n != 0 {
		t.Errorf("database %s still exists after Close", name)
	}
	opts, err := redis.ParseURL(itest.RedisURL())
	if err != nil {
		t.Fatal(err)
	}
	rdb := redis.NewClient(opts)
	defer rdb.Close()
	keys, _, err := rdb.Scan(ctx, 0, name+":*", 10_000).Result()
	if err != nil {
		t.Fatalf("scanning keys: %v", err)
	}
	if len(keys) != 0 {
		t.Errorf("%d keys under %s: left after Close, e.g. %s", len(keys), name, keys[0])
	}
}

func TestRunIngest(t *testing.T) {
	e := setup(t, nil)
	tests := []struct {
		name          string
		opts          IngestOptions
		wantEvents    int64
		wantRequests  int64
		maxRoundTrips float64
		metric        string
	}{
		{name: "batched", opts: IngestOptions{Batch: 100, Concurrency: 4, Events: 20_000},
			wantEvents: 20_000, wantRequests: 200, maxRoundTrips: 0.05, metric: "events_per_second"},
		{name: "single events", opts: IngestOptions{Batch: 1, Concurrency: 16, Events: 3_000},
			wantEvents: 3_000, wantRequests: 3_000, maxRoundTrips: 1, metric: "requests_per_second"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := e.RunIngest(context.Background(), tt.opts)
			if err != nil {
				t.Fatalf("RunIngest: %v", err)
			}
			if r.Events != tt.wantEvents || r.Requests != tt.wantRequests {
				t.Errorf("%d events in %d requests, want %d in %d", r.Events, r.Requests, tt.wantEvents, tt.wantRequests)
			}
			if r.EventsPerSecond <= 0 || r.Seconds <= 0 {
				t.Errorf("throughput %v events/s in %v s", r.EventsPerSecond, r.Seconds)
			}
			if r.LatencyP50Millis <= 0 || r.LatencyP99Millis < r.LatencyP50Millis || r.LatencyMaxMillis < r.LatencyP99Millis {
				t.Errorf("latency p50 %v, p99 %v, max %v", r.LatencyP50Millis, r.LatencyP99Millis, r.LatencyMaxMillis)
			}
			rd := r.Redis
			if rd.RoundTrips <= 0 || rd.RoundTripsPerEvent > tt.maxRoundTrips {
				t.Errorf("%d round trips, %.4f per event, want at most %v per event", rd.RoundTrips, rd.RoundTripsPerEvent, tt.maxRoundTrips)
			}
			// Each event is one XADD inside the produce script.
			if rd.ServerByCommand["xadd"] < tt.wantEvents || rd.ServerByCommand["evalsha"] < 1 {
				t.Errorf("server saw %v", rd.ServerByCommand)
			}
			if r.Target.Metric != tt.metric {
				t.Errorf("target metric %q, want %q", r.Target.Metric, tt.metric)
			}
			if r.CPU.ProcessSeconds <= 0 {
				t.Errorf("process CPU %v", r.CPU.ProcessSeconds)
			}
			var out strings.Builder
			if err := (Report{Machine: e.Machine(), Results: []Result{r}}).WriteText(&out); err != nil {
				t.Fatal(err)
			}
			for _, want := range []string{"round trips/event", "p99", LoadGeneratorNote, "Redis " + e.Machine().Redis} {
				if !strings.Contains(out.String(), want) {
					t.Errorf("report lacks %q:\n%s", want, out.String())
				}
			}
		})
	}
}

func TestRunAlerter(t *testing.T) {
	var progress bytes.Buffer
	e := setup(t, &progress)
	tests := []struct {
		name string
		opts AlerterOptions
	}{
		{name: "50 rules", opts: AlerterOptions{Events: 6_000, Rules: 50, Workers: 2, BatchSize: 256}},
		// A second run on the same Env replaces the rules and audit rows.
		{name: "8 rules, small batches", opts: AlerterOptions{Events: 3_000, Rules: 8, Workers: 1, BatchSize: 50}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := e.RunAlerter(context.Background(), tt.opts)
			if err != nil {
				t.Fatalf("RunAlerter: %v", err)
			}
			if r.Events != int64(tt.opts.Events) || r.Handled+r.Unhandled != r.Events {
				t.Errorf("%d events: %d handled + %d unhandled", r.Events, r.Handled, r.Unhandled)
			}
			share := float64(r.Handled) / float64(r.Events)
			if share < 0.3 || share > 0.5 {
				t.Errorf("%.0f %% handled, want 30–50 %%", 100*share)
			}
			if r.Alerts == 0 || r.DeadLetters != 0 {
				t.Errorf("%d alerts, %d dead letters", r.Alerts, r.DeadLetters)
			}
			// At least one read and one commit per batch, and nowhere near
			// one call per event.
			batches := int64(tt.opts.Events / tt.opts.BatchSize)
			if rd := r.Redis; rd.RoundTrips < 2*batches || rd.RoundTripsPerEvent > 0.2 {
				t.Errorf("%d round trips (%.4f per event) for %d batches", rd.RoundTrips, rd.RoundTripsPerEvent, batches)
			}
			if r.Workers != tt.opts.Workers || r.AlerterBatch != tt.opts.BatchSize || r.Rules != tt.opts.Rules {
				t.Errorf("ran with %d workers, batch %d, %d rules", r.Workers, r.AlerterBatch, r.Rules)
			}
		})
	}
	if !strings.Contains(progress.String(), "draining") {
		t.Errorf("progress lacks the drain phase:\n%s", progress.String())
	}
}

// TestRunAlerterAllHandled runs the all-handled drain small: every event
// audited and paged, throughput per window, and the ceiling beside it.
func TestRunAlerterAllHandled(t *testing.T) {
	e := setup(t, nil)
	o := AlerterOptions{Events: 4_000, Handled: 100, Window: 1_000, Ceiling: true, Workers: 2, BatchSize: 100}
	r, err := e.RunAlerter(context.Background(), o)
	if err != nil {
		t.Fatalf("RunAlerter: %v", err)
	}
	if r.Handled != 4_000 || r.Unhandled != 0 || r.Alerts != 4_000 {
		t.Errorf("%d audit rows, %d unhandled, %d alerts; want 4,000 / 0 / 4,000", r.Handled, r.Unhandled, r.Alerts)
	}
	if len(r.Windows) != 4 {
		t.Fatalf("%d windows, want 4: %+v", len(r.Windows), r.Windows)
	}
	var from int64
	for i, w := range r.Windows {
		if w.From != from || w.To < min(int64(i+1)*1_000, 4_000) || w.EventsPerSecond <= 0 || w.CeilingPerSecond <= 0 {
			t.Errorf("window %d = %+v", i, w)
		}
		from = w.To
	}
	if from != 4_000 {
		t.Errorf("the windows end at %d events, want 4,000", from)
	}
	c := r.Ceiling
	if c == nil || c.Rows != 4_000 || c.RowsPerSecond <= 0 || c.Ratio <= 0 || len(c.Windows) != 4 {
		t.Fatalf("ceiling %+v", c)
	}
	if ref := r.Reference; ref == nil || ref.Rows != 4_000 || ref.Ratio <= 0 || r.Windows[0].ReferencePerSecond <= 0 {
		t.Fatalf("reference ceiling %+v", ref)
	}
	if len(r.Waits) == 0 {
		t.Error("no PostgreSQL wait samples during the drain")
	}
	var text strings.Builder
	if err := (Report{Results: []Result{r}}).WriteText(&text); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"every event handled and paged", "ceiling", "reference", "windows", "PG waits"} {
		if !strings.Contains(text.String(), want) {
			t.Errorf("report lacks %q:\n%s", want, text.String())
		}
	}
}

func TestAlerterOptionsCheck(t *testing.T) {
	tests := []struct {
		name string
		o    AlerterOptions
		want string
	}{
		{name: "mix", o: AlerterOptions{}},
		{name: "all handled", o: AlerterOptions{Handled: 100, Window: 10}},
		{name: "other share", o: AlerterOptions{Handled: 50}, want: "handled"},
		{name: "negative window", o: AlerterOptions{Window: -1}, want: "window"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.o.Check()
			if (err == nil) != (tt.want == "") || (err != nil && !strings.HasPrefix(err.Error(), tt.want)) {
				t.Errorf("Check() = %v, want an error starting %q", err, tt.want)
			}
		})
	}
}

func TestRunForwarder(t *testing.T) {
	e := setup(t, nil)
	tests := []struct {
		name string
		opts ForwarderOptions
	}{
		{name: "shipped settings", opts: ForwarderOptions{Alerts: 3_000}},
		{name: "one worker, small batches", opts: ForwarderOptions{Alerts: 1_000, Workers: 1, BatchSize: 16, Concurrency: 4}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := e.RunForwarder(context.Background(), tt.opts)
			if err != nil {
				t.Fatalf("RunForwarder: %v", err)
			}
			n := int64(tt.opts.Alerts)
			if r.Kind != KindForwarder || r.Events != n || r.Delivered != n || r.Duplicates != 0 {
				t.Errorf("kind %q: %d alerts, %d delivered, %d duplicates; want %d, all delivered once", r.Kind, r.Events, r.Delivered, r.Duplicates, n)
			}
			if r.EventsPerSecond <= 0 || r.Target.Metric != MetricAlertsPerSecond {
				t.Errorf("%v alerts/s against target %+v", r.EventsPerSecond, r.Target)
			}
			batch := e.cfg.Forwarder.BatchSize
			if tt.opts.BatchSize > 0 {
				batch = tt.opts.BatchSize
			}
			if r.ForwarderBatch != batch {
				t.Errorf("ran with batch %d, want %d", r.ForwarderBatch, batch)
			}
			// A read, the breaker's two scripts and a commit per batch; no
			// call per alert.
			batches := n / int64(batch)
			if rd := r.Redis; rd.RoundTrips < 3*batches || rd.RoundTripsPerEvent > 0.5 {
				t.Errorf("%d round trips (%.4f per alert) for %d batches", rd.RoundTrips, rd.RoundTripsPerEvent, batches)
			}
			var out strings.Builder
			if err := (Report{Machine: e.Machine(), Results: []Result{r}}).WriteText(&out); err != nil {
				t.Fatal(err)
			}
			for _, want := range []string{"alerts/s", "round trips/alert", "≥ 10,000 alerts/s", "0 duplicates"} {
				if !strings.Contains(out.String(), want) {
					t.Errorf("report lacks %q:\n%s", want, out.String())
				}
			}
		})
	}
}

func TestRunE2E(t *testing.T) {
	e := setup(t, nil)
	tests := []struct {
		name      string
		opts      E2EOptions
		wantID    string
		wantTuned bool
	}{
		{name: "shipped settings", opts: E2EOptions{Rate: 500, Seconds: 2, Warmup: 0.5}, wantID: "e2e-rate500"},
		{name: "tuned", opts: E2EOptions{Rate: 400, Seconds: 1, Warmup: -1, Rules: 8, AlerterBatchSize: 16, MoogRateLimit: 10_000},
			wantID: "e2e-rate400-tuned", wantTuned: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := e.RunE2E(context.Background(), tt.opts)
			if err != nil {
				t.Fatalf("RunE2E: %v", err)
			}
			if r.ID != tt.wantID || r.Kind != KindE2E || strings.Contains(r.Scenario, "TUNED") != tt.wantTuned {
				t.Errorf("id %q, kind %q, scenario %q", r.ID, r.Kind, r.Scenario)
			}
			if want := int64(tt.opts.Rate * tt.opts.Seconds); r.Events != want {
				t.Errorf("%d events timed, want %d", r.Events, want)
			}
			if r.Expected == 0 || r.Delivered != r.Expected || r.Duplicates != 0 {
				t.Errorf("%d alerts expected, %d delivered, %d duplicates", r.Expected, r.Delivered, r.Duplicates)
			}
			if share := float64(r.Expected) / float64(r.Events); share < 0.1 || share > 0.5 {
				t.Errorf("%.0f %% of the events forwarded", 100*share)
			}
			if r.LatencyP50Millis <= 0 || r.LatencyP90Millis < r.LatencyP50Millis || r.LatencyP99Millis < r.LatencyP90Millis ||
				r.LatencyMaxMillis < r.LatencyP99Millis {
				t.Errorf("latency p50 %v, p90 %v, p99 %v, max %v", r.LatencyP50Millis, r.LatencyP90Millis, r.LatencyP99Millis, r.LatencyMaxMillis)
			}
			if len(r.Stages) != 5 {
				t.Fatalf("%d stages: %+v", len(r.Stages), r.Stages)
			}
			// Every stage is a point on the way, so none can be later than
			// the arrival, and the audit insert ends after it starts.
			last := r.Stages[len(r.Stages)-1]
			if last.P99Millis != r.LatencyP99Millis || last.MaxMillis != r.LatencyMaxMillis {
				t.Errorf("last stage %+v, latency p99 %v, max %v", last, r.LatencyP99Millis, r.LatencyMaxMillis)
			}
			for _, st := range r.Stages {
				if st.P50Millis <= 0 || st.MaxMillis > r.LatencyMaxMillis {
					t.Errorf("stage %+v beyond the arrival (max %v)", st, r.LatencyMaxMillis)
				}
			}
			if r.Stages[2].P50Millis < r.Stages[1].P50Millis {
				t.Errorf("audit insert done before it started: %+v", r.Stages)
			}
			if r.Target.Metric != MetricLatencyP99 || r.Target.Max != TargetE2ELatencyP99Millis || r.Target.Met != (r.LatencyP99Millis < r.Target.Max) {
				t.Errorf("target %+v for p99 %v", r.Target, r.LatencyP99Millis)
			}
			// At this rate nothing batches: a produce call per request, a
			// read and a commit per alerter batch, four calls per forwarder
			// batch. Well under ten calls per event all the same.
			if rd := r.Redis; rd.RoundTrips < r.Events || rd.RoundTripsPerEvent > 10 {
				t.Errorf("%d round trips (%.2f per event)", rd.RoundTrips, rd.RoundTripsPerEvent)
			}
			var out strings.Builder
			if err := (Report{Machine: e.Machine(), Results: []Result{r}}).WriteText(&out); err != nil {
				t.Fatal(err)
			}
			for _, want := range []string{"p99", "< 50 ms p99", "Moogsoft received the alert", "send lag"} {
				if !strings.Contains(out.String(), want) {
					t.Errorf("report lacks %q:\n%s", want, out.String())
				}
			}
		})
	}
}

// TestCloseAfterCancel is the Ctrl-C path: the run stops with the context's
// error and Close, given a context that is not cancelled, still removes
// everything (checked by setup's cleanup).
func TestCloseAfterCancel(t *testing.T) {
	e := setup(t, nil)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	tests := []struct {
		name string
		run  func() error
	}{
		{name: "ingest", run: func() error { _, err := e.RunIngest(ctx, IngestOptions{Events: 1000}); return err }},
		{name: "alerter", run: func() error { _, err := e.RunAlerter(ctx, AlerterOptions{Events: 1000}); return err }},
		{name: "forwarder", run: func() error { _, err := e.RunForwarder(ctx, ForwarderOptions{Alerts: 1000}); return err }},
		{name: "end to end", run: func() error { _, err := e.RunE2E(ctx, E2EOptions{Rate: 100, Seconds: 1}); return err }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.run(); err == nil || !strings.Contains(err.Error(), "context canceled") {
				t.Errorf("run with a cancelled context: %v, want context canceled", err)
			}
		})
	}
}

func TestSetupFailsCleanly(t *testing.T) {
	tests := []struct {
		name string
		opts Options
	}{
		{name: "no PostgreSQL there", opts: Options{Config: config.Default(), RedisURL: itest.RedisURL(),
			AdminDatabaseURL: "postgres://postgres@127.0.0.1:1/postgres?sslmode=disable&connect_timeout=2"}},
		{name: "not a PostgreSQL URL", opts: Options{Config: config.Default(), RedisURL: itest.RedisURL(),
			AdminDatabaseURL: "mysql://127.0.0.1/x"}},
		{name: "no Redis there", opts: Options{Config: config.Default(), RedisURL: "redis://127.0.0.1:1/0",
			AdminDatabaseURL: itest.AdminDatabaseURL()}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			before := benchDatabases(t)
			e, err := Setup(ctx, tt.opts)
			if err == nil {
				_ = e.Close(ctx)
				t.Fatal("Setup succeeded")
			}
			for name := range benchDatabases(t) {
				if !before[name] {
					t.Errorf("failed Setup left database %s behind", name)
				}
			}
		})
	}
}

// benchDatabases lists the scratch databases on the test server.
func benchDatabases(t *testing.T) map[string]bool {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, itest.AdminDatabaseURL())
	if err != nil {
		t.Fatalf("connecting: %v", err)
	}
	defer conn.Close(ctx)
	rows, _ := conn.Query(ctx, "SELECT datname FROM pg_database WHERE datname LIKE 'mutt\\_bench\\_%'")
	names, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatalf("listing databases: %v", err)
	}
	out := map[string]bool{}
	for _, n := range names {
		out[n] = true
	}
	return out
}
