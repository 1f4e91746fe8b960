package ui

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"

	"github.com/redis/go-redis/v9"

	"github.com/mutt-go/mutt/internal/config"
	"github.com/mutt-go/mutt/internal/configadmin"
	"github.com/mutt-go/mutt/internal/dlqadmin"
	"github.com/mutt-go/mutt/internal/ratestats"
	"github.com/mutt-go/mutt/internal/store"
	"github.com/mutt-go/mutt/internal/web/auth"
	"github.com/mutt-go/mutt/internal/web/authguard"
)

// Deps are what the dashboard reads and writes through. Keyring and
// Sessions are required; a nil Store, Redis, Config or Rates makes the
// pages that need it say so instead of failing.
type Deps struct {
	Store store.Interface
	Redis redis.UniversalClient
	// Depths, when not nil, measures the overview's queues instead of
	// Redis: the embedded database's queues.
	Depths QueueDepths
	// DLQ, when not nil, holds the dead-letter queues the DLQ pages list
	// and replay instead of Redis: the embedded database's.
	DLQ dlqadmin.Backend
	// Breaker, when not nil, reads the overview's circuit breaker instead
	// of Redis: the forwarder's breaker in this process.
	Breaker  BreakerReader
	Keys     config.Keys
	Config   *configadmin.Admin
	Rates    *ratestats.Cache
	Keyring  *auth.Keyring
	Sessions *auth.Sessions
	// AuthGuard throttles clients whose sign-ins fail; share the web
	// server's (web.NewAuthGuard) so that wrong keys count together on the
	// API and the form. Nil: a private one with the defaults.
	AuthGuard *authguard.Guard
	Logger    *slog.Logger
	// RequiredFields are ingest's required event fields, for the rule
	// test box (nil: the defaults).
	RequiredFields []string
	// DefaultTeam is the alerter's team for unhandled events.
	DefaultTeam string
	// MaxReplays is the default replay limit of the DLQ replay form.
	MaxReplays int
	// Version is the product version shown in the footer ("" to omit).
	Version string
}

// UI is the dashboard's HTTP handler. It is safe for concurrent use.
type UI struct {
	deps   Deps
	logger *slog.Logger
	pages  *pages
	mux    *http.ServeMux
}

// New parses the embedded templates and builds the dashboard.
func New(d Deps) (*UI, error) {
	if d.Keyring == nil || d.Sessions == nil {
		return nil, errors.New("dashboard: a keyring and a session store are required")
	}
	p, err := loadPages()
	if err != nil {
		return nil, fmt.Errorf("dashboard: %w", err)
	}
	if d.AuthGuard == nil {
		d.AuthGuard = authguard.New(authguard.Options{})
	}
	if d.DLQ == nil && d.Redis != nil {
		d.DLQ = dlqadmin.NewRedis(d.Redis)
	}
	u := &UI{deps: d, logger: d.Logger, pages: p}
	if u.logger == nil {
		u.logger = slog.New(slog.DiscardHandler)
	}
	u.routes()
	return u, nil
}

// ServeHTTP serves the dashboard's pages and assets.
func (u *UI) ServeHTTP(w http.ResponseWriter, r *http.Request) { u.mux.ServeHTTP(w, r) }

func (u *UI) routes() {
	m := http.NewServeMux()
	m.Handle("GET "+u.pages.assetPrefix, http.StripPrefix(u.pages.assetPrefix, u.pages.static()))
	m.HandleFunc("GET /login", u.loginForm)
	m.HandleFunc("POST /login", u.login)
	m.Handle("POST /logout", u.action(u.logout))

	m.Handle("GET /{$}", u.page(u.overview))
	m.Handle("GET /rules", u.page(u.rulesList))
	m.Handle("POST /rules", u.action(u.ruleCreate))
	m.Handle("GET /rules/new", u.page(u.ruleNew))
	m.Handle("POST /rules/test", u.action(u.ruleTest))
	m.Handle("GET /rules/{id}", u.page(u.ruleEdit))
	m.Handle("POST /rules/{id}", u.action(u.ruleUpdate))
	m.Handle("POST /rules/{id}/delete", u.action(u.ruleDelete))
	m.Handle("GET /dev-hosts", u.page(u.devHosts))
	m.Handle("POST /dev-hosts", u.action(u.devHostAdd))
	m.Handle("POST /dev-hosts/delete", u.action(u.devHostDelete))
	m.Handle("GET /teams", u.page(u.teams))
	m.Handle("POST /teams", u.action(u.teamAdd))
	m.Handle("POST /teams/update", u.action(u.teamUpdate))
	m.Handle("POST /teams/delete", u.action(u.teamDelete))
	m.Handle("GET /events", u.page(u.events))
	m.Handle("GET /audit", u.page(u.configAudit))
	m.Handle("GET /config", u.page(u.configList))
	m.Handle("GET /config/edit", u.page(u.configEdit))
	m.Handle("POST /config", u.action(u.configSet))
	m.Handle("GET /dlq", u.page(u.dlqList))
	m.Handle("GET /dlq/{queue}", u.page(u.dlqQueue))
	m.Handle("POST /dlq/{queue}/replay", u.action(u.dlqReplay))
	m.Handle("/", u.page(u.notFound))
	u.mux = m
}
