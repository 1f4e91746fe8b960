package web

import (
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"reflect"
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
	"github.com/mutt-go/mutt/internal/slo"
	"github.com/mutt-go/mutt/internal/slo/slotest"
	"github.com/mutt-go/mutt/internal/store"
	"github.com/mutt-go/mutt/internal/web/auth"
)

// Keys the test servers accept.
const (
	testKey     = "test-key-0123456789abcdef"
	testKeyNext = "next-key-0123456789abcdef"
)

// env is one web server on a fresh database and Redis prefix, with a fake
// Prometheus.
type env struct {
	t      testing.TB
	srv    *Server
	ts     *httptest.Server
	pool   *pgxpool.Pool
	st     *store.Store
	rdb    *redis.Client
	prefix string
	prom   *slotest.Prometheus
	reg    *prometheus.Registry
	logs   *itest.Buffer
	cfg    config.Web
	// record, when not nil, receives every exchange made through do.
	record *[]Exchange
}

// option adjusts the configuration or dependencies of a test server.
type option func(*config.Web, *Deps)

func newEnv(t testing.TB, opts ...option) *env {
	t.Helper()
	pool, _ := itest.Pool(t)
	if err := store.Migrate(t.Context(), pool, nil); err != nil {
		t.Fatalf("Migrate: %v", err)
	}
	rdb, prefix := itest.Redis(t)
	e := &env{t: t, pool: pool, st: store.New(pool), rdb: rdb, prefix: prefix, prom: slotest.New(t),
		reg: prometheus.NewRegistry(), logs: &itest.Buffer{}}
	logger := slog.New(slog.NewJSONHandler(e.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	cfg := config.DefaultWeb()
	cfg.APIKey = secrets.New(testKey)
	cfg.APIKeyNext = secrets.New(testKeyNext)
	keys := config.Keys{ConfigPrefix: prefix + ":config", MetricsPrefix: prefix + ":metrics"}
	deps := Deps{
		Store: e.st, Redis: rdb, Keys: keys,
		Config:     configadmin.New(rdb, keys.ConfigPrefix, e.st, logger),
		Rates:      ratestats.NewCache(rdb, keys.MetricsPrefix, 5*time.Second),
		SLO:        slo.NewEvaluator(e.prom.URL, nil, &http.Client{Timeout: 10 * time.Second}),
		Logger:     logger,
		Registerer: e.reg, Gatherer: e.reg,
	}
	for _, o := range opts {
		o(&cfg, &deps)
	}
	e.cfg = cfg
	srv, err := New(cfg, deps)
	if err != nil {
		t.Fatalf("web.New: %v", err)
	}
	e.srv = srv
	e.ts = httptest.NewServer(srv.Handler())
	t.Cleanup(e.ts.Close)
	return e
}

// Exchange is one real request and its response.
type Exchange struct {
	Method, Path string // Path includes the query
	RequestBody  []byte
	Status       int
	Header       http.Header
	Body         []byte
}

// req describes a request to make.
type req struct {
	method, path, body string
	header             map[string]string
	noKey              bool // send no X-API-KEY
}

// do makes the request with the test key (unless noKey or an X-API-KEY
// header is given) and returns the exchange.
func (e *env) do(r req) Exchange {
	e.t.Helper()
	var body io.Reader
	if r.body != "" {
		body = strings.NewReader(r.body)
	}
	hr, err := http.NewRequestWithContext(e.t.Context(), r.method, e.ts.URL+r.path, body)
	if err != nil {
		e.t.Fatalf("building request: %v", err)
	}
	if !r.noKey {
		hr.Header.Set("X-API-KEY", testKey)
	}
	if r.body != "" {
		hr.Header.Set("Content-Type", "application/json")
	}
	for k, v := range r.header {
		hr.Header.Set(k, v)
	}
	resp, err := e.ts.Client().Do(hr)
	if err != nil {
		e.t.Fatalf("%s %s: %v", r.method, r.path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		e.t.Fatalf("reading %s %s: %v", r.method, r.path, err)
	}
	x := Exchange{Method: r.method, Path: r.path, RequestBody: []byte(r.body), Status: resp.StatusCode, Header: resp.Header, Body: b}
	if e.record != nil {
		*e.record = append(*e.record, x)
	}
	return x
}

// get is do for a GET with the test key.
func (e *env) get(path string) Exchange {
	e.t.Helper()
	return e.do(req{method: "GET", path: path})
}

// want fails the test unless the exchange has the status.
func (x Exchange) want(t testing.TB, status int) Exchange {
	t.Helper()
	if x.Status != status {
		t.Fatalf("%s %s: status %d, want %d; body %s", x.Method, x.Path, x.Status, status, x.Body)
	}
	return x
}

// json decodes the body into a generic value.
func (x Exchange) json(t testing.TB) map[string]any {
	t.Helper()
	var v map[string]any
	if err := json.Unmarshal(x.Body, &v); err != nil {
		t.Fatalf("%s %s: body is not a JSON object: %v: %s", x.Method, x.Path, err, x.Body)
	}
	return v
}

// errorText is the "error" member of a JSON error body.
func (x Exchange) errorText(t testing.TB) string {
	t.Helper()
	s, _ := x.json(t)["error"].(string)
	return s
}

// sameJSON reports whether two bodies hold the same JSON value, whatever
// the key order.
func sameJSON(t testing.TB, a, b []byte) bool {
	t.Helper()
	var va, vb any
	if err := json.Unmarshal(a, &va); err != nil {
		t.Fatalf("not JSON: %s", a)
	}
	if err := json.Unmarshal(b, &vb); err != nil {
		t.Fatalf("not JSON: %s", b)
	}
	return reflect.DeepEqual(va, vb)
}

// count runs a count(*) query.
func (e *env) count(query string, args ...any) int64 {
	e.t.Helper()
	var n int64
	if err := e.pool.QueryRow(e.t.Context(), query, args...).Scan(&n); err != nil {
		e.t.Fatalf("%s: %v", query, err)
	}
	return n
}

// createRule posts a rule and returns its id.
func (e *env) createRule(body string) int64 {
	e.t.Helper()
	x := e.do(req{method: "POST", path: "/api/v2/rules", body: body}).want(e.t, http.StatusCreated)
	id, ok := x.json(e.t)["id"].(float64)
	if !ok {
		e.t.Fatalf("no id in %s", x.Body)
	}
	return int64(id)
}

// seed fills every table the API reads with a little data.
func (e *env) seed() (ruleID int64) {
	e.t.Helper()
	ruleID = e.createRule(`{"match_string":"LINK-DOWN","prod_handling":"Page_and_ticket","dev_handling":"Ticket_only","team_assignment":"NetOps","priority":5,"reason":"seed"}`)
	e.createRule(`{"trap_oid":"1.3.6.1.4.1.9","match_type":"oid_prefix","syslog_severity":2,"prod_handling":"Ticket_only","dev_handling":"Ignore","team_assignment":"Core"}`)
	e.do(req{method: "POST", path: "/api/v1/dev-hosts", body: `{"hostname":"dev-sw-01"}`}).want(e.t, http.StatusCreated)
	e.do(req{method: "POST", path: "/api/v1/teams", body: `{"hostname":"core-rtr-01","team_assignment":"Core"}`}).want(e.t, http.StatusCreated)
	e.do(req{method: "PUT", path: "/api/v1/config/alerter_shed_mode", body: `{"value":"defer","reason":"seed"}`}).want(e.t, http.StatusOK)
	_, err := e.pool.Exec(e.t.Context(), `
		INSERT INTO event_audit_log (event_timestamp, hostname, matched_rule_id, handling_decision, forwarded_to_moog, raw_message, event_id)
		VALUES ('2025-11-10T10:00:00Z', 'core-rtr-01', $1, 'Page_and_ticket', true, 'LINK-DOWN Gi0/1', gen_random_uuid()),
		       ('2025-11-11T10:00:00Z', 'dev-sw-01', $1, 'Ticket_only', false, 'LINK-DOWN Gi0/2', gen_random_uuid())`, ruleID)
	if err != nil {
		e.t.Fatalf("inserting event audit rows: %v", err)
	}
	now := time.Now().UTC()
	pipe := e.rdb.Pipeline()
	pipe.Set(e.t.Context(), e.prefix+":metrics:1m:"+now.Format("2006-01-02T15:04"), 12, time.Hour)
	pipe.Set(e.t.Context(), e.prefix+":metrics:1h:"+now.Format("2006-01-02T15"), 600, time.Hour)
	if _, err := pipe.Exec(e.t.Context()); err != nil {
		e.t.Fatalf("seeding rate counters: %v", err)
	}
	for _, d := range slo.Definitions() {
		e.prom.Set(d.Name, "0.9995")
	}
	return ruleID
}

// sessionCookie logs in the way the dashboard does: it issues a session for
// the identity of key and returns the cookie and its CSRF token.
func (e *env) sessionCookie(key string) (*http.Cookie, string) {
	e.t.Helper()
	id, ok := e.srv.Keyring().Match(key)
	if !ok {
		e.t.Fatalf("key not in the keyring")
	}
	rec := httptest.NewRecorder()
	if err := e.srv.Sessions().Issue(e.t.Context(), rec, httptest.NewRequest("POST", "/login", nil), id); err != nil {
		e.t.Fatalf("Issue: %v", err)
	}
	cookies := rec.Result().Cookies()
	if len(cookies) != 1 || cookies[0].Name != auth.CookieName {
		e.t.Fatalf("session cookie not issued: %v", cookies)
	}
	r := httptest.NewRequest("GET", "/", nil)
	r.AddCookie(cookies[0])
	sess, err := e.srv.Sessions().Lookup(e.t.Context(), r, e.srv.Keyring())
	if err != nil || sess == nil {
		e.t.Fatalf("the issued session is not found: %v", err)
	}
	return cookies[0], sess.CSRF
}
