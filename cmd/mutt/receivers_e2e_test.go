package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/mutt-go/mutt/internal/app"
	"github.com/mutt-go/mutt/internal/config"
	"github.com/mutt-go/mutt/internal/itest"
	"github.com/mutt-go/mutt/internal/snmptrap"
)

// startServer runs roles in-process until the test ends and returns the
// addresses they listen on.
func startServer(t *testing.T, cfg config.Config, roles ...string) map[string]string {
	t.Helper()
	ready := make(chan map[string]string, 1)
	srv, err := app.NewServer(context.Background(), cfg, app.ServeOptions{
		Roles: roles, Ready: func(a map[string]string) { ready <- a },
	}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done; srv.Close() })
	select {
	case a := <-ready:
		return a
	case err := <-done:
		t.Fatalf("MUTT stopped at start: %v", err)
		return nil
	}
}

// demoTrap is one record of demo_snmp_traps.json.
type demoTrap struct {
	TrapOID   string   `json:"trap_oid"`
	Variables []string `json:"variables"`
}

var demoVar = regexp.MustCompile(`^@\{oid=([0-9.]+); value=(.*)\}$`)

func loadDemoTraps(t *testing.T) []demoTrap {
	t.Helper()
	b, err := os.ReadFile(demoFile(t, "demo_snmp_traps.json"))
	if err != nil {
		t.Fatalf("reading the demo traps: %v", err)
	}
	var traps []demoTrap
	if err := json.Unmarshal(b, &traps); err != nil {
		t.Fatal(err)
	}
	return traps
}

// demoFile finds a sample data file: the shared data beside the
// repository, else the copy in internal/sender/testdata.
func demoFile(t *testing.T, name string) string {
	t.Helper()
	for _, p := range []string{filepath.Join("..", "..", "..", "shared", "data", name), filepath.Join("..", "..", "internal", "sender", "testdata", name)} {
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	t.Fatalf("no sample file %s", name)
	return ""
}

// varbindArgs turns the demo variables into net-snmp "OID TYPE VALUE"
// arguments.
func varbindArgs(t *testing.T, vars []string) []string {
	var out []string
	for _, v := range vars {
		m := demoVar.FindStringSubmatch(v)
		if m == nil {
			t.Fatalf("unreadable demo variable %q", v)
		}
		typ := "s"
		if _, err := strconv.Atoi(m[2]); err == nil {
			typ = "i"
		}
		out = append(out, m[1], typ, m[2])
	}
	return out
}

// v1Form is how a trap OID is sent as an SNMPv1 trap, and the OID the
// receiver must make of it (RFC 3584).
func v1Form(oid string) (enterprise string, generic, specific int, converted string) {
	arcs := strings.Split(oid, ".")
	last, _ := strconv.Atoi(arcs[len(arcs)-1])
	switch {
	case strings.HasPrefix(oid, "1.3.6.1.6.3.1.1.5.") && last >= 1 && last <= 6:
		enterprise, generic = "1.3.6.1.4.1.8072.3.2.10", last-1
	case arcs[len(arcs)-2] == "0":
		enterprise, generic, specific = strings.Join(arcs[:len(arcs)-2], "."), 6, last
	default:
		enterprise, generic, specific = strings.Join(arcs[:len(arcs)-1], "."), 6, last
	}
	return enterprise, generic, specific, snmptrap.V1TrapOID(enterprise, generic, specific)
}

// TestReceiversEndToEnd sends with real senders — logger over UDP and TCP
// in both formats, rsyslog forwarding a file's lines with omfwd over TCP
// and over TLS, snmptrap v1, v2c and v3 authPriv SHA/AES and snmpinform
// v2c and v3 with the demo traps — into the syslog and snmptrap roles of
// a running MUTT, and checks that each ends as the audit row of its rule.
func TestReceiversEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("runs real senders against every receiver")
	}
	logger := itest.Tool(t, "logger", "util-linux")
	rsyslogd := itest.Tool(t, "rsyslogd", "rsyslog")
	itest.Tool(t, "snmptrap", "snmp")
	if m, _ := filepath.Glob("/usr/lib/*/rsyslog/lmnsd_gtls.so"); len(m) == 0 && os.Getenv("CI") == "true" {
		t.Fatal("rsyslog's gtls driver is not installed (package rsyslog-gnutls)")
	}
	e := newEnv(t)
	ctx := context.Background()
	if _, err := e.pool.Exec(ctx, `DELETE FROM alert_rules`); err != nil {
		t.Fatal(err)
	}

	// One rule per sender for syslog, one per expected trap OID.
	syslogTokens := []string{"e2e-logger-udp-rfc5424", "e2e-logger-udp-rfc3164", "e2e-logger-tcp-rfc5424",
		"e2e-logger-tcp-rfc3164", "e2e-rsyslog-tcp", "e2e-rsyslog-tls"}
	ruleOf := map[string]int{}
	addRule := func(match, oid, kind string, priority int) {
		var id int
		var ms, to any
		if match != "" {
			ms = match
		}
		if oid != "" {
			to = oid
		}
		if err := e.pool.QueryRow(ctx, `INSERT INTO alert_rules (match_string, trap_oid, match_type, priority, prod_handling, dev_handling, team_assignment)
			VALUES ($1, $2, $3, $4, 'Log_only', 'Log_only', 'NetOps') RETURNING id`, ms, to, kind, priority).Scan(&id); err != nil {
			t.Fatal(err)
		}
		ruleOf[match+oid] = id
	}
	for _, tok := range syslogTokens {
		addRule(tok, "", "contains", 1)
	}
	// A v1 form that differs from the demo OID may lie under it
	// (x.3.0 sent as enterprise x.3, specific 0, comes back as x.3.0.0),
	// so those rules come first.
	traps := loadDemoTraps(t)
	for _, tr := range traps {
		if _, ok := ruleOf[tr.TrapOID]; !ok {
			addRule("", tr.TrapOID, "oid_prefix", 2)
		}
	}
	for _, tr := range traps {
		if _, _, _, conv := v1Form(tr.TrapOID); ruleOf[conv] == 0 {
			addRule("", conv, "oid_prefix", 1)
		}
	}

	dir := t.TempDir()
	pki := itest.NewPKI(t)
	pem := pki.WriteFiles(t, dir)
	usersFile := filepath.Join(dir, "snmp-users.yaml")
	if err := os.WriteFile(usersFile, []byte(`- user: e2e-sha-aes
  auth_protocol: SHA
  auth_passphrase: e2e-auth-pass
  priv_protocol: AES
  priv_passphrase: e2e-priv-pass
`), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := e.config("SYSLOG_UDP_LISTEN=127.0.0.1:0", "SYSLOG_TCP_LISTEN=127.0.0.1:0", "SYSLOG_TLS_LISTEN=127.0.0.1:0",
		"SYSLOG_TLS_CERT_FILE="+pem.ServerCert, "SYSLOG_TLS_KEY_FILE="+pem.ServerKey, "SYSLOG_TLS_CLIENT_CA_FILE="+pem.CA,
		"SYSLOG_ADMIN_LISTEN=127.0.0.1:0", "SNMP_TRAP_LISTEN=127.0.0.1:0", "SNMP_COMMUNITIES=e2e-community",
		"SNMP_V3_USERS_FILE="+usersFile, "SNMP_ADMIN_LISTEN=127.0.0.1:0")
	addrs := startServer(t, cfg, app.RoleSyslog, app.RoleSNMPTrap, app.RoleAlerter)

	// logger, util-linux.
	sent := map[string]int{}
	for _, tok := range syslogTokens[:4] {
		parts := strings.Split(tok, "-") // e2e logger udp rfc5424
		host, port, _ := net.SplitHostPort(addrs["syslog-"+parts[2]])
		out, err := exec.Command(logger, "--server", host, "--port", port, "--"+parts[2], "--"+parts[3],
			"-p", "local0.warning", "-t", "e2eapp", "link down on ge-0/0/1 "+tok).CombinedOutput()
		if err != nil {
			t.Fatalf("logger %s: %v\n%s", tok, err, out)
		}
		sent[tok] = 1
	}

	// rsyslog, a private instance forwarding the lines of one file over
	// TCP (its traditional format, LF-framed) and of another over TLS
	// (RFC 5424, octet-counted).
	for _, tok := range syslogTokens[4:] {
		var lines strings.Builder
		for i := range 5 {
			fmt.Fprintf(&lines, "%%LINK-3-UPDOWN: Interface Gi0/%d, changed state to down %s\n", i, tok)
		}
		if err := os.WriteFile(filepath.Join(dir, tok+".log"), []byte(lines.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	_, tcpPort, _ := net.SplitHostPort(addrs["syslog-tcp"])
	_, tlsPort, _ := net.SplitHostPort(addrs["syslog-tls"])
	work := filepath.Join(dir, "rsyslog-work")
	if err := os.Mkdir(work, 0o700); err != nil {
		t.Fatal(err)
	}
	conf := filepath.Join(dir, "rsyslog.conf")
	if err := os.WriteFile(conf, []byte(fmt.Sprintf(`global(workDirectory="%[1]s"
  defaultNetstreamDriverCAFile="%[2]s" defaultNetstreamDriverCertFile="%[3]s" defaultNetstreamDriverKeyFile="%[4]s")
module(load="imfile")
ruleset(name="tcp") {
  action(type="omfwd" target="127.0.0.1" port="%[5]s" protocol="tcp" template="RSYSLOG_TraditionalForwardFormat")
}
ruleset(name="tls") {
  action(type="omfwd" target="127.0.0.1" port="%[6]s" protocol="tcp" TCP_Framing="octet-counted" template="RSYSLOG_SyslogProtocol23Format"
         StreamDriver="gtls" StreamDriverMode="1" StreamDriverAuthMode="x509/name" StreamDriverPermittedPeers="localhost")
}
input(type="imfile" File="%[7]s/e2e-rsyslog-tcp.log" Tag="e2eapp:" Facility="local0" Severity="warning" ruleset="tcp" freshStartTail="off")
input(type="imfile" File="%[7]s/e2e-rsyslog-tls.log" Tag="e2eapp:" Facility="local0" Severity="warning" ruleset="tls" freshStartTail="off")
`, work, pem.CA, pem.ClientCert, pem.ClientKey, tcpPort, tlsPort, dir)), 0o600); err != nil {
		t.Fatal(err)
	}
	rs := exec.Command(rsyslogd, "-n", "-f", conf, "-i", filepath.Join(dir, "rsyslog.pid"))
	var rsOut strings.Builder
	rs.Stdout, rs.Stderr = &rsOut, &rsOut
	if err := rs.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = rs.Process.Kill(); _ = rs.Wait() }()
	sent["e2e-rsyslog-tcp"], sent["e2e-rsyslog-tls"] = 5, 5

	// net-snmp: v2c and v1 with every demo trap, v3 and informs with one
	// trap per OID.
	snmpDir := t.TempDir()
	snmp := func(name string, args ...string) {
		t.Helper()
		cmd := exec.Command(name, append([]string{"-r", "2", "-t", "3"}, args...)...)
		cmd.Env = append(os.Environ(), "SNMP_PERSISTENT_DIR="+snmpDir, "SNMPCONFPATH="+snmpDir, "MIBS=", "MIBDIRS="+snmpDir)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
		}
	}
	trapAddr := addrs["snmptrap"]
	v3 := []string{"-v", "3", "-l", "authPriv", "-u", "e2e-sha-aes", "-a", "SHA", "-A", "e2e-auth-pass", "-x", "AES", "-X", "e2e-priv-pass"}
	wantTraps := map[string]map[string]int{} // "version/pdu" → trap OID → count
	want := func(kind, oid string) {
		if wantTraps[kind] == nil {
			wantTraps[kind] = map[string]int{}
		}
		wantTraps[kind][oid]++
	}
	seen := map[string]bool{}
	for _, tr := range traps {
		vb := varbindArgs(t, tr.Variables)
		snmp("snmptrap", append([]string{"-v", "2c", "-c", "e2e-community", trapAddr, "", tr.TrapOID}, vb...)...)
		want("2c/trap", tr.TrapOID)
		ent, gen, spec, conv := v1Form(tr.TrapOID)
		snmp("snmptrap", append([]string{"-v", "1", "-c", "e2e-community", trapAddr, ent, "", strconv.Itoa(gen), strconv.Itoa(spec), ""}, vb...)...)
		want("1/trap", conv)
		if seen[tr.TrapOID] {
			continue
		}
		seen[tr.TrapOID] = true
		snmp("snmptrap", append(append(append([]string{}, v3...), "-e", "0x80001f8804653265", trapAddr, "", tr.TrapOID), vb...)...)
		want("3/trap", tr.TrapOID)
		snmp("snmpinform", append([]string{"-v", "2c", "-c", "e2e-community", trapAddr, "", tr.TrapOID}, vb...)...)
		want("2c/inform", tr.TrapOID)
		snmp("snmpinform", append(append(append([]string{}, v3...), trapAddr, "", tr.TrapOID), vb...)...)
		want("3/inform", tr.TrapOID)
	}

	total := 0
	for _, n := range sent {
		total += n
	}
	for _, m := range wantTraps {
		for _, n := range m {
			total += n
		}
	}
	itest.Eventually(t, 60*time.Second, fmt.Sprintf("%d audit rows", total), func() bool {
		return e.count(`SELECT count(*) FROM event_audit_log`) >= total
	})
	rows, err := e.pool.Query(ctx, `SELECT matched_rule_id, raw_message FROM event_audit_log`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	gotSyslog := map[string]int{}
	gotTraps := map[string]map[string]int{}
	for rows.Next() {
		var rule int
		var raw string
		if err := rows.Scan(&rule, &raw); err != nil {
			t.Fatal(err)
		}
		var ev map[string]any
		if err := json.Unmarshal([]byte(raw), &ev); err != nil {
			t.Fatal(err)
		}
		switch ev["source_type"] {
		case "syslog":
			msg := fmt.Sprint(ev["message"])
			tok := ""
			for _, k := range syslogTokens {
				if strings.Contains(msg, k) {
					tok = k
				}
			}
			if rule != ruleOf[tok] {
				t.Errorf("syslog %q matched rule %d, want %d (%s)", msg, rule, ruleOf[tok], tok)
			}
			if parts := strings.Split(tok, "-"); tok != "" && ev["transport"] != parts[2] {
				t.Errorf("%s came over %v, want %s", tok, ev["transport"], parts[2])
			}
			gotSyslog[tok]++
		case "snmp_trap":
			oid := fmt.Sprint(ev["trap_oid"])
			if rule != ruleOf[oid] {
				t.Errorf("trap %s matched rule %d, want %d", oid, rule, ruleOf[oid])
			}
			kind := fmt.Sprint(ev["snmp_version"]) + "/" + fmt.Sprint(ev["pdu_type"])
			if gotTraps[kind] == nil {
				gotTraps[kind] = map[string]int{}
			}
			gotTraps[kind][oid]++
		default:
			t.Errorf("audit row of unknown origin: %s", raw)
		}
	}
	for tok, n := range sent {
		if gotSyslog[tok] != n {
			t.Errorf("%s: %d audit rows, want %d (rsyslog said: %s)", tok, gotSyslog[tok], n, rsOut.String())
		}
	}
	for kind, m := range wantTraps {
		for oid, n := range m {
			if gotTraps[kind][oid] != n {
				t.Errorf("%s %s: %d audit rows, want %d", kind, oid, gotTraps[kind][oid], n)
			}
		}
	}
}
