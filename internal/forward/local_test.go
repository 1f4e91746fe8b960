package forward

import (
	"context"
	"testing"
	"time"
)

func TestLocalBucket(t *testing.T) {
	ctx := context.Background()
	now := time.Unix(1000, 0)
	b := NewLocalBucket()
	b.now = func() time.Time { return now }
	r := Rate{Limit: 10, Period: time.Second, Burst: 3}
	tests := []struct {
		name        string
		advance     time.Duration
		n           int
		wantGranted int
		wantWait    time.Duration
	}{
		{"a full bucket grants the burst", 0, 5, 3, 100 * time.Millisecond},
		{"an empty bucket grants nothing", 0, 1, 0, 100 * time.Millisecond},
		{"one interval later one token", 100 * time.Millisecond, 2, 1, 100 * time.Millisecond},
		{"a long pause refills to the burst only", time.Hour, 10, 3, 100 * time.Millisecond},
	}
	for _, tt := range tests {
		now = now.Add(tt.advance)
		granted, wait, err := b.Take(ctx, tt.n, r)
		if err != nil || granted != tt.wantGranted || wait != tt.wantWait {
			t.Errorf("%s: Take = %d, %v, %v; want %d, %v", tt.name, granted, wait, err, tt.wantGranted, tt.wantWait)
		}
	}
}

func TestLocalBreakerStore(t *testing.T) {
	ctx := context.Background()
	now := time.Unix(1000, 0)
	s := NewLocalBreakerStore()
	s.now = func() time.Time { return now }
	const openFor, probeTTL = time.Minute, 10 * time.Second
	check := func(step, token, want string, wantProbe bool) {
		t.Helper()
		c, err := s.Before(ctx, openFor, probeTTL, token)
		if err != nil || c.State != want || c.Probe != wantProbe {
			t.Fatalf("%s: Before = %+v, %v; want %s, probe %v", step, c, err, want, wantProbe)
		}
	}
	record := func(step string, delivered bool, failures int, token, wantTo string) {
		t.Helper()
		ch, err := s.After(ctx, delivered, failures, 3, token)
		if err != nil || ch.To != wantTo {
			t.Fatalf("%s: After = %+v, %v; want %s", step, ch, err, wantTo)
		}
	}
	check("new", "t1", StateClosed, false)
	record("two failures", false, 2, "", StateClosed)
	record("a delivery resets", true, 0, "", StateClosed)
	record("three failures open", false, 3, "", StateOpen)
	check("open", "t2", StateOpen, false)
	if st, _, _ := s.State(ctx, openFor); st != StateOpen {
		t.Fatalf("State = %s, want OPEN", st)
	}
	now = now.Add(openFor)
	if st, _, _ := s.State(ctx, openFor); st != StateHalfOpen {
		t.Fatalf("State after the open period = %s, want HALF_OPEN", st)
	}
	check("the first after the open period probes", "t3", StateHalfOpen, true)
	check("a second waits for the probe", "t4", StateHalfOpen, false)
	record("a late failure of another batch changes nothing", false, 1, "", StateHalfOpen)
	record("the probe fails and reopens", false, 1, "t3", StateOpen)
	now = now.Add(openFor)
	check("next probe", "t5", StateHalfOpen, true)
	now = now.Add(probeTTL)
	check("a probe that died is replaced", "t6", StateHalfOpen, true)
	record("the probe is delivered and closes", true, 0, "t6", StateClosed)
}

// TestChainInProcess builds the chain on the in-process bucket and breaker
// state, as embedded mode does without Redis: the limit parks what it has
// no tokens for, and failures open the breaker.
func TestChainInProcess(t *testing.T) {
	ctx := context.Background()
	next := &standIn{}
	s, breaker := Chain(next,
		RateLimitOptions{Bucket: NewLocalBucket(), Limit: constInt(2), Period: constDuration(time.Hour), Burst: constInt(2)},
		BreakerOptions{Store: NewLocalBreakerStore(), Threshold: constInt(1), OpenFor: constDuration(time.Hour)},
		RetryOptions{MaxAttempts: 5},
	)
	if breaker == nil {
		t.Fatal("Chain left the breaker out with a Store given")
	}
	alerts := []Alert{{ID: "1", Attempt: 1}, {ID: "2", Attempt: 1}, {ID: "3", Attempt: 1}}
	res := s.Send(ctx, alerts)
	if res[0].Outcome != Delivered || res[1].Outcome != Delivered || res[2].Outcome != Park || res[2].Reason != reasonRateLimit {
		t.Fatalf("results over the limit = %+v", res)
	}

	next = &standIn{result: always(Result{Outcome: Retry, Status: 503, Reason: reasonHTTP5xx})}
	s, breaker = Chain(next,
		RateLimitOptions{},
		BreakerOptions{Store: NewLocalBreakerStore(), Threshold: constInt(1), OpenFor: constDuration(time.Hour)},
		RetryOptions{MaxAttempts: 5},
	)
	if r := s.Send(ctx, alerts[:1]); r[0].Outcome != Retry {
		t.Fatalf("a 503 = %+v, want Retry", r[0])
	}
	if st, err := breaker.State(ctx); err != nil || st != StateOpen {
		t.Fatalf("breaker after the threshold = %s, %v; want OPEN", st, err)
	}
	if st, err := breaker.Status(ctx); err != nil || st.State != StateOpen || st.Failures != 1 || st.OpenedAt.IsZero() {
		t.Fatalf("Status after the threshold = %+v, %v; want OPEN after 1 failure, with its opening time", st, err)
	}
	if r := s.Send(ctx, alerts[1:2]); r[0].Outcome != Park || r[0].Reason != reasonOpen {
		t.Fatalf("a send while open = %+v, want parked", r[0])
	}
	if calls, _ := next.counts(); calls != 1 {
		t.Errorf("Moogsoft called %d times, want once before the breaker opened", calls)
	}
}
