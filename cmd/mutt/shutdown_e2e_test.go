package main

import (
	"context"
	"net/http/httptest"
	"os/exec"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/mutt-go/mutt/internal/fakemoog"
	"github.com/mutt-go/mutt/internal/itest"
	"github.com/mutt-go/mutt/internal/queue"
)

// pushAlerts appends n alerts with distinct event ids to the alert queue.
func pushAlerts(t *testing.T, rdb *redis.Client, prefix string, n int) {
	t.Helper()
	ctx := context.Background()
	_, err := rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i := range n {
			p.XAdd(ctx, &redis.XAddArgs{Stream: prefix + ":alert_queue", Values: []any{queue.PayloadField,
				`{"hostname":"h","team_assignment":"T","severity":"Warning","message_body":"m","raw_json":{},"_correlation_id":"c","event_id":"e-` + strconv.Itoa(i) + `"}`}})
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// waitExit waits for cmd to exit and returns how long that took.
func waitExit(t *testing.T, cmd *exec.Cmd, limit time.Duration) (time.Duration, error) {
	t.Helper()
	start := time.Now()
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		return time.Since(start), err
	case <-time.After(limit):
		t.Fatalf("process still running %s after the signal", limit)
		return 0, nil
	}
}

// TestForwarderShutdown checks both ways of stopping a forwarder with
// alerts in flight: one SIGTERM finishes them (nothing sent twice), a
// second SIGTERM exits at once (nothing lost: the work stays pending).
func TestForwarderShutdown(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the binary")
	}
	tests := []struct {
		name     string
		signals  int
		maxExit  time.Duration
		wantDups bool
	}{
		{name: "one SIGTERM drains", signals: 1, maxExit: 10 * time.Second},
		{name: "second SIGTERM exits at once", signals: 2, maxExit: time.Second, wantDups: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rdb, prefix := itest.Redis(t)
			fake := fakemoog.New(fakemoog.Options{APIKey: "k"})
			fake.SetMode(fakemoog.Mode{Delay: 400 * time.Millisecond})
			srv := httptest.NewServer(fake)
			defer srv.Close()
			const n = 200
			pushAlerts(t, rdb, prefix, n)
			e := &env{t: t, rdb: rdb, prefix: prefix}
			vars := []string{"MOOG_WEBHOOK_URL=" + srv.URL + "/events", "MOOG_API_KEY=k", "MOOG_RATE_LIMIT=0",
				"FORWARDER_BATCH_SIZE=20", "FORWARDER_CONCURRENCY=10", "FORWARDER_BLOCK=0.2", "MOOG_JANITOR_TIMEOUT=1",
				"FORWARDER_METRICS_LISTEN=127.0.0.1:0", "FORWARDER_HEALTH_LISTEN=127.0.0.1:0"}
			first := startProcess(t, e, []string{"forwarder"}, append(vars, "POD_NAME=first")...)
			itest.Eventually(t, 20*time.Second, "deliveries under way", func() bool { return fake.Count() > 0 })
			for range tt.signals {
				if err := first.Process.Signal(syscall.SIGTERM); err != nil {
					t.Fatal(err)
				}
				// Space the signals so the second arrives after the first was handled;
				// this orders two signals, it does not wait for any work.
				time.Sleep(50 * time.Millisecond)
			}
			took, err := waitExit(t, first, tt.maxExit)
			if tt.signals == 1 && err != nil {
				t.Errorf("graceful stop exited with %v", err)
			}
			t.Logf("exited %s after the last signal (%v)", took, err)
			if tt.signals == 1 {
				pending, err := rdb.XPending(context.Background(), prefix+":alert_queue", "forwarder").Result()
				if err != nil {
					t.Fatal(err)
				}
				if pending.Count != 0 {
					t.Errorf("%d alerts left pending after a graceful stop", pending.Count)
				}
			}
			fake.SetMode(fakemoog.Mode{})
			startProcess(t, e, []string{"forwarder"}, append(vars, "POD_NAME=second")...)
			itest.Eventually(t, 60*time.Second, "every alert delivered after the restart", func() bool { return fake.Distinct() == n })
			if dups := fake.Count() - fake.Distinct(); dups > 0 && !tt.wantDups {
				t.Errorf("%d alerts sent twice after a graceful stop", dups)
			}
		})
	}
}
