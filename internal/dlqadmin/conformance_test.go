package dlqadmin_test

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/mutt-go/mutt/internal/config"
	"github.com/mutt-go/mutt/internal/dlqadmin"
	"github.com/mutt-go/mutt/internal/dlqadmin/dlqadmintest"
	"github.com/mutt-go/mutt/internal/itest"
	"github.com/mutt-go/mutt/internal/queue"
	"github.com/mutt-go/mutt/internal/store"
)

// redisBackend is the Redis backend with its PostgreSQL audit log.
type redisBackend struct {
	*dlqadmin.Redis
	st   *store.Store
	rdb  *redis.Client
	keys config.Keys
}

func (b *redisBackend) Keys() config.Keys { return b.keys }

func (b *redisBackend) RecordConfigChange(ctx context.Context, c store.ConfigChange) (int64, error) {
	return b.st.RecordConfigChange(ctx, c)
}

func (b *redisBackend) SearchConfigAudit(ctx context.Context, f store.ConfigAuditFilter) ([]store.ConfigAuditRow, int64, error) {
	return b.st.SearchConfigAudit(ctx, f)
}

func (b *redisBackend) Park(ctx context.Context, key string, letters ...queue.DeadLetter) error {
	for _, d := range letters {
		if err := b.rdb.XAdd(ctx, &redis.XAddArgs{Stream: key, Values: d.Fields(time.Now())}).Err(); err != nil {
			return err
		}
	}
	return nil
}

func (b *redisBackend) Queued(ctx context.Context, key string) ([]queue.Message, error) {
	entries, err := queue.Range(ctx, b.rdb, key, "-", 10_000)
	if err != nil {
		return nil, err
	}
	out := make([]queue.Message, len(entries))
	for i, e := range entries {
		out[i] = queue.Message{ID: e.ID, Payload: e.Payload()}
		out[i].Attempts = intField(e, queue.AttemptsField)
		out[i].Replays = intField(e, queue.ReplaysField)
	}
	return out, nil
}

// intField reads a counter field, absent meaning 0.
func intField(e queue.Entry, name string) int64 {
	n, _ := strconv.ParseInt(e.Fields[name], 10, 64)
	return n
}

func TestRedisConformance(t *testing.T) {
	dlqadmintest.Run(t, func(t *testing.T) dlqadmintest.Backend {
		rdb, prefix := itest.Redis(t)
		pool, _ := itest.Pool(t)
		if err := store.Migrate(t.Context(), pool, nil); err != nil {
			t.Fatalf("migrating: %v", err)
		}
		var c config.Config
		c.KeyPrefix = prefix
		c.Finish()
		return &redisBackend{Redis: dlqadmin.NewRedis(rdb), st: store.New(pool), rdb: rdb, keys: c.Keys}
	})
}
