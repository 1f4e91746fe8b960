package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"time"
)

// Scheduled is one entry of a retry schedule: a message waiting until Due
// before it goes back on its queue, with the counters that travel with it.
type Scheduled struct {
	Payload  []byte
	Attempts int64
	Replays  int64
	Due      time.Time
}

// Delivery is everything one forwarder delivery step commits in one
// transaction: the entries it consumed, the messages it reschedules and
// its dead letters. Either all of it is durable or none of it is.
type Delivery struct {
	Queue    string  // the queue Ack refers to
	Ack      []int64 // Seqs of the consumed entries, deleted by the commit
	Schedule string  // the schedule Later goes to
	Later    []Scheduled
	Dead     []DeadLetter
}

// The batch statements of the schedule and the dead letters; a missing
// payload is stored empty, so a poison message can always be parked.
var (
	scheduleInsert = newMultiRow(`INSERT INTO scheduled_entries (schedule, payload, attempts, replays, due_at) VALUES `,
		"(?, coalesce(?, x''), ?, ?, ?)", ", ", "")
	scheduleDelete = newMultiRow(`DELETE FROM scheduled_entries WHERE id IN (`, "?", ", ", ")")
	deadInsert     = newMultiRow(`INSERT INTO dead_letters (queue, payload, reason, error, source, source_seq, deliveries,
                          attempts, replays, status, failed_at) VALUES `,
		"(?, coalesce(?, x''), ?, ?, ?, ?, ?, ?, ?, ?, ?)", ", ", "")
)

const (
	nextDueSQL = `SELECT min(due_at) FROM scheduled_entries WHERE schedule = ?`
	dueSQL     = `SELECT id, payload, attempts, replays FROM scheduled_entries
WHERE schedule = ? AND due_at <= ? ORDER BY due_at, id LIMIT ?`
)

// CommitDelivery applies b in one transaction: it deletes the acknowledged
// entries, adds the rescheduled messages to b.Schedule and writes the dead
// letters, in the order given. When b acknowledges entries none of which
// exists any more (the step was already committed, or another consumer
// finished them), it does nothing and returns 0; otherwise it returns how
// many entries it deleted. A full disk gives an error wrapping
// ErrStorageFull.
func (d *DB) CommitDelivery(ctx context.Context, b Delivery) (int64, error) {
	var acked int64
	err := d.inTx(ctx, func(tx *sql.Tx) error {
		acked = 0
		if len(b.Ack) > 0 {
			n, err := ackTx(ctx, tx, b.Queue, b.Ack)
			if err != nil {
				return err
			}
			if n == 0 {
				return nil
			}
			acked = n
			if err := addDepth(ctx, tx, b.Queue, -n); err != nil {
				return err
			}
		}
		_, err := scheduleInsert.exec(ctx, tx, len(b.Later), 5, func(args []any, i int) ([]any, error) {
			s := b.Later[i]
			return append(args, b.Schedule, s.Payload, s.Attempts, s.Replays, micros(s.Due)), nil
		})
		if err != nil {
			return err
		}
		now := micros(d.now())
		_, err = deadInsert.exec(ctx, tx, len(b.Dead), 11, func(args []any, i int) ([]any, error) {
			dl := b.Dead[i]
			return append(args, dl.Queue, dl.Payload, dl.Reason, dl.Error, dl.Source, dl.SourceSeq,
				dl.Deliveries, dl.Attempts, dl.Replays, dl.Status, now), nil
		})
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("committing delivery of %d from %s: %w", len(b.Ack), b.Queue, err)
	}
	return acked, nil
}

// MoveDue appends up to limit entries of schedule that are due, earliest
// first, to queue with their counters, and deletes them from the schedule,
// in one transaction. It returns how many moved and how long until the next
// entry is due (negative when the schedule is empty). When nothing is due
// it writes nothing.
func (d *DB) MoveDue(ctx context.Context, schedule, queue string, limit int) (int, time.Duration, error) {
	now := d.now()
	next, err := nextDue(d.r.QueryRowContext(ctx, nextDueSQL, schedule), now)
	if err != nil || next != 0 {
		return 0, next, wrapMove(schedule, err)
	}
	moved := 0
	err = d.inTx(ctx, func(tx *sql.Tx) error {
		moved = 0
		ids, entries, err := dueTx(ctx, tx, schedule, micros(now), limit)
		if err != nil || len(ids) == 0 {
			return err
		}
		enq := micros(now)
		_, err = queueInsert.exec(ctx, tx, len(entries), 5, func(args []any, i int) ([]any, error) {
			e := entries[i]
			return append(args, queue, e.Payload, enq, e.Attempts, e.Replays), nil
		})
		if err != nil {
			return err
		}
		if err := addDepth(ctx, tx, queue, int64(len(entries))); err != nil {
			return err
		}
		_, err = scheduleDelete.exec(ctx, tx, len(ids), 1, func(args []any, i int) ([]any, error) {
			return append(args, ids[i]), nil
		})
		if err != nil {
			return err
		}
		moved = len(ids)
		next, err = nextDue(tx.QueryRowContext(ctx, nextDueSQL, schedule), now)
		return err
	})
	if err != nil {
		return 0, 0, wrapMove(schedule, err)
	}
	if moved > 0 {
		d.appended.signal()
	}
	return moved, next, nil
}

func wrapMove(schedule string, err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("moving due entries from %s: %w", schedule, err)
}

// nextDue scans the earliest due time of a schedule and returns how long
// until then: negative for an empty schedule, 0 when it is due.
func nextDue(row *sql.Row, now time.Time) (time.Duration, error) {
	var due sql.NullInt64
	if err := row.Scan(&due); err != nil {
		return 0, classify(err)
	}
	if !due.Valid {
		return -1, nil
	}
	return max(0, fromMicros(due.Int64).Sub(now)), nil
}

// dueTx returns the ids and entries of up to limit due entries of schedule.
func dueTx(ctx context.Context, tx *sql.Tx, schedule string, now int64, limit int) ([]int64, []Entry, error) {
	rows, err := tx.QueryContext(ctx, dueSQL, schedule, now, limit)
	if err != nil {
		return nil, nil, classify(err)
	}
	defer rows.Close()
	var (
		ids     []int64
		entries []Entry
	)
	for rows.Next() {
		var (
			id int64
			e  Entry
		)
		if err := rows.Scan(&id, &e.Payload, &e.Attempts, &e.Replays); err != nil {
			return nil, nil, err
		}
		ids = append(ids, id)
		entries = append(entries, e)
	}
	return ids, entries, rows.Err()
}

// ScheduleLen returns how many entries wait in schedule.
func (d *DB) ScheduleLen(ctx context.Context, schedule string) (int64, error) {
	var n int64
	if err := d.r.QueryRowContext(ctx, `SELECT count(*) FROM scheduled_entries WHERE schedule = ?`, schedule).Scan(&n); err != nil {
		return 0, fmt.Errorf("measuring %s: %w", schedule, err)
	}
	return n, nil
}
