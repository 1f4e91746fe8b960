package remediation

import (
	"context"
	"time"

	"github.com/mutt-go/mutt/internal/obs"
	"github.com/mutt-go/mutt/internal/queue"
)

// Queues is what a cycle does on the dead-letter queues and the alert
// queue: Redis streams (NewRedis) or the embedded store
// (internal/embedded/roles). Entries come back as queue.Entry with the
// fields of a Redis entry. An implementation is safe for concurrent use.
type Queues interface {
	// Lens returns how many entries each of the dead-letter queues dlqs
	// holds, in order, in one step where the storage allows it.
	Lens(ctx context.Context, dlqs []string) ([]int64, error)
	// QueueLen returns how many entries the work queue key holds.
	QueueLen(ctx context.Context, key string) (int64, error)
	// List returns up to n entries of the DLQ key, oldest first, after the
	// entry after ("" starts at the head) and, when since is not zero, none
	// written before since's millisecond.
	List(ctx context.Context, key, after string, since time.Time, n int) ([]queue.Entry, error)
	// Replay moves the entries ids of dlq to target with their replay
	// counter raised by one; an entry already replayed maxReplays times
	// goes to dead instead, with the reason replay_limit. Each entry moves
	// atomically; an ID no longer in dlq counts as missing.
	Replay(ctx context.Context, dlq, target, dead string, maxReplays int, ids []string) (queue.ReplayResult, error)
	// Bury moves entries of dlq to dead, keeping every field but recording
	// the burial's reason and detail, dlq and the entry's ID as its source
	// (the old source becomes origin, origin_id) and the time (failed_at).
	// Each entry moves atomically; moved says, per burial, whether the
	// entry was still there.
	Bury(ctx context.Context, dlq, dead string, burials []Burial) (moved []bool, err error)
	// Health is the check of the storage behind the queues.
	Health() obs.Check
}

// Burial is one entry bound for the dead queue and what to record there.
type Burial struct {
	ID     string
	Reason string
	Detail string
}
