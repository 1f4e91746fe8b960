// Package app wires MUTT's components from the configuration and runs them:
// it connects to Redis and PostgreSQL, applies migrations, builds the roles
// a process was asked to run, serves their HTTP endpoints, and shuts them
// down in order.
package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"

	"github.com/mutt-go/mutt/internal/alerter"
	"github.com/mutt-go/mutt/internal/config"
	"github.com/mutt-go/mutt/internal/dynconfig"
	"github.com/mutt-go/mutt/internal/embedded/datadir"
	"github.com/mutt-go/mutt/internal/embedded/roles"
	"github.com/mutt-go/mutt/internal/embedded/sqlstore"
	"github.com/mutt-go/mutt/internal/forward"
	"github.com/mutt-go/mutt/internal/heartbeat"
	"github.com/mutt-go/mutt/internal/ingest"
	"github.com/mutt-go/mutt/internal/obs"
	"github.com/mutt-go/mutt/internal/store"
	"github.com/mutt-go/mutt/internal/version"
)

// Roles a process can run.
const (
	RoleIngestor    = "ingestor"
	RoleAlerter     = "alerter"
	RoleForwarder   = "forwarder"
	RoleRemediation = "remediation"
	RoleWebUI       = "webui"
)

// allRoles are the roles `mutt serve` runs by default, in start order.
var allRoles = []string{RoleIngestor, RoleAlerter, RoleForwarder, RoleRemediation}

// AllRoles returns the roles `mutt serve` runs by default.
func AllRoles() []string { return slices.Clone(allRoles) }

// ParseRoles reads a comma-separated role list.
func ParseRoles(s string) ([]string, error) {
	var out []string
	for _, r := range strings.Split(s, ",") {
		r = strings.TrimSpace(r)
		if r == "" {
			continue
		}
		if !slices.Contains(knownRoles(), r) {
			return nil, fmt.Errorf("unknown role %q (known: %s)", r, strings.Join(knownRoles(), ", "))
		}
		if !slices.Contains(out, r) {
			out = append(out, r)
		}
	}
	if len(out) == 0 {
		return nil, errors.New("no role given")
	}
	return out, nil
}

// ServeOptions say what a process runs.
type ServeOptions struct {
	Roles   []string
	Migrate bool // apply migrations before starting
	// Version is the product version the dashboard shows ("" to omit).
	Version string
	// Ready, when not nil, is called with the addresses actually listened on
	// (role endpoint name → host:port) once every server listens.
	Ready func(addrs map[string]string)
}

// listenSettings names the variables that move an endpoint's address.
func listenSettings(endpoint string) string {
	switch endpoint {
	case "ingestor":
		return "SERVER_PORT_INGESTOR (or INGEST_LISTEN=host:port)"
	case "alerter-metrics":
		return "METRICS_PORT_ALERTER (or ALERTER_METRICS_LISTEN=host:port)"
	case "alerter-health":
		return "HEALTH_PORT_ALERTER (or ALERTER_HEALTH_LISTEN=host:port)"
	case "forwarder-metrics":
		return "METRICS_PORT_MOOG (or FORWARDER_METRICS_LISTEN=host:port)"
	case "forwarder-health":
		return "HEALTH_PORT_MOOG (or FORWARDER_HEALTH_LISTEN=host:port)"
	case "remediation-metrics":
		return "METRICS_PORT_REMEDIATION (or REMEDIATION_METRICS_LISTEN=host:port)"
	case "remediation-health":
		return "HEALTH_PORT_REMEDIATION (or REMEDIATION_HEALTH_LISTEN=host:port)"
	case "webui":
		return "SERVER_PORT_WEBUI (or WEBUI_LISTEN=host:port)"
	}
	return "its listen address"
}

// Server is a running set of roles.
type Server struct {
	cfg    config.Config
	opts   ServeOptions
	logger *slog.Logger
	reg    *prometheus.Registry
	rdb    redis.UniversalClient
	pool   *pgxpool.Pool
	// db and lock are the embedded database and the data directory's
	// lock, in embedded mode (then rdb and pool are nil).
	db     *sqlstore.DB
	lock   *datadir.Lock
	dyn    *dynconfig.Store
	feeder *ingest.Feeder // shared by the syslog and snmptrap roles
	// alerter is set by Run (once the role starts) and read by Reload,
	// which the SIGHUP goroutine calls at any time.
	alerter atomic.Pointer[alerter.Alerter]
	// breaker is the forwarder's circuit breaker (nil when disabled or the
	// role does not run here); embedded remediation reads its state.
	breaker atomic.Pointer[forward.Breaker]
}

// NewServer connects to the dependencies the roles need.
func NewServer(ctx context.Context, cfg config.Config, opts ServeOptions, logger *slog.Logger) (*Server, error) {
	if slices.Contains(opts.Roles, RoleIngestor) {
		if err := cfg.RequireIngestKey(); err != nil {
			return nil, err
		}
	}
	if slices.Contains(opts.Roles, RoleForwarder) {
		if err := cfg.RequireMoogKey(); err != nil {
			return nil, err
		}
	}
	// Every check that needs no connection comes first, so a refusal
	// leaves nothing open.
	if slices.Contains(opts.Roles, RoleWebUI) {
		if err := cfg.RequireWebKey(); err != nil {
			return nil, err
		}
	}
	if err := requireReceivers(cfg, opts.Roles); err != nil {
		return nil, err
	}
	mode, err := storageMode(&cfg, opts)
	if err != nil {
		return nil, err
	}
	s := &Server{cfg: cfg, opts: opts, logger: logger, reg: obs.NewRegistry()}
	if mode == config.StorageEmbedded {
		if err := s.openEmbedded(ctx); err != nil {
			return nil, err
		}
		if cfg.DynamicConfigEnabled {
			s.dyn = dynconfig.NewFrom(roles.NewDynConfig(s.db), logger.With("component", "dynconfig"))
		}
		return s, nil
	}
	logger.Info("storage: Redis + PostgreSQL")
	rdb, err := ConnectRedis(ctx, cfg.Redis, logger)
	if err != nil {
		return nil, err
	}
	s.rdb = rdb
	if cfg.DynamicConfigEnabled {
		s.dyn = dynconfig.New(rdb, cfg.Keys.ConfigPrefix, logger.With("component", "dynconfig"))
	}
	if slices.Contains(opts.Roles, RoleAlerter) || slices.Contains(opts.Roles, RoleWebUI) || opts.Migrate {
		pool, err := ConnectPostgres(ctx, cfg.Postgres, logger)
		if err != nil {
			_ = rdb.Close()
			return nil, err
		}
		s.pool = pool
		if opts.Migrate {
			if err := store.Migrate(ctx, pool, logger); err != nil {
				s.Close()
				return nil, fmt.Errorf("migrating schema: %w", err)
			}
		}
	}
	return s, nil
}

// Reload asks every role to reload what it caches (SIGHUP).
func (s *Server) Reload() {
	if a := s.alerter.Load(); a != nil {
		a.Reload()
	}
}

// Registry returns the process's metrics registry.
func (s *Server) Registry() *prometheus.Registry { return s.reg }

// Run runs the roles until ctx ends, then stops them: HTTP servers stop
// accepting, in-flight requests and batches finish, connections close.
func (s *Server) Run(ctx context.Context) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	var wg sync.WaitGroup
	var servers []*http.Server
	addrs := map[string]string{}
	var errMu sync.Mutex
	var firstErr error
	fail := func(err error) {
		errMu.Lock()
		if firstErr == nil {
			firstErr = err
		}
		errMu.Unlock()
		cancel(err)
	}
	listen := func(name, addr string, h http.Handler) error {
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			if errors.Is(err, syscall.EADDRINUSE) {
				return fmt.Errorf("%s: %s is taken by another program (%w); set %s to move it", name, addr, err, listenSettings(name))
			}
			return fmt.Errorf("%s: listening on %s (set with %s): %w", name, addr, listenSettings(name), err)
		}
		addrs[name] = ln.Addr().String()
		srv := &http.Server{
			Handler: h, ReadHeaderTimeout: 5 * time.Second, ReadTimeout: 30 * time.Second,
			WriteTimeout: 30 * time.Second, IdleTimeout: 120 * time.Second, MaxHeaderBytes: 64 << 10,
			ErrorLog: slog.NewLogLogger(s.logger.Handler(), slog.LevelWarn),
		}
		servers = append(servers, srv)
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
				fail(fmt.Errorf("%s server: %w", name, err))
			}
		}()
		return nil
	}
	runComponent := func(name string, f func(context.Context) error) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := f(ctx); err != nil && ctx.Err() == nil {
				fail(fmt.Errorf("%s: %w", name, err))
			}
		}()
	}

	if s.dyn != nil {
		runComponent("dynamic config", s.dyn.Run)
	}
	var closers []func() error
	var startErr error
	for _, role := range s.opts.Roles {
		switch role {
		case RoleIngestor:
			startErr = s.startIngestor(listen, &closers)
		case RoleAlerter:
			startErr = s.startAlerter(listen, runComponent)
		case RoleForwarder:
			startErr = s.startForwarder(listen, runComponent)
		case RoleRemediation:
			startErr = s.startRemediation(listen, runComponent)
		case RoleWebUI:
			startErr = s.startWebUI(listen)
		case RoleSyslog:
			startErr = s.startSyslog(listen, runComponent, addrs)
		case RoleSNMPTrap:
			startErr = s.startSNMPTrap(listen, runComponent, addrs)
		}
		if startErr != nil {
			break
		}
	}
	// Each running role says so in its storage, for tools that must not run
	// beside it (restores); the first beat is written before Ready.
	var beats *heartbeat.Writer
	if startErr == nil {
		opts := heartbeat.Options{Prefix: s.cfg.KeyPrefix, Instance: s.cfg.PodName, Roles: s.opts.Roles}
		if s.db != nil {
			beats = heartbeat.NewFrom(opts, roles.NewHeartbeats(s.db), s.logger.With("component", "heartbeat"))
		} else {
			beats = heartbeat.New(opts, s.rdb, s.logger.With("component", "heartbeat"))
		}
		if err := beats.Beat(ctx); err != nil {
			s.logger.Warn("heartbeat", "error", err)
		}
		runComponent("heartbeat", beats.Run)
		s.logger.Info("MUTT started", "roles", s.opts.Roles, "addresses", addrs, "pod", s.cfg.PodName)
		if s.opts.Ready != nil {
			s.opts.Ready(addrs)
		}
	} else {
		fail(startErr)
	}

	<-ctx.Done()
	s.logger.Info("stopping")
	shutdownCtx, stop := context.WithTimeout(context.WithoutCancel(ctx), 15*time.Second)
	defer stop()
	for _, srv := range servers {
		_ = srv.Shutdown(shutdownCtx)
	}
	for _, c := range closers {
		_ = c()
	}
	wg.Wait()
	if beats != nil {
		// The work in hand is finished: the roles are no longer running.
		clearCtx, done := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
		if err := beats.Clear(clearCtx); err != nil {
			s.logger.Warn("heartbeat", "error", err)
		}
		done()
	}
	errMu.Lock()
	defer errMu.Unlock()
	return firstErr
}

func (s *Server) startIngestor(listen func(string, string, http.Handler) error, closers *[]func() error) error {
	cfg := s.cfg
	producer, closeProducer := s.ingestProducer()
	*closers = append(*closers, closeProducer)
	storage := s.storageCheck()
	opts := ingest.Options{
		APIKey: cfg.Ingest.APIKey, APIKeyNext: cfg.Ingest.APIKeyNext,
		MaxBodyBytes: cfg.Ingest.MaxBodyBytes, RequiredFields: cfg.Ingest.RequiredFields,
		Ping: storage.Check, StorageName: storage.Name,
		Settings: func() any {
			return map[string]any{"dynamic_config_enabled": cfg.DynamicConfigEnabled, "static": cfg, "dynamic": s.dynamicValues()}
		},
	}
	if cfg.Ingest.RateLimit.Enabled {
		opts.RateLimit = &ingest.RateLimitOptions{
			Key: cfg.Keys.RateLimit,
			Max: func() int64 { return s.dyn.Int("ingest_max_rate", int64(cfg.Ingest.RateLimit.Max)) },
			Window: func() time.Duration {
				return time.Duration(s.dyn.Int("ingest_rate_window", int64(cfg.Ingest.RateLimit.Window/time.Second))) * time.Second
			},
		}
		if s.rdb != nil {
			// Shared by every ingestor; in embedded mode the one process
			// counts in memory.
			opts.RateLimit.Redis = s.rdb
		}
	}
	h := ingest.NewServer(opts, producer, s.reg, s.logger.With("component", "ingestor"))
	return listen("ingestor", cfg.Ingest.Listen, h)
}

func (s *Server) dynamicValues() map[string]string {
	out := map[string]string{}
	if s.dyn == nil {
		return out
	}
	for _, k := range dynconfig.Keys() {
		if v := s.dyn.String(k.Name, ""); v != "" {
			out[k.Name] = v
		}
	}
	return out
}

func (s *Server) startAlerter(listen func(string, string, http.Handler) error, run func(string, func(context.Context) error)) error {
	cfg := s.cfg
	var (
		a      *alerter.Alerter
		checks []obs.Check
	)
	if s.db != nil {
		a = alerter.New(AlerterOptions(cfg), roles.NewAlerterBackend(s.db, embeddedAlerterQueues(cfg)), s.db, s.db, s.dyn,
			s.reg, s.logger.With("component", "alerter"))
		checks = append(checks, s.storageCheck())
	} else {
		st := store.New(s.pool)
		a = alerter.New(AlerterOptions(cfg), NewAlerterRedisBackend(cfg, s.rdb), st, st, s.dyn, s.reg, s.logger.With("component", "alerter"))
		checks = append(checks, s.storageCheck(), obs.Check{Name: "PostgreSQL", Check: st.Ping})
	}
	s.alerter.Store(a)
	health := obs.HealthHandler(
		map[string]any{"service": "mutt-alerter", "version": version.Version(), "pod": cfg.PodName},
		append(checks, obs.Check{Name: "Rules", Check: func(context.Context) error {
			if !a.Ready() {
				return errors.New("rules not loaded yet")
			}
			return nil
		}})...,
	)
	metricsMux := http.NewServeMux()
	metricsMux.Handle("GET /metrics", obs.MetricsHandler(s.reg))
	metricsMux.Handle("GET /health", health)
	healthMux := http.NewServeMux()
	healthMux.Handle("GET /health", health)
	if err := listen("alerter-metrics", cfg.Alerter.MetricsListen, metricsMux); err != nil {
		return err
	}
	if err := listen("alerter-health", cfg.Alerter.HealthListen, healthMux); err != nil {
		return err
	}
	run("alerter", a.Run)
	if s.pool != nil {
		run("partitions", s.maintainPartitions)
	}
	return nil
}

// maintainPartitions keeps three months of audit partitions ahead, checking
// every six hours.
func (s *Server) maintainPartitions(ctx context.Context) error {
	for {
		if created, err := store.EnsurePartitions(ctx, s.pool, time.Now(), 3); err != nil {
			s.logger.Warn("creating audit partitions", "error", err)
		} else if len(created) > 0 {
			s.logger.Info("created audit partitions", "partitions", created)
		}
		t := time.NewTimer(6 * time.Hour)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-t.C:
		}
	}
}

// Close releases the connections. Safe to call twice.
func (s *Server) Close() {
	if s.pool != nil {
		s.pool.Close()
		s.pool = nil
	}
	if s.rdb != nil {
		_ = s.rdb.Close()
		s.rdb = nil
	}
	s.closeEmbedded()
}
