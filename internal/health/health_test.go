package health

import (
	"context"
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/mutt-go/mutt/internal/config"
	"github.com/mutt-go/mutt/internal/itest"
	"github.com/mutt-go/mutt/internal/secrets"
	"github.com/mutt-go/mutt/internal/store"
)

// env is one test's configuration on the real Redis and PostgreSQL.
type env struct {
	cfg config.Config
	rdb *redis.Client
}

// newEnv returns a configuration with its own key prefix and database
// (migrated when asked) and every role's health address on a loopback
// port where nothing listens.
func newEnv(t *testing.T, migrate bool) *env {
	t.Helper()
	rdb, prefix := itest.Redis(t)
	pool, dsn := itest.Pool(t)
	if migrate {
		if err := store.Migrate(t.Context(), pool, nil); err != nil {
			t.Fatalf("migrating: %v", err)
		}
	}
	cfg := config.Default()
	cfg.KeyPrefix = prefix
	cfg.PodName = "health-test"
	cfg.Redis.URL = config.NewURL(itest.RedisURL())
	cfg.Postgres.URL = config.NewURL(dsn)
	for _, role := range RoleNames() {
		setListen(&cfg, role, closedAddr(t))
	}
	cfg.Finish()
	return &env{cfg: cfg, rdb: rdb}
}

// setListen points role's health address at addr.
func setListen(cfg *config.Config, role, addr string) {
	switch role {
	case "ingestor":
		cfg.Ingest.Listen = addr
	case "alerter":
		cfg.Alerter.HealthListen = addr
	case "forwarder":
		cfg.Forwarder.HealthListen = addr
	case "remediation":
		cfg.Remediation.HealthListen = addr
	case "webui":
		cfg.Web.Listen = addr
	case "syslog":
		cfg.Syslog.AdminListen = addr
	case "snmptrap":
		cfg.SNMP.AdminListen = addr
	}
}

// closedAddr returns a loopback address where nothing listens.
func closedAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	_ = l.Close()
	return addr
}

// serve starts a /health endpoint answering code and body for role and
// points the configuration at it.
func (e *env) serve(t *testing.T, role string, code int, body string) {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/health" {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(code)
		_, _ = w.Write([]byte(body))
	}))
	t.Cleanup(srv.Close)
	setListen(&e.cfg, role, srv.Listener.Addr().String())
}

func (e *env) serveAll(t *testing.T) {
	t.Helper()
	for _, role := range RoleNames() {
		e.serve(t, role, http.StatusOK, `{"status":"healthy","service":"mutt-`+role+`"}`)
	}
}

func run(t *testing.T, opts Options) Report {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	return Run(ctx, opts)
}

func find(t *testing.T, r Report, name string) Check {
	t.Helper()
	for _, c := range r.Checks {
		if c.Name == name {
			return c
		}
	}
	t.Fatalf("no check %q in %+v", name, r.Checks)
	return Check{}
}

func TestAllHealthy(t *testing.T) {
	t.Parallel()
	e := newEnv(t, true)
	e.serveAll(t)
	r := run(t, Options{Config: e.cfg})
	if r.Status != StatusOK {
		t.Fatalf("status %s, checks %+v", r.Status, r.Checks)
	}
	want := []string{CheckRedis, "queue.ingest", "queue.alert", "queue.dlq_alerter", "queue.dlq_moog", "queue.dlq_dead",
		CheckPostgres, CheckSchema}
	for _, role := range RoleNames() {
		want = append(want, RoleCheckName(role))
	}
	if len(r.Checks) != len(want) {
		t.Fatalf("%d checks, want %d: %+v", len(r.Checks), len(want), r.Checks)
	}
	for i, c := range r.Checks {
		if c.Name != want[i] || c.Status != StatusOK || c.Detail == "" || c.Latency <= 0 {
			t.Errorf("check %d = %+v, want %s ok with a detail and a latency", i, c, want[i])
		}
	}
	if d := find(t, r, "queue.ingest").Detail; !strings.Contains(d, e.cfg.Keys.IngestQueue+": 0 entries") {
		t.Errorf("ingest detail %q", d)
	}
}

func TestRedisUnreachableFailsWithoutPassword(t *testing.T) {
	t.Parallel()
	e := newEnv(t, true)
	e.serveAll(t)
	addr := closedAddr(t)
	e.cfg.Redis.URL = config.NewURL("redis://:s3cr3t-pw@" + addr + "/0")
	r := run(t, Options{Config: e.cfg, Timeout: 2 * time.Second})
	if r.Status != StatusFail {
		t.Fatalf("status %s, want fail", r.Status)
	}
	c := find(t, r, CheckRedis)
	if c.Status != StatusFail || !strings.Contains(c.Detail, addr) {
		t.Errorf("redis check %+v: want fail naming %s", c, addr)
	}
	for _, c := range r.Checks {
		if strings.Contains(c.Detail, "s3cr3t-pw") {
			t.Errorf("check %s leaks the password: %q", c.Name, c.Detail)
		}
	}
	if q := find(t, r, "queue.ingest"); q.Status != StatusSkipped {
		t.Errorf("queue check %+v, want skipped", q)
	}
	if pg := find(t, r, CheckPostgres); pg.Status != StatusOK {
		t.Errorf("postgres check %+v, want ok", pg)
	}
	failed := r.Failed()
	if len(failed) != 1 || failed[0].Name != CheckRedis {
		t.Errorf("failed checks %+v, want only redis", failed)
	}
}

func TestPostgresUnreachableSkipsSchema(t *testing.T) {
	t.Parallel()
	e := newEnv(t, true)
	e.serveAll(t)
	e.cfg.Postgres.URL = config.NewURL("postgres://mutt:pg-s3cr3t@" + closedAddr(t) + "/mutt?sslmode=disable")
	r := run(t, Options{Config: e.cfg, Timeout: 2 * time.Second})
	if c := find(t, r, CheckPostgres); c.Status != StatusFail || strings.Contains(c.Detail, "pg-s3cr3t") {
		t.Errorf("postgres check %+v: want fail without the password", c)
	}
	if c := find(t, r, CheckSchema); c.Status != StatusSkipped {
		t.Errorf("schema check %+v, want skipped", c)
	}
}

func TestUnmigratedDatabaseFailsWithHint(t *testing.T) {
	t.Parallel()
	e := newEnv(t, false)
	e.serveAll(t)
	r := run(t, Options{Config: e.cfg})
	c := find(t, r, CheckSchema)
	if c.Status != StatusFail || !strings.Contains(c.Detail, "run mutt migrate") {
		t.Errorf("schema check %+v: want fail with the hint", c)
	}
	if r.Status != StatusFail {
		t.Errorf("status %s, want fail", r.Status)
	}
}

func TestSchemaStatus(t *testing.T) {
	tests := []struct {
		name            string
		current, latest int64
		status          Status
		hint            string
	}{
		{"equal", 7, 7, StatusOK, "as this binary expects"},
		{"never migrated", 0, 7, StatusFail, "run mutt migrate"},
		{"older", 5, 7, StatusFail, "run mutt migrate"},
		{"newer", 9, 7, StatusFail, "binary older than schema"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, d := schemaStatus(tt.current, tt.latest)
			if s != tt.status || !strings.Contains(d, tt.hint) {
				t.Errorf("schemaStatus(%d, %d) = %s %q, want %s with %q", tt.current, tt.latest, s, d, tt.status, tt.hint)
			}
		})
	}
}

func TestRoleEndpoints(t *testing.T) {
	t.Parallel()
	e := newEnv(t, true)
	e.serve(t, "ingestor", http.StatusOK, `{"status":"healthy"}`)
	e.serve(t, "alerter", http.StatusServiceUnavailable,
		`{"status":"unhealthy","errors":["PostgreSQL: pinging postgresql: connection refused"]}`)
	e.serve(t, "forwarder", http.StatusOK, `{"status":"healthy","checks":{"redis":"ok","moog":"unreachable: timeout"}}`)
	// remediation and webui are not running.

	r := run(t, Options{Config: e.cfg})
	tests := []struct {
		role   string
		status Status
		detail string
	}{
		{"ingestor", StatusOK, "HTTP 200"},
		{"alerter", StatusFail, "HTTP 503"},
		{"forwarder", StatusWarn, "moog: unreachable"},
		{"remediation", StatusSkipped, "not running"},
		{"webui", StatusSkipped, "not running"},
	}
	for _, tt := range tests {
		c := find(t, r, RoleCheckName(tt.role))
		if c.Status != tt.status || !strings.Contains(c.Detail, tt.detail) {
			t.Errorf("%s: %+v, want %s with %q", tt.role, c, tt.status, tt.detail)
		}
	}
	if c := find(t, r, RoleCheckName("alerter")); !strings.Contains(c.Detail, "pinging postgresql") {
		t.Errorf("alerter detail %q does not carry the body's errors", c.Detail)
	}
	if r.Status != StatusFail {
		t.Errorf("status %s, want fail", r.Status)
	}
}

func TestRequestedRoleNotRunningFails(t *testing.T) {
	t.Parallel()
	e := newEnv(t, true)
	e.serve(t, "ingestor", http.StatusOK, `{"status":"healthy"}`)
	r := run(t, Options{Config: e.cfg, Roles: []string{"webui", "ingestor"}})
	var roles []string
	for _, c := range r.Checks {
		if strings.HasPrefix(c.Name, "role.") {
			roles = append(roles, c.Name)
		}
	}
	if strings.Join(roles, ",") != "role.ingestor,role.webui" {
		t.Errorf("role checks %v, want ingestor and webui only, in start order", roles)
	}
	if c := find(t, r, "role.webui"); c.Status != StatusFail || !strings.Contains(c.Detail, "not running") {
		t.Errorf("webui %+v, want fail: not running", c)
	}
	if c := find(t, r, "role.ingestor"); c.Status != StatusOK {
		t.Errorf("ingestor %+v, want ok", c)
	}
	if r.Status != StatusFail {
		t.Errorf("status %s, want fail", r.Status)
	}

	r = run(t, Options{Config: e.cfg, Roles: []string{"nosuch"}})
	if c := find(t, r, "role.nosuch"); c.Status != StatusFail || !strings.Contains(c.Detail, "unknown role") {
		t.Errorf("unknown role %+v, want fail", c)
	}
}

func TestQueueAboveThresholdWarns(t *testing.T) {
	t.Parallel()
	e := newEnv(t, true)
	e.serveAll(t)
	e.cfg.Alerter.Shedding.WarnThreshold = 2
	for range 3 {
		if err := e.rdb.XAdd(t.Context(), &redis.XAddArgs{Stream: e.cfg.Keys.AlertQueue, Values: []any{"e", "{}"}}).Err(); err != nil {
			t.Fatal(err)
		}
	}
	for range DLQWarnDepth + 1 {
		if err := e.rdb.XAdd(t.Context(), &redis.XAddArgs{Stream: e.cfg.Keys.MoogDLQ, Values: []any{"e", "{}"}}).Err(); err != nil {
			t.Fatal(err)
		}
	}
	r := run(t, Options{Config: e.cfg})
	if r.Status != StatusWarn {
		t.Fatalf("status %s, want warn: %+v", r.Status, r.Checks)
	}
	if c := find(t, r, "queue.alert"); c.Status != StatusWarn || !strings.Contains(c.Detail, "3 entries, above 2") {
		t.Errorf("alert queue %+v", c)
	}
	if c := find(t, r, "queue.dlq_moog"); c.Status != StatusWarn || !strings.Contains(c.Detail, "101 entries") {
		t.Errorf("moog DLQ %+v", c)
	}
	if c := find(t, r, "queue.dlq_alerter"); c.Status != StatusOK {
		t.Errorf("alerter DLQ %+v, want ok", c)
	}
}

func TestReportJSON(t *testing.T) {
	r := newReport([]Check{
		{Name: CheckRedis, Status: StatusOK, Detail: "PONG", Latency: 1500 * time.Microsecond},
		{Name: "role.webui", Status: StatusSkipped, Detail: "not running"},
		{Name: "queue.alert", Status: StatusWarn, Detail: "long", Latency: 2 * time.Millisecond},
	})
	b, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	var shape struct {
		Status string           `json:"status"`
		Checks []map[string]any `json:"checks"`
	}
	if err := json.Unmarshal(b, &shape); err != nil {
		t.Fatal(err)
	}
	if shape.Status != "warn" || len(shape.Checks) != 3 {
		t.Fatalf("decoded %s", b)
	}
	first := shape.Checks[0]
	if first["name"] != "redis" || first["status"] != "ok" || first["detail"] != "PONG" || first["latency_ms"] != 1.5 {
		t.Errorf("first check %v", first)
	}
	if len(first) != 4 {
		t.Errorf("first check has fields %v, want name, status, detail, latency_ms", first)
	}
	var back Report
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if back.Checks[0].Latency != 1500*time.Microsecond || back.Status != StatusWarn {
		t.Errorf("round trip %+v", back)
	}
}

func TestWorst(t *testing.T) {
	tests := []struct {
		a, b, want Status
	}{
		{StatusOK, StatusSkipped, StatusOK},
		{StatusSkipped, StatusWarn, StatusWarn},
		{StatusFail, StatusWarn, StatusFail},
		{StatusOK, StatusFail, StatusFail},
	}
	for _, tt := range tests {
		if got := Worst(tt.a, tt.b); got != tt.want {
			t.Errorf("Worst(%s, %s) = %s, want %s", tt.a, tt.b, got, tt.want)
		}
	}
}

func TestMemoryStatus(t *testing.T) {
	tests := []struct {
		name   string
		info   string
		status Status
		detail string
	}{
		{"no limit", "# Memory\r\nused_memory:2097152\r\nmaxmemory:0\r\n", StatusOK, "used_memory 2.0 MiB, no maxmemory"},
		{"below", "used_memory:700\r\nmaxmemory:1000\r\n", StatusOK, "(70%)"},
		{"at warn level", "used_memory:800\r\nmaxmemory:1000\r\n", StatusWarn, "raise maxmemory"},
		{"garbled", "nothing useful", StatusWarn, "no used_memory"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, d := memoryStatus(tt.info)
			if s != tt.status || !strings.Contains(d, tt.detail) {
				t.Errorf("memoryStatus = %s %q, want %s with %q", s, d, tt.status, tt.detail)
			}
		})
	}
}

func TestRedact(t *testing.T) {
	cfg := config.Default()
	cfg.Redis.URL = config.NewURL("redis://user:url-pass@redis.example:6379/0")
	cfg.Postgres.Password = secrets.New("pg-pass")
	r := newRedactor(cfg)
	tests := []struct{ in, leak string }{
		{"connecting to redis://user:url-pass@redis.example:6379/0: refused", "url-pass"},
		{"auth failed with url-pass", "url-pass"},
		{"host=db password=pg-pass sslmode=require", "pg-pass"},
		{"postgres://u:other@db/x?password=qp", "other"},
	}
	for _, tt := range tests {
		if got := r.redact(tt.in); strings.Contains(got, tt.leak) {
			t.Errorf("redact(%q) = %q still holds %q", tt.in, got, tt.leak)
		}
	}
	if got := r.redact("redis.example:6379"); got != "redis.example:6379" {
		t.Errorf("redact changed an address: %q", got)
	}
}

func TestDialAddress(t *testing.T) {
	tests := []struct{ listen, want string }{
		{":8082", "127.0.0.1:8082"},
		{"0.0.0.0:8084", "127.0.0.1:8084"},
		{"[::]:8087", "[::1]:8087"},
		{"10.0.0.5:8090", "10.0.0.5:8090"},
	}
	for _, tt := range tests {
		if got, err := dialAddress(tt.listen); err != nil || got != tt.want {
			t.Errorf("dialAddress(%q) = %q, %v; want %q", tt.listen, got, err, tt.want)
		}
	}
	if _, err := dialAddress("8080"); err == nil {
		t.Error("dialAddress accepted an address without a port")
	}
}
