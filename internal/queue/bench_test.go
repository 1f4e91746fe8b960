package queue_test

import (
	"context"
	"sync/atomic"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/mutt-go/mutt/internal/itest"
	"github.com/mutt-go/mutt/internal/queue"
)

// benchEvent is a typical normalised syslog event (about 300 bytes).
var benchEvent = []byte(`{"hostname":"wireless-controller-12.campus.example.com","timestamp":"2025-11-11T16:34:50.6449285Z",` +
	`"message":"%LINEPROTO-5-UPDOWN: Line protocol on Interface GigabitEthernet0/0/0, changed state to down",` +
	`"syslog_severity":4,"source_type":"cisco-ios","_event_id":"0193a5b0-7c1e-7d2a-9f00-3b1c2d4e5f60",` +
	`"_correlation_id":"0193a5b0-7c1e-7d2a-9f00-3b1c2d4e5f61"}`)

// BenchmarkProduceBatch100 appends batches of 100 events, as one ingest
// request of rsyslog's default batch size does; with -cpu above 1 the
// parallel variant shows group commit across concurrent requests.
func BenchmarkProduceBatch100(b *testing.B) {
	for _, parallel := range []bool{false, true} {
		name := "serial"
		if parallel {
			name = "parallel"
		}
		b.Run(name, func(b *testing.B) {
			rdb, prefix := itest.Redis(b)
			stream := prefix + ":ingest_queue"
			p := queue.NewProducer(rdb, stream, queue.ProducerOptions{MetricsPrefix: prefix + ":metrics"})
			defer p.Close()
			batch := make([][]byte, 100)
			for i := range batch {
				batch[i] = benchEvent
			}
			ctx := context.Background()
			// Keep the stream from growing without bound over long runs;
			// UNLINK frees it off the server's main thread.
			var produced atomic.Int64
			trim := func(b *testing.B) {
				if err := rdb.Unlink(ctx, stream).Err(); err != nil {
					b.Error(err)
				}
			}
			b.SetBytes(int64(len(benchEvent) * len(batch)))
			b.ResetTimer()
			if parallel {
				b.RunParallel(func(pb *testing.PB) {
					for pb.Next() {
						if _, err := p.Produce(ctx, batch); err != nil {
							b.Error(err)
							return
						}
						if produced.Add(1)%1000 == 0 {
							trim(b)
						}
					}
				})
			} else {
				for i := range b.N {
					if _, err := p.Produce(ctx, batch); err != nil {
						b.Fatal(err)
					}
					if i%1000 == 999 {
						b.StopTimer()
						trim(b)
						b.StartTimer()
					}
				}
			}
			b.StopTimer()
			b.ReportMetric(float64(b.N*len(batch))/b.Elapsed().Seconds(), "events/s")
			trim(b)
		})
	}
}

// BenchmarkReadAck256 reads and acknowledges batches of 256 messages, as
// an alerter worker does per iteration.
func BenchmarkReadAck256(b *testing.B) {
	const batch = 256
	ctx := context.Background()
	rdb, prefix := itest.Redis(b)
	s := queue.NewStream(rdb, prefix+":ingest_queue", "alerters")
	if err := s.EnsureGroup(ctx); err != nil {
		b.Fatal(err)
	}
	// refill appends what the next rounds read, in pipelined chunks, off the
	// clock.
	refill := func(rounds int) {
		_, err := rdb.Pipelined(ctx, func(pl redis.Pipeliner) error {
			for range rounds * batch {
				pl.XAdd(ctx, &redis.XAddArgs{Stream: s.Key(), Values: []any{queue.PayloadField, benchEvent}})
			}
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
	}
	const roundsPerRefill = 40
	ids := make([]string, 0, batch)
	b.ResetTimer()
	for i := range b.N {
		if i%roundsPerRefill == 0 {
			b.StopTimer()
			refill(roundsPerRefill)
			b.StartTimer()
		}
		msgs, err := s.Read(ctx, "bench", batch, -1)
		if err != nil {
			b.Fatal(err)
		}
		if len(msgs) != batch {
			b.Fatalf("read %d messages, want %d", len(msgs), batch)
		}
		ids = ids[:0]
		for _, m := range msgs {
			ids = append(ids, m.ID)
		}
		if err := s.Ack(ctx, ids...); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N*batch)/b.Elapsed().Seconds(), "msgs/s")
	if n, err := s.PendingCount(ctx); err != nil || n != 0 {
		b.Errorf("%d messages left pending (err %v)", n, err)
	}
}
