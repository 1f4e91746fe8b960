package web

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/redis/go-redis/v9"

	"github.com/mutt-go/mutt/internal/config"
	"github.com/mutt-go/mutt/internal/configadmin"
	"github.com/mutt-go/mutt/internal/ratestats"
	"github.com/mutt-go/mutt/internal/slo"
	"github.com/mutt-go/mutt/internal/store"
	"github.com/mutt-go/mutt/internal/web/auth"
	"github.com/mutt-go/mutt/internal/web/authguard"
)

// shutdownGrace bounds how long Run waits for requests in flight.
const shutdownGrace = 10 * time.Second

// Deps are what the web server reads and writes through. Nil dependencies
// make their endpoints answer 503.
type Deps struct {
	Store store.Interface
	Redis redis.UniversalClient // health check and sessions, unless Health and SessionStore are set
	// Health, when not nil, is what the health check pings instead of
	// Redis: the embedded database, in the single-process mode.
	Health Pinger
	// SessionStore, when not nil, keeps the sessions built when Sessions
	// is nil, instead of Redis under SessionPrefix.
	SessionStore auth.SessionStore
	Keys         config.Keys
	Config       *configadmin.Admin
	Rates        *ratestats.Cache
	SLO          *slo.Evaluator
	Logger       *slog.Logger
	// Registerer receives the web metrics; Gatherer is served at /metrics.
	// When Gatherer is nil and Registerer is a *prometheus.Registry, that
	// registry is served. Both nil: a private registry.
	Registerer prometheus.Registerer
	Gatherer   prometheus.Gatherer
	// UI, when not nil, is the dashboard, mounted at "/" (it serves "/",
	// "/audit", "/login", "/static/", …) behind the same middleware but
	// without API authentication: it checks Sessions itself. When nil, "/"
	// and "/audit" answer a page saying the dashboard is not built in.
	UI http.Handler
	// Keyring and Sessions, when nil, are built from the configuration
	// (see NewAuth); pass them to share them with the dashboard.
	Keyring  *auth.Keyring
	Sessions *auth.Sessions
	// AuthGuard throttles clients that fail to authenticate; when nil,
	// New builds one with the defaults (see NewAuthGuard). Pass it to share
	// it with the dashboard's sign-in.
	AuthGuard *authguard.Guard
	// SessionPrefix is the Redis key prefix of the sessions built when
	// Sessions is nil; empty means "<key prefix>:webui:session", the key
	// prefix taken from Keys.ConfigPrefix.
	SessionPrefix string
	// Lifecycle adds or replaces endpoint lifecycle metadata, keyed by the
	// path after the version prefix (e.g. "/rules/{id}").
	Lifecycle map[string]Lifecycle
	// DevKeyOut receives the generated key in development mode (default
	// standard error).
	DevKeyOut io.Writer
}

// Server is the web UI service.
type Server struct {
	cfg       config.Web
	deps      Deps
	logger    *slog.Logger
	keys      *auth.Keyring
	sessions  *auth.Sessions
	metrics   *metrics
	gatherer  prometheus.Gatherer
	lifecycle map[string]Lifecycle
	limiter   *clientLimiter
	guard     *authguard.Guard
	api       *http.ServeMux // /api/...
	root      *http.ServeMux // everything else
	handler   http.Handler

	mu     sync.Mutex
	srv    *http.Server
	closed bool
}

// Pinger is a dependency the health check asks whether it answers.
type Pinger interface {
	Ping(ctx context.Context) error
}

// NewAuth builds the keyring and the session store (in rdb, under
// sessionPrefix) from the configuration. Without any key it fails, unless
// cfg.Dev is set: then a random key is generated and written once to out.
func NewAuth(cfg config.Web, rdb redis.UniversalClient, sessionPrefix string, out io.Writer) (*auth.Keyring, *auth.Sessions, error) {
	var st auth.SessionStore
	if rdb != nil {
		st = auth.NewRedisSessions(rdb, sessionPrefix)
	}
	return NewAuthFrom(cfg, st, out)
}

// NewAuthFrom is NewAuth with the session records in st (nil: sign-in
// fails with auth.ErrNoSessionStore).
func NewAuthFrom(cfg config.Web, st auth.SessionStore, out io.Writer) (*auth.Keyring, *auth.Sessions, error) {
	keys, err := cfg.Keys()
	if err != nil {
		return nil, nil, err
	}
	var ring *auth.Keyring
	if len(keys) == 0 {
		if !cfg.Dev {
			return nil, nil, &config.FieldError{Field: "WEBUI_API_KEY",
				Rule: "is required to run the web UI (set it, WEBUI_API_KEY_FILE or WEBUI_API_KEYS_FILE, or pass --dev)"}
		}
		key := fmt.Sprintf("%x", auth.RandomKey())
		if out == nil {
			out = os.Stderr
		}
		fmt.Fprintf(out, "mutt webui --dev: no API key configured; generated key for this process: %s\n", key)
		ring = auth.Single(key)
	} else if ring, err = auth.NewKeyring(keys); err != nil {
		return nil, nil, fmt.Errorf("web UI keys: %w", err)
	}
	sk, err := auth.LoadSessionKey(cfg.SessionKeyFile)
	if err != nil {
		return nil, nil, &config.FieldError{Field: "MUTT_WEBUI_SESSION_KEY_FILE", Rule: err.Error()}
	}
	return ring, auth.NewSessionsFrom(st, sk, auth.DefaultSessionTTL), nil
}

// SessionPrefix is the Redis key prefix of dashboard sessions for the key
// prefix of a deployment.
func SessionPrefix(keyPrefix string) string { return keyPrefix + ":webui:session" }

// New builds the server. It fails without an API key (unless cfg.Dev) and
// when the metrics cannot be registered.
func New(cfg config.Web, deps Deps) (*Server, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("web UI configuration: %w", err)
	}
	s := &Server{cfg: cfg, deps: deps, logger: deps.Logger, keys: deps.Keyring, sessions: deps.Sessions}
	if s.logger == nil {
		s.logger = slog.New(slog.DiscardHandler)
	}
	if s.keys == nil || s.sessions == nil {
		prefix := deps.SessionPrefix
		if prefix == "" {
			prefix = SessionPrefix(strings.TrimSuffix(cmp.Or(deps.Keys.ConfigPrefix, "mutt:config"), ":config"))
		}
		var ring *auth.Keyring
		var sess *auth.Sessions
		var err error
		if deps.SessionStore != nil {
			ring, sess, err = NewAuthFrom(cfg, deps.SessionStore, deps.DevKeyOut)
		} else {
			ring, sess, err = NewAuth(cfg, deps.Redis, prefix, deps.DevKeyOut)
		}
		if err != nil {
			return nil, err
		}
		if s.keys == nil {
			s.keys = ring
		}
		if s.sessions == nil {
			s.sessions = sess
		}
	}
	reg, gat := deps.Registerer, deps.Gatherer
	if reg == nil && gat == nil {
		r := prometheus.NewRegistry()
		reg, gat = r, r
	}
	if reg == nil {
		reg = prometheus.NewRegistry() // metrics nobody scrapes
	}
	if gat == nil {
		if g, ok := reg.(prometheus.Gatherer); ok {
			gat = g
		} else {
			gat = prometheus.DefaultGatherer
		}
	}
	m, err := newMetrics(reg)
	if err != nil {
		return nil, fmt.Errorf("registering web UI metrics: %w", err)
	}
	s.metrics, s.gatherer = m, gat
	if s.guard = deps.AuthGuard; s.guard == nil {
		if s.guard, err = NewAuthGuard(reg, authguard.Options{}); err != nil {
			return nil, err
		}
	}
	s.lifecycle = defaultLifecycle()
	maps.Copy(s.lifecycle, deps.Lifecycle)
	if cfg.RateLimitPerMinute > 0 {
		s.limiter = newClientLimiter(cfg.RateLimitPerMinute)
	}
	s.routes()
	s.handler = s.middleware(http.HandlerFunc(s.dispatch))
	return s, nil
}

// Handler returns the server's complete HTTP handler.
func (s *Server) Handler() http.Handler { return s.handler }

// Keyring returns the accepted API keys (for the dashboard's login).
func (s *Server) Keyring() *auth.Keyring { return s.keys }

// Sessions returns the session signer (for the dashboard's login).
func (s *Server) Sessions() *auth.Sessions { return s.sessions }

// Run listens on the configured address and serves until ctx ends, then
// stops accepting and waits up to 10 s for requests in flight.
func (s *Server) Run(ctx context.Context) error {
	ln, err := net.Listen("tcp", s.cfg.Listen)
	if err != nil {
		return fmt.Errorf("web UI: listening on %s: %w", s.cfg.Listen, err)
	}
	return s.Serve(ctx, ln)
}

// Serve is Run on a listener the caller opened; it closes ln.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	srv := &http.Server{
		Handler: s.handler, ReadHeaderTimeout: 5 * time.Second, ReadTimeout: 30 * time.Second,
		WriteTimeout: 60 * time.Second, IdleTimeout: 120 * time.Second, MaxHeaderBytes: 64 << 10,
		ErrorLog: slog.NewLogLogger(s.logger.Handler(), slog.LevelWarn),
	}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		_ = ln.Close()
		return nil
	}
	s.srv = srv
	s.mu.Unlock()
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		if errors.Is(err, http.ErrServerClosed) {
			return nil
		}
		return fmt.Errorf("web UI server: %w", err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), shutdownGrace)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		_ = srv.Close()
		return fmt.Errorf("web UI: draining requests: %w", err)
	}
	return nil
}

// Close stops a running server at once. Safe to call twice.
func (s *Server) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil
	}
	s.closed = true
	if s.srv != nil {
		return s.srv.Close()
	}
	return nil
}

// route is one API endpoint, registered under /api/v1 and /api/v2.
type route struct {
	method, path string // path after the version prefix
	public       bool
	endpoint     http.HandlerFunc
}

func (s *Server) apiRoutes() []route {
	return []route{
		{"GET", "/version", true, s.handleVersion},
		{"GET", "/metrics", false, s.handleRates},
		{"GET", "/slo", false, s.handleSLO},
		{"GET", "/config", false, s.handleConfigList},
		{"PUT", "/config/{key}", false, s.handleConfigSet},
		{"GET", "/config/history", false, s.handleConfigHistory},
		{"GET", "/rules", false, s.handleRulesList},
		{"POST", "/rules", false, s.handleRuleCreate},
		{"GET", "/rules/{id}", false, s.handleRuleGet},
		{"PUT", "/rules/{id}", false, s.handleRuleUpdate},
		{"DELETE", "/rules/{id}", false, s.handleRuleDelete},
		{"GET", "/audit-logs", false, s.handleEventAudit},
		{"GET", "/audit", false, s.handleConfigAudit("logs")},
		{"GET", "/config-audit", false, s.handleConfigAudit("changes")},
		{"GET", "/dev-hosts", false, s.handleDevHostsList},
		{"POST", "/dev-hosts", false, s.handleDevHostAdd},
		{"DELETE", "/dev-hosts/{hostname}", false, s.handleDevHostDelete},
		{"GET", "/teams", false, s.handleTeamsList},
		{"POST", "/teams", false, s.handleTeamAdd},
		{"PUT", "/teams/{hostname}", false, s.handleTeamUpdate},
		{"DELETE", "/teams/{hostname}", false, s.handleTeamDelete},
	}
}

// APIPrefixes are the version prefixes every API route is served under.
func APIPrefixes() []string { return []string{"/api/v1", "/api/v2"} }

func (s *Server) routes() {
	s.api = http.NewServeMux()
	for _, rt := range s.apiRoutes() {
		for _, prefix := range APIPrefixes() {
			s.api.Handle(rt.method+" "+prefix+rt.path, s.endpoint(prefix+rt.path, rt.path, rt.public, rt.endpoint))
		}
	}
	s.api.Handle("GET /api/openapi.yaml", s.endpoint("/api/openapi.yaml", "", true, serveOpenAPI))
	s.root = http.NewServeMux()
	s.root.Handle("GET /health", s.endpoint("/health", "", true, s.handleHealth))
	metricsHandler := promhttp.HandlerFor(s.gatherer, promhttp.HandlerOpts{})
	s.root.Handle("GET /metrics", s.endpoint("/metrics", "", true, metricsHandler.ServeHTTP))
	if s.deps.UI != nil {
		ui := s.deps.UI
		s.root.Handle("/", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			info(r).route = "ui"
			ui.ServeHTTP(w, r)
		}))
		return
	}
	s.root.Handle("GET /{$}", s.endpoint("/", "", false, s.handlePlaceholder))
	s.root.Handle("GET /audit", s.endpoint("/audit", "", false, s.handlePlaceholder))
}

// endpoint wraps a handler with what every route does before it runs: note
// the route for logs and metrics, authenticate unless public, and apply the
// endpoint's lifecycle metadata (lifecycleKey "" for non-API routes).
func (s *Server) endpoint(template, lifecycleKey string, public bool, h http.HandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		info(r).route = template
		if !public && !s.authenticate(w, r) {
			return
		}
		if lifecycleKey != "" && !s.applyLifecycle(w, r, lifecycleKey) {
			return
		}
		h(w, r)
	})
}

// dispatch routes API paths with JSON 404/405 answers and everything else
// through the root mux.
func (s *Server) dispatch(w http.ResponseWriter, r *http.Request) {
	if !strings.HasPrefix(r.URL.Path, "/api/") {
		s.root.ServeHTTP(w, r)
		return
	}
	if _, pattern := s.api.Handler(r); pattern != "" {
		s.api.ServeHTTP(w, r)
		return
	}
	var allow []string
	for _, m := range []string{http.MethodGet, http.MethodPost, http.MethodPut, http.MethodDelete} {
		if m == r.Method {
			continue
		}
		probe := r.Clone(r.Context())
		probe.Method = m
		if _, pattern := s.api.Handler(probe); pattern != "" {
			allow = append(allow, m)
		}
	}
	if len(allow) > 0 {
		if contains(allow, http.MethodGet) {
			allow = append(allow, http.MethodHead)
		}
		w.Header().Set("Allow", strings.Join(allow, ", "))
		writeError(w, http.StatusMethodNotAllowed, "Method not allowed")
		return
	}
	writeError(w, http.StatusNotFound, "Not found")
}

func contains(list []string, v string) bool {
	for _, x := range list {
		if x == v {
			return true
		}
	}
	return false
}

// stateChanging reports whether a method changes state (and so needs a
// CSRF token when authenticated by a session cookie).
func stateChanging(method string) bool {
	switch method {
	case http.MethodGet, http.MethodHead, http.MethodOptions:
		return false
	}
	return true
}

// authenticate accepts an API key (X-API-KEY header; ?api_key= only when
// allowed) or a dashboard session cookie, which needs the CSRF header on
// state-changing methods. A client that presented too many wrong keys is
// refused 429 before its key is compared. It answers 401/403/429 itself and
// reports whether the request may go on.
func (s *Server) authenticate(w http.ResponseWriter, r *http.Request) bool {
	ri := info(r)
	key := r.Header.Get("X-API-KEY")
	if key == "" && s.cfg.AllowQueryKey {
		key = r.URL.Query().Get("api_key")
	}
	reason := authMissing
	if key != "" {
		if wait, ok := s.guard.Allow(r); !ok {
			w.Header().Set("Retry-After", authguard.RetryAfter(wait))
			writeJSON(w, http.StatusTooManyRequests, errorBody{
				Error: "Too many failed authentication attempts from this client; retry after " + authguard.RetryAfter(wait) + " s", CorrelationID: ri.correlationID})
			return false
		}
		if id, ok := s.keys.Match(key); ok {
			ri.identity, ri.authenticated = id, true
			return true
		}
		reason = authBadKey
		if s.guard.Fail(r, reason) {
			s.logger.Warn("throttling authentication from "+clientAddr(r)+" after repeated wrong API keys",
				"remote_addr", clientAddr(r), "correlation_id", ri.correlationID)
		}
	} else {
		sess, err := s.sessions.Lookup(r.Context(), r, s.keys)
		if err != nil {
			s.logger.Error("reading the dashboard session", "error", err, "correlation_id", ri.correlationID)
			writeJSON(w, http.StatusServiceUnavailable, errorBody{Error: "Session store unavailable", CorrelationID: ri.correlationID})
			return false
		}
		if sess != nil {
			if stateChanging(r.Method) && !sess.CheckCSRFHeader(r) {
				s.logger.Warn("CSRF check failed", "remote_addr", clientAddr(r), "correlation_id", ri.correlationID)
				writeJSON(w, http.StatusForbidden, errorBody{Error: "CSRF token missing or invalid", CorrelationID: ri.correlationID})
				return false
			}
			ri.identity, ri.authenticated = sess.Identity, true
			return true
		}
		if _, err := r.Cookie(auth.CookieName); err == nil {
			reason = authBadSession
		}
		// Neither costs a token: a session id cannot be guessed, and a
		// browser holding an ended session must still be able to sign in.
		s.guard.Count(reason)
	}
	s.logger.Warn("Authentication failed from "+clientAddr(r), "remote_addr", clientAddr(r),
		"path", r.URL.Path, "reason", reason, "correlation_id", ri.correlationID)
	writeJSON(w, http.StatusUnauthorized, errorBody{Error: "Unauthorized", CorrelationID: ri.correlationID})
	return false
}
