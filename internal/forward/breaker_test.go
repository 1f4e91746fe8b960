package forward

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/redis/go-redis/v9"

	"github.com/mutt-go/mutt/internal/itest"
)

var (
	ok200    = Result{Outcome: Delivered, Status: 200}
	fail503  = Result{Outcome: Retry, Status: 503, Reason: reasonHTTP5xx}
	fail429  = Result{Outcome: Retry, Status: 429, Reason: reasonRateLimit}
	fail408  = Result{Outcome: Retry, Status: 408, Reason: reasonHTTP4xx}
	fail400  = Result{Outcome: Failed, Status: 400, Reason: reasonHTTP4xx}
	timedOut = Result{Outcome: Retry, Reason: reasonTimeout}
	refused  = Result{Outcome: Retry, Reason: reasonConnection}
	limited  = Result{Outcome: Park, RetryAfter: time.Millisecond, Reason: reasonRateLimit}
)

// breakerRig is a breaker over a scripted stand-in, with its metrics on a
// registry of its own.
type breakerRig struct {
	b      *Breaker
	next   *standIn
	m      *Metrics
	rdb    redis.UniversalClient
	prefix string
	answer Result // what next answers; set before each Send
}

func newBreakerRig(t *testing.T, rdb redis.UniversalClient, prefix string, threshold int64, openFor time.Duration) *breakerRig {
	t.Helper()
	r := &breakerRig{rdb: rdb, prefix: prefix, answer: ok200}
	r.next = &standIn{result: func(Alert) Result { return r.answer }}
	r.m = NewMetrics(prometheus.NewRegistry())
	r.b = NewBreaker(r.next, BreakerOptions{
		Redis: rdb, KeyPrefix: prefix, Threshold: constInt(threshold), OpenFor: constDuration(openFor),
		Metrics: r.m,
	})
	return r
}

func (r *breakerRig) send(t *testing.T, answer Result, n int) []Result {
	t.Helper()
	r.answer = answer
	return r.b.Send(context.Background(), testAlerts(n))
}

func (r *breakerRig) get(t *testing.T, suffix string) string {
	t.Helper()
	v, err := r.rdb.Get(context.Background(), r.prefix+suffix).Result()
	if err == redis.Nil {
		return "<absent>"
	}
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func (r *breakerRig) changes(from, to string) float64 {
	return testutil.ToFloat64(r.b.bm.changes.WithLabelValues(from, to))
}

func redisNow(t *testing.T, rdb redis.UniversalClient) time.Time {
	t.Helper()
	now, err := rdb.Time(context.Background()).Result()
	if err != nil {
		t.Fatal(err)
	}
	return now
}

func epochSeconds(t time.Time) string {
	return strconv.FormatFloat(float64(t.UnixMicro())/1e6, 'f', 6, 64)
}

func TestBreakerCountsFailures(t *testing.T) {
	tests := []struct {
		name      string
		steps     []Result // one single-alert Send each
		wantState string
		wantFails string
	}{
		{"5xx trips at the threshold", []Result{fail503, fail503, fail503}, "OPEN", "3"},
		{"timeouts trip", []Result{timedOut, timedOut, timedOut}, "OPEN", "3"},
		{"connection errors trip", []Result{refused, refused, refused}, "OPEN", "3"},
		{"below the threshold stays closed", []Result{fail503, timedOut}, "CLOSED", "2"},
		{"429 does not count", []Result{fail429, fail429, fail429, fail429}, "CLOSED", "<absent>"},
		{"retryable 4xx does not count", []Result{fail408, fail408, fail408}, "CLOSED", "<absent>"},
		{"permanent 4xx neither counts nor resets", []Result{fail503, fail503, fail400, fail400, fail503}, "OPEN", "3"},
		{"a delivery resets the count", []Result{fail503, fail503, ok200, fail503, fail503}, "CLOSED", "2"},
		{"a delivery writes failures 0", []Result{ok200}, "CLOSED", "0"},
		{"parked alerts neither count nor reset", []Result{fail503, limited, limited, fail503}, "CLOSED", "2"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rdb, prefix := itest.Redis(t)
			r := newBreakerRig(t, rdb, prefix, 3, time.Minute)
			for i, step := range tt.steps {
				if res := r.send(t, step, 1); res[0] != step {
					t.Fatalf("step %d: result %+v, want next's %+v passed through", i, res[0], step)
				}
			}
			if got := r.get(t, ":state"); got != tt.wantState {
				t.Errorf("state %s, want %s", got, tt.wantState)
			}
			if got := r.get(t, ":failures"); got != tt.wantFails {
				t.Errorf("failures %s, want %s", got, tt.wantFails)
			}
			opened := r.get(t, ":open_time")
			if tt.wantState == "OPEN" {
				v, err := strconv.ParseFloat(opened, 64)
				if err != nil {
					t.Fatalf("open_time %q is not epoch seconds: %v", opened, err)
				}
				if d := redisNow(t, rdb).Sub(time.UnixMicro(int64(v * 1e6))); d < 0 || d > 5*time.Second {
					t.Errorf("open_time %s is %v from now", opened, d)
				}
				if testutil.ToFloat64(r.b.bm.trips) != 1 || r.changes("CLOSED", "OPEN") != 1 {
					t.Errorf("trips %v, CLOSED→OPEN changes %v; want 1 and 1",
						testutil.ToFloat64(r.b.bm.trips), r.changes("CLOSED", "OPEN"))
				}
			} else if opened != "<absent>" {
				t.Errorf("open_time %s while %s", opened, tt.wantState)
			}
		})
	}
}

func TestBreakerBatch(t *testing.T) {
	tests := []struct {
		name      string
		results   []Result
		wantState string
		wantFails string
	}{
		{"one batch of threshold failures trips", []Result{fail503, timedOut, refused}, "OPEN", "3"},
		{"a delivery in the batch wins", []Result{fail503, ok200, fail503, fail503}, "CLOSED", "0"},
		{"uncounted results", []Result{fail429, fail400, limited}, "CLOSED", "<absent>"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rdb, prefix := itest.Redis(t)
			r := newBreakerRig(t, rdb, prefix, 3, time.Minute)
			r.next.result = func(a Alert) Result {
				i, _ := strconv.Atoi(a.ID[1:])
				return tt.results[i]
			}
			r.b.Send(context.Background(), testAlerts(len(tt.results)))
			if got := r.get(t, ":state"); got != tt.wantState {
				t.Errorf("state %s, want %s", got, tt.wantState)
			}
			if got := r.get(t, ":failures"); got != tt.wantFails {
				t.Errorf("failures %s, want %s", got, tt.wantFails)
			}
		})
	}
}

func TestBreakerOpenParks(t *testing.T) {
	const openFor = time.Minute
	tests := []struct {
		name     string
		openedAt time.Duration // before now; negative for no open_time key
		wantMin  time.Duration
		wantMax  time.Duration
	}{
		{"just opened", 0, openFor - 5*time.Second, openFor},
		{"opened 30 s ago", 30 * time.Second, 25 * time.Second, 30 * time.Second},
		{"almost over", openFor - 90*time.Millisecond, 100 * time.Millisecond, 100 * time.Millisecond},
		{"open_time missing counts as opened now", -1, openFor - 5*time.Second, openFor},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			rdb, prefix := itest.Redis(t)
			r := newBreakerRig(t, rdb, prefix, 3, openFor)
			rdb.Set(ctx, prefix+":state", "OPEN", 0)
			rdb.Set(ctx, prefix+":failures", "12", 0)
			if tt.openedAt >= 0 {
				rdb.Set(ctx, prefix+":open_time", epochSeconds(redisNow(t, rdb).Add(-tt.openedAt)), 0)
			}
			res := r.send(t, ok200, 5)
			if calls, _ := r.next.counts(); calls != 0 {
				t.Fatalf("next called %d times while open", calls)
			}
			for i, x := range res {
				if x.Outcome != Park || x.Reason != "circuit_open" || x.RetryAfter < tt.wantMin || x.RetryAfter > tt.wantMax {
					t.Errorf("alert %d: %v %q after %v, want Park circuit_open after %v..%v",
						i, x.Outcome, x.Reason, x.RetryAfter, tt.wantMin, tt.wantMax)
				}
			}
			if tt.openedAt < 0 && r.get(t, ":open_time") == "<absent>" {
				t.Error("open_time still missing; the breaker would never recover")
			}
			checks := []struct {
				name      string
				got, want float64
			}{
				{"mutt_moog_circuit_blocked_total", testutil.ToFloat64(r.b.bm.blocked), 5},
				{"mutt_moog_requests_total{fail,circuit_open}", testutil.ToFloat64(r.m.requests.WithLabelValues("fail", "circuit_open")), 5},
				{"mutt_circuit_breaker_state", testutil.ToFloat64(r.b.bm.state), 2},
				{"mutt_circuit_breaker_failures", testutil.ToFloat64(r.b.bm.failures), 12},
				{"mutt_moog_circuit_open", testutil.ToFloat64(r.b.bm.open), 1},
				{"mutt_moog_circuit_trips_total", testutil.ToFloat64(r.b.bm.trips), 0},
			}
			for _, c := range checks {
				if c.got != c.want {
					t.Errorf("%s = %v, want %v", c.name, c.got, c.want)
				}
			}
		})
	}
}

// TestBreakerProbe opens the breaker, waits out the open period and has two
// breakers on their own Redis connections (two forwarders) send at once:
// exactly one alert goes through, and its result decides the state.
func TestBreakerProbe(t *testing.T) {
	const openFor = 200 * time.Millisecond
	tests := []struct {
		name       string
		probe      Result
		wantState  string
		wantFails  string
		wantTrips  float64 // by the probing breaker
		wantChange [2]string
	}{
		{"success closes", ok200, "CLOSED", "0", 0, [2]string{"HALF_OPEN", "CLOSED"}},
		{"5xx reopens", fail503, "OPEN", "2", 1, [2]string{"HALF_OPEN", "OPEN"}},
		{"timeout reopens", timedOut, "OPEN", "2", 1, [2]string{"HALF_OPEN", "OPEN"}},
		{"429 leaves it half-open", fail429, "HALF_OPEN", "2", 0, [2]string{}},
		{"4xx leaves it half-open", fail400, "HALF_OPEN", "2", 0, [2]string{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			rdb, prefix := itest.Redis(t)
			a := newBreakerRig(t, rdb, prefix, 2, openFor)
			b := newBreakerRig(t, newRedisClient(t), prefix, 2, openFor)
			a.send(t, fail503, 1)
			a.send(t, fail503, 1)
			if s, _ := a.b.State(ctx); s != "OPEN" {
				t.Fatalf("state %s after 2 failures, want OPEN", s)
			}
			firstOpen := a.get(t, ":open_time")
			tripsBefore := map[*breakerRig]float64{a: testutil.ToFloat64(a.b.bm.trips), b: testutil.ToFloat64(b.b.bm.trips)}
			itest.Eventually(t, 5*time.Second, "breaker half-open after its open period", func() bool {
				s, err := b.b.State(ctx)
				return err == nil && s == "HALF_OPEN"
			})

			// Both send at once; the probe's request is held until the
			// other breaker has answered, so the probe lock is surely
			// taken while both decide.
			gate := make(chan struct{})
			a.next.gate, b.next.gate = gate, gate
			a.answer, b.answer = tt.probe, tt.probe
			type out struct {
				rig *breakerRig
				res []Result
			}
			done := make(chan out, 2)
			for _, r := range []*breakerRig{a, b} {
				go func() { done <- out{r, r.b.Send(ctx, testAlerts(3))} }()
			}
			receive := func() out {
				select {
				case o := <-done:
					return o
				case <-time.After(5 * time.Second):
					close(gate)
					t.Fatal("no Send returned; did both breakers probe?")
					return out{}
				}
			}
			first := receive()
			close(gate)
			second := receive()
			for i, x := range first.res {
				if x.Outcome != Park || x.Reason != "circuit_open" || x.RetryAfter != halfOpenWait {
					t.Errorf("non-probing breaker alert %d: %v %q after %v, want Park circuit_open %v", i, x.Outcome, x.Reason, x.RetryAfter, halfOpenWait)
				}
			}
			prober := second.rig
			if second.res[0] != tt.probe {
				t.Errorf("probe result %+v, want %+v", second.res[0], tt.probe)
			}
			for i, x := range second.res[1:] {
				if x.Outcome != Park || x.RetryAfter != halfOpenWait {
					t.Errorf("probing breaker alert %d: %v after %v, want Park %v", i+1, x.Outcome, x.RetryAfter, halfOpenWait)
				}
			}
			_, na := a.next.counts()
			_, nb := b.next.counts()
			if na+nb != 2+1 { // two tripping failures, one probe
				t.Errorf("Moogsoft got %d alerts in half-open, want exactly 1", na+nb-2)
			}

			if got := a.get(t, ":state"); got != tt.wantState {
				t.Errorf("state %s, want %s", got, tt.wantState)
			}
			if got := a.get(t, ":failures"); got != tt.wantFails {
				t.Errorf("failures %s, want %s", got, tt.wantFails)
			}
			if got := a.get(t, ":probe"); got != "<absent>" {
				t.Errorf("probe lock %s left behind", got)
			}
			switch got := a.get(t, ":open_time"); tt.wantState {
			case "CLOSED":
				if got != "<absent>" {
					t.Errorf("open_time %s after closing, want deleted", got)
				}
			case "OPEN":
				if got <= firstOpen {
					t.Errorf("open_time %s not renewed (was %s)", got, firstOpen)
				}
			}
			if got := testutil.ToFloat64(prober.b.bm.trips) - tripsBefore[prober]; got != tt.wantTrips {
				t.Errorf("probe trips %v, want %v", got, tt.wantTrips)
			}
			if tt.wantChange[0] != "" {
				if got := prober.changes(tt.wantChange[0], tt.wantChange[1]); got != 1 {
					t.Errorf("state_changes{%s→%s} = %v, want 1", tt.wantChange[0], tt.wantChange[1], got)
				}
			}
			if got := a.changes("OPEN", "HALF_OPEN") + b.changes("OPEN", "HALF_OPEN"); got != 1 {
				t.Errorf("OPEN→HALF_OPEN counted %v times across both, want 1", got)
			}
			if tt.wantState == "HALF_OPEN" {
				// The lock is free again: the next Send probes at once.
				prober.next.gate = nil
				if res := prober.send(t, ok200, 2); res[0].Outcome != Delivered || res[1].Outcome != Park {
					t.Errorf("next probe: %v, %v; want Delivered, Park", res[0].Outcome, res[1].Outcome)
				}
				if got := a.get(t, ":state"); got != "CLOSED" {
					t.Errorf("state %s after a successful probe, want CLOSED", got)
				}
			}
		})
	}
}

// TestBreakerMetricsLifecycle walks one breaker through closed, open,
// half-open and closed again and checks every metric on the way.
func TestBreakerMetricsLifecycle(t *testing.T) {
	ctx := context.Background()
	rdb, prefix := itest.Redis(t)
	reg := prometheus.NewRegistry()
	next := &standIn{result: always(fail503)}
	b := NewBreaker(next, BreakerOptions{
		Redis: rdb, KeyPrefix: prefix, Threshold: constInt(2), OpenFor: constDuration(150 * time.Millisecond),
		Metrics: NewMetrics(reg),
	})
	type want struct{ state, failures, open, trips, blocked float64 }
	check := func(step string, w want) {
		t.Helper()
		got := want{
			testutil.ToFloat64(b.bm.state), testutil.ToFloat64(b.bm.failures), testutil.ToFloat64(b.bm.open),
			testutil.ToFloat64(b.bm.trips), testutil.ToFloat64(b.bm.blocked),
		}
		if got != w {
			t.Errorf("%s: metrics %+v, want %+v", step, got, w)
		}
	}
	b.Send(ctx, testAlerts(1))
	check("one failure", want{state: 0, failures: 1})
	b.Send(ctx, testAlerts(1))
	check("tripped", want{state: 2, failures: 2, open: 1, trips: 1})
	b.Send(ctx, testAlerts(4))
	check("blocked", want{state: 2, failures: 2, open: 1, trips: 1, blocked: 4})
	itest.Eventually(t, 5*time.Second, "half-open", func() bool { s, _ := b.State(ctx); return s == "HALF_OPEN" })
	check("State refreshes the gauges", want{state: 1, failures: 2, open: 1, trips: 1, blocked: 4})
	next.result = always(ok200)
	b.Send(ctx, testAlerts(3))
	check("probe closed it", want{state: 0, failures: 0, open: 0, trips: 1, blocked: 6})

	for _, c := range [][2]string{{"CLOSED", "OPEN"}, {"OPEN", "HALF_OPEN"}, {"HALF_OPEN", "CLOSED"}} {
		if got := testutil.ToFloat64(b.bm.changes.WithLabelValues(c[0], c[1])); got != 1 {
			t.Errorf("state_changes{%s→%s} = %v, want 1", c[0], c[1], got)
		}
	}
	// The series carry the breaker's name.
	if n, err := testutil.GatherAndCount(reg, "mutt_circuit_breaker_state", "mutt_circuit_breaker_state_changes_total"); err != nil || n != 4 {
		t.Errorf("gathered %d breaker series (err %v), want 4", n, err)
	}
	if got := testutil.ToFloat64(b.bm.changes.WithLabelValues("CLOSED", "OPEN")); got != 1 {
		t.Errorf("curried name label lost: %v", got)
	}
}

func TestBreakerFailsOpen(t *testing.T) {
	next := &standIn{}
	b := NewBreaker(next, BreakerOptions{Redis: deadRedis(t), KeyPrefix: "mutt:circuit_breaker:moogsoft"})
	for i, r := range b.Send(context.Background(), testAlerts(3)) {
		if r.Outcome != Delivered {
			t.Errorf("alert %d: %v, want Delivered (fail open)", i, r.Outcome)
		}
	}
	if got := testutil.ToFloat64(b.bm.errors); got < 1 {
		t.Errorf("mutt_circuit_breaker_errors_total = %v, want at least 1", got)
	}
	if _, err := b.State(context.Background()); err == nil {
		t.Error("State on a dead Redis returned no error")
	}
}

func TestBreakerStateReadOnly(t *testing.T) {
	ctx := context.Background()
	rdb, prefix := itest.Redis(t)
	r := newBreakerRig(t, rdb, prefix, 3, time.Minute)
	tests := []struct {
		name     string
		state    string // "" for no key
		openedAt time.Duration
		want     string
	}{
		{"missing", "", 0, "CLOSED"},
		{"closed", "CLOSED", 0, "CLOSED"},
		{"open", "OPEN", time.Second, "OPEN"},
		{"open past its period", "OPEN", 2 * time.Minute, "HALF_OPEN"},
		{"half-open", "HALF_OPEN", 0, "HALF_OPEN"},
		{"garbage", "AJAR", 0, "CLOSED"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rdb.Del(ctx, prefix+":state", prefix+":open_time")
			if tt.state != "" {
				rdb.Set(ctx, prefix+":state", tt.state, 0)
				rdb.Set(ctx, prefix+":open_time", epochSeconds(redisNow(t, rdb).Add(-tt.openedAt)), 0)
			}
			got, err := r.b.State(ctx)
			if err != nil || got != tt.want {
				t.Errorf("State = %q, %v; want %q", got, err, tt.want)
			}
			stored := r.get(t, ":state")
			if (tt.state == "" && stored != "<absent>") || (tt.state != "" && stored != tt.state) {
				t.Errorf("State changed the stored state to %s", stored)
			}
		})
	}
}
