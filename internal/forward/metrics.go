package forward

import (
	"errors"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// latencyBuckets are the catalogue's request latency buckets with finer ones
// below 100 ms, where a Moogsoft on the local network answers.
var latencyBuckets = []float64{0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30}

// Request outcome labels of mutt_moog_requests_total. The reason label takes
// the Result reasons, except that a 429 answer is "rate_limit" and an
// exhausted alert "retry_exhausted", the names the dashboards and alert
// rules already match on.
const (
	metricRateLimit429 = "rate_limit"
	metricExhausted    = "retry_exhausted"
)

var failReasons = []string{
	reasonHTTP4xx, reasonHTTP5xx, reasonTimeout, reasonConnection, reasonRedirect,
	reasonOpen, metricRateLimit429, metricExhausted,
}

// Metrics holds the forwarder's delivery metrics shared by the decorators.
// Pass the same *Metrics to each of them; a nil *Metrics records nothing.
type Metrics struct {
	reg             prometheus.Registerer
	requests        *prometheus.CounterVec
	success         prometheus.Counter
	fail            map[string]prometheus.Counter // read-only after NewMetrics
	latency         prometheus.Histogram
	rateLimitHits   prometheus.Counter
	rateLimitErrors prometheus.Counter
}

// NewMetrics creates the delivery metrics and registers them on reg (which
// may be nil). A collector already registered under the same name is
// reused, so two Metrics on one registry count into the same series.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{reg: reg}
	m.requests = register(reg, prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "mutt_moog_requests_total",
		Help: "Moogsoft webhook requests by status (success, fail) and reason; circuit_open and retry_exhausted count alerts that were not sent.",
	}, []string{"status", "reason"}))
	m.latency = register(reg, prometheus.NewHistogram(prometheus.HistogramOpts{
		Name:    "mutt_moog_request_latency_seconds",
		Help:    "Time from sending a Moogsoft webhook request to reading its whole response, for requests that got one.",
		Buckets: latencyBuckets,
	}))
	m.rateLimitHits = register(reg, prometheus.NewCounter(prometheus.CounterOpts{
		Name: "mutt_moog_rate_limit_hits_total",
		Help: "Alerts held back by the shared Moogsoft rate limit.",
	}))
	m.rateLimitErrors = register(reg, prometheus.NewCounter(prometheus.CounterOpts{
		Name: "mutt_moog_rate_limit_errors_total",
		Help: "Rate limit checks that failed on Redis and let the batch through.",
	}))
	m.success = m.requests.WithLabelValues("success", reasonNone)
	m.fail = make(map[string]prometheus.Counter, len(failReasons))
	for _, r := range failReasons {
		m.fail[r] = m.requests.WithLabelValues("fail", r)
	}
	return m
}

func (m *Metrics) requestDone(reason string, failed bool) {
	if m == nil {
		return
	}
	if !failed {
		m.success.Inc()
		return
	}
	c, ok := m.fail[reason]
	if !ok {
		c = m.requests.WithLabelValues("fail", reason)
	}
	c.Inc()
}

func (m *Metrics) notSent(reason string, n int) {
	if m == nil || n == 0 {
		return
	}
	m.fail[reason].Add(float64(n))
}

func (m *Metrics) observeLatency(d time.Duration) {
	if m != nil {
		m.latency.Observe(d.Seconds())
	}
}

func (m *Metrics) rateLimited(n int) {
	if m != nil && n > 0 {
		m.rateLimitHits.Add(float64(n))
	}
}

func (m *Metrics) rateLimitError() {
	if m != nil {
		m.rateLimitErrors.Inc()
	}
}

// registerer returns where breaker metrics go when no Registerer is given.
func (m *Metrics) registerer() prometheus.Registerer {
	if m == nil {
		return nil
	}
	return m.reg
}

// register registers c on reg and returns it, or the collector of the same
// description that is already registered. Registration failures of any
// other kind leave c working but unexported rather than stopping delivery.
func register[T prometheus.Collector](reg prometheus.Registerer, c T) T {
	if reg == nil {
		return c
	}
	if err := reg.Register(c); err != nil {
		var are prometheus.AlreadyRegisteredError
		if errors.As(err, &are) {
			if existing, ok := are.ExistingCollector.(T); ok {
				return existing
			}
		}
	}
	return c
}
