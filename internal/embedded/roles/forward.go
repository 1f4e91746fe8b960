package roles

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/mutt-go/mutt/internal/embedded/sqlstore"
	"github.com/mutt-go/mutt/internal/forward"
	"github.com/mutt-go/mutt/internal/queue"
)

// NewForwardBackend returns the forwarder's storage in db, under the names
// of opts: the alert queue AlertQueue, the schedule RetryKey and the dead
// letters of MoogDLQ and DeadDLQ. Its rate limit and breaker state go in
// process (forward.NewLocalBucket, forward.NewLocalBreakerStore).
//
// One process owns db, so the alert source keeps in memory what it handed
// out and not yet committed: Read returns only entries past the last one
// handed out, Reclaim hands out again what a consumer held for the idle
// time. A new process starts with nothing handed out, so its first reads
// return everything left uncommitted before it stopped, at once; delivery
// counts (ForwarderOptions.MaxDeliveries) start again at 1 then, so an
// alert that crashes the process is dead-lettered only after that many
// deliveries within one run.
func NewForwardBackend(db *sqlstore.DB, opts forward.ForwarderOptions) forward.Backend {
	src := newAlertSource(db, opts.AlertQueue)
	return forward.Backend{
		Alerts: src,
		Commits: &deliveryCommitter{db: db, source: src, queue: opts.AlertQueue, schedule: opts.RetryKey,
			moogDLQ: opts.MoogDLQ, deadDLQ: opts.DeadDLQ},
		Schedule: &schedule{db: db, name: opts.RetryKey, queue: opts.AlertQueue},
		MoogDLQ:  &deadLetterDepth{db: db, queue: opts.MoogDLQ},
	}
}

// alertSource is the alert queue as the forwarder reads it: a consumer
// (consumer.go) with the forwarder's method names.
type alertSource struct{ *consumer }

var _ forward.AlertSource = (*alertSource)(nil)

func newAlertSource(db *sqlstore.DB, q string) *alertSource {
	return &alertSource{newConsumer(db, q)}
}

// Prepare has nothing to prepare: the queue is a table of the schema.
func (s *alertSource) Prepare(context.Context) error { return nil }

// Read hands consumer up to n alerts not handed out yet.
func (s *alertSource) Read(ctx context.Context, consumer string, n int, block time.Duration) ([]queue.Message, error) {
	return s.read(ctx, consumer, n, block)
}

// Recover hands process what consumer holds from an earlier run of a
// forwarder in this process; after a process restart there is none, and
// Read returns the uncommitted alerts instead.
func (s *alertSource) Recover(ctx context.Context, consumer string, n int,
	process func(context.Context, []queue.Message) error) (int, error) {
	return s.recoverPending(ctx, consumer, n, process)
}

// Reclaim hands consumer up to n alerts held for minIdle or longer.
func (s *alertSource) Reclaim(_ context.Context, consumer string, minIdle time.Duration, n int) ([]queue.Message, error) {
	return s.reclaim(consumer, minIdle, n), nil
}

// Touch restarts the idle time of the alerts ids, now held by consumer.
func (s *alertSource) Touch(_ context.Context, consumer string, ids []string) error {
	s.touch(consumer, ids)
	return nil
}

// Len is the alert queue's length.
func (s *alertSource) Len(ctx context.Context) (int64, error) { return s.db.Len(ctx, s.queue) }

// PendingCount is how many alerts are handed out and not committed.
func (s *alertSource) PendingCount(context.Context) (int64, error) { return s.pendingCount(), nil }

// deliveryCommitter commits delivery steps with sqlstore.DB.CommitDelivery.
type deliveryCommitter struct {
	db               *sqlstore.DB
	source           *alertSource // told what was committed
	queue, schedule  string
	moogDLQ, deadDLQ string
}

var _ forward.Committer = (*deliveryCommitter)(nil)

func (c *deliveryCommitter) Commit(ctx context.Context, dc forward.DeliveryCommit) (int64, error) {
	seqs := make([]int64, len(dc.IDs))
	for i, id := range dc.IDs {
		seq, err := strconv.ParseInt(id, 10, 64)
		if err != nil {
			return 0, fmt.Errorf("committing delivery: alert id %q is not an embedded queue position", id)
		}
		seqs[i] = seq
	}
	later := make([]sqlstore.Scheduled, len(dc.Schedule))
	for i, s := range dc.Schedule {
		later[i] = sqlstore.Scheduled{Payload: s.Payload, Attempts: s.Attempts, Replays: s.Replays, Due: s.Due}
	}
	dead := make([]sqlstore.DeadLetter, 0, len(dc.DLQ)+len(dc.Dead))
	for _, list := range []struct {
		queue   string
		letters []queue.DeadLetter
	}{{c.moogDLQ, dc.DLQ}, {c.deadDLQ, dc.Dead}} {
		for _, d := range list.letters {
			sd, err := StoreDeadLetter(list.queue, d)
			if err != nil {
				return 0, fmt.Errorf("committing delivery: %w", err)
			}
			dead = append(dead, sd)
		}
	}
	acked, err := c.db.CommitDelivery(ctx, sqlstore.Delivery{
		Queue: c.queue, Ack: seqs, Schedule: c.schedule, Later: later, Dead: dead,
	})
	if err != nil {
		return 0, err
	}
	c.source.done(seqs)
	return acked, nil
}

// schedule is the retry schedule feeding the alert queue.
type schedule struct {
	db          *sqlstore.DB
	name, queue string
}

var _ forward.Schedule = (*schedule)(nil)

func (s *schedule) MoveDue(ctx context.Context, limit int) (int, time.Duration, error) {
	return s.db.MoveDue(ctx, s.name, s.queue, limit)
}

func (s *schedule) Len(ctx context.Context) (int64, error) { return s.db.ScheduleLen(ctx, s.name) }

// deadLetterDepth measures a dead-letter queue.
type deadLetterDepth struct {
	db    *sqlstore.DB
	queue string
}

func (d *deadLetterDepth) Len(ctx context.Context) (int64, error) {
	return d.db.DeadLetterCount(ctx, d.queue)
}
