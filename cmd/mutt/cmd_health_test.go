package main

import (
	"bytes"
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/mutt-go/mutt/internal/health"
	"github.com/mutt-go/mutt/internal/itest"
	"github.com/mutt-go/mutt/internal/store"
)

// healthListenEnv names the environment variable of each role's health address.
var healthListenEnv = map[string]string{
	"ingestor":    "INGEST_LISTEN",
	"alerter":     "ALERTER_HEALTH_LISTEN",
	"forwarder":   "FORWARDER_HEALTH_LISTEN",
	"remediation": "REMEDIATION_HEALTH_LISTEN",
	"webui":       "WEBUI_LISTEN",
	"syslog":      "SYSLOG_ADMIN_LISTEN",
	"snmptrap":    "SNMP_ADMIN_LISTEN",
}

// newHealthEnv points the mutt command at a fresh key prefix and database
// (migrated when asked) and every role at a loopback port where nothing
// listens.
func newHealthEnv(t *testing.T, migrate bool) {
	t.Helper()
	_, prefix := itest.Redis(t)
	pool, dsn := itest.Pool(t)
	if migrate {
		if err := store.Migrate(t.Context(), pool, nil); err != nil {
			t.Fatalf("migrating: %v", err)
		}
	}
	t.Setenv("REDIS_URL", itest.RedisURL())
	t.Setenv("DATABASE_URL", dsn)
	t.Setenv("MUTT_KEY_PREFIX", prefix)
	for _, name := range healthListenEnv {
		t.Setenv(name, closedAddr(t))
	}
}

// closedAddr is a loopback address where nothing listens.
func closedAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// serveHealth answers /health for role with code.
func serveHealth(t *testing.T, role string, code int) {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(code)
		_, _ = w.Write([]byte(`{"status":"healthy"}`))
	}))
	t.Cleanup(srv.Close)
	t.Setenv(healthListenEnv[role], srv.Listener.Addr().String())
}

// hasHealthLine reports whether the table has a line for check with status.
func hasHealthLine(out, status, check string) bool {
	for line := range strings.Lines(out) {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == status && f[1] == check {
			return true
		}
	}
	return false
}

func runHealth(args ...string) (int, string, string) {
	var out, errOut bytes.Buffer
	code := run(append([]string{"health"}, args...), &out, &errOut)
	return code, out.String(), errOut.String()
}

func TestHealthExitCodes(t *testing.T) {
	newHealthEnv(t, true)
	serveHealth(t, "ingestor", http.StatusOK)
	serveHealth(t, "alerter", http.StatusOK)

	code, out, errOut := runHealth()
	if code != exitOK {
		t.Fatalf("exit %d, stdout:\n%s\nstderr: %s", code, out, errOut)
	}
	for _, want := range [][2]string{{"OK", "redis"}, {"OK", "schema"}, {"OK", "role.alerter"}, {"SKIPPED", "role.webui"}} {
		if !hasHealthLine(out, want[0], want[1]) {
			t.Errorf("table lacks %s %s:\n%s", want[0], want[1], out)
		}
	}
	if !strings.Contains(out, "overall: OK") {
		t.Errorf("table lacks the overall status:\n%s", out)
	}

	// Naming a role that is not running turns its skip into a failure.
	code, out, errOut = runHealth("--role", "alerter,webui")
	if code != exitFailure || !hasHealthLine(out, "ERROR", "role.webui") || !strings.Contains(errOut, "role.webui") {
		t.Errorf("--role webui: exit %d, stdout:\n%s\nstderr: %s", code, out, errOut)
	}
	if strings.Contains(out, "role.ingestor") {
		t.Errorf("--role alerter,webui also checked the ingestor:\n%s", out)
	}

	// With no role answering anywhere, the host is not healthy.
	t.Setenv(healthListenEnv["ingestor"], closedAddr(t))
	t.Setenv(healthListenEnv["alerter"], closedAddr(t))
	code, out, errOut = runHealth()
	if code != exitFailure || !hasHealthLine(out, "ERROR", health.CheckRoles) || strings.Contains(out, "overall: OK") {
		t.Errorf("no role running: exit %d, want %d with %s failing\nstdout:\n%s\nstderr: %s", code, exitFailure, health.CheckRoles, out, errOut)
	}

	serveHealth(t, "alerter", http.StatusServiceUnavailable)
	if code, out, _ := runHealth(); code != exitFailure || !strings.Contains(out, "HTTP 503") {
		t.Errorf("alerter 503: exit %d, stdout:\n%s", code, out)
	}

	usage := [][]string{
		{"--role", "nosuch"},
		{"--timeout", "0s"},
		{"--timeout", "soon"},
		{"extra"},
	}
	for _, args := range usage {
		if code, _, errOut := runHealth(args...); code != exitUsage {
			t.Errorf("%v: exit %d, want %d (stderr %q)", args, code, exitUsage, errOut)
		}
	}
}

func TestHealthJSON(t *testing.T) {
	newHealthEnv(t, false) // never migrated
	code, out, errOut := runHealth("--json", "--timeout", "5s")
	if code != exitFailure {
		t.Fatalf("exit %d, want %d; stderr %s", code, exitFailure, errOut)
	}
	var report health.Report
	if err := json.Unmarshal([]byte(out), &report); err != nil {
		t.Fatalf("stdout is not a report: %v\n%s", err, out)
	}
	if report.Status != health.StatusFail {
		t.Errorf("status %s, want fail", report.Status)
	}
	var raw struct {
		Checks []map[string]any `json:"checks"`
	}
	if err := json.Unmarshal([]byte(out), &raw); err != nil {
		t.Fatal(err)
	}
	for _, c := range raw.Checks {
		if _, ok := c["latency_ms"].(float64); !ok || c["name"] == "" || c["status"] == "" {
			t.Errorf("check %v lacks name, status or a numeric latency_ms", c)
		}
		if c["name"] == health.CheckSchema && !strings.Contains(c["detail"].(string), "run mutt migrate") {
			t.Errorf("schema check %v lacks the hint", c)
		}
	}
	if !strings.Contains(errOut, health.CheckSchema) {
		t.Errorf("stderr %q does not name the failed check", errOut)
	}
}

func TestHealthRedisDownNamesAddressNotPassword(t *testing.T) {
	newHealthEnv(t, true)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	_ = l.Close()
	code, out, errOut := runHealth("--redis-url", "redis://:hunter2-secret@"+addr+"/0", "--timeout", "2s")
	if code != exitFailure || !hasHealthLine(out, "ERROR", "redis") || !strings.Contains(out, addr) {
		t.Errorf("exit %d, stdout:\n%s", code, out)
	}
	if strings.Contains(out+errOut, "hunter2-secret") {
		t.Errorf("the password leaked:\n%s\n%s", out, errOut)
	}
}
