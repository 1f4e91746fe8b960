package roles

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/mutt-go/mutt/internal/embedded/sqlstore"
	"github.com/mutt-go/mutt/internal/forward"
	"github.com/mutt-go/mutt/internal/forward/forwardtest"
	"github.com/mutt-go/mutt/internal/itest"
	"github.com/mutt-go/mutt/internal/queue"
)

// openForward opens a database in t.TempDir() and names the forwarder's
// queues as the default configuration does.
func openForward(t *testing.T) (*sqlstore.DB, forward.ForwarderOptions) {
	t.Helper()
	db, err := sqlstore.Open(context.Background(), filepath.Join(t.TempDir(), "mutt.db"))
	if err != nil {
		t.Fatalf("opening the database: %v", err)
	}
	t.Cleanup(func() { _ = db.Close() })
	return db, forward.ForwarderOptions{
		AlertQueue: "mutt:alert_queue", MoogDLQ: "mutt:dlq:moog", DeadDLQ: "mutt:dlq:dead", RetryKey: "mutt:retry:moog",
	}
}

// TestForwardBackendConformance runs the forwarder's Backend suite against
// SQLite, a database file in t.TempDir() per subtest.
func TestForwardBackendConformance(t *testing.T) {
	forwardtest.Run(t, func(t *testing.T) forwardtest.Target {
		db, opts := openForward(t)
		return forwardtest.Target{
			Backend: NewForwardBackend(db, opts),
			Queues:  opts,
			Append: func(ctx context.Context, payloads ...[]byte) error {
				return db.Append(ctx, opts.AlertQueue, payloads)
			},
			DeadLetters: func(ctx context.Context, dlq string) ([]queue.DeadLetter, error) {
				stored, err := db.DeadLetters(ctx, dlq, 1000)
				if err != nil {
					return nil, err
				}
				out := make([]queue.DeadLetter, len(stored))
				for i, d := range stored {
					out[i] = QueueDeadLetter(d)
				}
				return out, nil
			},
			Restart: func(*testing.T) forward.Backend { return NewForwardBackend(db, opts) },
		}
	})
}

// retryOnce answers each alert's first attempt with Retry and delivers the
// second, recording what it delivered.
type retryOnce struct {
	mu        sync.Mutex
	delivered map[string]int
}

func (s *retryOnce) Send(_ context.Context, alerts []forward.Alert) []forward.Result {
	res := make([]forward.Result, len(alerts))
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, a := range alerts {
		if a.Attempt == 1 {
			res[i] = forward.Result{Outcome: forward.Retry, RetryAfter: 5 * time.Millisecond, Reason: "http_5xx"}
			continue
		}
		s.delivered[string(a.Payload)]++
	}
	return res
}

func (s *retryOnce) count() (alerts, deliveries int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, n := range s.delivered {
		deliveries += n
	}
	return len(s.delivered), deliveries
}

// TestForwarderOnSQLite runs a whole forwarder on the embedded backend:
// every alert goes through a retry and the schedule and is delivered once.
func TestForwarderOnSQLite(t *testing.T) {
	ctx := context.Background()
	db, opts := openForward(t)
	opts.PodName, opts.Workers, opts.BatchSize, opts.Block, opts.ReclaimIdle = "fw", 2, 16, 50*time.Millisecond, time.Minute
	const n = 100
	payloads := make([][]byte, n)
	for i := range payloads {
		payloads[i] = fmt.Appendf(nil, `{"alert":%d}`, i)
	}
	if err := db.Append(ctx, opts.AlertQueue, payloads); err != nil {
		t.Fatal(err)
	}
	sender := &retryOnce{delivered: map[string]int{}}
	backend := NewForwardBackend(db, opts)
	f := forward.New(opts, backend, sender, prometheus.NewRegistry(), slog.New(slog.NewTextHandler(io.Discard, nil)))
	itest.RunUntilCleanup(t, f.Run)
	itest.Eventually(t, 20*time.Second, "every alert delivered", func() bool {
		alerts, _ := sender.count()
		return alerts == n
	})
	itest.Eventually(t, 5*time.Second, "queue and schedule empty", func() bool {
		q, _ := db.Len(ctx, opts.AlertQueue)
		s, _ := db.ScheduleLen(ctx, opts.RetryKey)
		return q == 0 && s == 0
	})
	if _, deliveries := sender.count(); deliveries != n {
		t.Errorf("%d deliveries of %d alerts; want each once", deliveries, n)
	}
	if d, err := db.DeadLetterCount(ctx, opts.MoogDLQ); err != nil || d != 0 {
		t.Errorf("Moogsoft DLQ holds %d (%v); want 0", d, err)
	}
}
