package web

import (
	"github.com/mutt-go/mutt/internal/version"

	"context"
	"errors"
	"net"
	"net/http"
	"os"
	"syscall"
	"time"

	"github.com/redis/go-redis/v9"
)

// healthService identifies the web UI in its health answer.
const healthService = "mutt-webui"

func (s *Server) handleHealth(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 3*time.Second)
	defer cancel()
	fail := func(msg string, err error) {
		s.logger.Error("Health check failed: "+msg, "error", err, "correlation_id", info(r).correlationID)
		writeJSON(w, http.StatusServiceUnavailable, map[string]string{
			"status": "unhealthy", "service": healthService, "version": version.Version(), "error": msg,
		})
	}
	ok := map[string]string{
		"status": "healthy", "service": healthService, "version": version.Version(),
		"redis": "connected", "database": "connected",
	}
	switch {
	case s.deps.Health != nil:
		if err := s.deps.Health.Ping(ctx); err != nil {
			fail("embedded database unavailable", err)
			return
		}
		delete(ok, "redis")
		ok["storage"] = "embedded"
	case s.deps.Redis == nil:
		fail("redis unavailable", errors.New("no Redis client"))
		return
	default:
		if err := s.deps.Redis.Ping(ctx).Err(); err != nil {
			fail("redis unavailable", err)
			return
		}
	}
	if s.deps.Store == nil {
		fail("database unavailable", errors.New("no database"))
		return
	}
	if err := s.deps.Store.Ping(ctx); err != nil {
		fail("database unavailable", err)
		return
	}
	writeJSON(w, http.StatusOK, ok)
}

func (s *Server) handleVersion(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, versionDocument())
}

// isConnectionError reports whether err means Redis could not be reached
// (as opposed to a bad answer).
func isConnectionError(err error) bool {
	var ne net.Error
	var oe *net.OpError
	return errors.As(err, &ne) || errors.As(err, &oe) || errors.Is(err, syscall.ECONNREFUSED) ||
		errors.Is(err, os.ErrDeadlineExceeded) || errors.Is(err, context.DeadlineExceeded) ||
		errors.Is(err, redis.ErrClosed) || errors.Is(err, redis.ErrPoolTimeout)
}

func (s *Server) handleRates(w http.ResponseWriter, r *http.Request) {
	if s.deps.Rates == nil {
		s.metrics.apiRequests.WithLabelValues("metrics", "fail_redis").Inc()
		writeError(w, http.StatusServiceUnavailable, "Redis connection failed")
		return
	}
	start := time.Now()
	report, cached, err := s.deps.Rates.Get(r.Context())
	if err != nil {
		if isConnectionError(err) {
			s.metrics.apiRequests.WithLabelValues("metrics", "fail_redis").Inc()
			s.logger.Error("reading ingest rates", "error", err, "correlation_id", info(r).correlationID)
			writeError(w, http.StatusServiceUnavailable, "Redis connection failed")
			return
		}
		s.metrics.apiRequests.WithLabelValues("metrics", "fail_unknown").Inc()
		s.internalError(w, r, "reading ingest rates", err)
		return
	}
	if cached {
		s.metrics.apiRequests.WithLabelValues("metrics", "success_cached").Inc()
	} else {
		d := time.Since(start).Seconds()
		s.metrics.scanLatency.Observe(d)
		s.metrics.apiLatency.WithLabelValues("metrics").Observe(d)
		s.metrics.apiRequests.WithLabelValues("metrics", "success").Inc()
	}
	writeJSON(w, http.StatusOK, report)
}

func (s *Server) handleSLO(w http.ResponseWriter, r *http.Request) {
	if s.deps.SLO == nil {
		s.metrics.apiRequests.WithLabelValues("slo", "error").Inc()
		writeError(w, http.StatusServiceUnavailable, "SLO reporting not available")
		return
	}
	start := time.Now()
	report, err := s.deps.SLO.Report(r.Context(), time.Now())
	s.metrics.apiLatency.WithLabelValues("slo").Observe(time.Since(start).Seconds())
	if err != nil {
		s.metrics.apiRequests.WithLabelValues("slo", "error").Inc()
		s.internalError(w, r, "computing the SLO report", err)
		return
	}
	s.metrics.apiRequests.WithLabelValues("slo", "success").Inc()
	writeJSON(w, http.StatusOK, report)
}

// placeholderPage is served at "/" and "/audit" when the dashboard is not
// part of the binary.
const placeholderPage = `<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>MUTT Web UI</title></head>
<body><h1>MUTT Web UI</h1>
<p>The dashboard is not built into this binary. The REST API is available under /api/v2/ (see /api/v2/version).</p>
</body></html>
`

func (s *Server) handlePlaceholder(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write([]byte(placeholderPage))
}
