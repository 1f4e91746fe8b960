package remediation_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"

	"github.com/mutt-go/mutt/internal/itest"
	"github.com/mutt-go/mutt/internal/queue"
	"github.com/mutt-go/mutt/internal/remediation"
	"github.com/mutt-go/mutt/internal/secrets"
)

// env is one service on its own key prefix.
type env struct {
	rdb  *redis.Client
	reg  *prometheus.Registry
	svc  *remediation.Service
	opts remediation.Options
}

func newEnv(t *testing.T, configure func(*remediation.Options)) *env {
	t.Helper()
	rdb, prefix := itest.Redis(t)
	opts := remediation.Options{
		AlertQueue:  prefix + ":alert_queue",
		IngestQueue: prefix + ":ingest_queue",
		MoogDLQ:     prefix + ":dlq:moog",
		AlerterDLQ:  prefix + ":dlq:alerter",
		DeadDLQ:     prefix + ":dlq:dead",
		Interval:    time.Hour,
		BatchSize:   10,
		MaxReplays:  3,
	}
	if configure != nil {
		configure(&opts)
	}
	reg := prometheus.NewRegistry()
	return &env{rdb: rdb, reg: reg, opts: opts, svc: remediation.New(opts, remediation.NewRedis(rdb), reg, nil)}
}

// add writes a dead letter the way the alerter and forwarder do.
func (e *env) add(t *testing.T, key string, d queue.DeadLetter) string {
	t.Helper()
	id, err := e.rdb.XAdd(context.Background(), &redis.XAddArgs{Stream: key, Values: d.Fields(time.Now())}).Result()
	if err != nil {
		t.Fatal(err)
	}
	return id
}

func (e *env) entries(t *testing.T, key string) []queue.Entry {
	t.Helper()
	got, err := queue.Range(context.Background(), e.rdb, key, "-", 1000)
	if err != nil {
		t.Fatal(err)
	}
	return got
}

// payloads lists the payloads of a stream, oldest first.
func (e *env) payloads(t *testing.T, key string) []string {
	t.Helper()
	var out []string
	for _, en := range e.entries(t, key) {
		out = append(out, en.Fields[queue.PayloadField])
	}
	return out
}

// metric returns the value of the series name{labels} (0 when absent).
func (e *env) metric(t *testing.T, name string, labels ...string) float64 {
	t.Helper()
	families, err := e.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range families {
		if f.GetName() != name {
			continue
		}
	series:
		for _, m := range f.GetMetric() {
			for i := 0; i+1 < len(labels); i += 2 {
				found := false
				for _, lp := range m.GetLabel() {
					if lp.GetName() == labels[i] && lp.GetValue() == labels[i+1] {
						found = true
					}
				}
				if !found {
					continue series
				}
			}
			switch {
			case m.GetCounter() != nil:
				return m.GetCounter().GetValue()
			case m.GetGauge() != nil:
				return m.GetGauge().GetValue()
			case m.GetHistogram() != nil:
				return float64(m.GetHistogram().GetSampleCount())
			}
		}
	}
	return 0
}

func dl(payload, reason string, replays int64) queue.DeadLetter {
	return queue.DeadLetter{Payload: []byte(payload), Reason: reason, Error: "boom", Source: "src", SourceID: "1-0", Replays: replays}
}

// probeServer answers every request with status.
func probeServer(t *testing.T, status int) string {
	t.Helper()
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(status) }))
	t.Cleanup(hs.Close)
	return hs.URL
}

func TestCycle(t *testing.T) {
	type dlqs struct{ moog, alerter []queue.DeadLetter }
	tests := []struct {
		name      string
		configure func(t *testing.T, o *remediation.Options)
		alerts    int // alerts already waiting on the alert queue
		in        dlqs
		// want
		report      remediation.Report
		skipHas     string // substring of Report.MoogSkipped
		alertQueue  []string
		ingestQueue []string
		replays     string // replays field of the first replayed entry
		deadReasons []string
		leftMoog    int
		leftAlerter int
		moogHealth  float64
	}{
		{
			name:       "retryable moog entry replayed with its counter raised",
			in:         dlqs{moog: []queue.DeadLetter{dl(`{"a":1}`, "retries_exhausted", 0)}},
			report:     remediation.Report{MoogReplayed: 1},
			alertQueue: []string{`{"a":1}`}, replays: "1", moogHealth: 1,
		},
		{
			name:        "entry at the replay limit goes to the dead queue",
			in:          dlqs{moog: []queue.DeadLetter{dl(`{"a":1}`, "http_5xx", 3)}},
			report:      remediation.Report{Dead: 1},
			deadReasons: []string{"replay_limit"}, moogHealth: 1,
		},
		{
			name: "batch size honoured per DLQ, oldest first",
			configure: func(_ *testing.T, o *remediation.Options) {
				o.BatchSize = 2
			},
			in: dlqs{
				moog:    []queue.DeadLetter{dl("m0", "timeout", 0), dl("m1", "connection", 0), dl("m2", "rate_limited", 0), dl("m3", "circuit_open", 0), dl("m4", "http_5xx", 0)},
				alerter: []queue.DeadLetter{dl("a0", "max_retries", 0), dl("a1", "shed", 0), dl("a2", "audit_rejected", 0), dl("a3", "shed", 0), dl("a4", "shed", 0)},
			},
			report:     remediation.Report{MoogReplayed: 2, AlerterReplayed: 2},
			alertQueue: []string{"m0", "m1"}, ingestQueue: []string{"a0", "a1"}, replays: "1",
			leftMoog: 3, leftAlerter: 3, moogHealth: 1,
		},
		{
			name:       "empty DLQs: nothing happens",
			report:     remediation.Report{},
			moogHealth: 1,
		},
		{
			name: "probe 500: no moog replay, gauge 0, alerter DLQ still replayed",
			configure: func(t *testing.T, o *remediation.Options) {
				o.MoogHealthy = remediation.NewProbe(probeServer(t, 500), secrets.New("k"), time.Second, nil)
			},
			in: dlqs{
				moog:    []queue.DeadLetter{dl("m0", "http_5xx", 0)},
				alerter: []queue.DeadLetter{dl("a0", "max_retries", 0)},
			},
			report:  remediation.Report{AlerterReplayed: 1},
			skipHas: "status 500", ingestQueue: []string{"a0"}, replays: "1",
			leftMoog: 1, moogHealth: 0,
		},
		{
			name: "probe 202: healthy",
			configure: func(t *testing.T, o *remediation.Options) {
				o.MoogHealthy = remediation.NewProbe(probeServer(t, 202), secrets.New("k"), time.Second, nil)
			},
			in:         dlqs{moog: []queue.DeadLetter{dl("m0", "http_5xx", 0)}},
			report:     remediation.Report{MoogReplayed: 1},
			alertQueue: []string{"m0"}, replays: "1", moogHealth: 1,
		},
		{
			name: "probe 401: the skip reason names the key",
			configure: func(t *testing.T, o *remediation.Options) {
				o.MoogHealthy = remediation.NewProbe(probeServer(t, 401), secrets.New("k"), time.Second, nil)
			},
			in:       dlqs{moog: []queue.DeadLetter{dl("m0", "http_5xx", 0)}},
			skipHas:  "refused the API key",
			leftMoog: 1, moogHealth: 0,
		},
		{
			name: "breaker open: no moog replay",
			configure: func(_ *testing.T, o *remediation.Options) {
				o.BreakerOpen = func(context.Context) (bool, error) { return true, nil }
			},
			in: dlqs{
				moog:    []queue.DeadLetter{dl("m0", "circuit_open", 0)},
				alerter: []queue.DeadLetter{dl("a0", "shed", 0)},
			},
			report:  remediation.Report{AlerterReplayed: 1},
			skipHas: "circuit breaker open", ingestQueue: []string{"a0"}, replays: "1",
			leftMoog: 1, moogHealth: 1,
		},
		{
			name: "breaker state unreadable: no moog replay",
			configure: func(_ *testing.T, o *remediation.Options) {
				o.BreakerOpen = func(context.Context) (bool, error) { return false, errors.New("no answer") }
			},
			in:       dlqs{moog: []queue.DeadLetter{dl("m0", "circuit_open", 0)}},
			skipHas:  "no answer",
			leftMoog: 1, moogHealth: 1,
		},
		{
			name: "alert queue over its limit: no alerter replay, moog replay goes on",
			configure: func(_ *testing.T, o *remediation.Options) {
				o.AlertQueueLimit = func() int64 { return 2 }
			},
			alerts: 3,
			in: dlqs{
				moog:    []queue.DeadLetter{dl("m0", "timeout", 0)},
				alerter: []queue.DeadLetter{dl("a0", "shed", 0)},
			},
			report:     remediation.Report{MoogReplayed: 1},
			alertQueue: []string{"waiting", "waiting", "waiting", "m0"}, replays: "",
			leftAlerter: 1, moogHealth: 1,
		},
		{
			name: "alert queue at its limit: alerter replay goes on",
			configure: func(_ *testing.T, o *remediation.Options) {
				o.AlertQueueLimit = func() int64 { return 3 }
			},
			alerts:      3,
			in:          dlqs{alerter: []queue.DeadLetter{dl("a0", "shed", 0)}},
			report:      remediation.Report{AlerterReplayed: 1},
			alertQueue:  []string{"waiting", "waiting", "waiting"},
			ingestQueue: []string{"a0"}, moogHealth: 1,
		},
		{
			name: "permanent reasons go to the dead queue at once, past the batch",
			configure: func(_ *testing.T, o *remediation.Options) {
				o.BatchSize = 1
			},
			in: dlqs{
				moog: []queue.DeadLetter{dl("p0", "http_4xx", 0), dl("p1", "redirect", 0), dl("m0", "http_5xx", 0),
					dl("p2", "malformed_alert", 0), dl("m1", "http_5xx", 0)},
				alerter: []queue.DeadLetter{dl("bad", "invalid_event", 0), dl("a0", "max_retries", 0)},
			},
			report:      remediation.Report{MoogReplayed: 1, AlerterReplayed: 1, Dead: 3},
			alertQueue:  []string{"m0"},
			ingestQueue: []string{"a0"}, replays: "1",
			deadReasons: []string{"http_4xx", "redirect", "invalid_event"},
			leftMoog:    2, moogHealth: 1,
		},
		{
			name: "entries without payload or reason are quarantined",
			in: dlqs{
				moog:    []queue.DeadLetter{{Reason: "http_5xx"}, dl("m0", "", 0)},
				alerter: []queue.DeadLetter{{Payload: []byte(""), Reason: "shed"}},
			},
			report:      remediation.Report{Dead: 3},
			deadReasons: []string{"malformed_entry", "malformed_entry", "malformed_entry"},
			moogHealth:  1,
		},
		{
			name:        "an unknown reason is replayed, within the limit",
			in:          dlqs{alerter: []queue.DeadLetter{dl("a0", "something_new", 0), dl("a1", "something_new", 3)}},
			report:      remediation.Report{AlerterReplayed: 1, Dead: 1},
			ingestQueue: []string{"a0"}, replays: "1",
			deadReasons: []string{"replay_limit"}, moogHealth: 1,
		},
		{
			name: "dynamic values override batch size and replay limit",
			configure: func(_ *testing.T, o *remediation.Options) {
				o.Dynamic = func(name string, fallback int64) int64 {
					switch name {
					case remediation.KeyBatchSize:
						return 1
					case remediation.KeyMaxReplays:
						return 0
					}
					return fallback
				}
			},
			in:          dlqs{alerter: []queue.DeadLetter{dl("a0", "shed", 0), dl("a1", "shed", 0)}},
			report:      remediation.Report{Dead: 1},
			deadReasons: []string{"replay_limit"},
			leftAlerter: 1, moogHealth: 1,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, func(o *remediation.Options) {
				if tt.configure != nil {
					tt.configure(t, o)
				}
			})
			ctx := context.Background()
			for range tt.alerts {
				if err := e.rdb.XAdd(ctx, &redis.XAddArgs{Stream: e.opts.AlertQueue, Values: []any{queue.PayloadField, "waiting"}}).Err(); err != nil {
					t.Fatal(err)
				}
			}
			for _, d := range tt.in.moog {
				e.add(t, e.opts.MoogDLQ, d)
			}
			for _, d := range tt.in.alerter {
				e.add(t, e.opts.AlerterDLQ, d)
			}

			rep, err := e.svc.Cycle(ctx)
			if err != nil {
				t.Fatalf("Cycle: %v", err)
			}
			if !strings.Contains(rep.MoogSkipped, tt.skipHas) || (tt.skipHas == "") != (rep.MoogSkipped == "") {
				t.Errorf("MoogSkipped = %q, want it to mention %q", rep.MoogSkipped, tt.skipHas)
			}
			rep.MoogSkipped, rep.AlerterSkipped = "", ""
			if rep != tt.report {
				t.Errorf("report %+v, want %+v", rep, tt.report)
			}
			if got := e.payloads(t, e.opts.AlertQueue); !slices.Equal(got, tt.alertQueue) {
				t.Errorf("alert queue %q, want %q", got, tt.alertQueue)
			}
			if got := e.payloads(t, e.opts.IngestQueue); !slices.Equal(got, tt.ingestQueue) {
				t.Errorf("ingest queue %q, want %q", got, tt.ingestQueue)
			}
			if tt.replays != "" {
				replayed := append(e.entries(t, e.opts.AlertQueue), e.entries(t, e.opts.IngestQueue)...)
				for _, en := range replayed {
					if en.Fields[queue.ReplaysField] != tt.replays {
						t.Errorf("replayed entry %v, want replays %s", en.Fields, tt.replays)
					}
				}
			}
			var reasons []string
			for _, en := range e.entries(t, e.opts.DeadDLQ) {
				reasons = append(reasons, en.Fields["reason"])
			}
			if !slices.Equal(reasons, tt.deadReasons) {
				t.Errorf("dead queue reasons %q, want %q", reasons, tt.deadReasons)
			}
			if n := len(e.entries(t, e.opts.MoogDLQ)); n != tt.leftMoog {
				t.Errorf("moog DLQ holds %d, want %d", n, tt.leftMoog)
			}
			if n := len(e.entries(t, e.opts.AlerterDLQ)); n != tt.leftAlerter {
				t.Errorf("alerter DLQ holds %d, want %d", n, tt.leftAlerter)
			}

			// Metrics agree with what happened, the gauges included
			// when a gate was closed.
			checks := []struct {
				name   string
				labels []string
				want   float64
			}{
				{"mutt_remediation_loops_total", nil, 1},
				{"mutt_remediation_loop_duration_seconds", nil, 1},
				{"mutt_remediation_moog_health", nil, tt.moogHealth},
				{"mutt_remediation_replay_success_total", nil, float64(tt.report.MoogReplayed + tt.report.AlerterReplayed)},
				{"mutt_remediation_poison_messages_total", nil, float64(tt.report.Dead)},
				{"mutt_remediation_replayed_total", []string{"queue", e.opts.AlertQueue}, float64(tt.report.MoogReplayed)},
				{"mutt_remediation_replayed_total", []string{"queue", e.opts.IngestQueue}, float64(tt.report.AlerterReplayed)},
				{"mutt_remediation_dlq_depth", []string{"dlq_name", e.opts.MoogDLQ}, float64(tt.leftMoog)},
				{"mutt_remediation_dlq_depth", []string{"dlq_name", e.opts.AlerterDLQ}, float64(tt.leftAlerter)},
				{"mutt_remediation_dlq_depth", []string{"dlq_name", e.opts.DeadDLQ}, float64(len(tt.deadReasons))},
			}
			for _, r := range slices.Compact(slices.Sorted(slices.Values(tt.deadReasons))) {
				checks = append(checks, struct {
					name   string
					labels []string
					want   float64
				}{"mutt_remediation_dead_total", []string{"reason", r}, float64(count(tt.deadReasons, r))})
			}
			for _, c := range checks {
				if got := e.metric(t, c.name, c.labels...); got != c.want {
					t.Errorf("%s%v = %v, want %v", c.name, c.labels, got, c.want)
				}
			}
		})
	}
}

func count(list []string, v string) int {
	n := 0
	for _, s := range list {
		if s == v {
			n++
		}
	}
	return n
}

func TestDeadEntryKeepsItsStory(t *testing.T) {
	e := newEnv(t, nil)
	d := queue.DeadLetter{Payload: []byte(`{"x":1}`), Reason: "http_4xx", Error: "400 Bad Request", Source: "mutt:alert_queue",
		SourceID: "17-0", Attempts: 2, Status: 400, Deliveries: 1}
	id := e.add(t, e.opts.MoogDLQ, d)
	if _, err := e.svc.Cycle(context.Background()); err != nil {
		t.Fatal(err)
	}
	dead := e.entries(t, e.opts.DeadDLQ)
	if len(dead) != 1 {
		t.Fatalf("dead queue holds %d, want 1", len(dead))
	}
	f := dead[0].Fields
	want := map[string]string{
		queue.PayloadField: `{"x":1}`, "reason": "http_4xx", "source": e.opts.MoogDLQ, "source_id": id,
		"origin": "mutt:alert_queue", "origin_id": "17-0", "status": "400", queue.AttemptsField: "2",
		queue.ReplaysField: "0", "deliveries": "1",
	}
	for k, v := range want {
		if f[k] != v {
			t.Errorf("dead entry field %s = %q, want %q (entry %v)", k, f[k], v, f)
		}
	}
	if !strings.Contains(f["error"], "permanent") || !strings.Contains(f["error"], "400 Bad Request") {
		t.Errorf("dead entry error %q should say why and keep the detail", f["error"])
	}
	if _, err := time.Parse(time.RFC3339Nano, f["failed_at"]); err != nil {
		t.Errorf("failed_at %q: %v", f["failed_at"], err)
	}
}

// TestNoPingPong runs cycles against a pipeline that fails every replayed
// message straight back into the DLQ, keeping its replay count, as the
// alerter and forwarder do: the message must end in the dead queue after
// MaxReplays replays instead of cycling for ever.
func TestNoPingPong(t *testing.T) {
	for _, lane := range []string{"moog", "alerter"} {
		t.Run(lane, func(t *testing.T) {
			e := newEnv(t, nil)
			ctx := context.Background()
			dlq, target, reason := e.opts.MoogDLQ, e.opts.AlertQueue, "http_5xx"
			if lane == "alerter" {
				dlq, target, reason = e.opts.AlerterDLQ, e.opts.IngestQueue, "max_retries"
			}
			e.add(t, dlq, dl(`{"poison":true}`, reason, 0))
			replays := 0
			for range 5 {
				if _, err := e.svc.Cycle(ctx); err != nil {
					t.Fatal(err)
				}
				for _, en := range e.entries(t, target) {
					replays++
					e.add(t, dlq, queue.DeadLetter{Payload: en.Payload(), Reason: reason, Error: "failed again",
						Replays: atoi(t, en.Fields[queue.ReplaysField])})
					if err := e.rdb.XDel(ctx, target, en.ID).Err(); err != nil {
						t.Fatal(err)
					}
				}
			}
			if replays != e.opts.MaxReplays {
				t.Errorf("replayed %d times, want %d", replays, e.opts.MaxReplays)
			}
			dead := e.entries(t, e.opts.DeadDLQ)
			if len(dead) != 1 || dead[0].Fields["reason"] != "replay_limit" || dead[0].Fields[queue.ReplaysField] != "3" {
				t.Errorf("dead queue = %+v, want the message with reason replay_limit after 3 replays", dead)
			}
			if n := len(e.entries(t, dlq)) + len(e.entries(t, target)); n != 0 {
				t.Errorf("%d copies still cycling", n)
			}
		})
	}
}

func atoi(t *testing.T, s string) int64 {
	t.Helper()
	var n int64
	if _, err := fmt.Sscan(s, &n); err != nil {
		t.Fatalf("replays %q: %v", s, err)
	}
	return n
}

func TestCycleReportsRedisErrors(t *testing.T) {
	rdb := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", MaxRetries: -1, DialerRetries: 1, DialTimeout: 200 * time.Millisecond})
	t.Cleanup(func() { _ = rdb.Close() })
	reg := prometheus.NewRegistry()
	svc := remediation.New(remediation.Options{AlertQueue: "a", IngestQueue: "i", MoogDLQ: "m", AlerterDLQ: "d", DeadDLQ: "x"}, remediation.NewRedis(rdb), reg, nil)
	_, err := svc.Cycle(context.Background())
	if err == nil || !strings.Contains(err.Error(), "measuring dead-letter queues") {
		t.Errorf("Cycle against a closed port = %v, want an error saying what failed", err)
	}
	e := &env{reg: reg}
	if n := e.metric(t, "mutt_remediation_replay_fail_total", "reason", "redis_error"); n < 1 {
		t.Errorf("replay_fail_total{redis_error} = %v, want at least 1", n)
	}
}

func TestRunCyclesAndStops(t *testing.T) {
	tests := []struct {
		name string
		stop func(cancel context.CancelFunc, svc *remediation.Service)
	}{
		{name: "context cancelled", stop: func(cancel context.CancelFunc, _ *remediation.Service) { cancel() }},
		{name: "closed", stop: func(_ context.CancelFunc, svc *remediation.Service) { _ = svc.Close(); _ = svc.Close() }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var intervals atomic.Int64
			e := newEnv(t, func(o *remediation.Options) {
				o.Interval = 20 * time.Millisecond
				o.Dynamic = func(name string, fallback int64) int64 {
					if name == remediation.KeyInterval {
						intervals.Add(1)
					}
					return fallback
				}
			})
			e.add(t, e.opts.AlerterDLQ, dl("a0", "shed", 0))
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			done := make(chan error, 1)
			go func() { done <- e.svc.Run(ctx) }()
			// The first cycle runs at once, later ones every interval.
			itest.Eventually(t, 5*time.Second, "first cycle replays the entry", func() bool {
				return len(e.entries(t, e.opts.IngestQueue)) == 1
			})
			itest.Eventually(t, 5*time.Second, "three cycles", func() bool {
				return e.metric(t, "mutt_remediation_loops_total") >= 3
			})
			if intervals.Load() == 0 {
				t.Error("the interval was never read from dynamic config")
			}
			stopped := time.Now()
			tt.stop(cancel, e.svc)
			select {
			case err := <-done:
				if err != nil {
					t.Errorf("Run = %v", err)
				}
			case <-time.After(5 * time.Second):
				t.Fatal("Run still running 5 s after stop")
			}
			if d := time.Since(stopped); d > time.Second {
				t.Errorf("Run took %s to stop", d)
			}
		})
	}
}

func TestRunWaitsTheDynamicInterval(t *testing.T) {
	e := newEnv(t, func(o *remediation.Options) {
		o.Interval = time.Millisecond
		o.Dynamic = func(name string, fallback int64) int64 {
			if name == remediation.KeyInterval {
				return 3600
			}
			return fallback
		}
	})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- e.svc.Run(ctx) }()
	itest.Eventually(t, 5*time.Second, "first cycle", func() bool {
		return e.metric(t, "mutt_remediation_loops_total") == 1
	})
	// With a 1 ms static interval a hundred cycles would run in this
	// window; the dynamic hour must win.
	deadline := time.Now().Add(200 * time.Millisecond)
	for time.Now().Before(deadline) {
		if n := e.metric(t, "mutt_remediation_loops_total"); n != 1 {
			t.Fatalf("%v cycles ran; the dynamic interval of an hour was ignored", n)
		}
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("Run = %v", err)
	}
}

func TestHealthHandler(t *testing.T) {
	up := newEnv(t, nil)
	down := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", MaxRetries: -1, DialerRetries: 1, DialTimeout: 200 * time.Millisecond})
	t.Cleanup(func() { _ = down.Close() })
	tests := []struct {
		name       string
		svc        *remediation.Service
		wantStatus int
		wantState  string
	}{
		{name: "redis answers", svc: up.svc, wantStatus: 200, wantState: "healthy"},
		{name: "redis down", svc: remediation.New(remediation.Options{}, remediation.NewRedis(down), nil, nil), wantStatus: 503, wantState: "unhealthy"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			tt.svc.HealthHandler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/health", nil))
			var body map[string]any
			if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
				t.Fatalf("body %q: %v", rec.Body, err)
			}
			if rec.Code != tt.wantStatus || body["status"] != tt.wantState || body["service"] != "mutt-remediation" {
				t.Errorf("health = %d %v, want %d %s", rec.Code, body, tt.wantStatus, tt.wantState)
			}
		})
	}
}

// TestScanCrossesPages puts more unreplayable entries in front of a
// retryable one than one page holds: they all go to the dead queue and the
// retryable one is still found.
func TestScanCrossesPages(t *testing.T) {
	e := newEnv(t, func(o *remediation.Options) { o.BatchSize = 1 })
	ctx := context.Background()
	const bad = 250
	_, err := e.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for range bad {
			p.XAdd(ctx, &redis.XAddArgs{Stream: e.opts.AlerterDLQ, Values: dl("garbage", "invalid_event", 0).Fields(time.Now())})
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	e.add(t, e.opts.AlerterDLQ, dl("good", "shed", 0))
	e.add(t, e.opts.AlerterDLQ, dl("next", "shed", 0))
	rep, err := e.svc.Cycle(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if rep.AlerterReplayed != 1 || rep.Dead != bad {
		t.Errorf("report %+v, want 1 replayed and %d dead", rep, bad)
	}
	if got := e.payloads(t, e.opts.IngestQueue); !slices.Equal(got, []string{"good"}) {
		t.Errorf("ingest queue %q, want [good]", got)
	}
	if got := e.payloads(t, e.opts.AlerterDLQ); !slices.Equal(got, []string{"next"}) {
		t.Errorf("alerter DLQ %q, want [next]", got)
	}
}
