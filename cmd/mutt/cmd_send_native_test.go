package main

import (
	"bytes"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/mutt-go/mutt/internal/app"
	"github.com/mutt-go/mutt/internal/itest"
)

// TestSendToReceivers runs `mutt send --syslog` over UDP, TCP and TLS and
// `mutt send --trap --inform` against running receivers and counts what
// reached the ingest queue.
func TestSendToReceivers(t *testing.T) {
	e := newEnv(t)
	dir := t.TempDir()
	pem := itest.NewPKI(t).WriteFiles(t, dir)
	t.Setenv("SNMP_COMMUNITY", "send-test")
	cfg := e.config("SYSLOG_UDP_LISTEN=127.0.0.1:0", "SYSLOG_TCP_LISTEN=127.0.0.1:0", "SYSLOG_TLS_LISTEN=127.0.0.1:0",
		"SYSLOG_TLS_CERT_FILE="+pem.ServerCert, "SYSLOG_TLS_KEY_FILE="+pem.ServerKey, "SYSLOG_TLS_CLIENT_CA_FILE="+pem.CA,
		"SYSLOG_ADMIN_LISTEN=127.0.0.1:0", "SNMP_TRAP_LISTEN=127.0.0.1:0", "SNMP_COMMUNITIES=other,send-test", "SNMP_ADMIN_LISTEN=127.0.0.1:0")
	addrs := startServer(t, cfg, app.RoleSyslog, app.RoleSNMPTrap)

	syslogs, traps := demoFile(t, "demo_syslog_events.json"), demoFile(t, "demo_snmp_traps.json")
	runs := [][]string{
		{"send", "--syslog", "udp://" + addrs["syslog-udp"], "--rfc3164", "--rate", "5000", syslogs},
		{"send", "--syslog", "tcp://" + addrs["syslog-tcp"], syslogs},
		{"send", "--syslog", "tls://" + addrs["syslog-tls"], "--tls-ca-file", pem.CA, "--tls-cert-file", pem.ClientCert,
			"--tls-key-file", pem.ClientKey, syslogs},
		{"send", "--trap", addrs["snmptrap"], "--inform", traps},
	}
	for _, args := range runs {
		var out, errOut bytes.Buffer
		if code := run(args, &out, &errOut); code != exitOK {
			t.Fatalf("mutt %s: exit %d\n%s%s", strings.Join(args, " "), code, out.String(), errOut.String())
		}
		if strings.Contains(out.String()+errOut.String(), "send-test") {
			t.Error("the community was printed")
		}
	}
	// Informs are answered only once queued, so all 100 are in already.
	want := 3*330 + 100
	itest.Eventually(t, 30*time.Second, "every message queued", func() bool { return e.xlen("ingest_queue") == int64(want) })

	// Each role's admin port: health, and metrics without any secret.
	for _, c := range []struct{ admin, metric string }{{"syslog-admin", "mutt_syslog_messages_enqueued_total"}, {"snmptrap-admin", "mutt_snmptrap_informs_acknowledged_total 100"}} {
		for _, path := range []string{"/health", "/metrics"} {
			resp, err := http.Get("http://" + addrs[c.admin] + path)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK || strings.Contains(string(body), "send-test") {
				t.Errorf("%s%s: %d %s", c.admin, path, resp.StatusCode, body)
			}
			if path == "/metrics" && !strings.Contains(string(body), c.metric) {
				t.Errorf("%s/metrics lacks %s", c.admin, c.metric)
			}
		}
	}

	var out, errOut bytes.Buffer
	if code := run([]string{"send", "--trap", "x", "--syslog", "udp://h:1", syslogs}, &out, &errOut); code != exitUsage {
		t.Errorf("contradictory flags: exit %d, want %d", code, exitUsage)
	}
}

// TestSNMPTrapRefusesWithoutCredentials: a trap receiver that would accept
// nothing does not start, and says which setting to give (exit 2).
func TestSNMPTrapRefusesWithoutCredentials(t *testing.T) {
	t.Setenv("SNMP_COMMUNITIES", "")
	t.Setenv("SNMP_V3_USERS_FILE", "")
	var out, errOut bytes.Buffer
	code := run([]string{"snmptrap", "--listen", "127.0.0.1:0", "--admin", "127.0.0.1:0", "--redis-url", itest.RedisURL()}, &out, &errOut)
	if code != exitUsage || !strings.Contains(errOut.String(), "SNMP_COMMUNITIES") {
		t.Errorf("exit %d, stderr %q; want %d naming SNMP_COMMUNITIES", code, errOut.String(), exitUsage)
	}
	errOut.Reset()
	if code := run([]string{"syslog", "--redis-url", itest.RedisURL(), "--admin", "127.0.0.1:0"}, &out, &errOut); code != exitUsage ||
		!strings.Contains(errOut.String(), "SYSLOG_UDP_LISTEN") {
		t.Errorf("syslog without an address: exit %d, stderr %q", code, errOut.String())
	}
}
