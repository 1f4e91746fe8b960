package dlqadmin

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/mutt-go/mutt/internal/config"
	"github.com/mutt-go/mutt/internal/queue"
)

// Redis is the Backend of the Redis mode: every DLQ is a stream.
type Redis struct {
	rdb redis.UniversalClient
}

var _ Backend = (*Redis)(nil)

// NewRedis returns the Backend over rdb.
func NewRedis(rdb redis.UniversalClient) *Redis { return &Redis{rdb: rdb} }

// List reads a page with XRANGE, from since's millisecond or past after.
func (r *Redis) List(ctx context.Context, key, after string, since time.Time, n int) ([]queue.Entry, error) {
	page, err := queue.Page(ctx, r.rdb, key, after, since, n)
	if err != nil {
		return nil, readError(key, err)
	}
	return page, nil
}

// Lookup reads the entry id (normalized) of key.
func (r *Redis) Lookup(ctx context.Context, key, id string) (queue.Entry, error) {
	got, err := queue.Range(ctx, r.rdb, key, id, 1)
	if err != nil {
		return queue.Entry{}, readError(key, err)
	}
	if len(got) == 0 || got[0].ID != id {
		return queue.Entry{}, &NoEntryError{ID: id, Key: key}
	}
	return got[0], nil
}

// Len is XLEN.
func (r *Redis) Len(ctx context.Context, key string) (int64, error) {
	n, err := r.rdb.XLen(ctx, key).Result()
	if err != nil {
		return 0, fmt.Errorf("measuring %s: %w", key, err)
	}
	return n, nil
}

// Replay runs queue.Replay: one script call per 500 entries.
func (r *Redis) Replay(ctx context.Context, dlq, target, dead string, maxReplays int, ids []string) (queue.ReplayResult, error) {
	return queue.Replay(ctx, r.rdb, dlq, target, dead, maxReplays, ids)
}

// Purge is XDEL.
func (r *Redis) Purge(ctx context.Context, key string, ids []string) (int64, error) {
	return queue.Delete(ctx, r.rdb, key, ids)
}

// Select is SelectFrom on the Redis streams of rdb.
func (s Selector) Select(ctx context.Context, rdb redis.UniversalClient, q Queue) ([]queue.Entry, int, error) {
	return s.SelectFrom(ctx, NewRedis(rdb), q)
}

// Lookup reads the entry id (normalized) of q from rdb.
func Lookup(ctx context.Context, rdb redis.UniversalClient, q Queue, id string) (queue.Entry, error) {
	return NewRedis(rdb).Lookup(ctx, q.Key, id)
}

// Replay is ReplayOn on the Redis streams of rdb.
func Replay(ctx context.Context, rdb redis.UniversalClient, k config.Keys, q Queue, p Plan) (Outcome, error) {
	return ReplayOn(ctx, NewRedis(rdb), k, q, p)
}

// readError adds what to do when a DLQ key holds something other than a
// stream, such as a list left behind by an older MUTT.
func readError(key string, err error) error {
	if strings.Contains(err.Error(), "WRONGTYPE") {
		return fmt.Errorf("%w: %s is not a Redis stream (a list from an older MUTT?); look at it with `redis-cli TYPE %s` and move or rename it",
			err, key, key)
	}
	return err
}
