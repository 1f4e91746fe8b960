package web

import (
	"errors"
	"fmt"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/mutt-go/mutt/internal/web/authguard"
)

// metrics are the web UI's Prometheus series (spec §12). The flask_* names
// are kept from the original so existing dashboards keep working.
type metrics struct {
	apiRequests    *prometheus.CounterVec   // endpoint, status
	apiLatency     *prometheus.HistogramVec // endpoint
	scanLatency    prometheus.Histogram
	dbLatency      *prometheus.HistogramVec // operation (milliseconds)
	httpDuration   *prometheus.HistogramVec // method, path (route template), status
	httpRequests   *prometheus.CounterVec   // method, status
	httpExceptions *prometheus.CounterVec   // method, status
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		apiRequests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "mutt_webui_api_requests_total", Help: "Web UI API requests by endpoint and outcome.",
		}, []string{"endpoint", "status"}),
		apiLatency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "mutt_webui_api_latency_seconds", Help: "Web UI API latency by endpoint (cache hits not timed).",
			Buckets: []float64{0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5},
		}, []string{"endpoint"}),
		scanLatency: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "mutt_webui_redis_scan_latency_seconds", Help: "Time to read the ingest rate counters from Redis.",
		}),
		dbLatency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "mutt_webui_db_query_latency_ms", Help: "Web UI database query latency in milliseconds.",
			Buckets: []float64{1, 5, 10, 25, 50, 100, 250, 500, 1000, 2500},
		}, []string{"operation"}),
		httpDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "flask_http_request_duration_seconds", Help: "HTTP request duration by method, route template and status.",
		}, []string{"method", "path", "status"}),
		httpRequests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "flask_http_request_total", Help: "HTTP requests by method and status.",
		}, []string{"method", "status"}),
		httpExceptions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "flask_http_request_exceptions_total", Help: "HTTP requests that raised (panicked) by method and status.",
		}, []string{"method", "status"}),
	}
	var err error
	m.apiRequests = register(reg, m.apiRequests, &err)
	m.apiLatency = register(reg, m.apiLatency, &err)
	m.scanLatency = register(reg, m.scanLatency, &err)
	m.dbLatency = register(reg, m.dbLatency, &err)
	m.httpDuration = register(reg, m.httpDuration, &err)
	m.httpRequests = register(reg, m.httpRequests, &err)
	m.httpExceptions = register(reg, m.httpExceptions, &err)
	if err != nil {
		return nil, err
	}
	return m, nil
}

// Reasons of mutt_webui_auth_failures_total.
const (
	authMissing    = "missing"     // no key and no session cookie
	authBadKey     = "bad_key"     // an X-API-KEY (or ?api_key=) not in the keyring
	authBadSession = "bad_session" // a session cookie that names no valid session
	// AuthBadLogin is a key refused by the dashboard's sign-in form.
	AuthBadLogin = "bad_login"
)

// NewAuthGuard returns the throttle of failed authentication that the REST
// API and the dashboard's sign-in share, counting into
// mutt_webui_auth_failures_total{reason} and
// mutt_webui_auth_throttled_total on reg.
func NewAuthGuard(reg prometheus.Registerer, o authguard.Options) (*authguard.Guard, error) {
	failures := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "mutt_webui_auth_failures_total",
		Help: "Failed authentications of the web UI and REST API by reason: missing, bad_key, bad_session, bad_login.",
	}, []string{"reason"})
	throttled := prometheus.NewCounter(prometheus.CounterOpts{
		Name: "mutt_webui_auth_throttled_total",
		Help: "Requests refused with 429 because their client failed to authenticate too often.",
	})
	var err error
	failures = register(reg, failures, &err)
	throttled = register(reg, throttled, &err)
	if err != nil {
		return nil, fmt.Errorf("registering web UI auth metrics: %w", err)
	}
	for _, r := range []string{authMissing, authBadKey, authBadSession, AuthBadLogin} {
		failures.WithLabelValues(r)
	}
	o.Failures, o.Throttled = failures, throttled
	return authguard.New(o), nil
}

// register registers c, or returns the collector already registered under
// the same description (a second web server in one process shares it).
func register[C prometheus.Collector](reg prometheus.Registerer, c C, errp *error) C {
	if err := reg.Register(c); err != nil {
		var are prometheus.AlreadyRegisteredError
		if errors.As(err, &are) {
			if existing, ok := are.ExistingCollector.(C); ok {
				return existing
			}
		}
		if *errp == nil {
			*errp = err
		}
	}
	return c
}
