package alerter

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/mutt-go/mutt/internal/queue"
)

// RedisOptions name the Redis keys of a RedisBackend.
type RedisOptions struct {
	IngestQueue   string // stream consumed by the ConsumerGroup
	AlertQueue    string // stream of alerts for the forwarder
	DLQ           string // the alerter's dead-letter stream
	ReloadChannel string // pub/sub channel asking for a rule reload
}

// RedisBackend keeps the alerter's queues in Redis streams and its
// unhandled counters in Redis keys; audit rows go to PostgreSQL through the
// alerter's AuditWriter before each commit (at-least-once, made idempotent
// by the audit log's unique event id).
type RedisBackend struct {
	rdb     redis.UniversalClient
	opts    RedisOptions
	ingest  *queue.Stream
	alerts  *queue.Stream
	dlq     *queue.Stream
	channel string
}

// NewRedisBackend returns the Redis backend over rdb.
func NewRedisBackend(rdb redis.UniversalClient, opts RedisOptions) *RedisBackend {
	return &RedisBackend{
		rdb: rdb, opts: opts,
		ingest: queue.NewStream(rdb, opts.IngestQueue, ConsumerGroup),
		alerts: queue.NewStream(rdb, opts.AlertQueue, ""),
		dlq:    queue.NewStream(rdb, opts.DLQ, ""),
	}
}

// Prepare creates the consumer group if it does not exist.
func (b *RedisBackend) Prepare(ctx context.Context) error { return b.ingest.EnsureGroup(ctx) }

// Read reads new messages for consumer (XREADGROUP).
func (b *RedisBackend) Read(ctx context.Context, consumer string, n int, block time.Duration) ([]queue.Message, error) {
	return b.ingest.Read(ctx, consumer, n, block)
}

// RecoverPending hands process what consumer still holds from before a restart.
func (b *RedisBackend) RecoverPending(ctx context.Context, consumer string, n int,
	process func(context.Context, []queue.Message) error) (int, error) {
	return b.ingest.RecoverPending(ctx, consumer, n, process)
}

// ReclaimLoop takes over messages idle in stopped consumers (XAUTOCLAIM).
func (b *RedisBackend) ReclaimLoop(ctx context.Context, consumer string, idle time.Duration, n int, ready func() bool,
	reclaimed func(int), process func(context.Context, []queue.Message) error, logger *slog.Logger) {
	b.ingest.ReclaimLoop(ctx, consumer, idle, n, ready, reclaimed, process, logger)
}

// AuditInCommit is false: audit rows go to PostgreSQL before the commit.
func (b *RedisBackend) AuditInCommit() bool { return false }

// Depths measures the streams; it fails only when the alert queue, which
// load shedding needs, cannot be measured.
func (b *RedisBackend) Depths(ctx context.Context) (Depths, error) {
	d := Depths{Ingest: -1, Pending: -1, DLQ: -1}
	var err error
	if d.Alerts, err = b.alerts.Len(ctx); err != nil {
		return Depths{}, err
	}
	if n, err := b.ingest.Len(ctx); err == nil {
		d.Ingest = n
	}
	if n, err := b.ingest.PendingCount(ctx); err == nil {
		d.Pending = n
	}
	if n, err := b.dlq.Len(ctx); err == nil {
		d.DLQ = n
	}
	return d, nil
}

// ReloadRequests subscribes to the reload channel until ctx ends.
func (b *RedisBackend) ReloadRequests(ctx context.Context) <-chan struct{} {
	if b.opts.ReloadChannel == "" {
		return nil
	}
	sub := b.rdb.Subscribe(ctx, b.opts.ReloadChannel)
	out := make(chan struct{}, 1)
	go func() {
		defer sub.Close()
		msgs := sub.Channel()
		for {
			select {
			case <-ctx.Done():
				return
			case _, ok := <-msgs:
				if !ok {
					return
				}
				select {
				case out <- struct{}{}:
				default:
				}
			}
		}
	}()
	return out
}

// commitScript finishes a batch in one atomic step: acknowledge the
// messages, push their alerts, write their dead letters, count unhandled
// messages (pushing a meta-alert when a count reaches the threshold) and
// delete the acknowledged entries. If none of the messages was still
// pending (another consumer reclaimed and finished them) it does nothing,
// so a batch's effects happen once even when two consumers raced for it.
//
// Meta-alerts are built by the caller only for the events that reach the
// threshold. The script first works out, without changing anything, which
// unhandled events would reach it; if any of them came without its
// meta-alert (an empty argument), it returns {-1, their positions…} and
// does nothing else, and the caller sends the batch again with those
// meta-alerts. The dry run mirrors the counting below with one GET per
// signature: its count goes up by one per event from the counter's value
// until it reaches the threshold, after which it is triggered. It does not
// look at the triggered key: while that exists the counter does not (it was
// renamed into it), so the dry run can only ask for a meta-alert the
// counting then does not push, never miss one it does.
//
// KEYS: ingest stream, alert stream, DLQ stream, then a counter key and its
// "triggered" key per unhandled event.
// ARGV: group, n ids, ids…, n alerts, alerts…, n dead, (n fields,
// field/value pairs of queue.DeadLetter.Fields…)…, threshold, expiry,
// n unhandled, meta-alert or "" per unhandled event…
var commitScript = redis.NewScript(queue.LuaBatchFunctions + `
local i = 1
local group = ARGV[i]; i = i + 1
local nids = tonumber(ARGV[i]); i = i + 1
local first = i
local nalerts = tonumber(ARGV[first + nids])
local deadAt = first + nids + 1 + nalerts
local ndead = tonumber(ARGV[deadAt])
local unhAt = deadAt + 1
for k = 1, ndead do unhAt = unhAt + 1 + tonumber(ARGV[unhAt]) end
local threshold = tonumber(ARGV[unhAt])
local expiry = tonumber(ARGV[unhAt + 1])
local nunh = tonumber(ARGV[unhAt + 2])
local metaAt = unhAt + 3

local missing = {-1}
local counts = {}
for k = 1, nunh do
  local counter = KEYS[3 + 2 * k - 1]
  local n = counts[counter]
  if n == nil then
    n = tonumber(redis.call('GET', counter)) or 0
  end
  if n >= 0 then
    n = n + 1
    if n == threshold then
      if ARGV[metaAt + k - 1] == '' then missing[#missing + 1] = k end
      n = -1
    end
  end
  counts[counter] = n
end
if #missing > 1 then
  return missing
end

local acked = ack_ids(KEYS[1], group, first, nids)
if nids > 0 and acked == 0 then
  return {0, 0}
end
i = first + nids + 1
for k = 1, nalerts do
  redis.call('XADD', KEYS[2], '*', 'e', ARGV[i]); i = i + 1
end
i = deadAt + 1
for k = 1, ndead do
  local nf = tonumber(ARGV[i])
  redis.call('XADD', KEYS[3], '*', unpack(ARGV, i + 1, i + nf))
  i = i + 1 + nf
end
i = metaAt
local metas = 0
for k = 1, nunh do
  local counter = KEYS[3 + 2 * k - 1]
  local triggered = KEYS[3 + 2 * k]
  if redis.call('EXISTS', triggered) == 0 then
    local n = redis.call('INCR', counter)
    if n == 1 then redis.call('EXPIRE', counter, expiry) end
    if n == threshold then
      redis.call('RENAME', counter, triggered)
      redis.call('EXPIRE', triggered, expiry)
      redis.call('XADD', KEYS[2], '*', 'e', ARGV[i])
      metas = metas + 1
    end
  end
  i = i + 1
end
del_ids(KEYS[1], first, nids)
return {acked, metas}
`)

// Commit runs the commit script, building the meta-alerts it asks for and
// sending the batch again until it is done. Each round builds at least one
// more meta-alert, so there are at most as many rounds as unhandled events,
// plus one. b.Audit must be empty (AuditInCommit is false).
func (b *RedisBackend) Commit(ctx context.Context, c *Batch) (CommitResult, error) {
	if len(c.Audit) > 0 {
		return CommitResult{}, fmt.Errorf("committing batch of %d: the Redis backend writes no audit rows", len(c.IDs))
	}
	var metas [][]byte
	for range len(c.UnhandledKeys) + 1 {
		res, err := b.commitOnce(ctx, c, metas)
		if err != nil {
			return CommitResult{}, err
		}
		if len(res) == 2 && res[0] >= 0 {
			return CommitResult{Acked: res[0], MetaAlerts: res[1]}, nil
		}
		if len(res) < 2 || res[0] != -1 {
			return CommitResult{}, fmt.Errorf("committing batch: unexpected reply %v", res)
		}
		if metas == nil {
			metas = make([][]byte, len(c.UnhandledKeys))
		}
		for _, k := range res[1:] {
			if k < 1 || k > int64(len(c.UnhandledKeys)) {
				return CommitResult{}, fmt.Errorf("committing batch: meta-alert asked for unhandled event %d of %d", k, len(c.UnhandledKeys))
			}
			if metas[k-1] != nil {
				return CommitResult{}, fmt.Errorf("committing batch: meta-alert %d asked for again", k)
			}
			metas[k-1] = c.MetaAlert(int(k - 1))
		}
	}
	return CommitResult{}, fmt.Errorf("committing batch of %d: meta-alerts still missing after %d rounds", len(c.IDs), len(c.UnhandledKeys)+1)
}

// noMetaAlert stands for a meta-alert not built: the script tells an empty
// argument from any alert.
var noMetaAlert = []byte{}

func (b *RedisBackend) commitOnce(ctx context.Context, c *Batch, metas [][]byte) ([]int64, error) {
	keys := make([]string, 3, 3+2*len(c.UnhandledKeys))
	keys[0], keys[1], keys[2] = b.ingest.Key(), b.opts.AlertQueue, b.opts.DLQ
	failedAt := time.Now()
	var deadFields [][]any
	nDeadArgs := 0
	if len(c.Dead) > 0 {
		deadFields = make([][]any, len(c.Dead))
		for k, d := range c.Dead {
			deadFields[k] = d.Fields(failedAt)
			nDeadArgs += 1 + len(deadFields[k])
		}
	}
	n := 2 + len(c.IDs) + 1 + len(c.Alerts) + 1 + nDeadArgs + 3 + len(c.UnhandledKeys)
	args := make([]any, 0, n)
	args = append(args, b.ingest.Group(), len(c.IDs))
	for _, id := range c.IDs {
		args = append(args, id)
	}
	args = append(args, len(c.Alerts))
	for _, al := range c.Alerts {
		args = append(args, al)
	}
	args = append(args, len(c.Dead))
	for _, f := range deadFields {
		args = append(args, len(f))
		args = append(args, f...)
	}
	args = append(args, c.Threshold, int64(c.Expiry/time.Second), len(c.UnhandledKeys))
	for k, key := range c.UnhandledKeys {
		keys = append(keys, key, key+":triggered")
		if metas == nil || metas[k] == nil {
			args = append(args, noMetaAlert)
		} else {
			args = append(args, metas[k])
		}
	}
	res, err := commitScript.Run(ctx, b.rdb, keys, args...).Int64Slice()
	if err != nil {
		return nil, fmt.Errorf("committing batch of %d: %w", len(c.IDs), err)
	}
	return res, nil
}
