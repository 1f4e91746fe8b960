package main

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/mutt-go/mutt/internal/fakemoog"
	"github.com/mutt-go/mutt/internal/itest"
	"github.com/mutt-go/mutt/internal/sender"
)

// restartDeadline is how soon after a restarted role answers /health its
// own work in flight must be finished; the reclaim idle time (60 s here)
// is far beyond it, so only taking back its own pending entries passes.
const restartDeadline = 2 * time.Second

// restartMoogKey is the Moogsoft API key of the restart tests.
const restartMoogKey = "restart-test-moog-api-key"

// pendingCount is the size of a consumer group's pending entries list (0
// before the group exists).
func (e *env) pendingCount(stream, group string) int64 {
	e.t.Helper()
	p, err := e.rdb.XPending(context.Background(), e.prefix+":"+stream, group).Result()
	if err != nil && strings.HasPrefix(err.Error(), "NOGROUP") {
		return 0
	}
	if err != nil {
		e.t.Fatal(err)
	}
	return p.Count
}

// waitHealthy polls a role's /health until it answers 200.
func waitHealthy(t *testing.T, addr string) {
	t.Helper()
	itest.Eventually(t, 30*time.Second, "the restarted role answers /health", func() bool {
		res, err := http.Get("http://" + addr + "/health")
		if err != nil {
			return false
		}
		res.Body.Close()
		return res.StatusCode == http.StatusOK
	})
}

// killHard SIGKILLs cmd and reaps it.
func killHard(t *testing.T, cmd *exec.Cmd) {
	t.Helper()
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()
}

// TestRestartedAlerterFinishesItsOwnPendingAtOnce holds the only alerter's
// batch in flight (the audit table is locked, so the batch cannot commit),
// SIGKILLs it, and starts it again under the same consumer name: every
// event must be finished — audit rows exact, alerts queued, nothing
// pending — within restartDeadline, long before the reclaim idle time.
func TestRestartedAlerterFinishesItsOwnPendingAtOnce(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the binary")
	}
	e := newEnv(t)
	events := sender.Generate(200, 5)
	want := e.expect(events, 100)
	e.enqueue(events)

	ctx := context.Background()
	lock, err := e.pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = lock.Rollback(ctx) }()
	if _, err := lock.Exec(ctx, `LOCK TABLE event_audit_log IN ACCESS EXCLUSIVE MODE`); err != nil {
		t.Fatal(err)
	}
	health := "127.0.0.1:" + strconv.Itoa(itest.FreePort(t))
	vars := []string{"POD_NAME=solo", "ALERTER_BATCH_SIZE=500", "ALERTER_JANITOR_TIMEOUT=60", "ALERTER_HEALTH_LISTEN=" + health}
	first := startProcess(t, e, []string{"alerter"}, vars...)
	itest.Eventually(t, 30*time.Second, "the alerter holds every event in flight", func() bool {
		return e.pendingCount("ingest_queue", "alerter") == int64(len(events))
	})
	killHard(t, first)
	// The killed process's blocked insert must not finish the work for the
	// restarted one: end its sessions, then release the lock.
	if _, err := e.pool.Exec(ctx, `SELECT pg_terminate_backend(pid) FROM pg_stat_activity
		WHERE datname = current_database() AND application_name = 'mutt'`); err != nil {
		t.Fatal(err)
	}
	if err := lock.Rollback(ctx); err != nil {
		t.Fatal(err)
	}
	if n := e.count(`SELECT count(*) FROM event_audit_log`); n != 0 {
		t.Fatalf("%d audit rows before the restart; the test proves nothing", n)
	}

	start := time.Now()
	startProcess(t, e, []string{"alerter"}, vars...)
	waitHealthy(t, health)
	ready := time.Now()
	itest.Eventually(t, restartDeadline, "every in-flight event finished after the restart", func() bool {
		return e.pendingCount("ingest_queue", "alerter") == 0 && e.xlen("ingest_queue") == 0 &&
			e.count(`SELECT count(*) FROM event_audit_log`) == want.audit
	})
	t.Logf("finished %s after the restart (%s after /health answered)", time.Since(start).Round(time.Millisecond),
		time.Since(ready).Round(time.Millisecond))
	e.verify(want)
	e.verifyQueuedAlerts(want)
}

// TestRestartedForwarderDeliversItsOwnPendingAtOnce holds the only
// forwarder's alerts in flight (Moogsoft answers after a minute), SIGKILLs
// it, and starts it again under the same consumer name with Moogsoft
// answering at once: every alert must be delivered and nothing left
// pending within restartDeadline.
func TestRestartedForwarderDeliversItsOwnPendingAtOnce(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the binary")
	}
	rdb, prefix := itest.Redis(t)
	e := &env{t: t, rdb: rdb, prefix: prefix}
	fake := fakemoog.New(fakemoog.Options{APIKey: restartMoogKey})
	fake.SetMode(fakemoog.Mode{Delay: time.Minute})
	srv := httptest.NewServer(fake)
	defer srv.Close()
	const n = 50
	pushAlerts(t, rdb, prefix, n)
	health := "127.0.0.1:" + strconv.Itoa(itest.FreePort(t))
	vars := []string{"MOOG_WEBHOOK_URL=" + srv.URL + "/events", "MOOG_API_KEY=" + restartMoogKey, "MOOG_RATE_LIMIT=0",
		"MOOG_WEBHOOK_TIMEOUT=120", "FORWARDER_BATCH_SIZE=100", "FORWARDER_CONCURRENCY=100", "FORWARDER_BLOCK=0.2",
		"MOOG_JANITOR_TIMEOUT=60", "FORWARDER_METRICS_LISTEN=127.0.0.1:0", "FORWARDER_HEALTH_LISTEN=" + health,
		"POD_NAME=solo"}
	first := startProcess(t, e, []string{"forwarder"}, vars...)
	itest.Eventually(t, 30*time.Second, "the forwarder holds every alert in flight", func() bool {
		return e.pendingCount("alert_queue", "forwarder") == n
	})
	killHard(t, first)
	fake.SetMode(fakemoog.Mode{})
	if got := fake.Distinct(); got != 0 {
		t.Fatalf("%d alerts delivered before the restart; the test proves nothing", got)
	}

	start := time.Now()
	startProcess(t, e, []string{"forwarder"}, vars...)
	waitHealthy(t, health)
	ready := time.Now()
	itest.Eventually(t, restartDeadline, "every in-flight alert delivered after the restart", func() bool {
		return fake.Distinct() == n && e.pendingCount("alert_queue", "forwarder") == 0
	})
	t.Logf("delivered %s after the restart (%s after /health answered)", time.Since(start).Round(time.Millisecond),
		time.Since(ready).Round(time.Millisecond))
}
