package forward

import (
	"context"
	"fmt"
	"log/slog"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
)

// DefaultRateLimitKey is the Redis key of the shared Moogsoft rate limit.
const DefaultRateLimitKey = "mutt:rate_limit:moog"

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

// RateLimitOptions configure a RateLimiter.
type RateLimitOptions struct {
	Redis redis.UniversalClient
	Key   string // DefaultRateLimitKey when empty
	// Limit is the number of alerts per Period for all forwarders together;
	// zero or less, or a nil func, means no limit. It is read on every Send,
	// so dynamic configuration takes effect at once.
	Limit func() int64
	// Period is the limit's period; 1 s when nil or not positive.
	Period func() time.Duration
	// Burst is how many tokens may pile up while nobody sends, that is how
	// far a window of one Period can go over Limit; max(1, Limit/200) when
	// nil or not positive, and never more than Limit.
	Burst   func() int64
	Metrics *Metrics
	Logger  *slog.Logger // for Redis failures; nothing is logged when nil
}

// RateLimiter holds all forwarder processes to one rate through Redis. It
// takes the tokens for a whole batch in one script call, sends the alerts it
// got tokens for, and parks the rest until their tokens are due, without
// spending an attempt. When Redis fails, it lets the batch through (fail
// open): a Moogsoft briefly over its rate is better than alerts held back
// by an unrelated outage.
type RateLimiter struct {
	next    Sender
	rdb     redis.UniversalClient
	key     string
	limit   func() int64
	period  func() time.Duration
	burst   func() int64
	metrics *Metrics
	logger  *slog.Logger
	lastLog atomic.Int64 // unix ns of the last logged Redis failure
}

var _ Sender = (*RateLimiter)(nil)

// NewRateLimiter wraps next with the shared rate limit.
func NewRateLimiter(next Sender, opts RateLimitOptions) *RateLimiter {
	if opts.Key == "" {
		opts.Key = DefaultRateLimitKey
	}
	return &RateLimiter{
		next: next, rdb: opts.Redis, key: opts.Key, limit: opts.Limit, period: opts.Period,
		burst: opts.Burst, metrics: opts.Metrics, logger: opts.Logger,
	}
}

// Send passes on the alerts the shared limit has room for now and parks the
// others. The k-th parked alert gets a RetryAfter k token intervals past the
// next free token, the earliest it could possibly go, so a held-back batch
// comes back spread out instead of all at once.
func (l *RateLimiter) Send(ctx context.Context, alerts []Alert) []Result {
	var limit int64
	if l.limit != nil {
		limit = l.limit()
	}
	if limit <= 0 || l.rdb == nil || len(alerts) == 0 || ctx.Err() != nil {
		return l.next.Send(ctx, alerts)
	}
	period := time.Second
	if l.period != nil {
		if p := l.period(); p > 0 {
			period = p
		}
	}
	var burst int64
	if l.burst != nil {
		burst = l.burst()
	}
	if burst <= 0 {
		burst = max(1, limit/200)
	}
	burst = min(burst, limit)

	granted, wait, err := l.take(ctx, len(alerts), limit, period, burst)
	if err != nil {
		if ctx.Err() == nil {
			l.metrics.rateLimitError()
			l.logFailure(err)
		}
		return l.next.Send(ctx, alerts)
	}
	if granted >= len(alerts) {
		return l.next.Send(ctx, alerts)
	}
	res := make([]Result, len(alerts))
	if granted > 0 {
		copy(res, l.next.Send(ctx, alerts[:granted]))
	}
	interval := period / time.Duration(limit)
	for i := granted; i < len(alerts); i++ {
		res[i] = Result{Outcome: Park, RetryAfter: wait + time.Duration(i-granted)*interval, Reason: reasonRateLimit}
	}
	l.metrics.rateLimited(len(alerts) - granted)
	return res
}

// take asks Redis for n tokens; it returns how many were granted and, when
// fewer than n, how long until the next one is issued.
func (l *RateLimiter) take(ctx context.Context, n int, limit int64, period time.Duration, burst int64) (int, time.Duration, error) {
	v, err := gcraScript.Run(ctx, l.rdb, []string{l.key},
		strconv.FormatInt(limit, 10), strconv.FormatInt(period.Microseconds(), 10),
		strconv.Itoa(n), strconv.FormatInt(burst, 10)).Int64Slice()
	if err != nil {
		return 0, 0, fmt.Errorf("taking %d Moogsoft rate limit tokens: %w", n, err)
	}
	if len(v) != 2 {
		return 0, 0, fmt.Errorf("taking Moogsoft rate limit tokens: unexpected script reply %v", v)
	}
	return int(v[0]), time.Duration(v[1]) * time.Microsecond, nil
}

// logFailure logs a Redis failure at most every ten seconds: during an
// outage every batch fails the same way.
func (l *RateLimiter) logFailure(err error) {
	if l.logger == nil {
		return
	}
	now := time.Now().UnixNano()
	last := l.lastLog.Load()
	if now-last < int64(10*time.Second) || !l.lastLog.CompareAndSwap(last, now) {
		return
	}
	l.logger.Warn("rate limit check failed; sending without the limit", "key", l.key, "error", err)
}
