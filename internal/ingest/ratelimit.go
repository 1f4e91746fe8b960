package ingest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"strconv"
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

// rateLimiter is the cluster-wide ingest request limit.
type rateLimiter struct {
	rdb    redis.UniversalClient
	key    string
	limit  func() int64
	window func() time.Duration
}

// allow reports whether one more request may pass. Errors are returned; the
// caller decides to fail open.
func (l *rateLimiter) allow(ctx context.Context) (bool, error) {
	var b [12]byte
	_, _ = rand.Read(b[:])
	ok, err := slidingWindowScript.Run(ctx, l.rdb, []string{l.key},
		strconv.FormatInt(l.limit(), 10), strconv.FormatInt(l.window().Milliseconds(), 10), hex.EncodeToString(b[:])).Int()
	if err != nil {
		return true, fmt.Errorf("checking ingest rate limit: %w", err)
	}
	return ok == 1, nil
}
