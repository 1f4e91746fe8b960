// Package obs sets up MUTT's observability plumbing: the slog logger, a
// Prometheus registry per process, and the HTTP handlers for /metrics and
// /health that every role serves.
//
// It must not import other MUTT packages.
package obs

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// APIVersion is the version MUTT's HTTP surfaces report in X-API-Version.
const APIVersion = "v2.5"

// SupportedAPIVersions is reported in X-API-Supported-Versions.
const SupportedAPIVersions = "v2.5, v2.0, v1.0"

// NewLogger returns a logger writing to w in format "json" or "text" at the
// given level name (debug, info, warn, error).
func NewLogger(w io.Writer, format, level string) *slog.Logger {
	var lvl slog.Level
	switch strings.ToLower(level) {
	case "debug":
		lvl = slog.LevelDebug
	case "warn", "warning":
		lvl = slog.LevelWarn
	case "error":
		lvl = slog.LevelError
	default:
		lvl = slog.LevelInfo
	}
	opts := &slog.HandlerOptions{Level: lvl}
	if format == "text" {
		return slog.New(slog.NewTextHandler(w, opts))
	}
	return slog.New(slog.NewJSONHandler(w, opts))
}

// NewRegistry returns a registry with the Go runtime and process collectors,
// one per process so that every role in it shares one scrape.
func NewRegistry() *prometheus.Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return reg
}

// MetricsHandler serves the registry in the Prometheus exposition format.
func MetricsHandler(reg *prometheus.Registry) http.Handler {
	return promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg})
}

// Check is one named dependency check of a health endpoint.
type Check struct {
	Name  string
	Check func(ctx context.Context) error
}

// HealthHandler answers 200 with body when every check passes and 503 with
// body plus "status":"unhealthy" and an "errors" list otherwise. body is the
// service's identification (service, version, pod, …).
func HealthHandler(body map[string]any, checks ...Check) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
		defer cancel()
		out := make(map[string]any, len(body)+2)
		for k, v := range body {
			out[k] = v
		}
		var errs []string
		for _, c := range checks {
			if err := c.Check(ctx); err != nil {
				errs = append(errs, c.Name+": "+err.Error())
			}
		}
		status := http.StatusOK
		out["status"] = "healthy"
		if len(errs) > 0 {
			status = http.StatusServiceUnavailable
			out["status"] = "unhealthy"
			out["errors"] = errs
		}
		w.Header().Set("X-API-Version", APIVersion)
		w.Header().Set("X-API-Supported-Versions", SupportedAPIVersions)
		WriteJSON(w, status, out)
	})
}

// WriteJSON writes v as the JSON body of a response with the given status.
func WriteJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
