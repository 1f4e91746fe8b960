package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"time"
)

// Unhandled is the unhandled-event counting of one batch: one counter key
// per unhandled event, in batch order. Counting follows the alerter's Redis
// semantics: a counter's window starts at its first event and lasts Expiry;
// the event that takes it to Threshold appends its meta-alert to MetaQueue
// and leaves the key triggered, counting nothing, for another Expiry.
type Unhandled struct {
	Keys      []string
	Threshold int64
	Expiry    time.Duration
	MetaQueue string
	// MetaAlert builds the meta-alert of the event behind Keys[k]; it is
	// called only for the events that reach the threshold.
	MetaAlert func(k int) []byte
}

const (
	unhandledGetSQL = `SELECT n, expires_at, triggered_until FROM unhandled_counters WHERE key = ?`
	unhandledPutSQL = `INSERT INTO unhandled_counters (key, n, expires_at, triggered_until) VALUES (?, ?, ?, ?)
ON CONFLICT (key) DO UPDATE SET n = excluded.n, expires_at = excluded.expires_at, triggered_until = excluded.triggered_until`
	unhandledPruneSQL = `DELETE FROM unhandled_counters WHERE expires_at <= ? AND triggered_until <= ?`
)

// countUnhandledTx counts u's events inside tx at time now (µs) and returns
// how many meta-alerts it appended. Each distinct key is read and written
// once per batch, however many of its events the batch holds.
func countUnhandledTx(ctx context.Context, tx *sql.Tx, u *Unhandled, now int64) (int64, error) {
	if len(u.Keys) == 0 {
		return 0, nil
	}
	if u.Threshold < 1 {
		return 0, fmt.Errorf("counting unhandled events: threshold %d is below 1", u.Threshold)
	}
	if u.MetaAlert == nil || u.MetaQueue == "" {
		return 0, fmt.Errorf("counting unhandled events: no meta-alert builder or queue")
	}
	// Positions of each key, keys in first-seen order.
	order := make([]string, 0, len(u.Keys))
	positions := make(map[string][]int, len(u.Keys))
	for k, key := range u.Keys {
		if _, seen := positions[key]; !seen {
			order = append(order, key)
		}
		positions[key] = append(positions[key], k)
	}
	expiry := u.Expiry.Microseconds()
	var metas [][]byte
	for _, key := range order {
		var n, expiresAt, triggeredUntil int64
		err := tx.QueryRowContext(ctx, unhandledGetSQL, key).Scan(&n, &expiresAt, &triggeredUntil)
		if err != nil && !errNoRow(err) {
			return 0, fmt.Errorf("reading unhandled counter %s: %w", key, classify(err))
		}
		if triggeredUntil > now {
			continue
		}
		if triggeredUntil != 0 || expiresAt <= now {
			n, expiresAt, triggeredUntil = 0, 0, 0
		}
		for _, k := range positions[key] {
			if triggeredUntil != 0 {
				break
			}
			if n == 0 {
				expiresAt = now + expiry
			}
			n++
			if n == u.Threshold {
				metas = append(metas, u.MetaAlert(k))
				n, triggeredUntil = 0, now+expiry
			}
		}
		if _, err := tx.ExecContext(ctx, unhandledPutSQL, key, n, expiresAt, triggeredUntil); err != nil {
			return 0, fmt.Errorf("writing unhandled counter %s: %w", key, classify(err))
		}
	}
	if len(metas) == 0 {
		return 0, nil
	}
	_, err := queueInsert.exec(ctx, tx, len(metas), 5, func(args []any, i int) ([]any, error) {
		return append(args, u.MetaQueue, metas[i], now, 0, 0), nil
	})
	if err != nil {
		return 0, fmt.Errorf("appending %d meta-alerts: %w", len(metas), err)
	}
	if err := addDepth(ctx, tx, u.MetaQueue, int64(len(metas))); err != nil {
		return 0, err
	}
	return int64(len(metas)), nil
}

// PruneUnhandled deletes the counters whose window and triggered period
// have both ended, and returns how many it deleted.
func (d *DB) PruneUnhandled(ctx context.Context) (int64, error) {
	var n int64
	err := d.inTx(ctx, func(tx *sql.Tx) error {
		now := micros(d.now())
		res, err := tx.ExecContext(ctx, unhandledPruneSQL, now, now)
		if err != nil {
			return classify(err)
		}
		n, err = res.RowsAffected()
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("pruning unhandled counters: %w", err)
	}
	return n, nil
}
