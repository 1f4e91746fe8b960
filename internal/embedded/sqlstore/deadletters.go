package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"math"
	"strconv"
	"time"

	mqueue "github.com/mutt-go/mutt/internal/queue"
)

// StoredDeadLetter is a dead letter as it is stored: its row and when it
// was parked, beside the record.
type StoredDeadLetter struct {
	DeadLetter
	ID       int64     // its row, increasing in the order letters are parked
	FailedAt time.Time // when it reached its queue
	// Origin and OriginSeq are where the letter was before Source, when it
	// reached the dead queue through another dead-letter queue ("" and 0
	// otherwise).
	Origin    string
	OriginSeq int64
}

// Burial is a dead letter to move to the dead queue and what to record
// there instead of its reason and error.
type Burial struct {
	ID     int64
	Reason string
	Error  string
}

const (
	deadColumns     = `id, failed_at, queue, payload, reason, error, source, source_seq, deliveries, attempts, replays, status, origin, origin_seq`
	listDeadSQL     = `SELECT ` + deadColumns + ` FROM dead_letters WHERE queue = ? AND id > ? AND failed_at >= ? ORDER BY id LIMIT ?`
	getDeadSQL      = `SELECT ` + deadColumns + ` FROM dead_letters WHERE queue = ? AND id = ?`
	countDeadSQL    = `SELECT count(*) FROM dead_letters WHERE queue = ?`
	takeDeadSQL     = `DELETE FROM dead_letters WHERE queue = ? AND id = ? RETURNING payload, reason, error, deliveries, attempts, replays, status`
	appendReplaySQL = `INSERT INTO queue_entries (queue, payload, enqueued_at, attempts, replays) VALUES (?, ?, ?, 0, ?)`
	replayLimitSQL  = `INSERT INTO dead_letters (queue, payload, reason, error, source, source_seq, deliveries, attempts, replays, status, failed_at) VALUES (?, ?, 'replay_limit', ?, ?, ?, ?, ?, ?, ?, ?)`
	buryDeadSQL     = `INSERT INTO dead_letters (queue, payload, reason, error, source, source_seq, deliveries, attempts, replays, status, failed_at, origin, origin_seq)
SELECT ?, payload, ?, ?, queue, id, deliveries, attempts, replays, status, ?, source, source_seq FROM dead_letters WHERE queue = ? AND id = ?`
	deleteOneDeadSQL = `DELETE FROM dead_letters WHERE queue = ? AND id = ?`
)

// scanDead reads one row of deadColumns.
func scanDead(row interface{ Scan(...any) error }) (StoredDeadLetter, error) {
	var (
		dl StoredDeadLetter
		at int64
	)
	err := row.Scan(&dl.ID, &at, &dl.Queue, &dl.Payload, &dl.Reason, &dl.Error, &dl.Source, &dl.SourceSeq,
		&dl.Deliveries, &dl.Attempts, &dl.Replays, &dl.Status, &dl.Origin, &dl.OriginSeq)
	dl.FailedAt = fromMicros(at)
	return dl, err
}

// ListDeadLetters returns up to n dead letters of queue, oldest first: those
// whose ID is greater than after (0 for the head) and, when since is not
// zero, none parked before since's millisecond.
func (d *DB) ListDeadLetters(ctx context.Context, queue string, after int64, since time.Time, n int) ([]StoredDeadLetter, error) {
	from := int64(math.MinInt64)
	if !since.IsZero() {
		from = since.UnixMilli() * 1000
	}
	rows, err := d.r.QueryContext(ctx, listDeadSQL, queue, after, from, n)
	if err != nil {
		return nil, fmt.Errorf("reading dead letters of %s: %w", queue, err)
	}
	defer rows.Close()
	out := make([]StoredDeadLetter, 0, min(n, 1000))
	for rows.Next() {
		dl, err := scanDead(rows)
		if err != nil {
			return nil, fmt.Errorf("reading dead letters of %s: %w", queue, err)
		}
		out = append(out, dl)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("reading dead letters of %s: %w", queue, err)
	}
	return out, nil
}

// DeadLetterByID returns the dead letter id of queue; ok is false when
// queue holds no such letter.
func (d *DB) DeadLetterByID(ctx context.Context, queue string, id int64) (dl StoredDeadLetter, ok bool, err error) {
	dl, err = scanDead(d.r.QueryRowContext(ctx, getDeadSQL, queue, id))
	switch {
	case errNoRow(err):
		return StoredDeadLetter{}, false, nil
	case err != nil:
		return StoredDeadLetter{}, false, fmt.Errorf("reading dead letter %d of %s: %w", id, queue, err)
	}
	return dl, true, nil
}

// DeadLetterCount returns how many dead letters queue holds.
func (d *DB) DeadLetterCount(ctx context.Context, queue string) (int64, error) {
	var n int64
	if err := d.r.QueryRowContext(ctx, countDeadSQL, queue).Scan(&n); err != nil {
		return 0, fmt.Errorf("measuring %s: %w", queue, err)
	}
	return n, nil
}

// DeleteDeadLetters deletes the dead letters ids of queue in one
// transaction and returns how many existed.
func (d *DB) DeleteDeadLetters(ctx context.Context, queue string, ids []int64) (int64, error) {
	var total int64
	err := d.inTx(ctx, func(tx *sql.Tx) error {
		total = 0
		del, err := tx.PrepareContext(ctx, deleteOneDeadSQL)
		if err != nil {
			return classify(err)
		}
		defer del.Close()
		for _, id := range ids {
			r, err := del.ExecContext(ctx, queue, id)
			if err != nil {
				return classify(err)
			}
			n, err := r.RowsAffected()
			if err != nil {
				return err
			}
			total += n
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("deleting %d dead letters of %s: %w", len(ids), queue, err)
	}
	return total, nil
}

// ReplayDeadLetters moves the dead letters ids of dlq back to the queue
// target with their replay counter raised by one and no delivery attempts
// spent, as the Redis replay does; a letter already replayed maxReplays
// times goes to the dead-letter queue dead instead, with the reason
// replay_limit, dlq as its source and its counters kept. An ID not in dlq
// counts as missing. Everything happens in one transaction: the letters
// leave dlq, the entries join target and its depth is updated together.
func (d *DB) ReplayDeadLetters(ctx context.Context, dlq, target, dead string, maxReplays int, ids []int64) (mqueue.ReplayResult, error) {
	var res mqueue.ReplayResult
	err := d.inTx(ctx, func(tx *sql.Tx) error {
		res = mqueue.ReplayResult{}
		now := micros(d.now())
		for _, id := range ids {
			var dl DeadLetter
			err := tx.QueryRowContext(ctx, takeDeadSQL, dlq, id).Scan(&dl.Payload, &dl.Reason, &dl.Error,
				&dl.Deliveries, &dl.Attempts, &dl.Replays, &dl.Status)
			if errNoRow(err) {
				res.Missing++
				continue
			}
			if err != nil {
				return classify(err)
			}
			if dl.Replays+1 > int64(maxReplays) {
				detail := "replayed " + strconv.FormatInt(dl.Replays, 10) + " times without success; last failure: " + dl.Reason + ": " + dl.Error
				if _, err := tx.ExecContext(ctx, replayLimitSQL, dead, dl.Payload, detail, dlq, id,
					dl.Deliveries, dl.Attempts, dl.Replays, dl.Status, now); err != nil {
					return classify(err)
				}
				res.Dead++
				continue
			}
			if _, err := tx.ExecContext(ctx, appendReplaySQL, target, dl.Payload, now, dl.Replays+1); err != nil {
				return classify(err)
			}
			res.Replayed++
		}
		return addDepth(ctx, tx, target, int64(res.Replayed))
	})
	if err != nil {
		return mqueue.ReplayResult{}, fmt.Errorf("replaying from %s to %s: %w", dlq, target, err)
	}
	if res.Replayed > 0 {
		d.appended.signal()
	}
	return res, nil
}

// BuryDeadLetters moves dead letters of dlq to the dead-letter queue dead
// in one transaction, keeping every field but the reason and error given;
// there dlq and the letter's ID become the source and the old source the
// origin. It returns, for each burial, whether the letter was there.
func (d *DB) BuryDeadLetters(ctx context.Context, dlq, dead string, burials []Burial) ([]bool, error) {
	moved := make([]bool, len(burials))
	err := d.inTx(ctx, func(tx *sql.Tx) error {
		now := micros(d.now())
		for i, b := range burials {
			r, err := tx.ExecContext(ctx, buryDeadSQL, dead, b.Reason, b.Error, now, dlq, b.ID)
			if err != nil {
				return classify(err)
			}
			n, err := r.RowsAffected()
			if err != nil {
				return err
			}
			if moved[i] = n == 1; !moved[i] {
				continue
			}
			if _, err := tx.ExecContext(ctx, deleteOneDeadSQL, dlq, b.ID); err != nil {
				return classify(err)
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("moving %d dead letters of %s to %s: %w", len(burials), dlq, dead, err)
	}
	return moved, nil
}
