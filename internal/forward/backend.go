package forward

import (
	"context"
	"time"

	"github.com/mutt-go/mutt/internal/queue"
)

// AlertSource is the alert queue as the forwarder's workers consume it.
// Consumer names one worker (or the reclaimer); a message read stays
// pending, held by its consumer, until a Commit acknowledges it. It is
// safe for concurrent use by several consumers.
type AlertSource interface {
	// Prepare makes the queue ready to read (Redis: the consumer group).
	Prepare(ctx context.Context) error
	// Read returns up to n new messages for consumer, waiting at most
	// block for the first; none and no error when none arrived.
	Read(ctx context.Context, consumer string, n int, block time.Duration) ([]queue.Message, error)
	// Recover hands process, in batches of up to n, the messages consumer
	// held in an earlier run under the same name and never committed, and
	// returns how many it handed over. A source whose Read yields those
	// again by itself (embedded) hands over none.
	Recover(ctx context.Context, consumer string, n int, process func(context.Context, []queue.Message) error) (int, error)
	// Reclaim gives consumer up to n messages another consumer has held
	// for at least minIdle without committing them, each with its
	// Deliveries raised.
	Reclaim(ctx context.Context, consumer string, minIdle time.Duration, n int) ([]queue.Message, error)
	// Touch tells the source consumer is still working on ids, so Reclaim
	// does not take them from it.
	Touch(ctx context.Context, consumer string, ids []string) error
	// Len returns the number of messages in the queue, pending ones
	// included.
	Len(ctx context.Context) (int64, error)
	// PendingCount returns how many messages are read and not committed.
	PendingCount(ctx context.Context) (int64, error)
}

// Scheduled is an alert to try again later: rescheduled after a retryable
// failure, or parked by the rate limit or the breaker.
type Scheduled struct {
	ID       string // the alert queue entry it came from
	Payload  []byte
	Attempts int64 // delivery attempts spent
	Replays  int64
	Due      time.Time
}

// DeliveryCommit is everything one delivery step finishes, made durable in
// one atomic step: the alerts acknowledged, those rescheduled, and the dead
// letters for the Moogsoft DLQ and for the terminal queue, in the order
// given.
type DeliveryCommit struct {
	IDs      []string
	Schedule []Scheduled
	DLQ      []queue.DeadLetter // replayable, to the Moogsoft DLQ
	Dead     []queue.DeadLetter // to the terminal queue
}

// empty reports whether c acknowledges nothing.
func (c *DeliveryCommit) empty() bool { return len(c.IDs) == 0 }

// Committer finishes delivery steps.
type Committer interface {
	// Commit makes c durable in one step and returns how many of c.IDs were
	// still pending. When c acknowledges IDs none of which is pending any
	// more (another forwarder finished them, or c was committed before),
	// it changes nothing and returns 0.
	Commit(ctx context.Context, c DeliveryCommit) (acked int64, err error)
}

// Schedule holds alerts waiting for their next attempt.
type Schedule interface {
	// MoveDue puts up to limit due alerts back on the alert queue, with
	// their attempts and replays, and returns how many moved and how long
	// until the next one is due (negative when none waits).
	MoveDue(ctx context.Context, limit int) (moved int, next time.Duration, err error)
	// Len returns how many alerts wait.
	Len(ctx context.Context) (int64, error)
}

// Depth measures a queue, for the gauges.
type Depth interface {
	Len(ctx context.Context) (int64, error)
}

// Backend is the storage a Forwarder runs on: Redis (NewRedisBackend) or
// the embedded SQLite store.
type Backend struct {
	Alerts   AlertSource
	Commits  Committer
	Schedule Schedule
	MoogDLQ  Depth // the Moogsoft DLQ, for mutt_moog_dlq_depth
}

// Rate is the shared rate limit as a TokenBucket applies it.
type Rate struct {
	Limit  int64         // tokens per Period, positive
	Period time.Duration // positive
	Burst  int64         // tokens that may pile up, 1 to Limit
}

// TokenBucket is the rate limit every forwarder of one site shares.
type TokenBucket interface {
	// Take grants up to n tokens at rate r now and, when it grants fewer
	// than n, says how long until the next one is issued.
	Take(ctx context.Context, n int, r Rate) (granted int, wait time.Duration, err error)
}

// BreakerCheck is the breaker state a batch is about to be sent under.
type BreakerCheck struct {
	State    string        // StateClosed, StateOpen or StateHalfOpen
	From     string        // the state before, when this check changed it; else ""
	Left     time.Duration // while OPEN, until the open period ends
	Probe    bool          // in HALF_OPEN: this check holds the one probe
	Failures int64
}

// BreakerChange is what recording a batch's results did.
type BreakerChange struct {
	From, To string
	Failures int64
}

// BreakerStore keeps the breaker's state machine for every forwarder that
// shares it; each call is one atomic step, so forwarders never race on it.
type BreakerStore interface {
	// Before runs before a batch is sent: a missing state is CLOSED, an
	// OPEN one past openFor turns HALF_OPEN, and in HALF_OPEN the caller
	// tries to take the probe under token, held for at most probeTTL.
	Before(ctx context.Context, openFor, probeTTL time.Duration, token string) (BreakerCheck, error)
	// After records a batch's results: a delivery resets the failures and
	// closes a HALF_OPEN breaker; failures count in CLOSED, opening it at
	// threshold; in HALF_OPEN only the probe's failure (token) reopens it.
	// The probe is released when token holds it.
	After(ctx context.Context, delivered bool, failures int, threshold int64, token string) (BreakerChange, error)
	// State reports the state without changing it (OPEN past openFor reads
	// HALF_OPEN) and the failures counted.
	State(ctx context.Context, openFor time.Duration) (string, int64, error)
}
