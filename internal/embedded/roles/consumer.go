package roles

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/mutt-go/mutt/internal/embedded/sqlstore"
	"github.com/mutt-go/mutt/internal/queue"
)

// consumer reads one sqlstore queue on behalf of the workers of one
// process and remembers what it handed out until a commit acknowledges it:
// the in-process counterpart of a Redis consumer group. Nothing of it is
// on disk, so after a restart every entry still in the queue is new again,
// and the restarted role finishes its predecessor's work at once.
type consumer struct {
	db    *sqlstore.DB
	queue string

	mu      sync.Mutex
	cursor  int64 // highest Seq handed out
	pending map[int64]*pendingEntry
}

// pendingEntry is one entry handed out and not acknowledged yet.
type pendingEntry struct {
	msg      queue.Message
	consumer string
	since    time.Time
}

func newConsumer(db *sqlstore.DB, q string) *consumer {
	return &consumer{db: db, queue: q, pending: make(map[int64]*pendingEntry)}
}

// read returns up to n entries not handed out yet, waiting at most block
// for the first (a negative block does not wait).
func (c *consumer) read(ctx context.Context, name string, n int, block time.Duration) ([]queue.Message, error) {
	var deadline <-chan time.Time
	if block > 0 {
		t := time.NewTimer(block)
		defer t.Stop()
		deadline = t.C
	}
	for {
		appended := c.db.Appended()
		msgs, err := c.take(ctx, name, n)
		if err != nil || len(msgs) > 0 || block < 0 {
			return msgs, err
		}
		select {
		case <-ctx.Done():
			return nil, nil
		case <-deadline:
			return nil, nil
		case <-appended:
		case <-time.After(pollInterval):
			// Entries appended by a path that does not signal (a restore,
			// another tool) are still found.
		}
	}
}

// pollInterval bounds how long a waiting reader misses an append that did
// not wake it.
const pollInterval = 250 * time.Millisecond

// take reads the next entries after the cursor and records them as pending.
func (c *consumer) take(ctx context.Context, name string, n int) ([]queue.Message, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	entries, err := c.db.Read(ctx, c.queue, c.cursor, n)
	if err != nil || len(entries) == 0 {
		return nil, err
	}
	now := time.Now()
	msgs := make([]queue.Message, len(entries))
	for i, e := range entries {
		if e.Payload == nil {
			e.Payload = []byte{} // stored, so present: never the poison "no payload"
		}
		msgs[i] = queue.Message{ID: strconv.FormatInt(e.Seq, 10), Payload: e.Payload, Deliveries: 1,
			Attempts: e.Attempts, Replays: e.Replays}
		c.pending[e.Seq] = &pendingEntry{msg: msgs[i], consumer: name, since: now}
	}
	c.cursor = entries[len(entries)-1].Seq
	return msgs, nil
}

// claim hands over up to n pending entries that pass keep, oldest first,
// as delivered once more to name.
func (c *consumer) claim(name string, n int, keep func(seq int64, p *pendingEntry) bool) []queue.Message {
	c.mu.Lock()
	defer c.mu.Unlock()
	var seqs []int64
	for seq, p := range c.pending {
		if keep(seq, p) {
			seqs = append(seqs, seq)
		}
	}
	slices.Sort(seqs)
	if len(seqs) > n {
		seqs = seqs[:n]
	}
	now := time.Now()
	out := make([]queue.Message, 0, len(seqs))
	for _, seq := range seqs {
		p := c.pending[seq]
		p.msg.Deliveries++
		p.consumer, p.since = name, now
		out = append(out, p.msg)
	}
	return out
}

// recoverPending hands process the entries name holds, in batches of n,
// each entry once even when process leaves it uncommitted.
func (c *consumer) recoverPending(ctx context.Context, name string, n int, process func(context.Context, []queue.Message) error) (int, error) {
	total := 0
	var last int64
	for ctx.Err() == nil {
		msgs := c.claim(name, n, func(seq int64, p *pendingEntry) bool { return p.consumer == name && seq > last })
		if len(msgs) == 0 {
			return total, nil
		}
		last, _ = strconv.ParseInt(msgs[len(msgs)-1].ID, 10, 64)
		total += len(msgs)
		if err := process(ctx, msgs); err != nil {
			return total, fmt.Errorf("processing %d pending entries of %s: %w", len(msgs), name, err)
		}
	}
	return total, ctx.Err()
}

// reclaimLoop hands process, until ctx ends, the entries pending for idle
// or longer, in batches of n, while ready holds.
func (c *consumer) reclaimLoop(ctx context.Context, name string, idle time.Duration, n int, ready func() bool,
	reclaimed func(int), process func(context.Context, []queue.Message) error, logger *slog.Logger) {
	interval := max(idle/2, 500*time.Millisecond)
	for {
		for ctx.Err() == nil && (ready == nil || ready()) {
			msgs := c.reclaim(name, idle, n)
			if len(msgs) == 0 {
				break
			}
			if reclaimed != nil {
				reclaimed(len(msgs))
			}
			logger.Info("reclaimed pending entries", "queue", c.queue, "count", len(msgs))
			if err := process(ctx, msgs); err != nil {
				if ctx.Err() == nil {
					logger.Warn("processing reclaimed entries", "queue", c.queue, "error", err)
				}
				break
			}
		}
		if !queue.Sleep(ctx, interval) {
			return
		}
	}
}

// reclaim hands name up to n entries pending for idle or longer.
func (c *consumer) reclaim(name string, idle time.Duration, n int) []queue.Message {
	cutoff := time.Now().Add(-idle)
	return c.claim(name, n, func(_ int64, p *pendingEntry) bool { return !p.since.After(cutoff) })
}

// touch restarts the idle time of the pending entries ids, now held by
// name, so that a worker still busy with them keeps them.
func (c *consumer) touch(name string, ids []string) {
	now := time.Now()
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, id := range ids {
		seq, err := strconv.ParseInt(id, 10, 64)
		if err != nil {
			continue
		}
		if p, ok := c.pending[seq]; ok {
			p.consumer, p.since = name, now
		}
	}
}

// done forgets acknowledged entries.
func (c *consumer) done(seqs []int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, seq := range seqs {
		delete(c.pending, seq)
	}
}

// pendingCount returns how many entries are handed out and unacknowledged.
func (c *consumer) pendingCount() int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return int64(len(c.pending))
}

// parseSeqs turns message IDs back into Seqs.
func parseSeqs(ids []string) ([]int64, error) {
	seqs := make([]int64, len(ids))
	for i, id := range ids {
		seq, err := strconv.ParseInt(id, 10, 64)
		if err != nil {
			return nil, fmt.Errorf("message id %q: not an embedded queue position", id)
		}
		seqs[i] = seq
	}
	return seqs, nil
}
