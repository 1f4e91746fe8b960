package forward

import (
	"context"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/mutt-go/mutt/internal/queue"
)

// NewRedisBackend returns the forwarder's storage on Redis under the keys
// of opts: the alert stream read by ConsumerGroup, the schedule sorted set
// and the two dead-letter streams. logger (nil: none) receives what the
// reclaimer's housekeeping (pruning consumer names) has to say.
func NewRedisBackend(rdb redis.UniversalClient, opts ForwarderOptions, logger *slog.Logger) Backend {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return Backend{
		Alerts: &redisSource{stream: queue.NewStream(rdb, opts.AlertQueue, ConsumerGroup), logger: logger},
		Commits: &redisCommitter{rdb: rdb,
			keys: []string{opts.AlertQueue, opts.RetryKey, opts.MoogDLQ, opts.DeadDLQ}},
		Schedule: queue.NewSchedule(rdb, opts.RetryKey, opts.AlertQueue),
		MoogDLQ:  queue.NewStream(rdb, opts.MoogDLQ, ""),
	}
}

// redisSource is the alert stream with its consumer group.
type redisSource struct {
	stream *queue.Stream
	logger *slog.Logger

	mu        sync.Mutex
	lastPrune time.Time
}

var _ AlertSource = (*redisSource)(nil)

func (s *redisSource) Prepare(ctx context.Context) error { return s.stream.EnsureGroup(ctx) }

func (s *redisSource) Read(ctx context.Context, consumer string, n int, block time.Duration) ([]queue.Message, error) {
	return s.stream.Read(ctx, consumer, n, block)
}

func (s *redisSource) Recover(ctx context.Context, consumer string, n int,
	process func(context.Context, []queue.Message) error) (int, error) {
	return s.stream.RecoverPending(ctx, consumer, n, process)
}

// Reclaim is XAUTOCLAIM; every ten minutes it first deletes the consumer
// names idle for an hour with nothing pending, left by stopped processes.
func (s *redisSource) Reclaim(ctx context.Context, consumer string, minIdle time.Duration, n int) ([]queue.Message, error) {
	s.mu.Lock()
	prune := time.Since(s.lastPrune) > 10*time.Minute
	if prune {
		s.lastPrune = time.Now()
	}
	s.mu.Unlock()
	if prune {
		if k, err := s.stream.PruneConsumers(ctx, time.Hour); err != nil && ctx.Err() == nil {
			s.logger.Warn("pruning idle consumers", "error", err)
		} else if k > 0 {
			s.logger.Info("pruned idle consumers", "count", k)
		}
	}
	return s.stream.Reclaim(ctx, consumer, minIdle, n)
}

func (s *redisSource) Touch(ctx context.Context, consumer string, ids []string) error {
	return s.stream.Touch(ctx, consumer, ids...)
}

func (s *redisSource) Len(ctx context.Context) (int64, error) { return s.stream.Len(ctx) }

func (s *redisSource) PendingCount(ctx context.Context) (int64, error) {
	return s.stream.PendingCount(ctx)
}

// forwardCommitScript finishes a delivery batch atomically: acknowledge the
// entries, put rescheduled alerts in the schedule, write dead letters to the
// Moogsoft DLQ or the terminal queue, and delete the entries. When none of
// the entries was still pending (another forwarder finished them), nothing
// else happens.
//
// KEYS: alert stream, schedule, Moogsoft DLQ, terminal DLQ.
// ARGV: group, n ids, ids…, n scheduled, (score, member)…,
// n dlq, (n fields, fields…)…, n dead, (n fields, fields…)…
// Returns the number of entries acknowledged.
var forwardCommitScript = redis.NewScript(queue.LuaBatchFunctions + `
local i = 1
local group = ARGV[i]; i = i + 1
local nids = tonumber(ARGV[i]); i = i + 1
local first = i
local acked = ack_ids(KEYS[1], group, first, nids)
i = first + nids
if nids > 0 and acked == 0 then return 0 end
local nsched = tonumber(ARGV[i]); i = i + 1
for k = 1, nsched do
  redis.call('ZADD', KEYS[2], ARGV[i], ARGV[i + 1]); i = i + 2
end
for target = 3, 4 do
  local n = tonumber(ARGV[i]); i = i + 1
  for k = 1, n do
    local nf = tonumber(ARGV[i]); i = i + 1
    local fields = {}
    for f = 0, nf - 1 do fields[#fields + 1] = ARGV[i + f] end
    redis.call('XADD', KEYS[target], '*', unpack(fields))
    i = i + nf
  end
end
del_ids(KEYS[1], first, nids)
return acked
`)

// redisCommitter runs forwardCommitScript.
type redisCommitter struct {
	rdb  redis.UniversalClient
	keys []string // alert stream, schedule, Moogsoft DLQ, terminal DLQ
}

var _ Committer = (*redisCommitter)(nil)

func (r *redisCommitter) Commit(ctx context.Context, c DeliveryCommit) (int64, error) {
	args := make([]any, 0, 4+len(c.IDs)+2*len(c.Schedule)+24*(len(c.DLQ)+len(c.Dead)))
	args = append(args, ConsumerGroup, len(c.IDs))
	for _, id := range c.IDs {
		args = append(args, id)
	}
	args = append(args, len(c.Schedule))
	for _, s := range c.Schedule {
		args = append(args, strconv.FormatInt(s.Due.UnixMilli(), 10), queue.Member(s.Attempts, s.Replays, s.ID, s.Payload))
	}
	now := time.Now()
	for _, list := range [][]queue.DeadLetter{c.DLQ, c.Dead} {
		args = append(args, len(list))
		for _, d := range list {
			fields := d.Fields(now)
			args = append(args, len(fields))
			args = append(args, fields...)
		}
	}
	acked, err := forwardCommitScript.Run(ctx, r.rdb, r.keys, args...).Int64()
	if err != nil {
		return 0, fmt.Errorf("committing delivery batch of %d: %w", len(c.IDs), err)
	}
	return acked, nil
}

// gcraScript takes up to n tokens from the shared limit in one step. It is a
// GCRA (a token bucket kept as one "theoretical arrival time"): tokens are
// issued one every period/limit, and at most burst of them can pile up while
// nobody takes them. Spacing tokens evenly keeps every window of one period
// at the limit plus the burst, where a window log lets a whole period's
// worth through at each window boundary.
//
// Time is the Redis server's, in microseconds, so forwarder clocks do not
// matter. The key holds the arrival time as a decimal string and expires
// once it is in the past (a missing key and a past time both mean a full
// bucket). A key of another type, such as the sorted set an older
// forwarder kept under the same name, is replaced rather than failing every
// check.
//
// KEYS: the limit key. ARGV: limit, period in µs, n wanted, burst.
// Returns {granted, µs until the next token when not all were granted}.
var gcraScript = redis.NewScript(`
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local limit = tonumber(ARGV[1])
local period = tonumber(ARGV[2])
local n = tonumber(ARGV[3])
local burst = tonumber(ARGV[4])
local interval = period / limit
local stored = redis.pcall('GET', KEYS[1])
if type(stored) == 'table' and stored.err then
  redis.call('DEL', KEYS[1])
  stored = false
end
local tat = tonumber(stored)
if tat == nil or tat < now then tat = now end
local avail = math.floor((now - tat) / interval + burst + 1e-9)
if avail < 0 then avail = 0 end
local granted = math.min(n, avail)
if granted > 0 then
  tat = tat + granted * interval
  redis.call('SET', KEYS[1], string.format('%.1f', tat), 'PX', math.ceil((tat - now) / 1000) + 1000)
end
local wait = 0
if granted < n then
  wait = math.ceil(tat - (burst - 1) * interval - now)
  if wait < 1 then wait = 1 end
end
return {granted, wait}
`)

// RedisBucket is the TokenBucket every forwarder shares through one Redis
// key, taken with gcraScript.
type RedisBucket struct {
	rdb  redis.UniversalClient
	keys []string
}

var _ TokenBucket = (*RedisBucket)(nil)

// NewRedisBucket returns the shared bucket kept under key.
func NewRedisBucket(rdb redis.UniversalClient, key string) *RedisBucket {
	return &RedisBucket{rdb: rdb, keys: []string{key}}
}

// Take asks Redis for n tokens in one script call.
func (b *RedisBucket) Take(ctx context.Context, n int, r Rate) (int, time.Duration, error) {
	v, err := gcraScript.Run(ctx, b.rdb, b.keys,
		strconv.FormatInt(r.Limit, 10), strconv.FormatInt(r.Period.Microseconds(), 10),
		strconv.Itoa(n), strconv.FormatInt(r.Burst, 10)).Int64Slice()
	if err != nil {
		return 0, 0, fmt.Errorf("taking %d Moogsoft rate limit tokens: %w", n, err)
	}
	if len(v) != 2 {
		return 0, 0, fmt.Errorf("taking Moogsoft rate limit tokens: unexpected script reply %v", v)
	}
	return int(v[0]), time.Duration(v[1]) * time.Microsecond, nil
}

// breakerBeforeScript runs before a batch is sent. It creates the state key
// as CLOSED when missing; turns an OPEN breaker whose open period is over
// into HALF_OPEN; and in HALF_OPEN tries to take the probe lock, which lets
// exactly one alert through across all forwarders until its result is in.
// An OPEN state without an open time counts as opened now, so it recovers.
//
// KEYS: state, open_time, probe, failures.
// ARGV: open period in ms, probe lock lifetime in ms, probe token.
// Returns {state, previous state if this call changed it or "", ms left
// while OPEN, 1 if this call holds the probe, failures}.
var breakerBeforeScript = redis.NewScript(`
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local failures = tonumber(redis.call('GET', KEYS[4])) or 0
local state = redis.call('GET', KEYS[1])
if not state then
  redis.call('SET', KEYS[1], 'CLOSED')
  state = 'CLOSED'
end
local from = ''
if state == 'OPEN' then
  local opened = tonumber(redis.call('GET', KEYS[2]))
  if not opened then
    opened = now
    redis.call('SET', KEYS[2], string.format('%.6f', now))
  end
  local left = (opened - now) * 1000 + tonumber(ARGV[1])
  if left > 0 then
    return {'OPEN', '', math.ceil(left), 0, failures}
  end
  redis.call('SET', KEYS[1], 'HALF_OPEN')
  from = 'OPEN'
  state = 'HALF_OPEN'
end
if state == 'HALF_OPEN' then
  local probe = 0
  if redis.call('SET', KEYS[3], ARGV[3], 'NX', 'PX', ARGV[2]) then probe = 1 end
  return {'HALF_OPEN', from, 0, probe, failures}
end
return {'CLOSED', '', 0, 0, failures}
`)

// breakerAfterScript records a batch's results. A delivery is a success:
// failures go to 0 (written only when not already 0) and HALF_OPEN closes.
// Failures count only in CLOSED, where reaching the threshold opens the
// breaker; in HALF_OPEN only the probe's failure reopens it, with a fresh
// open time; late failures while OPEN do not push the reopen time out. The
// probe lock is released when the caller holds it.
//
// KEYS: state, open_time, probe, failures.
// ARGV: 1 if any alert was delivered, failures to count, threshold, probe token or "".
// Returns {state before, state after, failures}.
var breakerAfterScript = redis.NewScript(`
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local state = redis.call('GET', KEYS[1])
if state ~= 'OPEN' and state ~= 'HALF_OPEN' then state = 'CLOSED' end
local from = state
local probe = false
if ARGV[4] ~= '' and redis.call('GET', KEYS[3]) == ARGV[4] then
  probe = true
  redis.call('DEL', KEYS[3])
end
local raw = redis.call('GET', KEYS[4])
local failures = tonumber(raw) or 0
local k = tonumber(ARGV[2])
if ARGV[1] == '1' then
  if raw ~= '0' then redis.call('SET', KEYS[4], '0') end
  failures = 0
  if state == 'HALF_OPEN' then
    redis.call('SET', KEYS[1], 'CLOSED')
    redis.call('DEL', KEYS[2])
    state = 'CLOSED'
  end
elseif k > 0 then
  if state == 'CLOSED' then
    failures = redis.call('INCRBY', KEYS[4], k)
    if failures >= tonumber(ARGV[3]) then
      redis.call('SET', KEYS[1], 'OPEN')
      redis.call('SET', KEYS[2], string.format('%.6f', now))
      state = 'OPEN'
    end
  elseif state == 'HALF_OPEN' and probe then
    redis.call('SET', KEYS[1], 'OPEN')
    redis.call('SET', KEYS[2], string.format('%.6f', now))
    state = 'OPEN'
  end
end
return {from, state, failures}
`)

// breakerStateScript reports the state without changing it: an OPEN breaker
// whose open period is over reads as HALF_OPEN, a missing one as CLOSED.
//
// KEYS: state, open_time, failures. ARGV: open period in ms.
// Returns {state, failures}.
var breakerStateScript = redis.NewScript(`
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local failures = tonumber(redis.call('GET', KEYS[3])) or 0
local state = redis.call('GET', KEYS[1])
if state == 'OPEN' then
  local opened = tonumber(redis.call('GET', KEYS[2]))
  if opened and (now - opened) * 1000 >= tonumber(ARGV[1]) then state = 'HALF_OPEN' end
elseif state ~= 'HALF_OPEN' then
  state = 'CLOSED'
end
return {state, failures}
`)

// RedisBreakerStore is the BreakerStore every forwarder shares through the
// keys <prefix>:state, :open_time, :probe and :failures; each operation is
// one Lua script on the Redis server's clock.
type RedisBreakerStore struct {
	rdb       redis.UniversalClient
	keys      []string // state, open_time, probe, failures
	stateKeys []string // state, open_time, failures
}

var _ BreakerStore = (*RedisBreakerStore)(nil)

// NewRedisBreakerStore returns the shared state under prefix
// (DefaultBreakerPrefix when empty).
func NewRedisBreakerStore(rdb redis.UniversalClient, prefix string) *RedisBreakerStore {
	if prefix == "" {
		prefix = DefaultBreakerPrefix
	}
	return &RedisBreakerStore{
		rdb:       rdb,
		keys:      []string{prefix + ":state", prefix + ":open_time", prefix + ":probe", prefix + ":failures"},
		stateKeys: []string{prefix + ":state", prefix + ":open_time", prefix + ":failures"},
	}
}

// Before runs breakerBeforeScript.
func (s *RedisBreakerStore) Before(ctx context.Context, openFor, probeTTL time.Duration, token string) (BreakerCheck, error) {
	v, err := breakerBeforeScript.Run(ctx, s.rdb, s.keys,
		strconv.FormatInt(openFor.Milliseconds(), 10),
		strconv.FormatInt(probeTTL.Milliseconds(), 10), token).Slice()
	if err != nil {
		return BreakerCheck{}, fmt.Errorf("reading circuit breaker state: %w", err)
	}
	if len(v) != 5 {
		return BreakerCheck{}, fmt.Errorf("reading circuit breaker state: unexpected script reply %v", v)
	}
	state, _ := v[0].(string)
	from, _ := v[1].(string)
	left, _ := v[2].(int64)
	probe, _ := v[3].(int64)
	failures, _ := v[4].(int64)
	return BreakerCheck{State: state, From: from, Left: time.Duration(left) * time.Millisecond, Probe: probe == 1, Failures: failures}, nil
}

// After runs breakerAfterScript.
func (s *RedisBreakerStore) After(ctx context.Context, delivered bool, failures int, threshold int64, token string) (BreakerChange, error) {
	d := "0"
	if delivered {
		d = "1"
	}
	v, err := breakerAfterScript.Run(ctx, s.rdb, s.keys, d, strconv.Itoa(failures),
		strconv.FormatInt(threshold, 10), token).Slice()
	if err == nil && len(v) != 3 {
		err = fmt.Errorf("unexpected script reply %v", v)
	}
	if err != nil {
		return BreakerChange{}, fmt.Errorf("recording circuit breaker results: %w", err)
	}
	from, _ := v[0].(string)
	to, _ := v[1].(string)
	n, _ := v[2].(int64)
	return BreakerChange{From: from, To: to, Failures: n}, nil
}

// State runs breakerStateScript.
func (s *RedisBreakerStore) State(ctx context.Context, openFor time.Duration) (string, int64, error) {
	v, err := breakerStateScript.Run(ctx, s.rdb, s.stateKeys,
		strconv.FormatInt(openFor.Milliseconds(), 10)).Slice()
	if err != nil {
		return "", 0, fmt.Errorf("reading circuit breaker state: %w", err)
	}
	if len(v) != 2 {
		return "", 0, fmt.Errorf("reading circuit breaker state: unexpected script reply %v", v)
	}
	state, _ := v[0].(string)
	failures, _ := v[1].(int64)
	return state, failures, nil
}
