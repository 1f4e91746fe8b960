package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/mutt-go/mutt/internal/store"
)

// IngestRetention is how long AddIngestCounts keeps a minute's count: the
// 24 hours of the rate chart and an hour more.
const IngestRetention = 25 * time.Hour

// ConfigValue returns the dynamic config value of name; found is false when
// it is unset.
func (d *DB) ConfigValue(ctx context.Context, name string) (value string, found bool, err error) {
	var v sql.NullString
	err = d.r.QueryRowContext(ctx, "SELECT value FROM dynamic_config WHERE name = ?", name).Scan(&v)
	if errors.Is(err, sql.ErrNoRows) {
		return "", false, nil
	}
	if err != nil {
		return "", false, fmt.Errorf("reading dynamic config %s: %w", name, err)
	}
	return v.String, v.Valid, nil
}

// ConfigValues returns the values of the names that are set, read in one
// query.
func (d *DB) ConfigValues(ctx context.Context, names []string) (map[string]string, error) {
	if len(names) == 0 {
		return map[string]string{}, nil
	}
	args := make([]any, len(names))
	for i, n := range names {
		args[i] = n
	}
	return d.configQuery(ctx, "SELECT name, value FROM dynamic_config WHERE value IS NOT NULL AND name IN (?"+
		strings.Repeat(", ?", len(names)-1)+")", args...)
}

// ConfigList returns every dynamic config value that is set, by name.
func (d *DB) ConfigList(ctx context.Context) (map[string]string, error) {
	return d.configQuery(ctx, "SELECT name, value FROM dynamic_config WHERE value IS NOT NULL")
}

func (d *DB) configQuery(ctx context.Context, q string, args ...any) (map[string]string, error) {
	rows, err := d.r.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("reading dynamic config: %w", err)
	}
	defer rows.Close()
	out := map[string]string{}
	for rows.Next() {
		var n, v string
		if err := rows.Scan(&n, &v); err != nil {
			return nil, fmt.Errorf("reading dynamic config: %w", err)
		}
		out[n] = v
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("reading dynamic config: %w", err)
	}
	return out, nil
}

// ConfigVersion returns the version of the newest dynamic config change, 0
// before the first.
func (d *DB) ConfigVersion(ctx context.Context) (int64, error) {
	var v int64
	if err := d.r.QueryRowContext(ctx, "SELECT coalesce(max(version), 0) FROM dynamic_config").Scan(&v); err != nil {
		return 0, fmt.Errorf("reading the dynamic config version: %w", err)
	}
	return v, nil
}

// ConfigChangesSince returns the names changed (set or deleted) after
// version, oldest change first, and the version of the newest (version
// itself when there is none). Any process writing the same file counts.
func (d *DB) ConfigChangesSince(ctx context.Context, version int64) (names []string, latest int64, err error) {
	rows, err := d.r.QueryContext(ctx, "SELECT name, version FROM dynamic_config WHERE version > ? ORDER BY version", version)
	if err != nil {
		return nil, version, fmt.Errorf("reading dynamic config changes: %w", err)
	}
	defer rows.Close()
	latest = version
	for rows.Next() {
		var n string
		if err := rows.Scan(&n, &latest); err != nil {
			return nil, version, fmt.Errorf("reading dynamic config changes: %w", err)
		}
		names = append(names, n)
	}
	if err := rows.Err(); err != nil {
		return nil, version, fmt.Errorf("reading dynamic config changes: %w", err)
	}
	return names, latest, nil
}

// CompareAndSetConfig replaces the value of name with next (nil: delete)
// if it still holds old (nil: unset) and writes change to config_audit_log,
// both in one transaction; swapped is false, with nothing written, when
// the value is no longer old. A refused audit row (store's writer
// contract) changes nothing.
func (d *DB) CompareAndSetConfig(ctx context.Context, name string, old, next *string, change store.ConfigChange) (swapped bool, err error) {
	err = d.inTx(ctx, func(tx *sql.Tx) error {
		var cur sql.NullString
		err := tx.QueryRowContext(ctx, "SELECT value FROM dynamic_config WHERE name = ?", name).Scan(&cur)
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("reading dynamic config %s: %w", name, err)
		}
		if cur.Valid != (old != nil) || old != nil && cur.String != *old {
			return nil
		}
		if _, err := d.recordTx(ctx, tx, change); err != nil {
			return err
		}
		if old != nil || next != nil {
			var v any
			if next != nil {
				v = *next
			}
			if _, err := tx.ExecContext(ctx, `
INSERT INTO dynamic_config (name, value, version)
VALUES (?, ?, (SELECT coalesce(max(version), 0) + 1 FROM dynamic_config))
ON CONFLICT (name) DO UPDATE SET value = excluded.value, version = excluded.version`, name, v); err != nil {
				return fmt.Errorf("writing dynamic config %s: %w", name, classify(err))
			}
		}
		swapped = true
		return nil
	})
	if err != nil {
		return false, err
	}
	return swapped, nil
}

// CreateSession stores identity under key until expires, unless a session
// with key is still alive (created is false then). Expired sessions are
// removed on the way.
func (d *DB) CreateSession(ctx context.Context, key, identity string, expires time.Time) (created bool, err error) {
	err = d.inTx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, "DELETE FROM web_sessions WHERE expires_at <= ?", micros(d.now())); err != nil {
			return fmt.Errorf("removing expired sessions: %w", classify(err))
		}
		res, err := tx.ExecContext(ctx, "INSERT INTO web_sessions (key, identity, expires_at) VALUES (?, ?, ?) ON CONFLICT (key) DO NOTHING",
			key, identity, micros(expires))
		if err != nil {
			return fmt.Errorf("storing the session: %w", classify(err))
		}
		n, err := res.RowsAffected()
		created = n == 1
		return err
	})
	return created, err
}

// Session returns the identity of the live session key; found is false
// when there is none or it expired.
func (d *DB) Session(ctx context.Context, key string) (identity string, found bool, err error) {
	err = d.r.QueryRowContext(ctx, "SELECT identity FROM web_sessions WHERE key = ? AND expires_at > ?",
		key, micros(d.now())).Scan(&identity)
	if errors.Is(err, sql.ErrNoRows) {
		return "", false, nil
	}
	if err != nil {
		return "", false, fmt.Errorf("reading the session: %w", err)
	}
	return identity, true, nil
}

// DeleteSession removes session key; a missing one is no error.
func (d *DB) DeleteSession(ctx context.Context, key string) error {
	return d.inTx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, "DELETE FROM web_sessions WHERE key = ?", key); err != nil {
			return fmt.Errorf("deleting the session: %w", classify(err))
		}
		return nil
	})
}

// Heartbeat is one role instance's heartbeat as stored: Beat is its JSON.
type Heartbeat struct {
	Role, Instance string
	Beat           []byte
}

// PutHeartbeats writes beats, replacing those of the same role and
// instance, each alive until expires, and removes the expired ones.
func (d *DB) PutHeartbeats(ctx context.Context, beats []Heartbeat, expires time.Time) error {
	return d.inTx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, "DELETE FROM heartbeats WHERE expires_at <= ?", micros(d.now())); err != nil {
			return fmt.Errorf("removing expired heartbeats: %w", classify(err))
		}
		for _, b := range beats {
			if _, err := tx.ExecContext(ctx, `
INSERT INTO heartbeats (role, instance, beat, expires_at) VALUES (?, ?, ?, ?)
ON CONFLICT (role, instance) DO UPDATE SET beat = excluded.beat, expires_at = excluded.expires_at`,
				b.Role, b.Instance, string(b.Beat), micros(expires)); err != nil {
				return fmt.Errorf("writing the heartbeat of %s: %w", b.Role, classify(err))
			}
		}
		return nil
	})
}

// DeleteHeartbeats removes the heartbeats of the roles and instances of
// beats.
func (d *DB) DeleteHeartbeats(ctx context.Context, beats []Heartbeat) error {
	return d.inTx(ctx, func(tx *sql.Tx) error {
		for _, b := range beats {
			if _, err := tx.ExecContext(ctx, "DELETE FROM heartbeats WHERE role = ? AND instance = ?", b.Role, b.Instance); err != nil {
				return fmt.Errorf("deleting the heartbeat of %s: %w", b.Role, classify(err))
			}
		}
		return nil
	})
}

// LiveHeartbeats returns the heartbeats that have not expired, by role and
// instance.
func (d *DB) LiveHeartbeats(ctx context.Context) ([]Heartbeat, error) {
	rows, err := d.r.QueryContext(ctx, "SELECT role, instance, beat FROM heartbeats WHERE expires_at > ? ORDER BY role, instance",
		micros(d.now()))
	if err != nil {
		return nil, fmt.Errorf("reading heartbeats: %w", err)
	}
	defer rows.Close()
	var out []Heartbeat
	for rows.Next() {
		var b Heartbeat
		var beat string
		if err := rows.Scan(&b.Role, &b.Instance, &beat); err != nil {
			return nil, fmt.Errorf("reading heartbeats: %w", err)
		}
		b.Beat = []byte(beat)
		out = append(out, b)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("reading heartbeats: %w", err)
	}
	return out, nil
}

// MinuteCount is the number of events ingested in one minute (UTC, the
// minute's start).
type MinuteCount struct {
	Minute time.Time
	Events int64
}

// AddIngestCounts adds each count to its minute (truncated to the minute)
// in one transaction and drops the minutes older than IngestRetention.
func (d *DB) AddIngestCounts(ctx context.Context, counts []MinuteCount) error {
	return d.inTx(ctx, func(tx *sql.Tx) error {
		for _, c := range counts {
			if _, err := tx.ExecContext(ctx, `
INSERT INTO ingest_minutes (minute, events) VALUES (?, ?)
ON CONFLICT (minute) DO UPDATE SET events = events + excluded.events`,
				c.Minute.Truncate(time.Minute).Unix(), c.Events); err != nil {
				return fmt.Errorf("adding ingest counts: %w", classify(err))
			}
		}
		if _, err := tx.ExecContext(ctx, "DELETE FROM ingest_minutes WHERE minute < ?", d.now().Add(-IngestRetention).Unix()); err != nil {
			return fmt.Errorf("dropping old ingest counts: %w", classify(err))
		}
		return nil
	})
}

// IngestMinutes returns the newest n minutes that have a count, newest
// first.
func (d *DB) IngestMinutes(ctx context.Context, n int) ([]MinuteCount, error) {
	rows, err := d.r.QueryContext(ctx, "SELECT minute, events FROM ingest_minutes ORDER BY minute DESC LIMIT ?", n)
	if err != nil {
		return nil, fmt.Errorf("reading ingest counts: %w", err)
	}
	return scanCounts(rows)
}

// IngestHours returns the total of each UTC clock hour in [from, to) that
// has counts, newest first; Minute is the hour's start.
func (d *DB) IngestHours(ctx context.Context, from, to time.Time) ([]MinuteCount, error) {
	rows, err := d.r.QueryContext(ctx, `
SELECT minute / 3600 * 3600 AS hour, sum(events) FROM ingest_minutes
WHERE minute >= ? AND minute < ? GROUP BY hour ORDER BY hour DESC`, from.Unix(), to.Unix())
	if err != nil {
		return nil, fmt.Errorf("reading ingest hour totals: %w", err)
	}
	return scanCounts(rows)
}

func scanCounts(rows *sql.Rows) ([]MinuteCount, error) {
	defer rows.Close()
	var out []MinuteCount
	for rows.Next() {
		var at, n int64
		if err := rows.Scan(&at, &n); err != nil {
			return nil, fmt.Errorf("reading ingest counts: %w", err)
		}
		out = append(out, MinuteCount{Minute: time.Unix(at, 0).UTC(), Events: n})
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("reading ingest counts: %w", err)
	}
	return out, nil
}
