package forward

import (
	"context"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"

	"github.com/mutt-go/mutt/internal/itest"
	"github.com/mutt-go/mutt/internal/queue"
)

// countingSender delivers every alert at once and counts them.
type countingSender struct{ n atomic.Int64 }

func (s *countingSender) Send(_ context.Context, alerts []Alert) []Result {
	s.n.Add(int64(len(alerts)))
	return make([]Result, len(alerts))
}

// BenchmarkForwarderDrain measures the forwarder's own path on Redis (read
// a batch, deliver it to a Sender that accepts everything, commit it) by
// draining 512 queued alerts per iteration with two workers.
func BenchmarkForwarderDrain(b *testing.B) {
	rdb, prefix := itest.Redis(b)
	alert, err := os.ReadFile(filepath.Join("testdata", "handled.alert.json"))
	if err != nil {
		b.Fatal(err)
	}
	opts := ForwarderOptions{
		PodName: "bench", AlertQueue: prefix + ":alert_queue", MoogDLQ: prefix + ":dlq:moog", DeadDLQ: prefix + ":dlq:dead",
		RetryKey: prefix + ":retry:moog", Workers: 2, BatchSize: 64, Block: 50 * time.Millisecond, ReclaimIdle: time.Minute,
	}
	sender := &countingSender{}
	f := NewForwarder(opts, rdb, sender, prometheus.NewRegistry(), slog.New(slog.NewTextHandler(io.Discard, nil)))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = f.Run(ctx) }()
	defer func() { cancel(); <-done }()
	const perIter = 512
	var want int64
	start := time.Now()
	for b.Loop() {
		_, err := rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
			for range perIter {
				p.XAdd(ctx, &redis.XAddArgs{Stream: opts.AlertQueue, Values: []any{queue.PayloadField, alert}})
			}
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
		want += perIter
		deadline := time.Now().Add(30 * time.Second)
		for sender.n.Load() < want {
			if time.Now().After(deadline) {
				b.Fatalf("delivered %d of %d", sender.n.Load(), want)
			}
			time.Sleep(100 * time.Microsecond)
		}
	}
	b.ReportMetric(float64(want)/time.Since(start).Seconds(), "alerts/s")
}
