package ingest

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"

	"github.com/mutt-go/mutt/internal/event"
	"github.com/mutt-go/mutt/internal/obs"
	"github.com/mutt-go/mutt/internal/queue"
	"github.com/mutt-go/mutt/internal/secrets"
	"github.com/mutt-go/mutt/internal/version"
	"github.com/mutt-go/mutt/internal/web/authguard"
	"github.com/mutt-go/mutt/internal/web/redact"
)

// Producer appends events to the ingest queue.
type Producer interface {
	Produce(ctx context.Context, payloads [][]byte) (depth int64, err error)
}

// Options configure the ingest API.
type Options struct {
	APIKey, APIKeyNext secrets.Secret
	// MaxBodyBytes bounds a request body; larger bodies get 413.
	MaxBodyBytes int64
	// RequiredFields must be non-empty strings in every event.
	RequiredFields []string
	// RateLimit, when not nil, is consulted before each request is read.
	RateLimit *RateLimitOptions
	// Ping checks the queue's storage for /health.
	Ping func(ctx context.Context) error
	// StorageName names that check ("Redis" when empty).
	StorageName string
	// Settings returns the configuration shown by /admin/config; it must not
	// contain secrets in clear (secrets.Secret redacts itself).
	Settings func() any
	// AuthThrottle tunes the per-client throttle of wrong keys (zero
	// values: the defaults, ten wrong keys, then one every six seconds).
	AuthThrottle authguard.Options
}

// RateLimitOptions configure the request limit: shared by every ingestor
// through Redis, or kept in process when Redis is nil (embedded mode).
type RateLimitOptions struct {
	Redis  redis.UniversalClient
	Key    string
	Max    func() int64
	Window func() time.Duration
}

// Server is the ingest HTTP handler.
type Server struct {
	opts     Options
	producer Producer
	limiter  rateLimiter
	guard    *authguard.Guard
	metrics  *metrics
	logger   *slog.Logger
	mux      *http.ServeMux
	eventOpt event.Options
	bufs     sync.Pool
}

// NewServer builds the handler.
// reg both receives the ingest metrics and is served at /metrics.
func NewServer(opts Options, producer Producer, reg *prometheus.Registry, logger *slog.Logger) *Server {
	s := &Server{
		opts: opts, producer: producer, metrics: newMetrics(reg), logger: logger,
		eventOpt: event.Options{RequiredFields: opts.RequiredFields},
		bufs:     sync.Pool{New: func() any { return new(bytes.Buffer) }},
	}
	g := opts.AuthThrottle
	g.Failures, g.Throttled = s.metrics.authFailures, s.metrics.authThrottled
	s.guard = authguard.New(g)
	if opts.RateLimit != nil {
		s.limiter = newRateLimiter(opts.RateLimit)
	}
	mux := http.NewServeMux()
	for _, p := range []string{"/ingest", "/api/v1/ingest", "/api/v2/ingest"} {
		mux.HandleFunc("POST "+p, s.handleIngest)
	}
	mux.Handle("GET /health", obs.HealthHandler(
		map[string]any{"service": "mutt-ingestor", "version": version.Version()},
		obs.Check{Name: cmp.Or(opts.StorageName, "Redis"), Check: opts.Ping}))
	mux.Handle("GET /metrics", obs.MetricsHandler(reg))
	mux.HandleFunc("GET /admin/config", s.handleAdminConfig)
	mux.HandleFunc("GET /{$}", s.handleInfo)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, correlationID(r), "no such endpoint: "+r.Method+" "+r.URL.Path, nil)
	})
	s.mux = mux
	return s
}

// ServeHTTP authenticates, then routes.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch r.URL.Path {
	case "/health", "/metrics", "/":
	default:
		if !s.authenticate(w, r) {
			return
		}
	}
	s.mux.ServeHTTP(w, r)
}

// authenticate checks the X-API-KEY header against both keys. A client
// that sent too many wrong keys is refused 429 before its key is compared;
// a missing key costs no token, so a sender without one is told 401, not
// throttled. It answers the refusal itself.
func (s *Server) authenticate(w http.ResponseWriter, r *http.Request) bool {
	key := r.Header.Get("X-API-KEY")
	reason := authMissing
	if key != "" {
		if wait, ok := s.guard.Allow(r); !ok {
			s.metrics.requests.WithLabelValues("fail", reasonAuthThrottled).Inc()
			cid := correlationID(r)
			w.Header().Set("Retry-After", authguard.RetryAfter(wait))
			w.Header().Set("X-Correlation-ID", cid)
			obs.WriteJSON(w, http.StatusTooManyRequests, errorBody{
				Status: "error", Message: "Too Many Requests - too many failed authentication attempts from this client",
				CorrelationID: cid, RetryAfter: authguard.RetrySeconds(wait),
			})
			return false
		}
		// Both comparisons always run, so timing does not tell which key matched.
		a := s.opts.APIKey.Equal(key)
		b := s.opts.APIKeyNext.Equal(key)
		if a || b {
			return true
		}
		reason = authBadKey
	}
	s.metrics.requests.WithLabelValues("fail", reasonAuth).Inc()
	cid := correlationID(r)
	level := slog.LevelDebug // a sender without a key is not worth a line per request
	if reason == authBadKey {
		level = slog.LevelWarn // bounded by the throttle
		if s.guard.Fail(r, reason) {
			s.logger.Warn("throttling authentication from "+r.RemoteAddr+" after repeated wrong API keys",
				"remote_addr", r.RemoteAddr, "correlation_id", cid)
		}
	} else {
		s.guard.Count(reason)
	}
	attrs := []slog.Attr{slog.String("method", r.Method), slog.String("path", r.URL.Path),
		slog.String("remote_addr", r.RemoteAddr), slog.String("reason", reason), slog.String("correlation_id", cid)}
	if r.URL.RawQuery != "" {
		attrs = append(attrs, slog.String("query", redact.Query(r.URL.RawQuery)))
	}
	s.logger.LogAttrs(r.Context(), level, "ingest authentication failed", attrs...)
	writeError(w, http.StatusUnauthorized, cid, "Unauthorized", nil)
	return false
}

// correlationID takes the caller's X-Correlation-ID when it is a sane token,
// or makes a new one.
func correlationID(r *http.Request) string {
	if c := r.Header.Get("X-Correlation-ID"); c != "" && len(c) <= 128 && printable(c) {
		return c
	}
	return uuid.NewString()
}

func printable(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] > 0x7e {
			return false
		}
	}
	return true
}

// itemProblem is one rejected event of a batch in an error response.
type itemProblem struct {
	Index int    `json:"index"`
	Field string `json:"field,omitempty"`
	Error string `json:"error"`
}

type errorBody struct {
	Status        string        `json:"status"`
	Message       string        `json:"message"`
	CorrelationID string        `json:"correlation_id"`
	Errors        []itemProblem `json:"errors,omitempty"`
	QueueDepth    *int64        `json:"queue_depth,omitempty"`
	QueueLimit    *int64        `json:"queue_limit,omitempty"`
	RetryAfter    int           `json:"retry_after,omitempty"`
}

type queuedBody struct {
	Status        string        `json:"status"`
	CorrelationID string        `json:"correlation_id"`
	QueueDepth    int64         `json:"queue_depth"`
	Accepted      int           `json:"accepted"`
	Rejected      []itemProblem `json:"rejected,omitempty"`
}

func writeError(w http.ResponseWriter, status int, cid, msg string, items []itemProblem) {
	w.Header().Set("X-Correlation-ID", cid)
	obs.WriteJSON(w, status, errorBody{Status: "error", Message: msg, CorrelationID: cid, Errors: items})
}

// maxReportedItems bounds the per-item problems echoed in one response.
const maxReportedItems = 100

func (s *Server) handleIngest(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	defer func() { s.metrics.latency.Observe(time.Since(start).Seconds()) }()
	cid := correlationID(r)
	w.Header().Set("X-API-Version", obs.APIVersion)
	w.Header().Set("X-API-Deprecated", strconv.FormatBool(strings.HasPrefix(r.URL.Path, "/api/v1/")))
	fail := func(reason string) { s.metrics.requests.WithLabelValues("fail", reason).Inc() }

	if s.limiter != nil {
		ok, err := s.limiter.allow(r.Context())
		if err != nil {
			// Fail open: a limiter outage must not stop ingestion.
			s.logger.Warn("rate limiter unavailable, admitting request", "error", err)
		}
		if !ok {
			fail(reasonRateLimit)
			s.metrics.rateLimitHits.Inc()
			secs := int(s.limiter.window().Seconds())
			w.Header().Set("Retry-After", strconv.Itoa(secs))
			w.Header().Set("X-Correlation-ID", cid)
			obs.WriteJSON(w, http.StatusTooManyRequests, errorBody{
				Status: "error", Message: "Too Many Requests - rate limit exceeded", CorrelationID: cid, RetryAfter: secs,
			})
			return
		}
	}

	buf := s.bufs.Get().(*bytes.Buffer)
	buf.Reset()
	defer s.bufs.Put(buf)
	if _, err := buf.ReadFrom(http.MaxBytesReader(w, r.Body, s.opts.MaxBodyBytes)); err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			fail(reasonTooLarge)
			writeError(w, http.StatusRequestEntityTooLarge, cid,
				"request body exceeds the limit of "+strconv.FormatInt(s.opts.MaxBodyBytes, 10)+" bytes; send smaller batches", nil)
			return
		}
		fail(reasonJSON)
		writeError(w, http.StatusBadRequest, cid, "reading request body: "+err.Error(), nil)
		return
	}

	items, err := event.Split(buf.Bytes(), r.Header.Get("Content-Type"))
	if err != nil {
		s.rejectBody(w, cid, err)
		return
	}
	partial := r.URL.Query().Get("partial") == "true" || strings.EqualFold(r.Header.Get("X-Partial-Accept"), "true")
	payloads := make([][]byte, 0, len(items))
	var problems []itemProblem
	for i, raw := range items {
		ev, err := event.Normalize(raw, event.Stamp{EventID: newEventID(), CorrelationID: cid}, &s.eventOpt)
		if err != nil {
			if len(problems) < maxReportedItems {
				problems = append(problems, problem(i, err))
			}
			continue
		}
		payloads = append(payloads, ev.JSON)
	}
	rejected := len(items) - len(payloads)
	if rejected > 0 {
		s.metrics.events.WithLabelValues("rejected").Add(float64(rejected))
	}
	if rejected > 0 && (!partial || len(payloads) == 0) {
		fail(reasonValidate)
		msg := "invalid event"
		if len(items) > 1 {
			msg = strconv.Itoa(rejected) + " of " + strconv.Itoa(len(items)) + " events invalid; nothing was queued"
		}
		if len(problems) > 0 {
			msg += ": " + describe(problems[0], len(items) > 1)
		}
		writeError(w, http.StatusBadRequest, cid, msg, problems)
		return
	}

	depth, err := s.producer.Produce(r.Context(), payloads)
	if err != nil {
		s.metrics.events.WithLabelValues("refused").Add(float64(len(payloads)))
		var full *queue.QueueFullError
		if errors.As(err, &full) {
			fail(reasonQueueFull)
			s.metrics.queueDepth.Set(float64(full.Depth))
			w.Header().Set("Retry-After", "5")
			w.Header().Set("X-Correlation-ID", cid)
			obs.WriteJSON(w, http.StatusServiceUnavailable, errorBody{
				Status: "error", Message: "Service Unavailable - queue full", CorrelationID: cid,
				QueueDepth: &full.Depth, QueueLimit: &full.Limit,
			})
			return
		}
		w.Header().Set("Retry-After", "5")
		if errors.Is(err, queue.ErrStorageFull) {
			fail(reasonFull)
			s.logger.Error("queueing events: the storage is full; refusing events until there is room", "error", err,
				"correlation_id", cid)
			writeError(w, http.StatusServiceUnavailable, cid, "Service Unavailable - storage full", nil)
			return
		}
		fail(reasonRedis)
		s.logger.Error("queueing events", "error", err, "correlation_id", cid)
		writeError(w, http.StatusServiceUnavailable, cid, "Service Unavailable - "+cmp.Or(s.opts.StorageName, "Redis")+" error", nil)
		return
	}
	s.metrics.queueDepth.Set(float64(depth))
	s.metrics.events.WithLabelValues("queued").Add(float64(len(payloads)))
	s.metrics.requests.WithLabelValues("success", reasonNone).Inc()
	w.Header().Set("X-Correlation-ID", cid)
	obs.WriteJSON(w, http.StatusOK, queuedBody{
		Status: "queued", CorrelationID: cid, QueueDepth: depth, Accepted: len(payloads), Rejected: problems,
	})
}

func (s *Server) rejectBody(w http.ResponseWriter, cid string, err error) {
	s.metrics.requests.WithLabelValues("fail", reasonJSON).Inc()
	// Keep the message's historical "Invalid JSON: " opening; the detail
	// after it is for people, not parsers.
	msg := "Invalid JSON: " + strings.TrimPrefix(err.Error(), "invalid JSON: ")
	var item *event.ItemError
	if errors.As(err, &item) {
		writeError(w, http.StatusBadRequest, cid, msg, []itemProblem{problem(item.Index, item.Err)})
		return
	}
	writeError(w, http.StatusBadRequest, cid, msg, nil)
}

func problem(index int, err error) itemProblem {
	p := itemProblem{Index: index, Error: err.Error()}
	var fe *event.FieldError
	if errors.As(err, &fe) {
		p.Field = fe.Field
	}
	return p
}

func describe(p itemProblem, batch bool) string {
	if batch {
		return "item " + strconv.Itoa(p.Index) + ": " + p.Error
	}
	return p.Error
}

// newEventID returns a time-ordered UUID (v7), which keeps the audit table's
// unique index append-mostly.
func newEventID() string {
	id, err := uuid.NewV7()
	if err != nil {
		return uuid.NewString()
	}
	return id.String()
}

func (s *Server) handleInfo(w http.ResponseWriter, r *http.Request) {
	obs.WriteJSON(w, http.StatusOK, map[string]any{
		"service":     "mutt-ingestor",
		"version":     version.Version(),
		"description": "MUTT event ingestion: syslog and SNMP trap events in, queued for the alerter",
		"endpoints": map[string]string{
			"ingest":  "POST /ingest, /api/v2/ingest (X-API-KEY; one JSON object, a JSON array, or newline-delimited JSON)",
			"health":  "GET /health",
			"metrics": "GET /metrics",
			"info":    "GET /",
		},
	})
}

func (s *Server) handleAdminConfig(w http.ResponseWriter, r *http.Request) {
	var settings any
	if s.opts.Settings != nil {
		settings = s.opts.Settings()
	}
	b, err := json.Marshal(settings)
	if err != nil {
		obs.WriteJSON(w, http.StatusInternalServerError, map[string]string{"error": err.Error()})
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = io.Copy(w, bytes.NewReader(b))
}
