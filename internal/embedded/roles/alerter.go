package roles

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/mutt-go/mutt/internal/alerter"
	"github.com/mutt-go/mutt/internal/embedded/sqlstore"
	"github.com/mutt-go/mutt/internal/queue"
)

// AlerterQueues name the queues of an AlerterBackend; the names are the
// Redis keys of the same queues, so that logs, metrics and `mutt dlq` speak
// of them the same way in both modes.
type AlerterQueues struct {
	Ingest string
	Alerts string
	DLQ    string
}

// AlerterBackend is the alerter's backend on the embedded store. Its
// commit is one SQLite transaction (acknowledgement, audit rows, alerts,
// dead letters, unhandled counters), so every event's effects happen
// exactly once, a SIGKILL included.
type AlerterBackend struct {
	db     *sqlstore.DB
	queues AlerterQueues
	ingest *consumer

	pruneMu   sync.Mutex
	lastPrune time.Time
}

var _ alerter.Backend = (*AlerterBackend)(nil)

// NewAlerterBackend returns the alerter backend over db.
func NewAlerterBackend(db *sqlstore.DB, queues AlerterQueues) *AlerterBackend {
	return &AlerterBackend{db: db, queues: queues, ingest: newConsumer(db, queues.Ingest)}
}

// Prepare has nothing to create: the queues are rows of one table.
func (b *AlerterBackend) Prepare(context.Context) error { return nil }

// Read hands out up to n entries not handed out yet.
func (b *AlerterBackend) Read(ctx context.Context, consumer string, n int, block time.Duration) ([]queue.Message, error) {
	return b.ingest.read(ctx, consumer, n, block)
}

// RecoverPending hands process what consumer holds uncommitted in this
// process; after a restart that is nothing, since every uncommitted entry
// is read again as new.
func (b *AlerterBackend) RecoverPending(ctx context.Context, consumer string, n int,
	process func(context.Context, []queue.Message) error) (int, error) {
	return b.ingest.recoverPending(ctx, consumer, n, process)
}

// ReclaimLoop hands process the entries a worker took and did not commit
// within idle (its batch failed), until ctx ends.
func (b *AlerterBackend) ReclaimLoop(ctx context.Context, consumer string, idle time.Duration, n int, ready func() bool,
	reclaimed func(int), process func(context.Context, []queue.Message) error, logger *slog.Logger) {
	b.ingest.reclaimLoop(ctx, consumer, idle, n, ready, reclaimed, process, logger)
}

// AuditInCommit is true: audit rows commit with the acknowledgement.
func (b *AlerterBackend) AuditInCommit() bool { return true }

// ReloadRequests is nil: in one process nothing else asks for a reload.
func (b *AlerterBackend) ReloadRequests(context.Context) <-chan struct{} { return nil }

// unhandledPruneEvery is how often expired unhandled counters are deleted.
const unhandledPruneEvery = time.Minute

// Depths reads the recorded queue depths; once a minute it also deletes
// the unhandled counters that have expired.
func (b *AlerterBackend) Depths(ctx context.Context) (alerter.Depths, error) {
	d := alerter.Depths{Ingest: -1, DLQ: -1, Pending: b.ingest.pendingCount()}
	var err error
	if d.Alerts, err = b.db.Len(ctx, b.queues.Alerts); err != nil {
		return alerter.Depths{}, err
	}
	if n, err := b.db.Len(ctx, b.queues.Ingest); err == nil {
		d.Ingest = n
	}
	if n, err := b.db.DeadLetterCount(ctx, b.queues.DLQ); err == nil {
		d.DLQ = n
	}
	b.pruneMu.Lock()
	due := time.Since(b.lastPrune) >= unhandledPruneEvery
	if due {
		b.lastPrune = time.Now()
	}
	b.pruneMu.Unlock()
	if due {
		if _, err := b.db.PruneUnhandled(ctx); err != nil {
			return d, err
		}
	}
	return d, nil
}

// Commit applies the batch in one transaction and forgets its entries.
func (b *AlerterBackend) Commit(ctx context.Context, c *alerter.Batch) (alerter.CommitResult, error) {
	seqs, err := parseSeqs(c.IDs)
	if err != nil {
		return alerter.CommitResult{}, fmt.Errorf("committing alerter batch: %w", err)
	}
	batch := sqlstore.Batch{Queue: b.queues.Ingest, Ack: seqs, Audit: c.Audit}
	if len(c.Alerts) > 0 {
		batch.Out = make([]sqlstore.Message, len(c.Alerts))
		for i, al := range c.Alerts {
			batch.Out[i] = sqlstore.Message{Queue: b.queues.Alerts, Payload: al}
		}
	}
	for _, d := range c.Dead {
		sd, err := StoreDeadLetter(b.queues.DLQ, d)
		if err != nil {
			return alerter.CommitResult{}, fmt.Errorf("committing alerter batch: %w", err)
		}
		batch.Dead = append(batch.Dead, sd)
	}
	if len(c.UnhandledKeys) > 0 {
		batch.Unhandled = &sqlstore.Unhandled{Keys: c.UnhandledKeys, Threshold: c.Threshold, Expiry: c.Expiry,
			MetaQueue: b.queues.Alerts, MetaAlert: c.MetaAlert}
	}
	res, err := b.db.Commit(ctx, batch)
	if err != nil {
		return alerter.CommitResult{}, err
	}
	b.ingest.done(seqs)
	return alerter.CommitResult{Acked: res.Acked, MetaAlerts: res.MetaAlerts}, nil
}
