package remediation

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/mutt-go/mutt/internal/obs"
	"github.com/mutt-go/mutt/internal/queue"
)

// Redis is the Queues of the Redis mode: every queue is a stream, every
// move one script call.
type Redis struct {
	rdb redis.UniversalClient
}

var _ Queues = (*Redis)(nil)

// NewRedis returns the Queues over rdb.
func NewRedis(rdb redis.UniversalClient) *Redis { return &Redis{rdb: rdb} }

// Lens measures the streams in one pipeline.
func (r *Redis) Lens(ctx context.Context, dlqs []string) ([]int64, error) {
	cmds := make([]*redis.IntCmd, len(dlqs))
	_, err := r.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, k := range dlqs {
			cmds[i] = p.XLen(ctx, k)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	out := make([]int64, len(dlqs))
	for i, c := range cmds {
		out[i] = c.Val()
	}
	return out, nil
}

// QueueLen is XLEN.
func (r *Redis) QueueLen(ctx context.Context, key string) (int64, error) {
	return r.rdb.XLen(ctx, key).Result()
}

// List reads a page with XRANGE.
func (r *Redis) List(ctx context.Context, key, after string, since time.Time, n int) ([]queue.Entry, error) {
	return queue.Page(ctx, r.rdb, key, after, since, n)
}

// Replay runs queue.Replay: one script call per 500 entries.
func (r *Redis) Replay(ctx context.Context, dlq, target, dead string, maxReplays int, ids []string) (queue.ReplayResult, error) {
	return queue.Replay(ctx, r.rdb, dlq, target, dead, maxReplays, ids)
}

// buryScript moves the named entries from a DLQ to the dead queue, keeping
// every field but recording the reason and detail given, the DLQ they came
// from (source, source_id; the original source becomes origin, origin_id)
// and when (failed_at). An ID no longer in the DLQ is skipped. Each entry
// moves atomically.
//
// KEYS: dlq, dead. ARGV: now (RFC 3339), then id, reason, detail per entry.
// Returns one flag per entry: 1 moved, 0 missing.
var buryScript = redis.NewScript(`
local flags = {}
local replaced = {e = true, reason = true, error = true, source = true, source_id = true,
  failed_at = true, origin = true, origin_id = true}
for i = 2, #ARGV, 3 do
  local id = ARGV[i]
  local got = redis.call('XRANGE', KEYS[1], id, id)
  if #got == 0 then
    flags[#flags + 1] = 0
  else
    local f = got[1][2]
    local orig = {}
    local out = {}
    for j = 1, #f, 2 do
      orig[f[j]] = f[j + 1]
      if not replaced[f[j]] then
        out[#out + 1] = f[j]
        out[#out + 1] = f[j + 1]
      end
    end
    local add = {'e', orig['e'] or '', 'reason', ARGV[i + 1], 'error', ARGV[i + 2],
      'source', KEYS[1], 'source_id', id, 'failed_at', ARGV[1]}
    if orig['source'] then
      add[#add + 1] = 'origin'
      add[#add + 1] = orig['source']
      add[#add + 1] = 'origin_id'
      add[#add + 1] = orig['source_id'] or ''
    end
    for _, v in ipairs(add) do out[#out + 1] = v end
    redis.call('XADD', KEYS[2], '*', unpack(out))
    redis.call('XDEL', KEYS[1], id)
    flags[#flags + 1] = 1
  end
end
return flags
`)

// Bury runs buryScript over every burial in one call.
func (r *Redis) Bury(ctx context.Context, dlq, dead string, burials []Burial) ([]bool, error) {
	args := make([]any, 0, 1+3*len(burials))
	args = append(args, time.Now().UTC().Format(time.RFC3339Nano))
	for _, b := range burials {
		args = append(args, b.ID, b.Reason, b.Detail)
	}
	res, err := buryScript.Run(ctx, r.rdb, []string{dlq, dead}, args...).Int64Slice()
	if err != nil {
		return nil, err
	}
	moved := make([]bool, len(res))
	for i, f := range res {
		moved[i] = f == 1
	}
	return moved, nil
}

// Health pings Redis.
func (r *Redis) Health() obs.Check {
	return obs.Check{
		Name: "redis",
		Check: func(ctx context.Context) error {
			if err := r.rdb.Ping(ctx).Err(); err != nil {
				return fmt.Errorf("pinging redis: %w", err)
			}
			return nil
		},
	}
}

// RedisBreakerOpen reads the shared circuit breaker's state from the key
// the forwarders write (the breaker prefix and ":state"): open while it
// holds OPEN, closed when it is absent. It is Options.BreakerOpen in the
// Redis mode.
func RedisBreakerOpen(rdb redis.UniversalClient, key string) func(context.Context) (bool, error) {
	return func(ctx context.Context) (bool, error) {
		v, err := rdb.Get(ctx, key).Result()
		if errors.Is(err, redis.Nil) {
			return false, nil
		}
		return v == "OPEN", err
	}
}
