package forward

import (
	"context"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
)

// DefaultRateLimitKey is the Redis key of the shared Moogsoft rate limit.
const DefaultRateLimitKey = "mutt:rate_limit:moog"

// RateLimitOptions configure a RateLimiter.
type RateLimitOptions struct {
	// Bucket holds the tokens; when nil, a Redis bucket on Redis under Key.
	Bucket TokenBucket
	Redis  redis.UniversalClient
	Key    string // DefaultRateLimitKey when empty
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
	Logger  *slog.Logger // for bucket failures; nothing is logged when nil
}

// RateLimiter holds all forwarder processes to one rate through a shared
// TokenBucket (Redis, or in process in embedded mode). It takes the tokens
// for a whole batch in one step, sends the alerts it
// got tokens for, and parks the rest until their tokens are due, without
// spending an attempt. When the bucket fails, it lets the batch through (fail
// open): a Moogsoft briefly over its rate is better than alerts held back
// by an unrelated outage.
type RateLimiter struct {
	next    Sender
	bucket  TokenBucket
	key     string // for logs
	limit   func() int64
	period  func() time.Duration
	burst   func() int64
	metrics *Metrics
	logger  *slog.Logger
	lastLog atomic.Int64 // unix ns of the last logged bucket failure
}

var _ Sender = (*RateLimiter)(nil)

// NewRateLimiter wraps next with the shared rate limit.
func NewRateLimiter(next Sender, opts RateLimitOptions) *RateLimiter {
	if opts.Key == "" {
		opts.Key = DefaultRateLimitKey
	}
	if opts.Bucket == nil && opts.Redis != nil {
		opts.Bucket = NewRedisBucket(opts.Redis, opts.Key)
	}
	return &RateLimiter{
		next: next, bucket: opts.Bucket, key: opts.Key, limit: opts.Limit, period: opts.Period,
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
	if limit <= 0 || l.bucket == nil || len(alerts) == 0 || ctx.Err() != nil {
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

	granted, wait, err := l.bucket.Take(ctx, len(alerts), Rate{Limit: limit, Period: period, Burst: burst})
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

// logFailure logs a bucket failure at most every ten seconds: during an
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
