package forward

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"log/slog"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"
)

// Breaker defaults and the state values a BreakerStore keeps.
const (
	DefaultBreakerPrefix    = "mutt:circuit_breaker:moogsoft"
	DefaultBreakerName      = "moogsoft"
	DefaultBreakerThreshold = 10
	DefaultBreakerOpenFor   = 300 * time.Second
	DefaultProbeTimeout     = 30 * time.Second

	StateClosed   = "CLOSED"
	StateOpen     = "OPEN"
	StateHalfOpen = "HALF_OPEN"
)

// Park delays chosen by the breaker.
const (
	minOpenWait  = 100 * time.Millisecond // while open, however close the reopen time is
	halfOpenWait = 250 * time.Millisecond // alerts waiting for the probe's verdict
)

// BreakerOptions configure a Breaker.
type BreakerOptions struct {
	// Store keeps the state; when nil, a Redis store on Redis under
	// KeyPrefix.
	Store BreakerStore
	Redis redis.UniversalClient
	// KeyPrefix names the shared state: <prefix>:state, :failures,
	// :open_time and :probe. DefaultBreakerPrefix when empty.
	KeyPrefix string
	// Name is the name label of the breaker metrics; "moogsoft" when empty.
	Name string
	// Threshold is the number of consecutive failures that opens the
	// breaker; 10 when nil or not positive. Read on every Send.
	Threshold func() int64
	// OpenFor is how long the breaker stays open before one probe is let
	// through; 300 s when nil or not positive. Read on every Send.
	OpenFor func() time.Duration
	// ProbeTimeout is how long a half-open probe holds its lock; if its
	// forwarder dies without a verdict another probe goes after it. 30 s
	// when zero; keep it above the webhook timeout.
	ProbeTimeout time.Duration
	Metrics      *Metrics
	// Registerer receives the breaker metrics; Metrics' registerer when
	// nil. They exist only when a breaker is built.
	Registerer prometheus.Registerer
	Logger     *slog.Logger // for store failures; nothing is logged when nil
}

// Breaker stops calling Moogsoft while it is unavailable, with the state
// shared by all forwarders through a BreakerStore (Redis, or in process in
// embedded mode). Every state operation is one atomic step of the store,
// so forwarders never race on it.
//
// CLOSED: alerts pass; each 5xx, timeout or connection failure counts and a
// delivery resets the count (429s and other 4xx neither count nor reset).
// At the threshold the breaker opens. OPEN: nothing is sent; alerts are
// parked until the open period ends, spending no attempt. HALF_OPEN: one
// alert, from one forwarder, probes; its delivery closes the breaker, its
// failure opens it again.
//
// When the store fails the breaker lets alerts through: it guards Moogsoft, and
// must not become an outage of its own.
type Breaker struct {
	next       Sender
	store      BreakerStore
	name       string // the store's name, for logs
	threshold  func() int64
	openFor    func() time.Duration
	probeTTL   time.Duration
	metrics    *Metrics
	bm         *breakerMetrics
	logger     *slog.Logger
	tokenBase  string
	tokenCount atomic.Uint64
	lastLog    atomic.Int64
}

var _ Sender = (*Breaker)(nil)

// NewBreaker wraps next with the shared circuit breaker.
func NewBreaker(next Sender, opts BreakerOptions) *Breaker {
	if opts.KeyPrefix == "" {
		opts.KeyPrefix = DefaultBreakerPrefix
	}
	if opts.Name == "" {
		opts.Name = DefaultBreakerName
	}
	if opts.ProbeTimeout <= 0 {
		opts.ProbeTimeout = DefaultProbeTimeout
	}
	reg := opts.Registerer
	if reg == nil {
		reg = opts.Metrics.registerer()
	}
	var id [8]byte
	_, _ = rand.Read(id[:])
	if opts.Store == nil {
		opts.Store = NewRedisBreakerStore(opts.Redis, opts.KeyPrefix)
	}
	return &Breaker{
		next: next, store: opts.Store, name: opts.KeyPrefix + ":state",
		threshold: opts.Threshold, openFor: opts.OpenFor, probeTTL: opts.ProbeTimeout,
		metrics: opts.Metrics, bm: newBreakerMetrics(reg, opts.Name), logger: opts.Logger,
		tokenBase: hex.EncodeToString(id[:]),
	}
}

func (b *Breaker) currentThreshold() int64 {
	if b.threshold != nil {
		if v := b.threshold(); v > 0 {
			return v
		}
	}
	return DefaultBreakerThreshold
}

func (b *Breaker) currentOpenFor() time.Duration {
	if b.openFor != nil {
		if v := b.openFor(); v > 0 {
			return v
		}
	}
	return DefaultBreakerOpenFor
}

// Send asks the shared state whether alerts may go, sends those that may,
// and records the results.
func (b *Breaker) Send(ctx context.Context, alerts []Alert) []Result {
	if len(alerts) == 0 {
		return b.next.Send(ctx, alerts)
	}
	token := b.tokenBase + ":" + strconv.FormatUint(b.tokenCount.Add(1), 10)
	st, err := b.before(ctx, token)
	if err != nil {
		if ctx.Err() == nil {
			b.failure("checking circuit breaker; sending anyway", err)
		}
		return b.next.Send(ctx, alerts)
	}
	b.bm.observe(st.State, st.Failures)
	if st.From != "" {
		b.bm.transition(st.From, st.State)
	}
	switch st.State {
	case StateOpen:
		res := make([]Result, len(alerts))
		parkAll(res, max(st.Left, minOpenWait), reasonOpen)
		b.blocked(len(alerts))
		return res
	case StateHalfOpen:
		res := make([]Result, len(alerts))
		parkAll(res, halfOpenWait, reasonOpen)
		if !st.Probe {
			b.blocked(len(alerts))
			return res
		}
		res[0] = b.next.Send(ctx, alerts[:1])[0]
		b.blocked(len(alerts) - 1)
		b.after(ctx, res[:1], token)
		return res
	default:
		res := b.next.Send(ctx, alerts)
		b.after(ctx, res, "")
		return res
	}
}

func (b *Breaker) blocked(n int) {
	b.bm.blocked.Add(float64(n))
	b.metrics.notSent(reasonOpen, n)
}

func (b *Breaker) before(ctx context.Context, token string) (BreakerCheck, error) {
	return b.store.Before(ctx, b.currentOpenFor(), b.probeTTL, token)
}

// countsAsFailure reports whether a result says Moogsoft is unavailable. A
// 429 says it is busy, and other 4xx that it is there.
func countsAsFailure(r Result) bool {
	if r.Outcome != Retry {
		return false
	}
	switch r.Reason {
	case reasonHTTP5xx, reasonTimeout, reasonConnection:
		return true
	}
	return false
}

// after records the results of a batch. It runs even when ctx has ended:
// the requests happened, and a successful probe must close the breaker.
func (b *Breaker) after(ctx context.Context, res []Result, token string) {
	delivered, failures := false, 0
	for _, r := range res {
		switch {
		case r.Outcome == Delivered:
			delivered = true
		case countsAsFailure(r):
			failures++
		}
	}
	if !delivered && failures == 0 && token == "" {
		return
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	ch, err := b.store.After(ctx, delivered, failures, b.currentThreshold(), token)
	if err != nil {
		b.failure("recording results in the circuit breaker", err)
		return
	}
	from, to, n := ch.From, ch.To, ch.Failures
	b.bm.observe(to, n)
	if from != to {
		b.bm.transition(from, to)
		if to == StateOpen && b.logger != nil {
			b.logger.Warn("circuit breaker opened; Moogsoft calls stop until it recovers",
				"from_state", from, "failures", n, "open_for", b.currentOpenFor().String())
		}
	}
}

// State returns the shared breaker state as the next Send would see it (an
// OPEN breaker past its open period reads HALF_OPEN), without changing it,
// and refreshes the state and failure gauges. For health checks, the
// remediation service and a periodic metrics refresh.
func (b *Breaker) State(ctx context.Context) (string, error) {
	st, err := b.Status(ctx)
	return st.State, err
}

// BreakerStatus is the breaker state as Status reads it.
type BreakerStatus struct {
	State    string
	Failures int64 // consecutive failures counted
	// OpenedAt is when the breaker last opened; zero when it is CLOSED or
	// the store does not say (the Redis store).
	OpenedAt time.Time
}

// Status is State with the failure count and, from the in-process store,
// when the breaker opened: for the dashboard.
func (b *Breaker) Status(ctx context.Context) (BreakerStatus, error) {
	var st BreakerStatus
	if local, ok := b.store.(*LocalBreakerStore); ok {
		st = local.status(b.currentOpenFor())
	} else {
		var err error
		if st.State, st.Failures, err = b.store.State(ctx, b.currentOpenFor()); err != nil {
			return BreakerStatus{}, err
		}
	}
	b.bm.observe(st.State, st.Failures)
	return st, nil
}

func (b *Breaker) failure(msg string, err error) {
	b.bm.errors.Inc()
	if b.logger == nil {
		return
	}
	now := time.Now().UnixNano()
	last := b.lastLog.Load()
	if now-last < int64(10*time.Second) || !b.lastLog.CompareAndSwap(last, now) {
		return
	}
	b.logger.Warn(msg, "key", b.name, "error", err)
}

// breakerMetrics are the breaker's gauges and counters: the state and
// failure gauges are refreshed whenever this process reads the shared
// state, and transitions are counted by the process that makes them.
type breakerMetrics struct {
	state    prometheus.Gauge
	failures prometheus.Gauge
	changes  *prometheus.CounterVec // curried with the name
	open     prometheus.Gauge
	trips    prometheus.Counter
	blocked  prometheus.Counter
	errors   prometheus.Counter
}

func newBreakerMetrics(reg prometheus.Registerer, name string) *breakerMetrics {
	state := register(reg, prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "mutt_circuit_breaker_state", Help: "Circuit breaker state: 0 CLOSED, 1 HALF_OPEN, 2 OPEN.",
	}, []string{"name"}))
	failures := register(reg, prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "mutt_circuit_breaker_failures", Help: "Consecutive failures counted by the circuit breaker.",
	}, []string{"name"}))
	changes := register(reg, prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "mutt_circuit_breaker_state_changes_total", Help: "Circuit breaker state changes made by this process.",
	}, []string{"name", "from_state", "to_state"}))
	errs := register(reg, prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "mutt_circuit_breaker_errors_total", Help: "Circuit breaker operations that failed on Redis (alerts were let through).",
	}, []string{"name"}))
	m := &breakerMetrics{
		state:    state.WithLabelValues(name),
		failures: failures.WithLabelValues(name),
		changes:  changes.MustCurryWith(prometheus.Labels{"name": name}),
		errors:   errs.WithLabelValues(name),
		open: register(reg, prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "mutt_moog_circuit_open", Help: "1 while the Moogsoft circuit breaker is not CLOSED (OPEN or HALF_OPEN), else 0.",
		})),
		trips: register(reg, prometheus.NewCounter(prometheus.CounterOpts{
			Name: "mutt_moog_circuit_trips_total", Help: "Times this process opened the Moogsoft circuit breaker.",
		})),
		blocked: register(reg, prometheus.NewCounter(prometheus.CounterOpts{
			Name: "mutt_moog_circuit_blocked_total", Help: "Alerts held back because the Moogsoft circuit breaker was open or probing.",
		})),
	}
	return m
}

func stateValue(s string) float64 {
	switch s {
	case StateHalfOpen:
		return 1
	case StateOpen:
		return 2
	}
	return 0
}

func (m *breakerMetrics) observe(state string, failures int64) {
	m.state.Set(stateValue(state))
	m.failures.Set(float64(failures))
	if state == StateClosed {
		m.open.Set(0)
	} else {
		m.open.Set(1)
	}
}

func (m *breakerMetrics) transition(from, to string) {
	m.changes.WithLabelValues(from, to).Inc()
	if to == StateOpen {
		m.trips.Inc()
	}
}
