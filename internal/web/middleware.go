package web

import (
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/mutt-go/mutt/internal/web/redact"
)

// contentSecurityPolicy allows only the service's own scripts, styles and
// images, and no framing.
const contentSecurityPolicy = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"

// validCorrelationID accepts 1 to 36 characters of [A-Za-z0-9-], the width of
// the audit column.
func validCorrelationID(s string) bool {
	if s == "" || len(s) > 36 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c == '-' || (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')) {
			return false
		}
	}
	return true
}

// statusWriter remembers the status a handler wrote.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// Flush passes a flush through.
func (w *statusWriter) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// middleware wraps next in the layers every request passes, outermost
// first: correlation id, completion log and metrics, panic recovery,
// security and version headers, rate limit, body limit.
func (s *Server) middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		ri := &requestInfo{correlationID: r.Header.Get("X-Correlation-ID")}
		if !validCorrelationID(ri.correlationID) {
			ri.correlationID = uuid.NewString()
		}
		r = withInfo(r, ri)
		w.Header().Set("X-Correlation-ID", ri.correlationID)
		sw := &statusWriter{ResponseWriter: w}
		defer func() { s.finish(sw, r, ri, start) }()
		defer s.recoverPanic(sw, r, ri)

		h := w.Header()
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("Content-Security-Policy", contentSecurityPolicy)
		if strings.HasPrefix(r.URL.Path, "/api/") {
			ri.version = setVersionHeaders(sw, r)
			h.Set("Cache-Control", "no-store")
		}
		if s.limiter != nil && !s.limiter.allow(clientAddr(r), time.Now()) {
			sw.Header().Set("Retry-After", "60")
			writeJSON(sw, http.StatusTooManyRequests, errorBody{Error: "Too many requests", CorrelationID: ri.correlationID})
			return
		}
		if msg := badURL(r); msg != "" {
			writeJSON(sw, http.StatusBadRequest, errorBody{Error: msg, CorrelationID: ri.correlationID})
			return
		}
		if r.ContentLength > s.cfg.MaxBodyBytes {
			s.tooLarge(sw)
			return
		}
		if r.Body != nil {
			r.Body = http.MaxBytesReader(sw, r.Body, s.cfg.MaxBodyBytes)
		}
		next.ServeHTTP(sw, r)
	})
}

// badURL says what is wrong when the path or a query parameter holds a
// NUL character, which PostgreSQL text cannot store, or is not UTF-8; ""
// when neither does.
func badURL(r *http.Request) string {
	if msg := TextProblem(r.URL.Path); msg != "" {
		return "the path " + msg
	}
	if !strings.ContainsFunc(r.URL.RawQuery, func(c rune) bool { return c == '%' || c >= utf8.RuneSelf }) {
		return ""
	}
	q, _ := url.ParseQuery(r.URL.RawQuery)
	for name, vs := range q {
		if msg := TextProblem(name); msg != "" {
			return "a query parameter name " + msg
		}
		for _, v := range vs {
			if msg := TextProblem(v); msg != "" {
				return "query parameter " + strconv.Quote(name) + " " + msg
			}
		}
	}
	return ""
}

// TextProblem says why text cannot be stored as PostgreSQL text ("must not
// contain NUL characters", "must be valid UTF-8"), or "" when it can.
func TextProblem(s string) string {
	switch {
	case strings.IndexByte(s, 0) >= 0:
		return "must not contain NUL characters"
	case !utf8.ValidString(s):
		return "must be valid UTF-8"
	}
	return ""
}

// recoverPanic turns a handler panic into a generic 500 with the
// correlation id; the detail goes to the log only.
func (s *Server) recoverPanic(w *statusWriter, r *http.Request, ri *requestInfo) {
	v := recover()
	if v == nil {
		return
	}
	if v == http.ErrAbortHandler {
		panic(v)
	}
	s.logger.Error("panic serving request", "method", r.Method, "path", r.URL.Path, "panic", fmt.Sprint(v),
		"stack", string(debug.Stack()), "correlation_id", ri.correlationID)
	s.metrics.httpExceptions.WithLabelValues(r.Method, "500").Inc()
	if w.status != 0 {
		return // the response has begun; nothing more can be said
	}
	writeJSON(w, http.StatusInternalServerError, errorBody{Error: "Internal server error", CorrelationID: ri.correlationID})
}

// finish logs the completed request and records its metrics.
func (s *Server) finish(w *statusWriter, r *http.Request, ri *requestInfo, start time.Time) {
	status := w.status
	if status == 0 {
		status = http.StatusOK
	}
	d := time.Since(start)
	code := strconv.Itoa(status)
	route := ri.route
	if route == "" {
		route = "unmatched"
	}
	s.metrics.httpDuration.WithLabelValues(r.Method, route, code).Observe(d.Seconds())
	s.metrics.httpRequests.WithLabelValues(r.Method, code).Inc()
	attrs := []slog.Attr{
		slog.String("method", r.Method), slog.String("path", r.URL.Path), slog.Int("status", status),
		slog.Float64("duration_seconds", d.Seconds()), slog.String("remote_addr", clientAddr(r)),
		slog.String("correlation_id", ri.correlationID),
	}
	if r.URL.RawQuery != "" {
		attrs = append(attrs, slog.String("query", redact.Query(r.URL.RawQuery)))
	}
	if ri.authenticated {
		attrs = append(attrs, slog.String("key_name", ri.identity.Name))
	}
	s.logger.LogAttrs(r.Context(), slog.LevelInfo,
		fmt.Sprintf("%s %s - Status: %d - Duration: %.3fs", r.Method, r.URL.Path, status, d.Seconds()), attrs...)
}

// clientAddr is the host part of the peer address.
func clientAddr(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// tooLarge answers 413.
func (s *Server) tooLarge(w http.ResponseWriter) {
	w.Header().Set("Connection", "close")
	writeError(w, http.StatusRequestEntityTooLarge,
		"Request body too large (limit "+strconv.FormatInt(s.cfg.MaxBodyBytes, 10)+" bytes)")
}

// clientLimiter is a fixed-window request counter per client address.
// Windows of idle clients are dropped when a new window starts.
type clientLimiter struct {
	perMinute int
	mu        sync.Mutex
	window    time.Time
	counts    map[string]int
}

func newClientLimiter(perMinute int) *clientLimiter {
	return &clientLimiter{perMinute: perMinute, counts: map[string]int{}}
}

func (l *clientLimiter) allow(addr string, now time.Time) bool {
	w := now.Truncate(time.Minute)
	l.mu.Lock()
	defer l.mu.Unlock()
	if !w.Equal(l.window) {
		l.window = w
		clear(l.counts)
	}
	l.counts[addr]++
	return l.counts[addr] <= l.perMinute
}
