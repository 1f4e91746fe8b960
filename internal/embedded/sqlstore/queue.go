package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	mqueue "github.com/mutt-go/mutt/internal/queue"
	"github.com/mutt-go/mutt/internal/store"
)

// Entry is one queued record as a consumer reads it.
type Entry struct {
	Seq        int64 // position in the database, increasing in append order
	Payload    []byte
	EnqueuedAt time.Time
	Attempts   int64 // delivery attempts already spent (forwarder)
	Replays    int64 // times replayed from a dead-letter queue
}

// Message is one record to append to a queue within a batch commit.
type Message struct {
	Queue    string
	Payload  []byte
	Attempts int64
	Replays  int64
}

// DeadLetter is the typed record of a message parked in a dead-letter
// queue: the same fields a Redis dead-letter entry carries.
type DeadLetter struct {
	Queue      string // the dead-letter queue, e.g. "mutt:dlq:alerter"
	Payload    []byte
	Reason     string // short, fixed vocabulary: invalid_event, max_retries, audit_rejected, shed, …
	Error      string // the detail
	Source     string // queue the message came from
	SourceSeq  int64  // its Seq there
	Deliveries int64
	Attempts   int64
	Replays    int64
	Status     int // last HTTP status, where there was one
}

// Batch is everything one consumer batch commits in one transaction: the
// entries it consumed, their audit rows, the messages it produces and its
// dead letters. Either all of it is durable or none of it is.
type Batch struct {
	Queue string  // the queue Ack refers to
	Ack   []int64 // Seqs of the consumed entries, deleted by the commit
	Audit []store.AuditRow
	Out   []Message
	Dead  []DeadLetter
	// Unhandled counts unhandled events per signature in the same
	// transaction (nil: none).
	Unhandled *Unhandled
}

// CommitResult says what a commit did.
type CommitResult struct {
	Acked      int64 // entries deleted
	Audited    int64 // audit rows that were new
	MetaAlerts int64 // meta-alerts appended for counters that reached the threshold
}

const (
	readSQL = `SELECT seq, payload, enqueued_at, attempts, replays FROM queue_entries
WHERE queue = ? AND seq > ? ORDER BY seq LIMIT ?`
	depthSQL    = `SELECT n FROM queue_depths WHERE queue = ?`
	addDepthSQL = `INSERT INTO queue_depths (queue, n) VALUES (?, ?) ON CONFLICT (queue) DO UPDATE SET n = n + excluded.n`
	subDepthSQL = `UPDATE queue_depths SET n = n + ? WHERE queue = ?`
)

// Append adds payloads to the end of queue in one transaction. A full disk
// gives an error wrapping ErrStorageFull, and then none of them is queued.
func (d *DB) Append(ctx context.Context, queue string, payloads [][]byte) error {
	_, _, err := d.AppendGroup(ctx, queue, [][][]byte{payloads}, 0)
	return err
}

// addDepth adds delta to the recorded depth of queue inside tx.
func addDepth(ctx context.Context, tx *sql.Tx, queue string, delta int64) error {
	var err error
	switch {
	case delta > 0:
		_, err = tx.ExecContext(ctx, addDepthSQL, queue, delta)
	case delta < 0:
		// The entries exist, so their queue's row does too.
		_, err = tx.ExecContext(ctx, subDepthSQL, delta, queue)
	}
	return classify(err)
}

// AppendGroup appends several batches to queue in one transaction, each
// refused on its own when it would take the queue over limit entries (0 =
// no limit): the group commit of concurrent producers, one fsync for all of
// them. depths[i] is the depth after batch i, refused[i] its
// *queue.QueueFullError; err fails every batch (nothing was appended).
func (d *DB) AppendGroup(ctx context.Context, queue string, batches [][][]byte, limit int64) (depths []int64, refused []error, err error) {
	var rows [][]byte
	err = d.inTx(ctx, func(tx *sql.Tx) error {
		depths, refused, rows = make([]int64, len(batches)), make([]error, len(batches)), rows[:0]
		var depth int64
		if err := tx.QueryRowContext(ctx, depthSQL, queue).Scan(&depth); err != nil && !errNoRow(err) {
			return classify(err)
		}
		start := depth
		for i, b := range batches {
			if limit > 0 && len(b) > 0 && depth+int64(len(b)) > limit {
				refused[i] = &mqueue.QueueFullError{Depth: depth, Limit: limit}
				depths[i] = depth
				continue
			}
			depth += int64(len(b))
			depths[i] = depth
			rows = append(rows, b...)
		}
		if len(rows) == 0 {
			return nil
		}
		now := micros(d.now())
		if _, err := queueInsert.exec(ctx, tx, len(rows), 5, func(args []any, i int) ([]any, error) {
			return append(args, queue, rows[i], now, 0, 0), nil
		}); err != nil {
			return err
		}
		return addDepth(ctx, tx, queue, depth-start)
	})
	if err != nil {
		return nil, nil, fmt.Errorf("appending %d batches to %s: %w", len(batches), queue, err)
	}
	if len(rows) > 0 {
		d.appended.signal()
	}
	return depths, refused, nil
}

// Read returns up to n of the oldest entries of queue whose Seq is greater
// than after (0 for the head). Reading changes nothing: an entry stays until
// a Commit acknowledges it, so entries read by a process that dies before
// its commit are read again after a restart. One consumer per queue reads
// at a time; it passes the last Seq it holds uncommitted as after.
func (d *DB) Read(ctx context.Context, queue string, after int64, n int) ([]Entry, error) {
	rows, err := d.r.QueryContext(ctx, readSQL, queue, after, n)
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", queue, err)
	}
	defer rows.Close()
	out := make([]Entry, 0, n)
	for rows.Next() {
		var (
			e  Entry
			at int64
		)
		if err := rows.Scan(&e.Seq, &e.Payload, &at, &e.Attempts, &e.Replays); err != nil {
			return nil, fmt.Errorf("reading %s: %w", queue, err)
		}
		e.EnqueuedAt = fromMicros(at)
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("reading %s: %w", queue, err)
	}
	return out, nil
}

// Len returns the number of entries in queue.
func (d *DB) Len(ctx context.Context, queue string) (int64, error) {
	var n int64
	if err := d.r.QueryRowContext(ctx, depthSQL, queue).Scan(&n); err != nil && !errNoRow(err) {
		return 0, fmt.Errorf("measuring %s: %w", queue, err)
	}
	return n, nil
}

// Commit applies b in one transaction: it deletes the acknowledged entries,
// inserts the audit rows (skipping events already audited), appends the
// produced messages and writes the dead letters. When b acknowledges
// entries none of which exists any more (the batch was already committed),
// it does nothing and returns a zero result, so a batch's effects happen
// once. An audit row the database rejects fails the whole commit with an
// error for which store.IsRowError is true; a full disk with one wrapping
// ErrStorageFull.
func (d *DB) Commit(ctx context.Context, b Batch) (CommitResult, error) {
	var res CommitResult
	err := d.inTx(ctx, func(tx *sql.Tx) error {
		res = CommitResult{}
		if len(b.Ack) > 0 {
			acked, err := ackTx(ctx, tx, b.Queue, b.Ack)
			if err != nil {
				return err
			}
			if acked == 0 {
				return nil
			}
			res.Acked = acked
			if err := addDepth(ctx, tx, b.Queue, -acked); err != nil {
				return err
			}
		}
		n, err := insertAuditTx(ctx, tx, b.Audit)
		if err != nil {
			return err
		}
		res.Audited = n
		now := micros(d.now())
		_, err = queueInsert.exec(ctx, tx, len(b.Out), 5, func(args []any, i int) ([]any, error) {
			m := b.Out[i]
			return append(args, m.Queue, m.Payload, now, m.Attempts, m.Replays), nil
		})
		if err != nil {
			return err
		}
		for q, n := range countByQueue(b.Out) {
			if err := addDepth(ctx, tx, q, n); err != nil {
				return err
			}
		}
		if b.Unhandled != nil {
			if res.MetaAlerts, err = countUnhandledTx(ctx, tx, b.Unhandled, now); err != nil {
				return err
			}
		}
		_, err = deadInsert.exec(ctx, tx, len(b.Dead), 11, func(args []any, i int) ([]any, error) {
			dl := b.Dead[i]
			return append(args, dl.Queue, dl.Payload, dl.Reason, dl.Error, dl.Source, dl.SourceSeq,
				dl.Deliveries, dl.Attempts, dl.Replays, dl.Status, now), nil
		})
		return err
	})
	if err != nil {
		return CommitResult{}, fmt.Errorf("committing batch of %d from %s: %w", len(b.Ack), b.Queue, err)
	}
	if len(b.Out) > 0 || res.MetaAlerts > 0 {
		d.appended.signal()
	}
	return res, nil
}

// countByQueue returns how many of msgs go to each queue.
func countByQueue(msgs []Message) map[string]int64 {
	if len(msgs) == 0 {
		return nil
	}
	out := make(map[string]int64, 1)
	for _, m := range msgs {
		out[m.Queue]++
	}
	return out
}

// ackTx deletes the entries seqs of queue and returns how many existed.
func ackTx(ctx context.Context, tx *sql.Tx, queue string, seqs []int64) (int64, error) {
	var total int64
	for start := 0; start < len(seqs); start += chunkRows {
		chunk := seqs[start:min(start+chunkRows, len(seqs))]
		// The queue name leads each chunk's parameters.
		n, err := queueDelete.exec(ctx, tx, len(chunk), 1, func(args []any, i int) ([]any, error) {
			if i == 0 {
				args = append(args, queue)
			}
			return append(args, chunk[i]), nil
		})
		if err != nil {
			return 0, err
		}
		total += n
	}
	return total, nil
}

// DeadLetters returns up to n dead letters of queue, oldest first.
func (d *DB) DeadLetters(ctx context.Context, queue string, n int) ([]DeadLetter, error) {
	rows, err := d.r.QueryContext(ctx, `SELECT queue, payload, reason, error, source, source_seq, deliveries,
       attempts, replays, status FROM dead_letters WHERE queue = ? ORDER BY id LIMIT ?`, queue, n)
	if err != nil {
		return nil, fmt.Errorf("reading dead letters of %s: %w", queue, err)
	}
	defer rows.Close()
	var out []DeadLetter
	for rows.Next() {
		var dl DeadLetter
		if err := rows.Scan(&dl.Queue, &dl.Payload, &dl.Reason, &dl.Error, &dl.Source, &dl.SourceSeq, &dl.Deliveries,
			&dl.Attempts, &dl.Replays, &dl.Status); err != nil {
			return nil, fmt.Errorf("reading dead letters of %s: %w", queue, err)
		}
		out = append(out, dl)
	}
	return out, rows.Err()
}
