package forward

import (
	"context"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/redis/go-redis/v9"

	"github.com/mutt-go/mutt/internal/itest"
)

func TestRateLimiterGrants(t *testing.T) {
	// A long period keeps tokens from coming back while the test looks.
	const period = time.Hour
	tests := []struct {
		name        string
		limit       int64
		burst       int64 // 0 for the default
		batch       int
		wantGranted int
	}{
		{"burst of the whole limit grants exactly the limit", 10, 10, 15, 10},
		{"batch within the burst passes whole", 10, 10, 7, 7},
		{"default burst is half a percent of the limit", 2000, 0, 64, 10},
		{"default burst is at least one", 50, 0, 64, 1},
		{"burst above the limit is cut to the limit", 5, 50, 8, 5},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rdb, prefix := itest.Redis(t)
			key := prefix + ":rate_limit:moog"
			next := &standIn{}
			m := NewMetrics(prometheus.NewRegistry())
			l := NewRateLimiter(next, RateLimitOptions{
				Redis: rdb, Key: key, Limit: constInt(tt.limit), Period: constDuration(period),
				Burst: constInt(tt.burst), Metrics: m,
			})
			res := l.Send(context.Background(), testAlerts(tt.batch))
			if _, n := next.counts(); n != tt.wantGranted {
				t.Fatalf("next got %d alerts, want %d", n, tt.wantGranted)
			}
			interval := period / time.Duration(tt.limit)
			var prev time.Duration
			for i, r := range res {
				if i < tt.wantGranted {
					if r.Outcome != Delivered {
						t.Errorf("alert %d: %v, want Delivered", i, r.Outcome)
					}
					continue
				}
				if r.Outcome != Park || r.Reason != "rate_limited" || r.RetryAfter <= 0 || r.Err != nil {
					t.Errorf("alert %d: %v %q after %v err %v, want Park rate_limited with a wait", i, r.Outcome, r.Reason, r.RetryAfter, r.Err)
				}
				if r.RetryAfter > time.Duration(tt.batch)*interval {
					t.Errorf("alert %d: RetryAfter %v is beyond when its token can be due", i, r.RetryAfter)
				}
				if i > tt.wantGranted && r.RetryAfter-prev != interval {
					t.Errorf("alert %d: RetryAfter %v, %v after the previous, want one interval (%v)", i, r.RetryAfter, r.RetryAfter-prev, interval)
				}
				prev = r.RetryAfter
			}
			if got := testutil.ToFloat64(m.rateLimitHits); got != float64(tt.batch-tt.wantGranted) {
				t.Errorf("mutt_moog_rate_limit_hits_total = %v, want %d", got, tt.batch-tt.wantGranted)
			}
			if tt.wantGranted < tt.batch {
				// A second batch at once finds no token left.
				res := l.Send(context.Background(), testAlerts(3))
				for i, r := range res {
					if r.Outcome != Park || r.RetryAfter <= 0 || r.RetryAfter > period {
						t.Errorf("second batch alert %d: %v after %v, want Park within the period", i, r.Outcome, r.RetryAfter)
					}
				}
			}
			pttl, err := rdb.PTTL(context.Background(), key).Result()
			if err != nil {
				t.Fatal(err)
			}
			if pttl <= 0 || pttl > time.Second+time.Duration(tt.batch)*interval {
				t.Errorf("key PTTL %v, want a positive expiry in milliseconds of the window", pttl)
			}
		})
	}
}

func TestRateLimiterRefills(t *testing.T) {
	rdb, prefix := itest.Redis(t)
	next := &standIn{}
	l := NewRateLimiter(next, RateLimitOptions{
		Redis: rdb, Key: prefix + ":rl", Limit: constInt(20), Period: constDuration(time.Second), Burst: constInt(20),
	})
	res := l.Send(context.Background(), testAlerts(25))
	if _, n := next.counts(); n != 20 {
		t.Fatalf("first batch: %d granted, want 20", n)
	}
	wait := res[20].RetryAfter
	if wait <= 0 || wait > 50*time.Millisecond {
		t.Fatalf("first parked alert waits %v, want at most one interval (50ms)", wait)
	}
	// The token the first parked alert was promised is there when it is due.
	itest.Eventually(t, 2*time.Second, "a token after the promised wait", func() bool {
		return l.Send(context.Background(), testAlerts(1))[0].Outcome == Delivered
	})
	if _, n := next.counts(); n != 21 {
		t.Errorf("%d granted, want 21", n)
	}
}

func TestRateLimiterReplacesOldSortedSet(t *testing.T) {
	ctx := context.Background()
	rdb, prefix := itest.Redis(t)
	key := prefix + ":rate_limit:moog"
	// What an older forwarder left: a window log with millisecond scores.
	rdb.ZAdd(ctx, key, redis.Z{Score: 1736680200123, Member: "1736680200123:0.17"})
	next := &standIn{}
	m := NewMetrics(prometheus.NewRegistry())
	l := NewRateLimiter(next, RateLimitOptions{Redis: rdb, Key: key, Limit: constInt(5), Period: constDuration(time.Hour), Burst: constInt(5), Metrics: m})
	l.Send(ctx, testAlerts(8))
	if _, n := next.counts(); n != 5 {
		t.Errorf("%d granted, want 5", n)
	}
	if typ, _ := rdb.Type(ctx, key).Result(); typ != "string" {
		t.Errorf("key type %s, want string", typ)
	}
	if got := testutil.ToFloat64(m.rateLimitErrors); got != 0 {
		t.Errorf("%v limiter errors, want 0", got)
	}
}

func TestRateLimiterUnlimited(t *testing.T) {
	tests := []struct {
		name  string
		limit func() int64
	}{
		{"nil limit", nil},
		{"zero", constInt(0)},
		{"negative", constInt(-1)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rdb, prefix := itest.Redis(t)
			key := prefix + ":rl"
			next := &standIn{}
			l := NewRateLimiter(next, RateLimitOptions{Redis: rdb, Key: key, Limit: tt.limit})
			for range 3 {
				for i, r := range l.Send(context.Background(), testAlerts(100)) {
					if r.Outcome != Delivered {
						t.Fatalf("alert %d: %v", i, r.Outcome)
					}
				}
			}
			if calls, n := next.counts(); calls != 3 || n != 300 {
				t.Errorf("next: %d calls, %d alerts; want 3, 300", calls, n)
			}
			if n, _ := rdb.Exists(context.Background(), key).Result(); n != 0 {
				t.Errorf("unlimited sends touched the limit key")
			}
		})
	}
}

func TestRateLimiterFailsOpen(t *testing.T) {
	next := &standIn{}
	m := NewMetrics(prometheus.NewRegistry())
	l := NewRateLimiter(next, RateLimitOptions{
		Redis: deadRedis(t), Key: "mutt:rate_limit:moog", Limit: constInt(1), Metrics: m,
	})
	res := l.Send(context.Background(), testAlerts(10))
	for i, r := range res {
		if r.Outcome != Delivered {
			t.Errorf("alert %d: %v, want Delivered (fail open)", i, r.Outcome)
		}
	}
	if got := testutil.ToFloat64(m.rateLimitErrors); got != 1 {
		t.Errorf("mutt_moog_rate_limit_errors_total = %v, want 1", got)
	}
	if got := testutil.ToFloat64(m.rateLimitHits); got != 0 {
		t.Errorf("mutt_moog_rate_limit_hits_total = %v, want 0", got)
	}
}

// TestRateLimiterSharedAcrossProcesses runs three limiters with their own
// Redis connections (three forwarder processes) against one key at 500/s.
// Each behaves like the forwarder: it keeps a backlog, sends what is due,
// and brings parked alerts back when their RetryAfter is over. Every
// one-second window of deliveries must stay within 1 % of the limit, and so
// must the overall rate.
func TestRateLimiterSharedAcrossProcesses(t *testing.T) {
	const (
		limit     = 500
		processes = 3
		backlog   = 64
		run       = 3 * time.Second
	)
	_, prefix := itest.Redis(t)
	key := prefix + ":rate_limit:moog"
	next := &standIn{}
	start := time.Now()
	deadline := start.Add(run)
	var wg sync.WaitGroup
	for p := range processes {
		l := NewRateLimiter(next, RateLimitOptions{
			Redis: newRedisClient(t), Key: key, Limit: constInt(limit), Period: constDuration(time.Second),
		})
		wg.Go(func() { hammer(l, p, backlog, deadline) })
	}
	wg.Wait()

	next.mu.Lock()
	times := slices.Clone(next.times)
	next.mu.Unlock()
	slices.SortFunc(times, func(a, b time.Time) int { return a.Compare(b) })
	peak, j := 0, 0
	for i := range times {
		for times[i].Sub(times[j]) >= time.Second {
			j++
		}
		peak = max(peak, i-j+1)
	}
	rate := float64(len(times)) / run.Seconds()
	t.Logf("%d delivered in %v (%.1f/s); busiest 1 s window %d", len(times), run, rate, peak)
	if peak > limit*101/100 {
		t.Errorf("busiest 1 s window delivered %d, want at most %d", peak, limit*101/100)
	}
	// Overshoot must stay under 1 %; the low side only has to show the
	// limit is not starving senders (a loaded CI machine loses a little).
	if rate > limit*1.01 || rate < limit*0.9 {
		t.Errorf("overall %.1f/s, want at most 1%% over %d/s and at least 90%% of it", rate, limit)
	}
}

// hammer keeps backlog alerts waiting and sends the due ones until
// deadline, as a forwarder under sustained load does.
func hammer(l *RateLimiter, process, backlog int, deadline time.Time) {
	type item struct {
		alert Alert
		due   time.Time
	}
	seq := 0
	fresh := func(now time.Time) item {
		seq++
		return item{Alert{ID: strconv.Itoa(process) + "-" + strconv.Itoa(seq), Payload: []byte(`{}`), Attempt: 1}, now}
	}
	pending := make([]item, backlog)
	now := time.Now()
	for i := range pending {
		pending[i] = fresh(now)
	}
	timer := time.NewTimer(0)
	defer timer.Stop()
	for now.Before(deadline) {
		var batch []Alert
		var idx []int
		for i, it := range pending {
			if !it.due.After(now) {
				batch = append(batch, it.alert)
				idx = append(idx, i)
			}
		}
		if len(batch) > 0 {
			res := l.Send(context.Background(), batch)
			done := time.Now()
			for k, r := range res {
				if r.Outcome == Park {
					pending[idx[k]].due = done.Add(r.RetryAfter)
				} else {
					pending[idx[k]] = fresh(done)
				}
			}
		}
		next := deadline
		for _, it := range pending {
			if it.due.Before(next) {
				next = it.due
			}
		}
		if d := time.Until(next); d > 0 {
			timer.Reset(d)
			<-timer.C
		}
		now = time.Now()
	}
}
