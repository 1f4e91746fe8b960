package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"strconv"
	"time"

	"github.com/mutt-go/mutt/internal/store"
)

// AuditMonth is one calendar month (UTC) of event audit rows.
type AuditMonth struct {
	Start time.Time // the first instant of the month
	Rows  int64
}

// Exported is what an export streamed: how many rows, and the highest id
// among them, which bounds the delete that follows it so that a row
// written after the export is never deleted unarchived.
type Exported struct {
	Rows  int64
	MaxID int64
}

// AuditTableStat is the size on disk (indexes included) and the oldest row
// of one audit table.
type AuditTableStat struct {
	Table  string
	Bytes  int64
	Oldest time.Time // zero when the table is empty
}

// archiveColumn is one column of an archive export and how its value is
// written: as PostgreSQL's COPY … CSV writes the same column, so that an
// archive reads the same whichever storage mode wrote it.
type archiveColumn struct {
	name string
	kind byte // 'i' integer, 't' time, 'b' boolean, 's' text
}

// eventArchive and configArchive are the columns of the two archives, in
// the PostgreSQL tables' order.
var (
	eventArchive = []archiveColumn{{"id", 'i'}, {"event_timestamp", 't'}, {"hostname", 's'}, {"matched_rule_id", 'i'},
		{"handling_decision", 's'}, {"forwarded_to_moog", 'b'}, {"raw_message", 's'}, {"event_id", 's'}}
	configArchive = []archiveColumn{{"id", 'i'}, {"changed_at", 't'}, {"changed_by", 's'}, {"operation", 's'},
		{"table_name", 's'}, {"record_id", 'i'}, {"old_values", 's'}, {"new_values", 's'}, {"reason", 's'}, {"correlation_id", 's'}}
)

const (
	auditMonthsSQL = `SELECT strftime('%Y-%m', event_timestamp / 1000000, 'unixepoch') AS month, count(*)
FROM event_audit_log WHERE event_timestamp < ? GROUP BY month ORDER BY month`
	deleteEventChunkSQL = `DELETE FROM event_audit_log WHERE id IN (
SELECT id FROM event_audit_log WHERE event_timestamp >= ? AND event_timestamp < ? AND id <= ? LIMIT ?)`
	countConfigBeforeSQL  = `SELECT count(*) FROM config_audit_log WHERE changed_at < ?`
	deleteConfigBeforeSQL = `DELETE FROM config_audit_log WHERE changed_at < ? AND id <= ?`
	countDeadBeforeSQL    = `SELECT count(*) FROM dead_letters WHERE queue = ? AND failed_at < ?`
	deleteDeadBeforeSQL   = `DELETE FROM dead_letters WHERE queue = ? AND failed_at < ?`
)

// EventAuditMonths returns, oldest first, the months that hold event audit
// rows older than before, with the number of those rows.
func (d *DB) EventAuditMonths(ctx context.Context, before time.Time) ([]AuditMonth, error) {
	rows, err := d.r.QueryContext(ctx, auditMonthsSQL, micros(before))
	if err != nil {
		return nil, fmt.Errorf("listing audit months: %w", err)
	}
	defer rows.Close()
	var out []AuditMonth
	for rows.Next() {
		var (
			month string
			m     AuditMonth
		)
		if err := rows.Scan(&month, &m.Rows); err != nil {
			return nil, fmt.Errorf("listing audit months: %w", err)
		}
		if m.Start, err = time.Parse("2006-01", month); err != nil {
			return nil, fmt.Errorf("listing audit months: month %q: %w", month, err)
		}
		out = append(out, m)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("listing audit months: %w", err)
	}
	return out, nil
}

// ExportEventAudit calls emit with the column names, then once per
// event_audit_log row with from <= event_timestamp < to, oldest first,
// with the values as PostgreSQL's CSV export writes them (a NULL as "").
// The rows are read from one snapshot and streamed; emit must not keep
// the slice, which is reused.
func (d *DB) ExportEventAudit(ctx context.Context, from, to time.Time, emit func([]string) error) (Exported, error) {
	q := `SELECT id, event_timestamp, hostname, matched_rule_id, handling_decision, forwarded_to_moog, raw_message, event_id
FROM event_audit_log WHERE event_timestamp >= ? AND event_timestamp < ? ORDER BY event_timestamp, id`
	ex, err := d.export(ctx, eventArchive, q, emit, micros(from), micros(to))
	if err != nil {
		return Exported{}, fmt.Errorf("exporting audit rows from %s to %s: %w", from.Format(time.RFC3339), to.Format(time.RFC3339), err)
	}
	return ex, nil
}

// ExportConfigAudit streams the config_audit_log rows changed before
// before, oldest first, as ExportEventAudit does.
func (d *DB) ExportConfigAudit(ctx context.Context, before time.Time, emit func([]string) error) (Exported, error) {
	q := `SELECT id, changed_at, changed_by, operation, table_name, record_id, old_values, new_values, reason, correlation_id
FROM config_audit_log WHERE changed_at < ? ORDER BY changed_at, id`
	ex, err := d.export(ctx, configArchive, q, emit, micros(before))
	if err != nil {
		return Exported{}, fmt.Errorf("exporting configuration audit rows before %s: %w", before.Format(time.RFC3339), err)
	}
	return ex, nil
}

// export runs query (whose first column is the id) in a read-only
// transaction and hands emit the header and each row formatted by cols.
func (d *DB) export(ctx context.Context, cols []archiveColumn, query string, emit func([]string) error, args ...any) (Exported, error) {
	tx, err := d.r.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return Exported{}, err
	}
	defer func() { _ = tx.Rollback() }()
	rows, err := tx.QueryContext(ctx, query, args...)
	if err != nil {
		return Exported{}, err
	}
	defer rows.Close()
	rec := make([]string, len(cols))
	for i, c := range cols {
		rec[i] = c.name
	}
	if err := emit(rec); err != nil {
		return Exported{}, err
	}
	vals := make([]sql.NullString, len(cols))
	dest := make([]any, len(cols))
	for i := range vals {
		dest[i] = &vals[i]
	}
	var ex Exported
	for rows.Next() {
		if err := rows.Scan(dest...); err != nil {
			return Exported{}, err
		}
		for i, c := range cols {
			if rec[i], err = archiveValue(c, vals[i]); err != nil {
				return Exported{}, err
			}
		}
		id, _ := strconv.ParseInt(vals[0].String, 10, 64)
		ex.Rows++
		ex.MaxID = max(ex.MaxID, id)
		if err := emit(rec); err != nil {
			return Exported{}, err
		}
	}
	if err := rows.Err(); err != nil {
		return Exported{}, err
	}
	return ex, nil
}

// archiveValue writes one stored value as PostgreSQL's text output of the
// same column: times as "2006-01-02 15:04:05.999999+00", booleans as t or f.
func archiveValue(c archiveColumn, v sql.NullString) (string, error) {
	if !v.Valid {
		return "", nil
	}
	switch c.kind {
	case 't':
		us, err := strconv.ParseInt(v.String, 10, 64)
		if err != nil {
			return "", fmt.Errorf("column %s: %w", c.name, err)
		}
		return fromMicros(us).Format("2006-01-02 15:04:05.999999") + "+00", nil
	case 'b':
		if v.String == "0" {
			return "f", nil
		}
		return "t", nil
	}
	return v.String, nil
}

// DeleteEventAudit deletes the event_audit_log rows with from <=
// event_timestamp < to and id <= maxID (the Exported of their archive), at
// most chunk rows per transaction so that the writer lock is never held
// long, and returns how many it deleted. audit commits with the first
// chunk, so that no row is gone without its record; nothing is recorded
// when no row matches.
func (d *DB) DeleteEventAudit(ctx context.Context, from, to time.Time, maxID int64, chunk int, audit store.ConfigChange) (int64, error) {
	if chunk < 1 {
		chunk = 10000
	}
	var total int64
	for first := true; ; first = false {
		var n int64
		err := d.inTx(ctx, func(tx *sql.Tx) error {
			res, err := tx.ExecContext(ctx, deleteEventChunkSQL, micros(from), micros(to), maxID, chunk)
			if err != nil {
				return classify(err)
			}
			if n, err = res.RowsAffected(); err != nil || n == 0 || !first {
				return err
			}
			_, err = d.recordTx(ctx, tx, audit)
			return err
		})
		if err != nil {
			return total, fmt.Errorf("deleting audit rows from %s to %s: %w", from.Format(time.RFC3339), to.Format(time.RFC3339), err)
		}
		total += n
		if n < int64(chunk) {
			return total, nil
		}
	}
}

// CountConfigAuditBefore returns how many config_audit_log rows were
// changed before before.
func (d *DB) CountConfigAuditBefore(ctx context.Context, before time.Time) (int64, error) {
	var n int64
	if err := d.r.QueryRowContext(ctx, countConfigBeforeSQL, micros(before)).Scan(&n); err != nil {
		return 0, fmt.Errorf("counting configuration audit rows: %w", err)
	}
	return n, nil
}

// DeleteConfigAudit deletes the config_audit_log rows changed before
// before with id <= maxID (the Exported of their archive) and records
// audit in the same transaction; it returns how many it deleted and
// records nothing when none matched. want >= 0 is how many the caller
// archived: any other count rolls the delete back.
func (d *DB) DeleteConfigAudit(ctx context.Context, before time.Time, maxID, want int64, audit store.ConfigChange) (int64, error) {
	var n int64
	err := d.inTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, deleteConfigBeforeSQL, micros(before), maxID)
		if err != nil {
			return classify(err)
		}
		if n, err = res.RowsAffected(); err != nil || n == 0 {
			return err
		}
		if want >= 0 && n != want {
			return fmt.Errorf("%d rows matched, %d were archived: they changed meanwhile; run again", n, want)
		}
		_, err = d.recordTx(ctx, tx, audit)
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("deleting configuration audit rows before %s: %w", before.Format(time.RFC3339), err)
	}
	return n, nil
}

// CountDeadLettersBefore returns how many dead letters of queue were parked
// before before.
func (d *DB) CountDeadLettersBefore(ctx context.Context, queue string, before time.Time) (int64, error) {
	var n int64
	if err := d.r.QueryRowContext(ctx, countDeadBeforeSQL, queue, micros(before)).Scan(&n); err != nil {
		return 0, fmt.Errorf("counting old dead letters of %s: %w", queue, err)
	}
	return n, nil
}

// DeleteDeadLettersBefore deletes the dead letters of queue parked before
// before and records audit(n), n the letters deleted, in the same
// transaction; nothing is recorded when there were none.
func (d *DB) DeleteDeadLettersBefore(ctx context.Context, queue string, before time.Time, audit func(n int64) store.ConfigChange) (int64, error) {
	var n int64
	err := d.inTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, deleteDeadBeforeSQL, queue, micros(before))
		if err != nil {
			return classify(err)
		}
		if n, err = res.RowsAffected(); err != nil || n == 0 {
			return err
		}
		_, err = d.recordTx(ctx, tx, audit(n))
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("deleting old dead letters of %s: %w", queue, err)
	}
	return n, nil
}

// AuditTableStats returns the size and oldest row of event_audit_log and
// config_audit_log, for the retention metrics.
func (d *DB) AuditTableStats(ctx context.Context) ([]AuditTableStat, error) {
	specs := []struct{ table, oldest string }{
		{"event_audit_log", `SELECT min(event_timestamp) FROM event_audit_log`},
		{"config_audit_log", `SELECT min(changed_at) FROM config_audit_log`},
	}
	out := make([]AuditTableStat, 0, len(specs))
	for _, s := range specs {
		st := AuditTableStat{Table: s.table}
		var bytes, oldest sql.NullInt64
		err := d.r.QueryRowContext(ctx, `SELECT sum(pgsize) FROM dbstat WHERE name = ?1
OR name IN (SELECT name FROM sqlite_schema WHERE type = 'index' AND tbl_name = ?1)`, s.table).Scan(&bytes)
		if err != nil {
			return nil, fmt.Errorf("measuring %s: %w", s.table, err)
		}
		if err := d.r.QueryRowContext(ctx, s.oldest).Scan(&oldest); err != nil {
			return nil, fmt.Errorf("reading the oldest row of %s: %w", s.table, err)
		}
		st.Bytes = bytes.Int64
		if oldest.Valid {
			st.Oldest = fromMicros(oldest.Int64)
		}
		out = append(out, st)
	}
	return out, nil
}
