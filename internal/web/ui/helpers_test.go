package ui

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"

	"github.com/mutt-go/mutt/internal/config"
	"github.com/mutt-go/mutt/internal/configadmin"
	"github.com/mutt-go/mutt/internal/itest"
	"github.com/mutt-go/mutt/internal/ratestats"
	"github.com/mutt-go/mutt/internal/secrets"
	"github.com/mutt-go/mutt/internal/store"
	"github.com/mutt-go/mutt/internal/web"
	"github.com/mutt-go/mutt/internal/web/auth"
	"github.com/mutt-go/mutt/internal/web/authguard"
)

// testKey is the API key the test dashboards accept.
const testKey = "ui-test-key-0123456789abcdef"

// env is the web server with the dashboard mounted, on a fresh database
// and Redis prefix.
type env struct {
	t      testing.TB
	ts     *httptest.Server
	pool   *pgxpool.Pool
	st     *store.Store
	rdb    *redis.Client
	keys   config.Keys
	prefix string
	reg    *prometheus.Registry
	logs   *itest.Buffer // every log line of the web server and the dashboard
}

// envOptions change a test dashboard.
type envOptions struct {
	// keys are the accepted API keys (default: testKey named "default").
	keys []config.WebKey
	// share, when not nil, is a dashboard whose database and Redis prefix
	// this one uses: another process of the same deployment.
	share *env
	// web adjusts the web configuration.
	web func(*config.Web)
}

func newEnv(t testing.TB) *env { return newEnvWith(t, envOptions{}) }

func newEnvWith(t testing.TB, o envOptions) *env {
	t.Helper()
	e := &env{t: t, logs: &itest.Buffer{}}
	if o.share != nil {
		e.pool, e.st, e.rdb, e.prefix = o.share.pool, o.share.st, o.share.rdb, o.share.prefix
	} else {
		pool, _ := itest.Pool(t)
		if err := store.Migrate(t.Context(), pool, nil); err != nil {
			t.Fatalf("Migrate: %v", err)
		}
		e.pool, e.st = pool, store.New(pool)
		e.rdb, e.prefix = itest.Redis(t)
	}
	var c config.Config
	c.KeyPrefix = e.prefix
	c.Finish()
	e.keys = c.Keys
	logger := slog.New(slog.NewJSONHandler(e.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	wcfg := config.DefaultWeb()
	if o.keys == nil {
		wcfg.APIKey = secrets.New(testKey)
	} else {
		f := filepath.Join(t.TempDir(), "keys")
		var lines strings.Builder
		for _, k := range o.keys {
			lines.WriteString(k.Name + ":" + k.Key.Reveal() + "\n")
		}
		if err := os.WriteFile(f, []byte(lines.String()), 0o600); err != nil {
			t.Fatal(err)
		}
		wcfg.APIKeysFile = f
	}
	if o.web != nil {
		o.web(&wcfg)
	}
	ring, sessions, err := web.NewAuth(wcfg, e.rdb, e.prefix+":webui:session", nil)
	if err != nil {
		t.Fatalf("NewAuth: %v", err)
	}
	e.reg = prometheus.NewRegistry()
	guard, err := web.NewAuthGuard(e.reg, authguard.Options{})
	if err != nil {
		t.Fatal(err)
	}
	cfgAdmin := configadmin.New(e.rdb, c.Keys.ConfigPrefix, e.st, logger)
	rates := ratestats.NewCache(e.rdb, c.Keys.MetricsPrefix, time.Second)
	dash, err := New(Deps{
		Store: e.st, Redis: e.rdb, Keys: c.Keys, Config: cfgAdmin, Rates: rates, Keyring: ring, Sessions: sessions,
		AuthGuard: guard, Logger: logger, RequiredFields: []string{"hostname"}, DefaultTeam: "NETO", MaxReplays: 3, Version: "test",
	})
	if err != nil {
		t.Fatalf("ui.New: %v", err)
	}
	srv, err := web.New(wcfg, web.Deps{
		Store: e.st, Redis: e.rdb, Keys: c.Keys, Config: cfgAdmin, Rates: rates, Logger: logger,
		Registerer: e.reg, Gatherer: e.reg, UI: dash, Keyring: ring, Sessions: sessions, AuthGuard: guard,
	})
	if err != nil {
		t.Fatalf("web.New: %v", err)
	}
	e.ts = httptest.NewServer(srv.Handler())
	t.Cleanup(e.ts.Close)
	return e
}

// browser is a client with a cookie jar that does not follow redirects,
// so tests see every 303.
type browser struct {
	e    *env
	c    *http.Client
	csrf string
}

func (e *env) browser() *browser {
	jar, err := cookiejar.New(nil)
	if err != nil {
		e.t.Fatal(err)
	}
	return &browser{e: e, c: &http.Client{Jar: jar, Timeout: 10 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

// page is one response, its body read.
type page struct {
	Status int
	Header http.Header
	Body   string
}

func (p page) location() string { return p.Header.Get("Location") }

func (b *browser) do(req *http.Request) page {
	b.e.t.Helper()
	resp, err := b.c.Do(req)
	if err != nil {
		b.e.t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		b.e.t.Fatalf("reading %s: %v", req.URL, err)
	}
	p := page{Status: resp.StatusCode, Header: resp.Header, Body: string(body)}
	if m := csrfPattern.FindStringSubmatch(p.Body); m != nil {
		b.csrf = m[1]
	}
	return p
}

func (b *browser) get(path string) page {
	b.e.t.Helper()
	req, err := http.NewRequest(http.MethodGet, b.e.ts.URL+path, nil)
	if err != nil {
		b.e.t.Fatal(err)
	}
	return b.do(req)
}

// post submits a form with the CSRF token of the last page seen, unless
// the form sets csrf_token itself.
func (b *browser) post(path string, form url.Values) page {
	b.e.t.Helper()
	if form == nil {
		form = url.Values{}
	}
	if _, ok := form[auth.CSRFField]; !ok {
		form.Set(auth.CSRFField, b.csrf)
	}
	req, err := http.NewRequest(http.MethodPost, b.e.ts.URL+path, strings.NewReader(form.Encode()))
	if err != nil {
		b.e.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return b.do(req)
}

var csrfPattern = regexp.MustCompile(`name="csrf_token" value="([^"]+)"`)

// login signs in through the form and fails the test unless it works.
func (b *browser) login() {
	b.e.t.Helper()
	if p := b.get("/login"); p.Status != http.StatusOK {
		b.e.t.Fatalf("GET /login: %d", p.Status)
	}
	p := b.post("/login", url.Values{"api_key": {testKey}})
	if p.Status != http.StatusSeeOther || p.location() != "/" {
		b.e.t.Fatalf("POST /login: %d → %q\n%s", p.Status, p.location(), p.Body)
	}
	if p := b.get("/"); p.Status != http.StatusOK {
		b.e.t.Fatalf("GET / after login: %d", p.Status)
	}
}

// follow reads the page a 303 points to.
func (b *browser) follow(p page) page {
	b.e.t.Helper()
	if p.Status != http.StatusSeeOther {
		b.e.t.Fatalf("want 303, got %d\n%s", p.Status, p.Body)
	}
	return b.get(p.location())
}

// auditRows returns the config audit rows of table, oldest first.
func (e *env) auditRows(table string) []store.ConfigAuditRow {
	e.t.Helper()
	rows, _, err := e.st.SearchConfigAudit(e.t.Context(), store.ConfigAuditFilter{TableName: table, Limit: 200})
	if err != nil {
		e.t.Fatalf("SearchConfigAudit: %v", err)
	}
	for i, j := 0, len(rows)-1; i < j; i, j = i+1, j-1 {
		rows[i], rows[j] = rows[j], rows[i]
	}
	return rows
}

// regexpFind returns the first group of pattern in s, failing the test when
// there is none.
func regexpFind(t testing.TB, s, pattern string) string {
	t.Helper()
	m := regexp.MustCompile(pattern).FindStringSubmatch(s)
	if m == nil {
		t.Fatalf("no %s in\n%s", pattern, s)
	}
	return m[1]
}
