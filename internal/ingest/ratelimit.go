package ingest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// slidingWindowScript admits a request when fewer than limit requests were
// admitted in the last window across every ingestor. Time comes from the
// Redis server, so ingestor clocks do not skew the window.
//
// KEYS: the limiter's sorted set. ARGV: limit, window in milliseconds, a
// unique member for this request.
var slidingWindowScript = redis.NewScript(`
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local window = tonumber(ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[1]) then
  return 0
end
redis.call('ZADD', KEYS[1], now, ARGV[3])
redis.call('PEXPIRE', KEYS[1], window + 1000)
return 1
`)

// rateLimiter is the ingest request limit.
type rateLimiter interface {
	// allow reports whether one more request may pass. Errors are
	// returned; the caller decides to fail open.
	allow(ctx context.Context) (bool, error)
	// window is the limit's current window, for Retry-After.
	window() time.Duration
}

// newRateLimiter returns the limiter opts describe: shared through Redis,
// or in process when opts.Redis is nil.
func newRateLimiter(opts *RateLimitOptions) rateLimiter {
	if opts.Redis == nil {
		return &localLimiter{limit: opts.Max, windowOf: opts.Window, now: time.Now}
	}
	return &redisLimiter{rdb: opts.Redis, key: opts.Key, limit: opts.Max, windowOf: opts.Window}
}

// redisLimiter is the limit shared by every ingestor through Redis.
type redisLimiter struct {
	rdb      redis.UniversalClient
	key      string
	limit    func() int64
	windowOf func() time.Duration
}

func (l *redisLimiter) window() time.Duration { return l.windowOf() }

func (l *redisLimiter) allow(ctx context.Context) (bool, error) {
	var b [12]byte
	_, _ = rand.Read(b[:])
	ok, err := slidingWindowScript.Run(ctx, l.rdb, []string{l.key},
		strconv.FormatInt(l.limit(), 10), strconv.FormatInt(l.window().Milliseconds(), 10), hex.EncodeToString(b[:])).Int()
	if err != nil {
		return true, fmt.Errorf("checking ingest rate limit: %w", err)
	}
	return ok == 1, nil
}

// localLimiter is the same sliding-window limit kept in process, for the
// embedded mode's single ingestor: the times of the requests admitted in
// the last window, oldest first, in a ring.
type localLimiter struct {
	limit    func() int64
	windowOf func() time.Duration
	now      func() time.Time

	mu       sync.Mutex
	admitted []time.Time // ring buffer of admission times
	head, n  int
}

func (l *localLimiter) window() time.Duration { return l.windowOf() }

func (l *localLimiter) allow(context.Context) (bool, error) {
	limit, now := l.limit(), l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	if int64(len(l.admitted)) != limit && limit > 0 {
		l.resize(int(limit))
	}
	cutoff := now.Add(-l.windowOf())
	for l.n > 0 && !l.admitted[l.head].After(cutoff) {
		l.head = (l.head + 1) % len(l.admitted)
		l.n--
	}
	if int64(l.n) >= limit {
		return false, nil
	}
	l.admitted[(l.head+l.n)%len(l.admitted)] = now
	l.n++
	return true, nil
}

// resize moves the admitted times into a ring of size, keeping the newest
// when it shrinks.
func (l *localLimiter) resize(size int) {
	ring := make([]time.Time, size)
	keep := min(l.n, size)
	for i := range keep {
		ring[i] = l.admitted[(l.head+l.n-keep+i)%len(l.admitted)]
	}
	l.admitted, l.head, l.n = ring, 0, keep
}
