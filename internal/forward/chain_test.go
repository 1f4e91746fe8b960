package forward

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/mutt-go/mutt/internal/itest"
)

// TestChain drives retry(breaker(ratelimit(webhook))) against a fake
// Moogsoft whose answer each step sets.
func TestChain(t *testing.T) {
	ctx := context.Background()
	rdb, prefix := itest.Redis(t)
	var status atomic.Int64
	var requests atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		requests.Add(1)
		w.WriteHeader(int(status.Load()))
	}))
	defer srv.Close()
	reg := prometheus.NewRegistry()
	m := NewMetrics(reg)
	w, err := NewWebhook(WebhookOptions{URL: srv.URL, Metrics: m})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	rlKey := prefix + ":rate_limit:moog"
	s, _ := Chain(w,
		RateLimitOptions{Redis: rdb, Key: rlKey, Limit: constInt(6), Period: constDuration(time.Hour), Burst: constInt(6), Metrics: m},
		BreakerOptions{Redis: rdb, KeyPrefix: prefix + ":cb", Threshold: constInt(3), OpenFor: constDuration(time.Minute), Metrics: m},
		RetryOptions{MaxAttempts: 2, Rand: func() float64 { return 0.5 }, Metrics: m},
	)

	tests := []struct {
		name         string
		status       int
		attempt      int
		n            int
		wantOutcome  Outcome
		wantReason   string
		wantRequests int64 // new requests to Moogsoft
	}{
		{"delivered", 200, 1, 2, Delivered, "", 2},
		{"5xx retried with backoff", 503, 1, 1, Retry, reasonHTTP5xx, 1},
		{"5xx on the last attempt is exhausted", 503, 2, 1, Failed, reasonExhausted, 1},
		{"the third failure opens the breaker", 500, 1, 1, Retry, reasonHTTP5xx, 1},
		{"open breaker: parked, no request", 200, 1, 4, Park, reasonOpen, 0},
		{"open breaker on the last attempt: still parked", 200, 2, 1, Park, reasonOpen, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status.Store(int64(tt.status))
			before := requests.Load()
			alerts := testAlerts(tt.n)
			for i := range alerts {
				alerts[i].Attempt = tt.attempt
			}
			for i, r := range s.Send(ctx, alerts) {
				if r.Outcome != tt.wantOutcome || r.Reason != tt.wantReason {
					t.Errorf("alert %d: %v %q (err %v), want %v %q", i, r.Outcome, r.Reason, r.Err, tt.wantOutcome, tt.wantReason)
				}
				if (r.Outcome == Retry || r.Outcome == Park) && r.RetryAfter <= 0 {
					t.Errorf("alert %d: %v without a wait", i, r.Outcome)
				}
			}
			if got := requests.Load() - before; got != tt.wantRequests {
				t.Errorf("%d requests, want %d", got, tt.wantRequests)
			}
		})
	}
	// The breaker is asked before the limiter: the 5 blocked alerts took
	// no token, so of the 6 one is left after the 5 that were sent.
	probe := &standIn{}
	left := NewRateLimiter(probe, RateLimitOptions{Redis: rdb, Key: rlKey, Limit: constInt(6), Period: constDuration(time.Hour), Burst: constInt(6)})
	left.Send(ctx, testAlerts(3))
	if _, n := probe.counts(); n != 1 {
		t.Errorf("%d tokens left, want 1", n)
	}
	if got := testutil.ToFloat64(m.requests.WithLabelValues("success", "")); got != 2 {
		t.Errorf("requests_total{success} = %v, want 2", got)
	}
	if got := testutil.ToFloat64(m.requests.WithLabelValues("fail", "circuit_open")); got != 5 {
		t.Errorf("requests_total{fail,circuit_open} = %v, want 5", got)
	}
	if got := testutil.ToFloat64(m.requests.WithLabelValues("fail", "retry_exhausted")); got != 1 {
		t.Errorf("requests_total{fail,retry_exhausted} = %v, want 1", got)
	}
}

func TestChainWithoutRedis(t *testing.T) {
	next := &standIn{result: always(Result{Outcome: Retry, Reason: reasonConnection})}
	s, _ := Chain(next, RateLimitOptions{Limit: constInt(1)}, BreakerOptions{}, RetryOptions{MaxAttempts: 3})
	if _, ok := s.(*Retrier); !ok {
		t.Fatalf("Chain returned %T, want *Retrier", s)
	}
	res := s.Send(context.Background(), testAlerts(5))
	if _, n := next.counts(); n != 5 {
		t.Errorf("next got %d alerts, want all 5 with no limiter or breaker", n)
	}
	for i, r := range res {
		if r.Outcome != Retry {
			t.Errorf("alert %d: %v", i, r.Outcome)
		}
	}
}

func BenchmarkWebhookBody(b *testing.B) {
	alert, err := os.ReadFile(filepath.Join("testdata", "handled.alert.json"))
	if err != nil {
		b.Fatal(err)
	}
	buf := make([]byte, 0, 2048)
	b.SetBytes(int64(len(alert)))
	b.ReportAllocs()
	for b.Loop() {
		var f alertFields
		if err := parseAlert(alert, &f); err != nil {
			b.Fatal(err)
		}
		buf = appendBody(buf[:0], &f, testAgentTime)
	}
}

// BenchmarkChainSend64 sends 64-alert batches through the whole chain, with
// the rate limiter and the breaker on the test Redis, to a local fake
// Moogsoft.
func BenchmarkChainSend64(b *testing.B) {
	rdb, prefix := itest.Redis(b)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		_, _ = w.Write([]byte(`{"ok": true}`))
	}))
	defer srv.Close()
	m := NewMetrics(prometheus.NewRegistry())
	w, err := NewWebhook(WebhookOptions{URL: srv.URL, Metrics: m})
	if err != nil {
		b.Fatal(err)
	}
	defer w.Close()
	s, _ := Chain(w,
		RateLimitOptions{Redis: rdb, Key: prefix + ":rl", Limit: constInt(1e9), Metrics: m},
		BreakerOptions{Redis: rdb, KeyPrefix: prefix + ":cb", Metrics: m},
		RetryOptions{Metrics: m},
	)
	alert, err := os.ReadFile(filepath.Join("testdata", "handled.alert.json"))
	if err != nil {
		b.Fatal(err)
	}
	batch := make([]Alert, 64)
	for i := range batch {
		batch[i] = Alert{ID: "1-" + strconv.Itoa(i), Payload: alert, Attempt: 1}
	}
	b.ReportAllocs()
	start := time.Now()
	for b.Loop() {
		for i, r := range s.Send(context.Background(), batch) {
			if r.Outcome != Delivered {
				b.Fatalf("alert %d: %v %v", i, r.Outcome, r.Err)
			}
		}
	}
	b.ReportMetric(float64(b.N*len(batch))/time.Since(start).Seconds(), "alerts/s")
}
