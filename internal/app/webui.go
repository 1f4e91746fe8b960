package app

import (
	"context"
	"log/slog"
	"net/http"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/mutt-go/mutt/internal/config"
	"github.com/mutt-go/mutt/internal/configadmin"
	"github.com/mutt-go/mutt/internal/dlqadmin"
	"github.com/mutt-go/mutt/internal/embedded/roles"
	"github.com/mutt-go/mutt/internal/forward"
	"github.com/mutt-go/mutt/internal/ratestats"
	"github.com/mutt-go/mutt/internal/slo"
	"github.com/mutt-go/mutt/internal/store"
	"github.com/mutt-go/mutt/internal/web"
	"github.com/mutt-go/mutt/internal/web/auth"
	"github.com/mutt-go/mutt/internal/web/authguard"
	"github.com/mutt-go/mutt/internal/web/ui"
)

// knownRoles are every role a process can run, in start order.
func knownRoles() []string { return append(AllRoles(), RoleWebUI, RoleSyslog, RoleSNMPTrap) }

// DefaultRoles are the roles `mutt serve` runs when none are named: every
// data-plane role, and the web UI when an API key is configured for it (or
// the development mode generates one).
func DefaultRoles(cfg config.Config) []string {
	roles := AllRoles()
	if keys, err := cfg.Web.Keys(); cfg.Web.Dev || (err == nil && len(keys) > 0) {
		roles = append(roles, RoleWebUI)
	}
	return append(roles, receiverRoles(cfg)...)
}

// webStorage is what the web UI reads and writes through in the storage
// mode that runs; the ui fields left nil are read from Redis.
type webStorage struct {
	store    store.Interface
	redis    redis.UniversalClient // nil in embedded mode
	admin    *configadmin.Admin
	rates    *ratestats.Cache
	sessions auth.SessionStore
	health   web.Pinger // nil: the health check pings Redis
	depths   ui.QueueDepths
	dlq      dlqadmin.Backend
	breaker  ui.BreakerReader
}

// webStorage builds the web UI's storage: the embedded database, or Redis
// and PostgreSQL.
func (s *Server) webStorage(logger *slog.Logger) webStorage {
	cfg := s.cfg
	adminLog := logger.With("component", "configadmin")
	if s.db != nil {
		return webStorage{
			store:    s.db,
			admin:    configadmin.NewFrom(roles.NewDynConfig(s.db), adminLog),
			rates:    ratestats.NewCacheFrom(roles.NewIngestRates(s.db), cfg.Web.MetricsCacheTTL),
			sessions: roles.NewSessions(s.db),
			health:   s.db,
			depths:   roles.NewQueueDepths(s.db),
			dlq:      roles.NewDLQ(s.db),
			breaker:  s.localBreaker,
		}
	}
	st := store.New(s.pool)
	return webStorage{
		store:    st,
		redis:    s.rdb,
		admin:    configadmin.New(s.rdb, cfg.Keys.ConfigPrefix, st, adminLog),
		rates:    ratestats.NewCache(s.rdb, cfg.Keys.MetricsPrefix, cfg.Web.MetricsCacheTTL),
		sessions: auth.NewRedisSessions(s.rdb, web.SessionPrefix(cfg.KeyPrefix)),
	}
}

// localBreaker reads the forwarder's breaker in this process, for the
// dashboard in embedded mode.
func (s *Server) localBreaker(ctx context.Context) (forward.BreakerStatus, error) {
	b := s.breaker.Load()
	if b == nil {
		return forward.BreakerStatus{}, ui.ErrNoBreaker
	}
	return b.Status(ctx)
}

// startWebUI serves the web UI and REST API on its port.
func (s *Server) startWebUI(listen func(string, string, http.Handler) error) error {
	cfg := s.cfg
	logger := s.logger.With("component", "webui")
	var settings slo.Settings
	if s.dyn != nil {
		settings = s.dyn
	}
	ws := s.webStorage(logger)
	// The dashboard and the API share the keys and the session store, so a
	// dashboard session is also good for the API's session-cookie calls.
	ring, sessions, err := web.NewAuthFrom(cfg.Web, ws.sessions, nil)
	if err != nil {
		return err
	}
	// Wrong keys count together whether tried on the API or the sign-in form.
	guard, err := web.NewAuthGuard(s.reg, authguard.Options{})
	if err != nil {
		return err
	}
	dash, err := ui.New(ui.Deps{
		Store: ws.store, Redis: ws.redis, Depths: ws.depths, DLQ: ws.dlq, Breaker: ws.breaker,
		Keys: cfg.Keys, Config: ws.admin, Rates: ws.rates, Keyring: ring, Sessions: sessions,
		AuthGuard: guard, Logger: logger.With("component", "dashboard"), RequiredFields: cfg.Ingest.RequiredFields,
		DefaultTeam: cfg.Alerter.UnhandledDefaultTeam, MaxReplays: cfg.Remediation.MaxReplays,
		Version: s.opts.Version,
	})
	if err != nil {
		return err
	}
	srv, err := web.New(cfg.Web, web.Deps{
		Store:        ws.store,
		Redis:        ws.redis,
		Health:       ws.health,
		SessionStore: ws.sessions,
		Keys:         cfg.Keys,
		Config:       ws.admin,
		Rates:        ws.rates,
		SLO:          slo.NewEvaluator(cfg.Web.PrometheusURL, settings, &http.Client{Timeout: 30 * time.Second}),
		Logger:       logger,
		Registerer:   s.reg,
		Gatherer:     s.reg,
		UI:           dash,
		Keyring:      ring,
		Sessions:     sessions,
		AuthGuard:    guard,
	})
	if err != nil {
		return err
	}
	return listen("webui", cfg.Web.Listen, srv.Handler())
}
