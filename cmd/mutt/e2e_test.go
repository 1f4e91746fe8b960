package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/redis/go-redis/v9"

	"github.com/mutt-go/mutt/internal/app"
	"github.com/mutt-go/mutt/internal/config"
	"github.com/mutt-go/mutt/internal/event"
	"github.com/mutt-go/mutt/internal/fakemoog"
	"github.com/mutt-go/mutt/internal/itest"
	"github.com/mutt-go/mutt/internal/queue"
	"github.com/mutt-go/mutt/internal/rules"
	"github.com/mutt-go/mutt/internal/sender"
	"github.com/mutt-go/mutt/internal/store"
	"github.com/mutt-go/mutt/internal/version"
)

// testRules is the rule set of the end-to-end tests: a mix of every match
// type that the generated events partly match.
const testRules = `
INSERT INTO alert_rules (match_string, trap_oid, syslog_severity, match_type, priority, prod_handling, dev_handling, team_assignment) VALUES
 ('UPDOWN', NULL, NULL, 'contains', 10, 'Page_and_ticket', 'Ticket_only', 'NetOps'),
 ('denied|deny', NULL, NULL, 'regex', 20, 'Ticket_only', 'Ignore', 'Security'),
 (NULL, '1.3.6.1.6.3.1.1.5', NULL, 'oid_prefix', 5, 'Page_only', 'Ignore', 'NetOps'),
 ('error', NULL, NULL, 'contains', 40, 'Ignore', 'Ignore', 'SysAdmin'),
 ('CONFIG_I', NULL, NULL, 'contains', 50, 'Log_only', 'Log_only', 'NETO');
INSERT INTO development_hosts (hostname) SELECT 'core-router-01.dc1.example.com';
`

// env is one isolated MUTT deployment: a database and a key prefix.
type env struct {
	t      *testing.T
	dsn    string
	pool   *pgxpool.Pool
	rdb    *redis.Client
	prefix string
}

func newEnv(t *testing.T) *env {
	t.Helper()
	pool, dsn := itest.Pool(t)
	if err := store.Migrate(context.Background(), pool, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := pool.Exec(context.Background(), testRules); err != nil {
		t.Fatal(err)
	}
	rdb, prefix := itest.Redis(t)
	return &env{t: t, dsn: dsn, pool: pool, rdb: rdb, prefix: prefix}
}

// vars are the environment variables that point MUTT at this deployment.
func (e *env) vars(extra ...string) []string {
	return append([]string{
		"DATABASE_URL=" + e.dsn, "REDIS_URL=" + itest.RedisURL(), "MUTT_KEY_PREFIX=" + e.prefix,
		"INGEST_API_KEY=e2e-ingest-key-0123456789", "INGEST_LISTEN=127.0.0.1:0",
		"ALERTER_METRICS_LISTEN=127.0.0.1:0", "ALERTER_HEALTH_LISTEN=127.0.0.1:0",
		"ALERTER_JANITOR_TIMEOUT=1", "BRPOPLPUSH_TIMEOUT=0.2", "ALERTER_SHED_MODE=off", "LOG_FORMAT=text", "LOG_LEVEL=warn",
	}, extra...)
}

func (e *env) config(extra ...string) config.Config {
	e.t.Helper()
	m := map[string]string{}
	for _, kv := range e.vars(extra...) {
		k, v, _ := strings.Cut(kv, "=")
		m[k] = v
	}
	cfg, err := config.Load("", func(k string) (string, bool) { v, ok := m[k]; return v, ok })
	if err != nil {
		e.t.Fatal(err)
	}
	cfg.Finish()
	if err := cfg.Validate(); err != nil {
		e.t.Fatal(err)
	}
	return cfg
}

func (e *env) count(sql string) int {
	e.t.Helper()
	var n int
	if err := e.pool.QueryRow(context.Background(), sql).Scan(&n); err != nil {
		e.t.Fatalf("%s: %v", sql, err)
	}
	return n
}

func (e *env) xlen(name string) int64 {
	n, err := e.rdb.XLen(context.Background(), e.prefix+":"+name).Result()
	if err != nil {
		e.t.Fatal(err)
	}
	return n
}

// enqueue normalizes events as the ingestor does and puts them on the
// ingest queue, 1000 to a batch.
func (e *env) enqueue(events [][]byte) {
	e.t.Helper()
	p := queue.NewProducer(e.rdb, e.prefix+":ingest_queue", queue.ProducerOptions{MetricsPrefix: e.prefix + ":metrics"})
	defer p.Close()
	for i := 0; i < len(events); i += 1000 {
		var batch [][]byte
		for _, raw := range events[i:min(i+1000, len(events))] {
			ev, err := event.Normalize(raw, event.Stamp{EventID: uuid.Must(uuid.NewV7()).String(), CorrelationID: "c"}, nil)
			if err != nil {
				e.t.Fatal(err)
			}
			batch = append(batch, ev.JSON)
		}
		if _, err := p.Produce(context.Background(), batch); err != nil {
			e.t.Fatal(err)
		}
	}
}

// expectation is what a set of events must produce.
type expectation struct {
	audit, alerts int
}

// expect computes audit rows and alerts (meta-alerts included) from the
// rules, independently of the alerter.
func (e *env) expect(events [][]byte, threshold int) expectation {
	e.t.Helper()
	set, err := store.New(e.pool).LoadRuleSet(context.Background())
	if err != nil {
		e.t.Fatal(err)
	}
	snap, _ := rules.Compile(set.Rules, set.DevHosts, set.Teams)
	var x expectation
	unhandled := map[string]int{}
	for _, raw := range events {
		ev, err := event.Normalize(raw, event.Stamp{EventID: "x", CorrelationID: "x"}, nil)
		if err != nil {
			e.t.Fatal(err)
		}
		d := snap.Decide(rules.Event{Hostname: ev.Hostname, Message: ev.Message, TrapOID: ev.TrapOID, Severity: ev.Severity})
		switch {
		case d.Rule == nil:
			unhandled[ev.Hostname+"\x00"+ev.Message]++
		case d.Forward:
			x.audit++
			x.alerts++
		default:
			x.audit++
		}
	}
	for _, n := range unhandled {
		if n >= threshold {
			x.alerts++
		}
	}
	return x
}

// verify checks the end state: exactly the expected rows and alerts, each
// event recorded once, nothing left in any queue.
func (e *env) verify(x expectation) {
	e.t.Helper()
	if got := e.count(`SELECT count(*) FROM event_audit_log`); got != x.audit {
		e.t.Errorf("audit rows = %d, want %d", got, x.audit)
	}
	if got := e.count(`SELECT count(DISTINCT event_id) FROM event_audit_log`); got != x.audit {
		e.t.Errorf("distinct audited events = %d, want %d", got, x.audit)
	}
	if n := e.xlen("dlq:alerter"); n != 0 {
		e.t.Errorf("dead letters = %d, want 0", n)
	}
	if n := e.xlen("ingest_queue"); n != 0 {
		e.t.Errorf("ingest queue still holds %d", n)
	}
}

// verifyQueuedAlerts checks the alert queue holds exactly one alert per
// expected alert (no forwarder ran).
func (e *env) verifyQueuedAlerts(x expectation) {
	e.t.Helper()
	if got := e.xlen("alert_queue"); got != int64(x.alerts) {
		e.t.Errorf("alerts = %d, want %d", got, x.alerts)
	}
	msgs, err := e.rdb.XRange(context.Background(), e.prefix+":alert_queue", "-", "+").Result()
	if err != nil {
		e.t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, m := range msgs {
		p := m.Values[queue.PayloadField].(string)
		i := strings.LastIndex(p, `"event_id":"`)
		id := p[i+12 : i+12+36]
		if seen[id] {
			e.t.Errorf("alert for event %s pushed twice", id)
		}
		seen[id] = true
	}
}

// TestTenThousandEventsEndToEnd posts events over HTTP to a running
// ingestor and alerter and checks every audit row and alert.
func TestTenThousandEventsEndToEnd(t *testing.T) {
	e := newEnv(t)
	events := sender.Generate(10_000, 7)
	want := e.expect(events, 100)
	if want.audit == 0 || want.alerts == 0 || want.audit == len(events) {
		t.Fatalf("the rules should match some events but not all: %+v", want)
	}
	fake := fakemoog.New(fakemoog.Options{APIKey: "moog-key"})
	moog := httptest.NewServer(fake)
	defer moog.Close()
	cfg := e.config("MOOG_WEBHOOK_URL="+moog.URL+"/events", "MOOG_API_KEY=moog-key", "MOOG_RATE_LIMIT=0",
		"FORWARDER_METRICS_LISTEN=127.0.0.1:0", "FORWARDER_HEALTH_LISTEN=127.0.0.1:0",
		"REMEDIATION_METRICS_LISTEN=127.0.0.1:0", "REMEDIATION_HEALTH_LISTEN=127.0.0.1:0")
	ready := make(chan map[string]string, 1)
	srv, err := app.NewServer(context.Background(), cfg, app.ServeOptions{
		Roles: app.AllRoles(), Ready: func(a map[string]string) { ready <- a },
	}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx) }()
	defer func() { cancel(); <-done }()
	addrs := <-ready

	sum, err := sender.Run(context.Background(), sender.Options{
		URL: "http://" + addrs["ingestor"], APIKey: "e2e-ingest-key-0123456789", Events: events, BatchSize: 50, Concurrency: 4,
	})
	if err != nil || sum.Accepted != len(events) {
		t.Fatalf("send: %v\n%s", err, sum)
	}
	itest.Eventually(t, 60*time.Second, "all events processed and every alert at Moogsoft", func() bool {
		return e.xlen("ingest_queue") == 0 && e.count(`SELECT count(*) FROM event_audit_log`) == want.audit &&
			fake.Distinct() == want.alerts
	})
	e.verify(want)
	if dups := fake.Count() - fake.Distinct(); dups != 0 {
		t.Errorf("Moogsoft received %d duplicates", dups)
	}
	// One alert's body, mapped as Moogsoft expects.
	var found bool
	for _, body := range fake.Last() {
		if body["manager"] != "MUTT" || body["agent"] != version.Agent() || body["type"] != "Alert" {
			t.Errorf("body = %v", body)
		}
		if _, ok := body["custom_info"].(map[string]any); !ok || body["external_id"] == "" || body["signature"] == "" {
			t.Errorf("body = %v", body)
		}
		found = true
	}
	if !found {
		t.Error("no body recorded")
	}
}

var (
	buildOnce sync.Once
	binary    string
	buildErr  error
)

// muttBinary builds the mutt command once per test run.
func muttBinary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "mutt-e2e-")
		if err != nil {
			buildErr = err
			return
		}
		binary = filepath.Join(dir, "mutt")
		// The flags of `make build`, so that the README's deployment test,
		// which runs it, finds every package already compiled.
		cmd := exec.Command("go", "build", "-trimpath", "-o", binary, ".")
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		out, err := cmd.CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binary
}

func startProcess(t *testing.T, e *env, args []string, extra ...string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(muttBinary(t), args...)
	cmd.Env = append(os.Environ(), e.vars(extra...)...)
	cmd.Stdout, cmd.Stderr = io.Discard, io.Discard
	if testing.Verbose() {
		cmd.Stderr = os.Stderr
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	return cmd
}

// TestAlerterKilledMidRunLosesNothing kills the alerter with SIGKILL while
// it drains 50,000 events, starts it again, and checks that every event was
// processed once: no lost alert, no duplicate audit row or alert.
func TestAlerterKilledMidRunLosesNothing(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	e := newEnv(t)
	events := sender.Generate(50_000, 11)
	want := e.expect(events, 100)
	e.enqueue(events)

	first := startProcess(t, e, []string{"alerter"}, "POD_NAME=first", "ALERTER_BATCH_SIZE=100")
	itest.Eventually(t, 60*time.Second, "the first alerter made progress", func() bool {
		return e.count(`SELECT count(*) FROM event_audit_log`) > want.audit/5
	})
	if err := first.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = first.Wait()
	remaining := e.xlen("ingest_queue")
	if remaining == 0 {
		t.Fatal("the alerter finished before it was killed; the test proves nothing")
	}
	t.Logf("killed with %d messages left in the stream", remaining)

	startProcess(t, e, []string{"alerter"}, "POD_NAME=second")
	itest.Eventually(t, 120*time.Second, "every event processed after the restart", func() bool {
		return e.xlen("ingest_queue") == 0
	})
	e.verify(want)
	e.verifyQueuedAlerts(want)
}

// privateRedis runs a redis-server of its own on port, for tests that stop
// and start Redis without disturbing anything else.
func privateRedis(t *testing.T, port int) *exec.Cmd {
	t.Helper()
	cmd := exec.Command("redis-server", "--port", strconv.Itoa(port), "--bind", "127.0.0.1",
		"--save", "", "--appendonly", "no", "--dir", t.TempDir())
	if err := cmd.Start(); err != nil {
		t.Skipf("redis-server not available: %v", err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	client := redis.NewClient(&redis.Options{Addr: "127.0.0.1:" + strconv.Itoa(port)})
	defer client.Close()
	itest.Eventually(t, 10*time.Second, "private redis-server answers", func() bool {
		return client.Ping(context.Background()).Err() == nil
	})
	return cmd
}

// TestIngestorRidesOutARedisRestart stops Redis under a running ingestor:
// it answers 503 with Retry-After while Redis is down and recovers by
// itself when Redis is back.
func TestIngestorRidesOutARedisRestart(t *testing.T) {
	port := itest.FreePort(t)
	redisProc := privateRedis(t, port)
	cfg := config.Default()
	cfg.KeyPrefix = "mutt"
	cfg.Redis.URL = config.NewURL("redis://127.0.0.1:" + strconv.Itoa(port) + "/0")
	cfg.Ingest.Listen = "127.0.0.1:0"
	cfg.Ingest.APIKey = secretOf("e2e-ingest-key-0123456789")
	cfg.Finish()
	ready := make(chan map[string]string, 1)
	srv, err := app.NewServer(context.Background(), cfg, app.ServeOptions{
		Roles: []string{app.RoleIngestor}, Ready: func(a map[string]string) { ready <- a },
	}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx) }()
	defer func() { cancel(); <-done }()
	base := "http://" + (<-ready)["ingestor"]

	post := func() *http.Response {
		req, _ := http.NewRequest(http.MethodPost, base+"/api/v2/ingest",
			strings.NewReader(`{"hostname":"h","message":"m","timestamp":"2025-01-01T00:00:00Z"}`))
		req.Header.Set("X-API-KEY", "e2e-ingest-key-0123456789")
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatalf("the ingestor itself must keep answering: %v", err)
		}
		resp.Body.Close()
		return resp
	}
	if r := post(); r.StatusCode != http.StatusOK {
		t.Fatalf("before the restart: status %d", r.StatusCode)
	}

	_ = redisProc.Process.Kill()
	_ = redisProc.Wait()
	itest.Eventually(t, 20*time.Second, "503 while Redis is down", func() bool {
		r := post()
		return r.StatusCode == http.StatusServiceUnavailable && r.Header.Get("Retry-After") != ""
	})
	resp, err := http.Get(base + "/health")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("/health while Redis is down = %d, want 503", resp.StatusCode)
	}

	privateRedis(t, port)
	itest.Eventually(t, 30*time.Second, "200 again after Redis is back", func() bool {
		return post().StatusCode == http.StatusOK
	})
}
