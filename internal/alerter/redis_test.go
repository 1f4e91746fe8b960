package alerter_test

import (
	"testing"

	"github.com/mutt-go/mutt/internal/alerter"
	"github.com/mutt-go/mutt/internal/alerter/alertertest"
	"github.com/mutt-go/mutt/internal/itest"
	"github.com/mutt-go/mutt/internal/queue"
)

func TestRedisBackendConformance(t *testing.T) {
	alertertest.Run(t, func(t *testing.T) alertertest.Target {
		rdb, prefix := itest.Redis(t)
		opts := alerter.RedisOptions{IngestQueue: prefix + ":ingest_queue", AlertQueue: prefix + ":alert_queue",
			DLQ: prefix + ":dlq:alerter", ReloadChannel: prefix + ":alerter:reload"}
		entries := func(t *testing.T, key string) []map[string]any {
			msgs, err := rdb.XRange(t.Context(), key, "-", "+").Result()
			if err != nil {
				t.Fatal(err)
			}
			out := make([]map[string]any, len(msgs))
			for i, m := range msgs {
				out[i] = m.Values
			}
			return out
		}
		return alertertest.Target{
			Backend: alerter.NewRedisBackend(rdb, opts),
			Reopen:  func(*testing.T) alerter.Backend { return alerter.NewRedisBackend(rdb, opts) },
			Produce: func(t *testing.T, payloads ...[]byte) {
				p := queue.NewProducer(rdb, opts.IngestQueue, queue.ProducerOptions{MetricsPrefix: prefix + ":metrics"})
				defer p.Close()
				if _, err := p.Produce(t.Context(), payloads); err != nil {
					t.Fatal(err)
				}
			},
			Alerts: func(t *testing.T) [][]byte {
				var out [][]byte
				for _, v := range entries(t, opts.AlertQueue) {
					out = append(out, []byte(v[queue.PayloadField].(string)))
				}
				return out
			},
			Dead: func(t *testing.T) []queue.DeadLetter {
				var out []queue.DeadLetter
				for _, v := range entries(t, opts.DLQ) {
					out = append(out, queue.ParseDeadLetter(v))
				}
				return out
			},
		}
	})
}
