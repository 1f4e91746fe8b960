package forward

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

func TestRetrierBackoff(t *testing.T) {
	tests := []struct {
		name    string
		rand    float64
		attempt int
		after   time.Duration // RetryAfter from below
		want    time.Duration
	}{
		{"first attempt, top of the range", 0.999, 1, 0, 999 * time.Millisecond},
		{"first attempt, bottom of the range", 0, 1, 0, 0},
		{"second attempt doubles the ceiling", 0.5, 2, 0, time.Second},
		{"fifth attempt", 0.5, 5, 0, 8 * time.Second},
		{"ceiling capped at Max", 0.5, 9, 0, 30 * time.Second},
		{"huge attempt does not overflow", 0.5, 100, 0, 30 * time.Second},
		{"zero attempt counts as the first", 0.5, 0, 0, 500 * time.Millisecond},
		{"Retry-After longer than the backoff wins", 0.1, 1, 7 * time.Second, 7 * time.Second},
		{"backoff longer than Retry-After wins", 0.5, 3, time.Second, 2 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			next := &standIn{result: always(Result{Outcome: Retry, Status: 503, Reason: reasonHTTP5xx, RetryAfter: tt.after})}
			r := NewRetrier(next, RetryOptions{MaxAttempts: 1000, Base: time.Second, Max: 60 * time.Second, Rand: func() float64 { return tt.rand }})
			got := r.Send(context.Background(), []Alert{{ID: "a", Payload: []byte(`{}`), Attempt: tt.attempt}})[0]
			if got.Outcome != Retry || got.RetryAfter != tt.want || got.Status != 503 || got.Reason != reasonHTTP5xx {
				t.Errorf("got %v %q %d after %v, want Retry http_5xx 503 after %v", got.Outcome, got.Reason, got.Status, got.RetryAfter, tt.want)
			}
		})
	}
}

func TestRetrierBackoffBounds(t *testing.T) {
	r := NewRetrier(&standIn{}, RetryOptions{Base: time.Second, Max: 60 * time.Second})
	tests := []struct {
		attempt int
		ceiling time.Duration
	}{
		{1, time.Second}, {2, 2 * time.Second}, {3, 4 * time.Second}, {6, 32 * time.Second},
		{7, 60 * time.Second}, {40, 60 * time.Second}, {63, 60 * time.Second}, {1 << 30, 60 * time.Second},
	}
	for _, tt := range tests {
		for range 200 {
			if d := r.backoff(tt.attempt); d < 0 || d >= tt.ceiling {
				t.Fatalf("attempt %d: backoff %v outside [0, %v)", tt.attempt, d, tt.ceiling)
			}
		}
	}
}

func TestRetrierExhaustion(t *testing.T) {
	cause := errors.New("moogsoft answered HTTP 503")
	tests := []struct {
		name        string
		attempt     int
		wantOutcome Outcome
	}{
		{"first attempt retries", 1, Retry},
		{"fifth attempt retries", 5, Retry},
		{"sixth attempt is the last", 6, Failed},
		{"beyond the last", 9, Failed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := NewMetrics(prometheus.NewRegistry())
			next := &standIn{result: always(Result{Outcome: Retry, Status: 503, Reason: reasonHTTP5xx, Err: cause})}
			r := NewRetrier(next, RetryOptions{Rand: func() float64 { return 0.5 }, Metrics: m})
			got := r.Send(context.Background(), []Alert{{ID: "a", Payload: []byte(`{}`), Attempt: tt.attempt}})[0]
			if got.Outcome != tt.wantOutcome {
				t.Fatalf("outcome %v, want %v", got.Outcome, tt.wantOutcome)
			}
			exhausted := testutil.ToFloat64(m.requests.WithLabelValues("fail", "retry_exhausted"))
			if tt.wantOutcome == Failed {
				if got.Reason != "retries_exhausted" || got.Status != 503 || !errors.Is(got.Err, cause) || got.RetryAfter != 0 {
					t.Errorf("got %q status %d err %v after %v; want retries_exhausted keeping status 503 and the error",
						got.Reason, got.Status, got.Err, got.RetryAfter)
				}
				if exhausted != 1 {
					t.Errorf("mutt_moog_requests_total{fail,retry_exhausted} = %v, want 1", exhausted)
				}
			} else if exhausted != 0 || got.RetryAfter <= 0 {
				t.Errorf("retry after %v, exhausted counter %v", got.RetryAfter, exhausted)
			}
		})
	}
}

func TestRetrierPassesOtherOutcomes(t *testing.T) {
	tests := []struct {
		name string
		res  Result
	}{
		{"delivered", Result{Outcome: Delivered, Status: 202}},
		{"parked", Result{Outcome: Park, RetryAfter: 3 * time.Second, Reason: reasonOpen}},
		{"parked by the rate limit", Result{Outcome: Park, RetryAfter: 20 * time.Millisecond, Reason: reasonRateLimit}},
		{"failed", Result{Outcome: Failed, Status: 400, Reason: reasonHTTP4xx}},
		{"malformed", Result{Outcome: Failed, Reason: reasonMalformed}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := NewRetrier(&standIn{result: always(tt.res)}, RetryOptions{MaxAttempts: 2})
			// Even on the last attempt nothing but Retry is touched.
			for _, attempt := range []int{1, 2, 7} {
				got := r.Send(context.Background(), []Alert{{ID: "a", Payload: []byte(`{}`), Attempt: attempt}})[0]
				if got != tt.res {
					t.Errorf("attempt %d: got %+v, want %+v unchanged", attempt, got, tt.res)
				}
			}
		})
	}
}

func TestRetrierMixedBatch(t *testing.T) {
	results := map[string]Result{
		"ok":    {Outcome: Delivered, Status: 200},
		"retry": {Outcome: Retry, Status: 500, Reason: reasonHTTP5xx},
		"last":  {Outcome: Retry, Reason: reasonTimeout},
		"park":  {Outcome: Park, RetryAfter: time.Second, Reason: reasonOpen},
	}
	next := &standIn{result: func(a Alert) Result { return results[a.ID] }}
	r := NewRetrier(next, RetryOptions{MaxAttempts: 3, Rand: func() float64 { return 0.5 }})
	got := r.Send(context.Background(), []Alert{
		{ID: "ok", Attempt: 3}, {ID: "retry", Attempt: 2}, {ID: "last", Attempt: 3}, {ID: "park", Attempt: 3},
	})
	want := []struct {
		outcome Outcome
		reason  string
		after   time.Duration
	}{
		{Delivered, "", 0},
		{Retry, reasonHTTP5xx, time.Second},
		{Failed, reasonExhausted, 0},
		{Park, reasonOpen, time.Second},
	}
	for i, w := range want {
		if got[i].Outcome != w.outcome || got[i].Reason != w.reason || got[i].RetryAfter != w.after {
			t.Errorf("alert %d: %v %q after %v, want %v %q after %v", i, got[i].Outcome, got[i].Reason, got[i].RetryAfter, w.outcome, w.reason, w.after)
		}
	}
}
