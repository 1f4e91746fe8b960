package app

import (
	"net/http"
	"time"

	"github.com/mutt-go/mutt/internal/config"
	"github.com/mutt-go/mutt/internal/configadmin"
	"github.com/mutt-go/mutt/internal/ratestats"
	"github.com/mutt-go/mutt/internal/slo"
	"github.com/mutt-go/mutt/internal/store"
	"github.com/mutt-go/mutt/internal/web"
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

// startWebUI serves the web UI and REST API on its port.
func (s *Server) startWebUI(listen func(string, string, http.Handler) error) error {
	cfg := s.cfg
	st := store.New(s.pool)
	logger := s.logger.With("component", "webui")
	var settings slo.Settings
	if s.dyn != nil {
		settings = s.dyn
	}
	admin := configadmin.New(s.rdb, cfg.Keys.ConfigPrefix, st, logger.With("component", "configadmin"))
	rates := ratestats.NewCache(s.rdb, cfg.Keys.MetricsPrefix, cfg.Web.MetricsCacheTTL)
	// The dashboard and the API share the keys and the session store, so a
	// dashboard session is also good for the API's session-cookie calls.
	ring, sessions, err := web.NewAuth(cfg.Web, s.rdb, web.SessionPrefix(cfg.KeyPrefix), nil)
	if err != nil {
		return err
	}
	// Wrong keys count together whether tried on the API or the sign-in form.
	guard, err := web.NewAuthGuard(s.reg, authguard.Options{})
	if err != nil {
		return err
	}
	dash, err := ui.New(ui.Deps{
		Store: st, Redis: s.rdb, Keys: cfg.Keys, Config: admin, Rates: rates, Keyring: ring, Sessions: sessions,
		AuthGuard: guard, Logger: logger.With("component", "dashboard"), RequiredFields: cfg.Ingest.RequiredFields,
		DefaultTeam: cfg.Alerter.UnhandledDefaultTeam, MaxReplays: cfg.Remediation.MaxReplays,
		Version: s.opts.Version,
	})
	if err != nil {
		return err
	}
	srv, err := web.New(cfg.Web, web.Deps{
		Store:      st,
		Redis:      s.rdb,
		Keys:       cfg.Keys,
		Config:     admin,
		Rates:      rates,
		SLO:        slo.NewEvaluator(cfg.Web.PrometheusURL, settings, &http.Client{Timeout: 30 * time.Second}),
		Logger:     logger,
		Registerer: s.reg,
		Gatherer:   s.reg,
		UI:         dash,
		Keyring:    ring,
		Sessions:   sessions,
		AuthGuard:  guard,
	})
	if err != nil {
		return err
	}
	return listen("webui", cfg.Web.Listen, srv.Handler())
}
