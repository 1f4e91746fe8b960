package forward

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"
)

// Breaker defaults and the state values stored in Redis.
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

// breakerBeforeScript runs before a batch is sent. It creates the state key
// as CLOSED when missing; turns an OPEN breaker whose open period is over
// into HALF_OPEN; and in HALF_OPEN tries to take the probe lock, which lets
// exactly one alert through across all forwarders until its result is in.
// An OPEN state without an open time counts as opened now, so it recovers.
//
// KEYS: state, open_time, probe, failures.
// ARGV: open period in ms, probe lock lifetime in ms, probe token.
// Returns {state, previous state if this call changed it or "", ms left
// while OPEN, 1 if this call holds the probe, failures}.
var breakerBeforeScript = redis.NewScript(`
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local failures = tonumber(redis.call('GET', KEYS[4])) or 0
local state = redis.call('GET', KEYS[1])
if not state then
  redis.call('SET', KEYS[1], 'CLOSED')
  state = 'CLOSED'
end
local from = ''
if state == 'OPEN' then
  local opened = tonumber(redis.call('GET', KEYS[2]))
  if not opened then
    opened = now
    redis.call('SET', KEYS[2], string.format('%.6f', now))
  end
  local left = (opened - now) * 1000 + tonumber(ARGV[1])
  if left > 0 then
    return {'OPEN', '', math.ceil(left), 0, failures}
  end
  redis.call('SET', KEYS[1], 'HALF_OPEN')
  from = 'OPEN'
  state = 'HALF_OPEN'
end
if state == 'HALF_OPEN' then
  local probe = 0
  if redis.call('SET', KEYS[3], ARGV[3], 'NX', 'PX', ARGV[2]) then probe = 1 end
  return {'HALF_OPEN', from, 0, probe, failures}
end
return {'CLOSED', '', 0, 0, failures}
`)

// breakerAfterScript records a batch's results. A delivery is a success:
// failures go to 0 (written only when not already 0) and HALF_OPEN closes.
// Failures count only in CLOSED, where reaching the threshold opens the
// breaker; in HALF_OPEN only the probe's failure reopens it, with a fresh
// open time; late failures while OPEN do not push the reopen time out. The
// probe lock is released when the caller holds it.
//
// KEYS: state, open_time, probe, failures.
// ARGV: 1 if any alert was delivered, failures to count, threshold, probe token or "".
// Returns {state before, state after, failures}.
var breakerAfterScript = redis.NewScript(`
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local state = redis.call('GET', KEYS[1])
if state ~= 'OPEN' and state ~= 'HALF_OPEN' then state = 'CLOSED' end
local from = state
local probe = false
if ARGV[4] ~= '' and redis.call('GET', KEYS[3]) == ARGV[4] then
  probe = true
  redis.call('DEL', KEYS[3])
end
local raw = redis.call('GET', KEYS[4])
local failures = tonumber(raw) or 0
local k = tonumber(ARGV[2])
if ARGV[1] == '1' then
  if raw ~= '0' then redis.call('SET', KEYS[4], '0') end
  failures = 0
  if state == 'HALF_OPEN' then
    redis.call('SET', KEYS[1], 'CLOSED')
    redis.call('DEL', KEYS[2])
    state = 'CLOSED'
  end
elseif k > 0 then
  if state == 'CLOSED' then
    failures = redis.call('INCRBY', KEYS[4], k)
    if failures >= tonumber(ARGV[3]) then
      redis.call('SET', KEYS[1], 'OPEN')
      redis.call('SET', KEYS[2], string.format('%.6f', now))
      state = 'OPEN'
    end
  elseif state == 'HALF_OPEN' and probe then
    redis.call('SET', KEYS[1], 'OPEN')
    redis.call('SET', KEYS[2], string.format('%.6f', now))
    state = 'OPEN'
  end
end
return {from, state, failures}
`)

// breakerStateScript reports the state without changing it: an OPEN breaker
// whose open period is over reads as HALF_OPEN, a missing one as CLOSED.
//
// KEYS: state, open_time, failures. ARGV: open period in ms.
// Returns {state, failures}.
var breakerStateScript = redis.NewScript(`
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local failures = tonumber(redis.call('GET', KEYS[3])) or 0
local state = redis.call('GET', KEYS[1])
if state == 'OPEN' then
  local opened = tonumber(redis.call('GET', KEYS[2]))
  if opened and (now - opened) * 1000 >= tonumber(ARGV[1]) then state = 'HALF_OPEN' end
elseif state ~= 'HALF_OPEN' then
  state = 'CLOSED'
end
return {state, failures}
`)

// BreakerOptions configure a Breaker.
type BreakerOptions struct {
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
	Logger     *slog.Logger // for Redis failures; nothing is logged when nil
}

// Breaker stops calling Moogsoft while it is unavailable, with the state
// shared by all forwarders through Redis. Every state operation is one Lua
// script, so forwarders never race on it.
//
// CLOSED: alerts pass; each 5xx, timeout or connection failure counts and a
// delivery resets the count (429s and other 4xx neither count nor reset).
// At the threshold the breaker opens. OPEN: nothing is sent; alerts are
// parked until the open period ends, spending no attempt. HALF_OPEN: one
// alert, from one forwarder, probes; its delivery closes the breaker, its
// failure opens it again.
//
// When Redis fails the breaker lets alerts through: it guards Moogsoft, and
// must not become an outage of its own.
type Breaker struct {
	next       Sender
	rdb        redis.UniversalClient
	keys       []string // state, open_time, probe, failures
	stateKeys  []string // state, open_time, failures
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
	p := opts.KeyPrefix
	return &Breaker{
		next: next, rdb: opts.Redis,
		keys:      []string{p + ":state", p + ":open_time", p + ":probe", p + ":failures"},
		stateKeys: []string{p + ":state", p + ":open_time", p + ":failures"},
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

// beforeState is what breakerBeforeScript answered.
type beforeState struct {
	state    string
	from     string
	left     time.Duration
	probe    bool
	failures int64
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
	b.bm.observe(st.state, st.failures)
	if st.from != "" {
		b.bm.transition(st.from, st.state)
	}
	switch st.state {
	case StateOpen:
		res := make([]Result, len(alerts))
		parkAll(res, max(st.left, minOpenWait), reasonOpen)
		b.blocked(len(alerts))
		return res
	case StateHalfOpen:
		res := make([]Result, len(alerts))
		parkAll(res, halfOpenWait, reasonOpen)
		if !st.probe {
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

func (b *Breaker) before(ctx context.Context, token string) (beforeState, error) {
	v, err := breakerBeforeScript.Run(ctx, b.rdb, b.keys,
		strconv.FormatInt(b.currentOpenFor().Milliseconds(), 10),
		strconv.FormatInt(b.probeTTL.Milliseconds(), 10), token).Slice()
	if err != nil {
		return beforeState{}, fmt.Errorf("reading circuit breaker state: %w", err)
	}
	if len(v) != 5 {
		return beforeState{}, fmt.Errorf("reading circuit breaker state: unexpected script reply %v", v)
	}
	state, _ := v[0].(string)
	from, _ := v[1].(string)
	left, _ := v[2].(int64)
	probe, _ := v[3].(int64)
	failures, _ := v[4].(int64)
	return beforeState{state: state, from: from, left: time.Duration(left) * time.Millisecond, probe: probe == 1, failures: failures}, nil
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
	d := "0"
	if delivered {
		d = "1"
	}
	v, err := breakerAfterScript.Run(ctx, b.rdb, b.keys, d, strconv.Itoa(failures),
		strconv.FormatInt(b.currentThreshold(), 10), token).Slice()
	if err == nil && len(v) != 3 {
		err = fmt.Errorf("unexpected script reply %v", v)
	}
	if err != nil {
		b.failure("recording results in the circuit breaker", err)
		return
	}
	from, _ := v[0].(string)
	to, _ := v[1].(string)
	n, _ := v[2].(int64)
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
	v, err := breakerStateScript.Run(ctx, b.rdb, b.stateKeys,
		strconv.FormatInt(b.currentOpenFor().Milliseconds(), 10)).Slice()
	if err != nil {
		return "", fmt.Errorf("reading circuit breaker state: %w", err)
	}
	if len(v) != 2 {
		return "", fmt.Errorf("reading circuit breaker state: unexpected script reply %v", v)
	}
	state, _ := v[0].(string)
	failures, _ := v[1].(int64)
	b.bm.observe(state, failures)
	return state, nil
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
	b.logger.Warn(msg, "key", b.keys[0], "error", err)
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
