package forward

import (
	"context"
	"time"
)

// Alert is one alert to deliver.
type Alert struct {
	ID      string // queue entry ID (for logs and results)
	Payload []byte // the alert JSON as queued
	Attempt int    // 1 for the first delivery attempt, 2 for the first retry, ...
}

// Outcome says what to do with an alert after a Send.
type Outcome int

const (
	// Delivered means Moogsoft accepted the alert: acknowledge it.
	Delivered Outcome = iota
	// Retry means the attempt failed in a way worth retrying: reschedule
	// after RetryAfter with Attempt+1.
	Retry
	// Park means the alert was not attempted (rate limit, open breaker,
	// shutdown): reschedule after RetryAfter with the same Attempt.
	Park
	// Failed means a permanent failure or exhausted retries: dead-letter the
	// alert with Reason.
	Failed
)

// String returns the outcome's name for logs.
func (o Outcome) String() string {
	switch o {
	case Delivered:
		return "delivered"
	case Retry:
		return "retry"
	case Park:
		return "park"
	case Failed:
		return "failed"
	}
	return "unknown"
}

// Result is the outcome for one alert (same index as the input slice).
type Result struct {
	Outcome    Outcome
	Status     int           // HTTP status, 0 when none was received
	Err        error         // transport error or description
	RetryAfter time.Duration // for Retry and Park
	Reason     string        // fixed vocabulary, see the reason constants
}

// Reasons, the fixed vocabulary of Result.Reason. They double as the reason
// label of mutt_moog_requests_total, except where the metric keeps the name
// the operations rules already use (see Metrics).
const (
	reasonNone       = ""
	reasonHTTP4xx    = "http_4xx"
	reasonHTTP5xx    = "http_5xx"
	reasonRateLimit  = "rate_limited"
	reasonTimeout    = "timeout"
	reasonConnection = "connection"
	reasonMalformed  = "malformed_alert"
	reasonOpen       = "circuit_open"
	reasonExhausted  = "retries_exhausted"
	reasonRedirect   = "redirect"
)

// Sender delivers a batch of alerts and returns one Result per alert.
// Implementations may be called from several goroutines at once.
type Sender interface {
	Send(ctx context.Context, alerts []Alert) []Result
}

// Chain builds retry(breaker(ratelimit(webhook))): the breaker is asked
// first, so an open breaker spends neither a rate-limit token nor an attempt.
// The rate limiter is left out when it has neither a Bucket nor Redis, and
// the breaker when it has neither a Store nor Redis. The breaker is returned too (nil when left out), so the
// caller can read its state.
func Chain(webhook Sender, rl RateLimitOptions, br BreakerOptions, rt RetryOptions) (Sender, *Breaker) {
	s := webhook
	if rl.Bucket != nil || rl.Redis != nil {
		s = NewRateLimiter(s, rl)
	}
	var breaker *Breaker
	if br.Store != nil || br.Redis != nil {
		breaker = NewBreaker(s, br)
		s = breaker
	}
	return NewRetrier(s, rt), breaker
}

// parkAll answers every alert with Park.
func parkAll(res []Result, after time.Duration, reason string) {
	for i := range res {
		res[i] = Result{Outcome: Park, RetryAfter: after, Reason: reason}
	}
}
