package forward_test

import (
	"context"
	"io"
	"log/slog"
	"strconv"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/mutt-go/mutt/internal/forward"
	"github.com/mutt-go/mutt/internal/forward/forwardtest"
	"github.com/mutt-go/mutt/internal/itest"
	"github.com/mutt-go/mutt/internal/queue"
)

// TestRedisBackendConformance runs the Backend suite against Redis, under a
// key prefix of its own per subtest.
func TestRedisBackendConformance(t *testing.T) {
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	forwardtest.Run(t, func(t *testing.T) forwardtest.Target {
		rdb, prefix := itest.Redis(t)
		opts := forward.ForwarderOptions{
			AlertQueue: prefix + ":alert_queue", MoogDLQ: prefix + ":dlq:moog", DeadDLQ: prefix + ":dlq:dead",
			RetryKey: prefix + ":retry:moog",
		}
		return forwardtest.Target{
			Backend: forward.NewRedisBackend(rdb, opts, logger),
			Queues:  opts,
			Append: func(ctx context.Context, payloads ...[]byte) error {
				_, err := rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
					for _, pl := range payloads {
						p.XAdd(ctx, &redis.XAddArgs{Stream: opts.AlertQueue, Values: []any{queue.PayloadField, pl}})
					}
					return nil
				})
				return err
			},
			DeadLetters: func(ctx context.Context, dlq string) ([]queue.DeadLetter, error) {
				entries, err := queue.Range(ctx, rdb, dlq, "-", 1000)
				if err != nil {
					return nil, err
				}
				out := make([]queue.DeadLetter, len(entries))
				for i, e := range entries {
					out[i] = redisDeadLetter(e.Fields)
				}
				return out, nil
			},
			Restart: func(*testing.T) forward.Backend { return forward.NewRedisBackend(rdb, opts, logger) },
		}
	})
}

// redisDeadLetter reads a dead-letter stream entry back into its record.
func redisDeadLetter(f map[string]string) queue.DeadLetter {
	n := func(name string) int64 {
		v, _ := strconv.ParseInt(f[name], 10, 64)
		return v
	}
	return queue.DeadLetter{
		Payload: []byte(f[queue.PayloadField]), Reason: f["reason"], Error: f["error"], Source: f["source"],
		SourceID: f["source_id"], Deliveries: n("deliveries"), Attempts: n(queue.AttemptsField),
		Replays: n(queue.ReplaysField), Status: int(n("status")),
	}
}
