package forward

import (
	"context"
	"fmt"
	"math/rand/v2"
	"time"
)

// Retry defaults: 6 attempts (MOOG_MAX_RETRIES 5 plus the first), backoff
// from 1 s up to 60 s.
const (
	DefaultMaxAttempts = 6
	DefaultRetryBase   = time.Second
	DefaultRetryMax    = 60 * time.Second
)

// RetryOptions configure a Retrier.
type RetryOptions struct {
	MaxAttempts int           // attempts per alert, MOOG_MAX_RETRIES+1; 6 when zero
	Base        time.Duration // backoff ceiling after the first attempt; 1 s when zero
	Max         time.Duration // largest backoff ceiling; 60 s when zero
	// Rand returns a number in [0, 1) for the jitter; math/rand/v2 when nil.
	Rand    func() float64
	Metrics *Metrics
}

// Retrier decides what happens to alerts whose attempt failed in a way
// worth retrying: another attempt after a backoff with full jitter, or,
// once MaxAttempts attempts are spent, a permanent failure. It never
// sleeps; the backoff is the RetryAfter the queue consumer schedules by.
type Retrier struct {
	next        Sender
	maxAttempts int
	base, max   time.Duration
	rand        func() float64
	metrics     *Metrics
}

var _ Sender = (*Retrier)(nil)

// NewRetrier wraps next with the retry policy.
func NewRetrier(next Sender, opts RetryOptions) *Retrier {
	if opts.MaxAttempts <= 0 {
		opts.MaxAttempts = DefaultMaxAttempts
	}
	if opts.Base <= 0 {
		opts.Base = DefaultRetryBase
	}
	if opts.Max <= 0 {
		opts.Max = DefaultRetryMax
	}
	if opts.Rand == nil {
		opts.Rand = rand.Float64
	}
	return &Retrier{
		next: next, maxAttempts: opts.MaxAttempts, base: opts.Base, max: max(opts.Max, opts.Base),
		rand: opts.Rand, metrics: opts.Metrics,
	}
}

// Send sends the batch and turns each Retry result into either a backoff
// (the longer of the server's Retry-After and the jittered backoff) or,
// for an alert on its last attempt, a Failed result with reason
// retries_exhausted that keeps the last attempt's status and error. Other
// outcomes pass through unchanged.
func (r *Retrier) Send(ctx context.Context, alerts []Alert) []Result {
	res := r.next.Send(ctx, alerts)
	for i := range res {
		if res[i].Outcome != Retry {
			continue
		}
		attempt := max(alerts[i].Attempt, 1)
		if attempt >= r.maxAttempts {
			last := res[i]
			res[i] = Result{Outcome: Failed, Status: last.Status, Reason: reasonExhausted,
				Err: exhaustedError(attempt, last)}
			r.metrics.notSent(metricExhausted, 1)
			continue
		}
		res[i].RetryAfter = max(res[i].RetryAfter, r.backoff(attempt))
	}
	return res
}

// backoff is a uniformly random delay below min(Max, Base·2^(attempt-1)).
func (r *Retrier) backoff(attempt int) time.Duration {
	ceiling := r.max
	if shift := attempt - 1; shift < 62 {
		if c := r.base << shift; c > 0 && c>>shift == r.base {
			ceiling = min(c, r.max)
		}
	}
	return time.Duration(r.rand() * float64(ceiling))
}

func exhaustedError(attempt int, last Result) error {
	if last.Err == nil {
		return fmt.Errorf("giving up after %d attempts; last failure: %s", attempt, last.Reason)
	}
	return fmt.Errorf("giving up after %d attempts; last failure (%s): %w", attempt, last.Reason, last.Err)
}
