package roles

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/mutt-go/mutt/internal/embedded/sqlstore"
	"github.com/mutt-go/mutt/internal/forward"
	"github.com/mutt-go/mutt/internal/queue"
)

// readPoll is how often a waiting Read looks for new alerts: the queue is
// a table, written by other roles of the process, with nothing to wake a
// reader.
const readPoll = 20 * time.Millisecond

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

// handout is an alert handed to a consumer and not committed.
type handout struct {
	msg      queue.Message
	consumer string
	since    time.Time
}

// alertSource reads the alert queue and tracks what it handed out; the
// committer tells it what was committed.
type alertSource struct {
	db    *sqlstore.DB
	queue string

	mu    sync.Mutex
	after int64              // the last Seq handed out by Read
	held  map[int64]*handout // by Seq
}

var _ forward.AlertSource = (*alertSource)(nil)

func newAlertSource(db *sqlstore.DB, q string) *alertSource {
	return &alertSource{db: db, queue: q, held: make(map[int64]*handout)}
}

// Prepare has nothing to prepare: the queue is a table of the schema.
func (s *alertSource) Prepare(context.Context) error { return nil }

func (s *alertSource) Read(ctx context.Context, consumer string, n int, block time.Duration) ([]queue.Message, error) {
	deadline := time.Now().Add(block)
	for {
		msgs, err := s.take(ctx, consumer, n)
		if err != nil || len(msgs) > 0 {
			return msgs, err
		}
		left := time.Until(deadline)
		if left <= 0 || !queue.Sleep(ctx, min(left, readPoll)) {
			return nil, nil
		}
	}
}

// take hands consumer up to n entries past the last one handed out.
func (s *alertSource) take(ctx context.Context, consumer string, n int) ([]queue.Message, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	entries, err := s.db.Read(ctx, s.queue, s.after, n)
	if err != nil || len(entries) == 0 {
		return nil, err
	}
	now := time.Now()
	out := make([]queue.Message, len(entries))
	for i, e := range entries {
		p := e.Payload
		if p == nil {
			p = []byte{} // stored, so present: never the poison "no payload"
		}
		out[i] = queue.Message{ID: strconv.FormatInt(e.Seq, 10), Payload: p, Deliveries: 1,
			Attempts: e.Attempts, Replays: e.Replays}
		s.held[e.Seq] = &handout{msg: out[i], consumer: consumer, since: now}
		s.after = e.Seq
	}
	return out, nil
}

// handOver gives consumer up to n held alerts that pick selects, oldest
// first, counting the delivery.
func (s *alertSource) handOver(consumer string, n int, pick func(seq int64, h *handout) bool) []queue.Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	var seqs []int64
	for seq, h := range s.held {
		if pick(seq, h) {
			seqs = append(seqs, seq)
		}
	}
	slices.Sort(seqs)
	seqs = seqs[:min(n, len(seqs))]
	now := time.Now()
	out := make([]queue.Message, len(seqs))
	for i, seq := range seqs {
		h := s.held[seq]
		h.msg.Deliveries++
		h.consumer, h.since = consumer, now
		out[i] = h.msg
	}
	return out
}

// Recover hands process what consumer holds from an earlier run of a
// forwarder in this process; after a process restart there is none, and
// Read returns the uncommitted alerts instead.
func (s *alertSource) Recover(ctx context.Context, consumer string, n int,
	process func(context.Context, []queue.Message) error) (int, error) {
	var last int64
	total := 0
	for ctx.Err() == nil {
		msgs := s.handOver(consumer, n, func(seq int64, h *handout) bool { return h.consumer == consumer && seq > last })
		if len(msgs) == 0 {
			return total, nil
		}
		last, _ = strconv.ParseInt(msgs[len(msgs)-1].ID, 10, 64)
		total += len(msgs)
		if err := process(ctx, msgs); err != nil {
			return total, fmt.Errorf("processing %d pending alerts of %s: %w", len(msgs), consumer, err)
		}
	}
	return total, ctx.Err()
}

func (s *alertSource) Reclaim(_ context.Context, consumer string, minIdle time.Duration, n int) ([]queue.Message, error) {
	cutoff := time.Now().Add(-minIdle)
	return s.handOver(consumer, n, func(_ int64, h *handout) bool { return !h.since.After(cutoff) }), nil
}

func (s *alertSource) Touch(_ context.Context, consumer string, ids []string) error {
	now := time.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, id := range ids {
		seq, err := strconv.ParseInt(id, 10, 64)
		if err != nil {
			continue
		}
		if h, ok := s.held[seq]; ok {
			h.consumer, h.since = consumer, now
		}
	}
	return nil
}

// release forgets committed alerts.
func (s *alertSource) release(seqs []int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, seq := range seqs {
		delete(s.held, seq)
	}
}

func (s *alertSource) Len(ctx context.Context) (int64, error) { return s.db.Len(ctx, s.queue) }

func (s *alertSource) PendingCount(context.Context) (int64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return int64(len(s.held)), nil
}

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
			sd, err := storeDeadLetter(list.queue, d)
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
	c.source.release(seqs)
	return acked, nil
}

// storeDeadLetter is d as a dead letter of the queue dlq; its SourceID is
// the Seq of the entry it came from.
func storeDeadLetter(dlq string, d queue.DeadLetter) (sqlstore.DeadLetter, error) {
	seq, err := strconv.ParseInt(d.SourceID, 10, 64)
	if err != nil {
		return sqlstore.DeadLetter{}, fmt.Errorf("dead letter source id %q is not an embedded queue position", d.SourceID)
	}
	return sqlstore.DeadLetter{
		Queue: dlq, Payload: d.Payload, Reason: d.Reason, Error: d.Error, Source: d.Source, SourceSeq: seq,
		Deliveries: d.Deliveries, Attempts: d.Attempts, Replays: d.Replays, Status: d.Status,
	}, nil
}

// queueDeadLetter is the stored dead letter d as the roles see it.
func queueDeadLetter(d sqlstore.DeadLetter) queue.DeadLetter {
	return queue.DeadLetter{
		Payload: d.Payload, Reason: d.Reason, Error: d.Error, Source: d.Source,
		SourceID: strconv.FormatInt(d.SourceSeq, 10), Deliveries: d.Deliveries, Attempts: d.Attempts,
		Replays: d.Replays, Status: d.Status,
	}
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
