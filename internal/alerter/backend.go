package alerter

import (
	"context"
	"log/slog"
	"time"

	"github.com/mutt-go/mutt/internal/queue"
	"github.com/mutt-go/mutt/internal/store"
)

// Backend is where the alerter's queues live: the ingest queue it
// consumes, the alert queue and dead-letter queue it feeds, and the
// unhandled-event counters. Redis + PostgreSQL (NewRedisBackend) and the
// embedded SQLite store implement it; internal/alerter/alertertest is the
// suite both pass.
type Backend interface {
	// Prepare readies the ingest queue for consumption (Redis: creates the
	// consumer group).
	Prepare(ctx context.Context) error
	// Read returns up to n messages for consumer, waiting at most block for
	// the first; they stay pending until a Commit acknowledges them.
	Read(ctx context.Context, consumer string, n int, block time.Duration) ([]queue.Message, error)
	// RecoverPending hands process, in batches of up to n, the messages
	// consumer still holds from an earlier run under the same name, and
	// returns how many it handed over.
	RecoverPending(ctx context.Context, consumer string, n int, process func(context.Context, []queue.Message) error) (int, error)
	// ReclaimLoop takes over, until ctx ends, the messages left pending for
	// idle or longer by consumers that stopped, and hands them to process
	// in batches of up to n while ready() holds; reclaimed is told how many.
	ReclaimLoop(ctx context.Context, consumer string, idle time.Duration, n int, ready func() bool,
		reclaimed func(int), process func(context.Context, []queue.Message) error, logger *slog.Logger)
	// Commit makes one batch's effects durable at once (see Batch). A batch
	// none of whose messages is still pending changes nothing and returns
	// Acked == 0.
	Commit(ctx context.Context, b *Batch) (CommitResult, error)
	// Depths measures the queues the load shedding watches.
	Depths(ctx context.Context) (Depths, error)
	// ReloadRequests delivers a value whenever another process asks the
	// alerters to reload their rules; nil when nothing can ask.
	ReloadRequests(ctx context.Context) <-chan struct{}
	// AuditInCommit reports whether Commit writes Batch.Audit in the same
	// transaction as the acknowledgement. When it does not, the alerter
	// writes the audit rows through its AuditWriter first and Commit must
	// be given none.
	AuditInCommit() bool
}

// Batch is everything one batch commits: the messages it acknowledges,
// their audit rows (only where the backend writes them in the commit), the
// alerts and dead letters it produces, and its unhandled events' counters.
type Batch struct {
	IDs    []string
	Audit  []store.AuditRow
	Alerts [][]byte
	Dead   []queue.DeadLetter
	// UnhandledKeys holds one counter key per unhandled event, in batch
	// order; MetaAlert(k) builds the meta-alert of the event behind
	// UnhandledKeys[k], and is called only for the events whose count
	// reaches Threshold within a window of Expiry.
	UnhandledKeys []string
	MetaAlert     func(k int) []byte
	Threshold     int64
	Expiry        time.Duration
}

// CommitResult says what a commit did.
type CommitResult struct {
	Acked      int64 // messages acknowledged; 0 when another consumer finished the batch first
	MetaAlerts int64 // meta-alerts pushed
}

// Depths are the queue lengths the alerter publishes and sheds load on.
// A length the backend could not measure is -1.
type Depths struct {
	Ingest  int64 // waiting in the ingest queue
	Pending int64 // read by a consumer and not yet committed
	Alerts  int64 // waiting for the forwarder
	DLQ     int64 // in the alerter's dead-letter queue
}
