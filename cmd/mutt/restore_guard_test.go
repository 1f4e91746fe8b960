package main

import (
	"context"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/redis/go-redis/v9"

	"github.com/mutt-go/mutt/internal/heartbeat"
	"github.com/mutt-go/mutt/internal/itest"
)

// startCollecting starts cmd with its output collected in the returned
// buffer, shown when the test fails. When the test ends cmd gets SIGTERM
// (it may have children of its own to stop) and, after 30 s, SIGKILL.
func startCollecting(t *testing.T, cmd *exec.Cmd, name string) *itest.Buffer {
	t.Helper()
	out := &itest.Buffer{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		kill := time.AfterFunc(30*time.Second, func() { _ = cmd.Process.Kill() })
		_ = cmd.Wait()
		kill.Stop()
		if t.Failed() {
			t.Logf("%s output:\n%s", name, out.String())
		}
	})
	return out
}

// startServe runs the built binary's `mutt serve` with the test's
// environment plus extra.
func startServe(t *testing.T, args []string, extra ...string) (*exec.Cmd, *itest.Buffer) {
	t.Helper()
	cmd := exec.Command(muttBinary(t), append([]string{"serve"}, args...)...)
	cmd.Env = append(os.Environ(), extra...)
	return cmd, startCollecting(t, cmd, "mutt serve")
}

// TestRestoreRefusesWhileServeRuns starts a real `mutt serve`, waits until
// its queue consumers look idle to Redis (a blocking read that returns
// nothing does not refresh a consumer's idle time), and checks that
// `mutt restore postgres latest --yes` still refuses, naming the running
// roles, their host and pid, and changes nothing; after a clean stop the
// heartbeats are gone.
func TestRestoreRefusesWhileServeRuns(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the binary")
	}
	e := newBackupEnv(t)
	mustRun(t, "backup", "run", "--components", "postgres", "--yes")
	ctx := t.Context()
	dsn := os.Getenv("DATABASE_URL")
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	// A change after the backup: a restore would undo it.
	if _, err := conn.Exec(ctx, `INSERT INTO development_hosts VALUES ('added-after-backup')`); err != nil {
		t.Fatal(err)
	}

	serve, _ := startServe(t, []string{"--no-migrate"},
		"INGEST_API_KEY=restore-guard-ingest-key", "MOOG_API_KEY=restore-guard-moog-key",
		"MOOG_WEBHOOK_URL=http://127.0.0.1:1/events", "LOG_LEVEL=warn", "INGEST_LISTEN=127.0.0.1:0",
		"ALERTER_METRICS_LISTEN=127.0.0.1:0", "ALERTER_HEALTH_LISTEN=127.0.0.1:0",
		"FORWARDER_METRICS_LISTEN=127.0.0.1:0", "FORWARDER_HEALTH_LISTEN=127.0.0.1:0",
		"REMEDIATION_METRICS_LISTEN=127.0.0.1:0", "REMEDIATION_HEALTH_LISTEN=127.0.0.1:0")
	rdb := redis.NewClient(mustParseRedisURL(t))
	defer rdb.Close()
	itest.Eventually(t, 30*time.Second, "the alerter's consumers look idle to Redis", func() bool {
		cs, err := rdb.XInfoConsumers(ctx, e.prefix+":ingest_queue", "alerter").Result()
		if err != nil || len(cs) == 0 {
			return false
		}
		for _, c := range cs {
			if c.Idle < liveConsumerIdle {
				return false
			}
		}
		return true
	})

	code, out, errOut := runBackupCmd(t, "restore", "postgres", "latest", "--yes")
	pid := "pid " + strconv.Itoa(serve.Process.Pid)
	if code != exitUsage || !strings.Contains(errOut, "alerter on ") || !strings.Contains(errOut, pid) ||
		!strings.Contains(errOut, "--force") {
		t.Errorf("restore beside a running serve: exit %d, want %d naming the alerter, %s and --force\nstdout:\n%s\nstderr:\n%s",
			code, exitUsage, pid, out, errOut)
	}
	var n int
	if err := conn.QueryRow(ctx, `SELECT count(*) FROM development_hosts WHERE hostname = 'added-after-backup'`).Scan(&n); err != nil || n != 1 {
		t.Errorf("the refused restore changed the database (row count %d, %v)", n, err)
	}

	if err := serve.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if _, err := waitExit(t, serve, 30*time.Second); err != nil {
		t.Errorf("serve exited with %v after SIGTERM", err)
	}
	beats, err := heartbeat.Live(ctx, rdb, e.prefix)
	if err != nil || len(beats) != 0 {
		t.Errorf("heartbeats after a clean stop: %v, %v; want none", beats, err)
	}
}

// mustParseRedisURL parses the tests' Redis URL.
func mustParseRedisURL(t *testing.T) *redis.Options {
	t.Helper()
	opts, err := redis.ParseURL(itest.RedisURL())
	if err != nil {
		t.Fatal(err)
	}
	return opts
}
