package main

import (
	"context"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/mutt-go/mutt/internal/itest"
)

// runScriptEnv is the environment of scripts/run.sh for one test: the
// built binary, its own database, key prefix, files and a free port for
// every listener.
func runScriptEnv(t *testing.T) (env []string, dir string, ports map[string]string) {
	t.Helper()
	_, prefix := itest.Redis(t)
	db := itest.RandomName("mutt_run_")
	t.Cleanup(func() {
		ctx := context.Background()
		conn, err := pgx.Connect(ctx, itest.AdminDatabaseURL())
		if err != nil {
			t.Error(err)
			return
		}
		defer conn.Close(ctx)
		if _, err := conn.Exec(ctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{db}.Sanitize()+" WITH (FORCE)"); err != nil {
			t.Error(err)
		}
	})
	dir = t.TempDir()
	env = append(os.Environ(), "MUTT_BIN="+muttBinary(t), "MUTT_DEMO_DB="+db, "MUTT_KEY_PREFIX="+prefix,
		"MUTT_ENV_FILE="+filepath.Join(dir, "mutt.env"), "MUTT_DEMO_DIR="+filepath.Join(dir, "demo"),
		"MUTT_DEMO_STREAM_RATE=5", "DATABASE_URL=", "REDIS_URL=", "MUTT_CONFIG=")
	ports = map[string]string{}
	names := []string{"SERVER_PORT_INGESTOR", "METRICS_PORT_ALERTER", "HEALTH_PORT_ALERTER", "METRICS_PORT_MOOG",
		"HEALTH_PORT_MOOG", "METRICS_PORT_REMEDIATION", "HEALTH_PORT_REMEDIATION", "SERVER_PORT_WEBUI", "MUTT_FAKE_MOOG_PORT",
		"MUTT_SYSLOG_PORT", "MUTT_SNMP_TRAP_PORT", "MUTT_SYSLOG_ADMIN_PORT", "MUTT_SNMP_ADMIN_PORT"}
	for i, port := range distinctFreePorts(t, len(names)) {
		ports[names[i]] = strconv.Itoa(port)
		env = append(env, names[i]+"="+ports[names[i]])
	}
	return env, dir, ports
}

// distinctFreePorts returns n loopback ports that were free, all different:
// every listener stays open until the last port is chosen, so the kernel
// cannot hand the same port out twice.
func distinctFreePorts(t *testing.T, n int) []int {
	t.Helper()
	ports := make([]int, 0, n)
	for range n {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
		ports = append(ports, ln.Addr().(*net.TCPAddr).Port)
	}
	return ports
}

// runScript starts scripts/run.sh from the repository root.
func runScript(t *testing.T, env []string) (*exec.Cmd, *itest.Buffer) {
	t.Helper()
	cmd := exec.Command("bash", "scripts/run.sh")
	cmd.Dir = filepath.Join("..", "..")
	cmd.Env = env
	return cmd, startCollecting(t, cmd, "scripts/run.sh")
}

// TestRunScript runs the demo as `make run` does, on free ports, on the
// embedded store (the default: nothing but Go needed) and on Redis +
// PostgreSQL: the banner names the configured ports, a second shell with
// nothing but mutt.env reaches the demo (mutt health) and takes and
// deep-verifies a first backup, and an interrupt stops everything cleanly
// with exit 0.
func TestRunScript(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the demo")
	}
	for _, tt := range []struct{ storage, deep string }{
		{"embedded", "deep sqlite: ok"},
		{"redis", "deep postgres: ok"},
	} {
		t.Run(tt.storage, func(t *testing.T) { testRunScript(t, tt.storage, tt.deep) })
	}
}

func testRunScript(t *testing.T, storage, deepOK string) {
	env, dir, ports := runScriptEnv(t)
	env = append(env, "MUTT_DEMO_STORAGE="+storage)
	cmd, out := runScript(t, env)
	itest.Eventually(t, 120*time.Second, "the demo's banner", func() bool {
		return strings.Contains(out.String(), "Ctrl-C stops everything")
	})
	for _, p := range []string{ports["SERVER_PORT_INGESTOR"], ports["SERVER_PORT_WEBUI"], ports["MUTT_FAKE_MOOG_PORT"]} {
		if !strings.Contains(out.String(), "127.0.0.1:"+p+"/") {
			t.Errorf("the banner does not show the configured port %s", p)
		}
	}
	envFile := filepath.Join(dir, "mutt.env")
	b, err := os.ReadFile(envFile)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(b), "API_KEY") {
		t.Errorf("mutt.env holds an API key:\n%s", b)
	}

	second := exec.Command("bash", "-c", `. "$1" && "$2" health && "$2" backup run && "$2" backup verify --deep`, "bash", envFile, muttBinary(t))
	second.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + dir}
	second.Dir = dir
	res, err := second.CombinedOutput()
	if err != nil || !strings.Contains(string(res), "overall: OK") || !strings.Contains(string(res), deepOK) {
		t.Errorf("a second shell with mutt.env: %v\n%s", err, res)
	}

	if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	if _, err := waitExit(t, cmd, 30*time.Second); err != nil {
		t.Errorf("run.sh after an interrupt: %v, want exit 0", err)
	}
	if !strings.Contains(out.String(), "MUTT stopped cleanly") {
		t.Errorf("no clean stop reported")
	}
}

// TestRunScriptPortTaken occupies the web UI's port: the demo must stop at
// once, naming the port and the variable that moves it.
func TestRunScriptPortTaken(t *testing.T) {
	env, _, ports := runScriptEnv(t)
	ln, err := net.Listen("tcp", "127.0.0.1:"+ports["SERVER_PORT_WEBUI"])
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	cmd, out := runScript(t, env)
	if _, err := waitExit(t, cmd, 10*time.Second); err == nil {
		t.Error("run.sh went on with a port taken")
	}
	want := "port " + ports["SERVER_PORT_WEBUI"] + " (SERVER_PORT_WEBUI) is taken"
	if !strings.Contains(out.String(), want) {
		t.Errorf("output lacks %q:\n%s", want, out.String())
	}
}
