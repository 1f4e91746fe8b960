package forward

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"

	"github.com/mutt-go/mutt/internal/itest"
	"github.com/mutt-go/mutt/internal/queue"
	"github.com/mutt-go/mutt/internal/secrets"
)

// moog is a Moogsoft stand-in whose answer the test sets.
type moog struct {
	srv    *httptest.Server
	status atomic.Int64
	delay  atomic.Int64 // nanoseconds
	mu     sync.Mutex
	seen   map[string]int
}

func newMoog(t *testing.T) *moog {
	m := &moog{seen: map[string]int{}}
	m.status.Store(200)
	m.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if d := m.delay.Load(); d > 0 {
			time.Sleep(time.Duration(d))
		}
		status := int(m.status.Load())
		if status >= 200 && status < 300 {
			m.mu.Lock()
			m.seen[string(body)]++
			m.mu.Unlock()
		}
		if status == 429 || status == 503 {
			w.Header().Set("Retry-After", "0")
		}
		w.WriteHeader(status)
	}))
	t.Cleanup(m.srv.Close)
	return m
}

func (m *moog) delivered() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.seen)
}

type rig struct {
	t      *testing.T
	rdb    *redis.Client
	prefix string
	opts   ForwarderOptions
	reg    *prometheus.Registry
}

func newRig(t *testing.T) *rig {
	rdb, prefix := itest.Redis(t)
	return &rig{t: t, rdb: rdb, prefix: prefix, reg: prometheus.NewRegistry(), opts: ForwarderOptions{
		PodName: "fw", AlertQueue: prefix + ":alert_queue", MoogDLQ: prefix + ":dlq:moog", DeadDLQ: prefix + ":dlq:dead",
		RetryKey: prefix + ":retry:moog", Workers: 2, BatchSize: 32, Block: 50 * time.Millisecond, ReclaimIdle: time.Second,
	}}
}

func (r *rig) webhook(url string, timeout time.Duration) *Webhook {
	w, err := NewWebhook(WebhookOptions{URL: url, APIKey: secrets.New("k"), Timeout: timeout, Concurrency: 16})
	if err != nil {
		r.t.Fatal(err)
	}
	return w
}

func (r *rig) start(sender Sender) {
	f := NewForwarder(r.opts, r.rdb, sender, r.reg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = f.Run(ctx) }()
	r.t.Cleanup(func() { cancel(); <-done })
}

func (r *rig) push(payloads ...string) {
	for _, p := range payloads {
		if err := r.rdb.XAdd(context.Background(), &redis.XAddArgs{Stream: r.opts.AlertQueue, Values: []any{queue.PayloadField, p}}).Err(); err != nil {
			r.t.Fatal(err)
		}
	}
}

func (r *rig) len(key string) int64 {
	n, err := r.rdb.XLen(context.Background(), key).Result()
	if err != nil {
		r.t.Fatal(err)
	}
	return n
}

func (r *rig) scheduled() []string {
	m, err := r.rdb.ZRange(context.Background(), r.opts.RetryKey, 0, -1).Result()
	if err != nil {
		r.t.Fatal(err)
	}
	return m
}

func alertJSON(i int) string {
	return `{"hostname":"h` + strconv.Itoa(i) + `","team_assignment":"NetOps","severity":"Warning","message_body":"m","raw_json":{"x":1},"_correlation_id":"c","event_id":"00000000-0000-7000-8000-` + strconv.Itoa(100000000000+i) + `"}`
}

// TestOutcomeEndStates drives one alert through webhook and retry for each
// kind of answer Moogsoft can give and checks where the alert ends up.
func TestOutcomeEndStates(t *testing.T) {
	closed, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	refusedURL := "http://" + closed.Addr().String() + "/events"
	closed.Close()

	tests := []struct {
		name      string
		status    int
		delay     time.Duration
		url       string
		payload   string
		wantState string // delivered, retried, dlq, dead
		reason    string
	}{
		{name: "200 delivered", status: 200, wantState: "delivered"},
		{name: "202 delivered", status: 202, wantState: "delivered"},
		{name: "400 to the DLQ", status: 400, wantState: "dlq", reason: "http_4xx"},
		{name: "401 to the DLQ", status: 401, wantState: "dlq", reason: "http_4xx"},
		{name: "429 retried", status: 429, wantState: "retried"},
		{name: "500 retried", status: 500, wantState: "retried"},
		{name: "503 retried", status: 503, wantState: "retried"},
		{name: "timeout retried", status: 200, delay: 300 * time.Millisecond, wantState: "retried"},
		{name: "connection refused retried", url: refusedURL, wantState: "retried"},
		{name: "malformed alert to the terminal queue", status: 200, payload: "not json", wantState: "dead", reason: "malformed_alert"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := newMoog(t)
			m.status.Store(int64(tt.status))
			m.delay.Store(int64(tt.delay))
			r := newRig(t)
			url := tt.url
			if url == "" {
				url = m.srv.URL + "/events"
			}
			// A long base delay keeps a retried alert in the schedule.
			r.start(NewRetrier(r.webhook(url, 100*time.Millisecond), RetryOptions{MaxAttempts: 6, Base: time.Hour, Max: time.Hour}))
			payload := tt.payload
			if payload == "" {
				payload = alertJSON(1)
			}
			r.push(payload)
			itest.Eventually(t, 10*time.Second, "alert finished", func() bool {
				return r.len(r.opts.AlertQueue) == 0
			})
			switch tt.wantState {
			case "delivered":
				itest.Eventually(t, 2*time.Second, "delivered", func() bool { return m.delivered() == 1 })
			case "retried":
				s := r.scheduled()
				if len(s) != 1 || s[0][:2] != "1|" {
					t.Errorf("schedule = %q, want one member with 1 attempt spent", s)
				}
			case "dlq", "dead":
				key := r.opts.MoogDLQ
				if tt.wantState == "dead" {
					key = r.opts.DeadDLQ
				}
				entries, err := queue.Range(context.Background(), r.rdb, key, "-", 10)
				if err != nil || len(entries) != 1 {
					t.Fatalf("%s = %v, %v", key, entries, err)
				}
				f := entries[0].Fields
				if f["reason"] != tt.reason || f[queue.PayloadField] != payload {
					t.Errorf("dead letter = %v", f)
				}
				if tt.status >= 400 && f["status"] != strconv.Itoa(tt.status) {
					t.Errorf("dead letter status = %q, want %d", f["status"], tt.status)
				}
			}
			if tt.wantState != "dlq" && r.len(r.opts.MoogDLQ) != 0 {
				t.Errorf("unexpected DLQ entries")
			}
		})
	}
}

// TestOutageOpensBreakerAndEveryAlertArrivesAfter keeps Moogsoft down until
// the breaker opens, brings it back, and checks every alert is delivered and
// none dead-lettered.
func TestOutageOpensBreakerAndEveryAlertArrivesAfter(t *testing.T) {
	m := newMoog(t)
	m.status.Store(503)
	r := newRig(t)
	metrics := NewMetrics(r.reg)
	var s Sender = r.webhook(m.srv.URL+"/events", time.Second)
	s = NewBreaker(s, BreakerOptions{
		Redis: r.rdb, KeyPrefix: r.prefix + ":circuit_breaker:moogsoft", Metrics: metrics, Registerer: r.reg,
		Threshold: func() int64 { return 3 }, OpenFor: func() time.Duration { return 300 * time.Millisecond },
	})
	s = NewRetrier(s, RetryOptions{MaxAttempts: 1000, Base: 20 * time.Millisecond, Max: 100 * time.Millisecond})
	r.start(s)
	const n = 50
	for i := range n {
		r.push(alertJSON(i))
	}
	itest.Eventually(t, 10*time.Second, "breaker opens", func() bool {
		v, _ := r.rdb.Get(context.Background(), r.prefix+":circuit_breaker:moogsoft:state").Result()
		return v == "OPEN"
	})
	m.status.Store(200)
	itest.Eventually(t, 30*time.Second, "every alert delivered", func() bool { return m.delivered() == n })
	if d := r.len(r.opts.MoogDLQ); d != 0 {
		t.Errorf("%d alerts dead-lettered during the outage", d)
	}
	itest.Eventually(t, 5*time.Second, "breaker closed again", func() bool {
		v, _ := r.rdb.Get(context.Background(), r.prefix+":circuit_breaker:moogsoft:state").Result()
		return v == "CLOSED"
	})
	mfs, err := r.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	trips := 0.0
	for _, mf := range mfs {
		if mf.GetName() == "mutt_moog_circuit_trips_total" {
			for _, mm := range mf.GetMetric() {
				trips += mm.GetCounter().GetValue()
			}
		}
	}
	if trips < 1 {
		t.Errorf("mutt_moog_circuit_trips_total = %v, want the episode counted", trips)
	}
}

// TestPoisonAlertDoesNotStopTheRest puts an entry without a payload and one
// that is not JSON among good alerts.
func TestPoisonAlertDoesNotStopTheRest(t *testing.T) {
	m := newMoog(t)
	r := newRig(t)
	r.start(NewRetrier(r.webhook(m.srv.URL+"/events", time.Second), RetryOptions{MaxAttempts: 6, Base: time.Millisecond, Max: time.Millisecond}))
	r.push(alertJSON(1), "{broken", alertJSON(2))
	if err := r.rdb.XAdd(context.Background(), &redis.XAddArgs{Stream: r.opts.AlertQueue, Values: []any{"other", "x"}}).Err(); err != nil {
		t.Fatal(err)
	}
	r.push(alertJSON(3))
	itest.Eventually(t, 10*time.Second, "good alerts delivered", func() bool { return m.delivered() == 3 })
	itest.Eventually(t, 5*time.Second, "poison in the terminal queue", func() bool { return r.len(r.opts.DeadDLQ) == 2 })
	entries, _ := queue.Range(context.Background(), r.rdb, r.opts.DeadDLQ, "-", 10)
	for _, e := range entries {
		if e.Fields["reason"] != "malformed_alert" || e.Fields["error"] == "" {
			t.Errorf("dead letter = %v", e.Fields)
		}
	}
}

// TestExhaustedRetriesGoToTheDLQWithTheirHistory lets an alert fail until
// its attempts run out.
func TestExhaustedRetriesGoToTheDLQWithTheirHistory(t *testing.T) {
	m := newMoog(t)
	m.status.Store(500)
	r := newRig(t)
	r.start(NewRetrier(r.webhook(m.srv.URL+"/events", time.Second), RetryOptions{MaxAttempts: 3, Base: time.Millisecond, Max: 5 * time.Millisecond}))
	r.push(alertJSON(1))
	itest.Eventually(t, 10*time.Second, "alert dead-lettered", func() bool { return r.len(r.opts.MoogDLQ) == 1 })
	entries, _ := queue.Range(context.Background(), r.rdb, r.opts.MoogDLQ, "-", 1)
	f := entries[0].Fields
	if f["reason"] != "retries_exhausted" || f[queue.AttemptsField] != "3" || f["status"] != "500" {
		t.Errorf("dead letter = %v", f)
	}
	if len(r.scheduled()) != 0 {
		t.Error("exhausted alert still scheduled")
	}
}
