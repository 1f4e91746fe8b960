package main

import (
	"context"
	"net/http/httptest"
	"sort"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/mutt-go/mutt/internal/fakemoog"
	"github.com/mutt-go/mutt/internal/itest"
	"github.com/mutt-go/mutt/internal/queue"
)

// maxInWindow returns the most timestamps that fall in any window of width w.
func maxInWindow(times []time.Time, w time.Duration) int {
	sort.Slice(times, func(i, j int) bool { return times[i].Before(times[j]) })
	best, lo := 0, 0
	for hi := range times {
		for times[hi].Sub(times[lo]) >= w {
			lo++
		}
		best = max(best, hi-lo+1)
	}
	return best
}

// TestThreeForwardersShareOneRateLimitAndSurviveAKill sends 20,000 alerts
// through three forwarder processes limited together to 500/s, kills one
// of them with SIGKILL on the way, and checks that every alert arrived,
// duplicates stay under 0.1 % and no second saw more than 505.
func TestThreeForwardersShareOneRateLimitAndSurviveAKill(t *testing.T) {
	if testing.Short() {
		t.Skip("takes about 45 s")
	}
	rdb, prefix := itest.Redis(t)
	fake := fakemoog.New(fakemoog.Options{APIKey: "moog-key"})
	srv := httptest.NewServer(fake)
	defer srv.Close()
	const n = 20_000
	ctx := context.Background()
	for i := 0; i < n; i += 1000 {
		_, err := rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
			for j := i; j < i+1000; j++ {
				p.XAdd(ctx, &redis.XAddArgs{Stream: prefix + ":alert_queue", Values: []any{queue.PayloadField,
					`{"hostname":"h","team_assignment":"NetOps","severity":"Warning","message_body":"m","raw_json":{},"_correlation_id":"c","event_id":"id-` + strconv.Itoa(j) + `"}`}})
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	e := &env{t: t, rdb: rdb, prefix: prefix}
	vars := []string{
		"MOOG_WEBHOOK_URL=" + srv.URL + "/events", "MOOG_API_KEY=moog-key", "MOOG_RATE_LIMIT=500", "MOOG_RATE_PERIOD=1",
		"MOOG_JANITOR_TIMEOUT=2", "FORWARDER_BLOCK=0.2",
		"FORWARDER_METRICS_LISTEN=127.0.0.1:0", "FORWARDER_HEALTH_LISTEN=127.0.0.1:0",
	}
	first := startProcess(t, e, []string{"forwarder"}, append(vars, "POD_NAME=fw1")...)
	startProcess(t, e, []string{"forwarder"}, append(vars, "POD_NAME=fw2")...)
	startProcess(t, e, []string{"forwarder"}, append(vars, "POD_NAME=fw3")...)
	itest.Eventually(t, 60*time.Second, "a third delivered", func() bool { return fake.Distinct() > n/3 })
	if err := first.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	itest.Eventually(t, 120*time.Second, "every alert delivered", func() bool { return fake.Distinct() == n })
	dups := fake.Count() - fake.Distinct()
	if dups*1000 >= n {
		t.Errorf("%d duplicates of %d, want under 0.1 %%", dups, n)
	}
	if peak := maxInWindow(fake.Times(), time.Second); peak > 505 {
		t.Errorf("%d alerts arrived within one second, limit 500 (+1 %%)", peak)
	}
	times := fake.Times()
	sort.Slice(times, func(i, j int) bool { return times[i].Before(times[j]) })
	t.Logf("%d received, %d distinct, %d duplicates, first to last %s", fake.Count(), fake.Distinct(), dups, times[len(times)-1].Sub(times[0]))
	for _, q := range []string{"dlq:moog", "dlq:dead"} {
		if l := e.xlen(q); l != 0 {
			t.Errorf("%s holds %d", q, l)
		}
	}
}
