package ingest

import "github.com/prometheus/client_golang/prometheus"

// metrics are the ingestor's Prometheus series.
type metrics struct {
	requests      *prometheus.CounterVec
	events        *prometheus.CounterVec
	queueDepth    prometheus.Gauge
	latency       prometheus.Histogram
	rateLimitHits prometheus.Counter
	authFailures  *prometheus.CounterVec // reason: missing, bad_key
	authThrottled prometheus.Counter
}

// Reasons of mutt_ingest_auth_failures_total.
const (
	authMissing = "missing"
	authBadKey  = "bad_key"
)

// Request outcome reasons, a fixed vocabulary for the reason label.
const (
	reasonNone      = ""
	reasonAuth      = "auth"
	reasonJSON      = "json"
	reasonValidate  = "validation"
	reasonTooLarge  = "too_large"
	reasonQueueFull = "queue_full"
	reasonRedis     = "redis"
	reasonFull      = "storage_full"
	reasonRateLimit = "rate_limit"
	// reasonAuthThrottled is a client refused for its earlier wrong keys.
	reasonAuthThrottled = "auth_throttled"
	reasonUnknown       = "unknown"
)

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "mutt_ingest_requests_total",
			Help: "Ingest requests by outcome.",
		}, []string{"status", "reason"}),
		events: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "mutt_ingest_events_total",
			Help: "Events received by outcome: queued, rejected (invalid) or refused (queue full, Redis down).",
		}, []string{"status"}),
		queueDepth: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "mutt_ingest_queue_depth",
			Help: "Length of the ingest queue seen by the last request.",
		}),
		latency: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "mutt_ingest_latency_seconds",
			Help:    "Time to handle an authenticated ingest request.",
			Buckets: []float64{0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5},
		}),
		rateLimitHits: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "mutt_ingest_rate_limit_hits_total",
			Help: "Requests refused by the cluster-wide rate limit.",
		}),
		authFailures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "mutt_ingest_auth_failures_total",
			Help: "Ingest requests refused 401 by reason: missing (no X-API-KEY) or bad_key.",
		}, []string{"reason"}),
		authThrottled: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "mutt_ingest_auth_throttled_total",
			Help: "Ingest requests refused 429 because their client sent too many wrong keys.",
		}),
	}
	reg.MustRegister(m.requests, m.events, m.queueDepth, m.latency, m.rateLimitHits, m.authFailures, m.authThrottled)
	m.authFailures.WithLabelValues(authMissing)
	m.authFailures.WithLabelValues(authBadKey)
	// Pre-create the series operators alert on, so they read 0, not absent.
	for _, r := range []string{reasonAuth, reasonJSON, reasonValidate, reasonTooLarge, reasonQueueFull, reasonRedis, reasonFull, reasonRateLimit, reasonAuthThrottled, reasonUnknown} {
		m.requests.WithLabelValues("fail", r)
	}
	m.requests.WithLabelValues("success", reasonNone)
	for _, s := range []string{"queued", "rejected", "refused"} {
		m.events.WithLabelValues(s)
	}
	return m
}
