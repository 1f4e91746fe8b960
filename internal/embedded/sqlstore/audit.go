package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"strings"

	"github.com/google/uuid"

	"github.com/mutt-go/mutt/internal/store"
)

// InsertAudit writes rows in one transaction and returns how many of them
// were new. A row whose event (same event id and timestamp) is already
// recorded, or appears earlier in the same batch, is skipped, so writing a
// redelivered batch again is safe. The batch is all or nothing: if any row
// is rejected none is written (see store.IsRowError).
func (d *DB) InsertAudit(ctx context.Context, rows []store.AuditRow) (int64, error) {
	if len(rows) == 0 {
		return 0, nil
	}
	var n int64
	err := d.inTx(ctx, func(tx *sql.Tx) error {
		var err error
		n, err = insertAuditTx(ctx, tx, rows)
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("writing audit batch of %d rows: %w", len(rows), err)
	}
	return n, nil
}

// insertAuditTx inserts rows inside tx in multi-row statements and
// returns how many were new. Event ids are stored in PostgreSQL's canonical
// UUID text, so that the same id in another spelling is still one event.
func insertAuditTx(ctx context.Context, tx *sql.Tx, rows []store.AuditRow) (int64, error) {
	return auditInsert.exec(ctx, tx, len(rows), 7, func(args []any, i int) ([]any, error) {
		r := rows[i]
		id, err := uuid.Parse(r.EventID)
		if err != nil {
			return nil, &rowError{fmt.Errorf("row %d: event_id %.40q is not a UUID: %w", i, r.EventID, err)}
		}
		var raw any
		if r.Raw != nil {
			raw = string(r.Raw)
		}
		return append(args, id.String(), micros(r.Timestamp), r.Hostname, r.RuleID, r.Handling, r.Forwarded, raw), nil
	})
}

// SearchEventAudit returns one page of the rows matching f, newest first
// (event_timestamp DESC, id DESC), and the number of matching rows. As in
// store.SearchEventAudit, at most store.EventCountCap rows are counted:
// above it total is the cap plus one and estimated is true. Times are in
// UTC.
func (d *DB) SearchEventAudit(ctx context.Context, f store.EventAuditFilter) (rows []store.EventAuditRow, total int64, estimated bool, err error) {
	var w where
	if f.Hostname != "" {
		w.add("hostname = ?", f.Hostname)
	}
	if f.RuleID != nil {
		w.add("matched_rule_id = ?", *f.RuleID)
	}
	if !f.Start.IsZero() {
		w.add("event_timestamp >= ?", micros(f.Start))
	}
	if !f.End.IsZero() {
		w.add("event_timestamp <= ?", micros(f.End))
	}
	limit, offset := store.Page(f.Limit, f.Offset)
	tx, err := d.r.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return nil, 0, false, fmt.Errorf("searching event audit rows: %w", err)
	}
	defer func() { _ = tx.Rollback() }()
	countSQL := fmt.Sprintf("SELECT count(*) FROM (SELECT 1 FROM event_audit_log%s LIMIT %d)", w.sql(), store.EventCountCap+1)
	if err := tx.QueryRowContext(ctx, countSQL, w.args...).Scan(&total); err != nil {
		return nil, 0, false, fmt.Errorf("counting event audit rows: %w", err)
	}
	pageSQL := fmt.Sprintf(`
SELECT id, event_timestamp, hostname, matched_rule_id, handling_decision, forwarded_to_moog, raw_message
FROM event_audit_log%s
ORDER BY event_timestamp DESC, id DESC
LIMIT %d OFFSET %d`, w.sql(), limit, offset)
	q, err := tx.QueryContext(ctx, pageSQL, w.args...)
	if err != nil {
		return nil, 0, false, fmt.Errorf("searching event audit rows: %w", err)
	}
	defer q.Close()
	rows = []store.EventAuditRow{}
	for q.Next() {
		var (
			r  store.EventAuditRow
			ts int64
			rm sql.NullString
		)
		if err := q.Scan(&r.ID, &ts, &r.Hostname, &r.MatchedRuleID, &r.HandlingDecision, &r.ForwardedToMoog, &rm); err != nil {
			return nil, 0, false, fmt.Errorf("searching event audit rows: %w", err)
		}
		r.EventTimestamp = fromMicros(ts)
		if rm.Valid {
			r.RawMessage = &rm.String
		}
		rows = append(rows, r)
	}
	if err := q.Err(); err != nil {
		return nil, 0, false, fmt.Errorf("searching event audit rows: %w", err)
	}
	if total > store.EventCountCap {
		return rows, total, true, nil
	}
	return rows, total, false, nil
}

// where collects the ANDed conditions of a search and their parameters;
// input only ever travels as a parameter.
type where struct {
	conds []string
	args  []any
}

func (w *where) add(cond string, arg any) {
	w.conds = append(w.conds, cond)
	w.args = append(w.args, arg)
}

func (w *where) sql() string {
	if len(w.conds) == 0 {
		return ""
	}
	return " WHERE " + strings.Join(w.conds, " AND ")
}

// AuditRowCount returns the exact number of rows in the event audit log
// (SearchEventAudit estimates above its cap).
func (d *DB) AuditRowCount(ctx context.Context) (int64, error) {
	var n int64
	if err := d.r.QueryRowContext(ctx, `SELECT count(*) FROM event_audit_log`).Scan(&n); err != nil {
		return 0, fmt.Errorf("counting audit rows: %w", err)
	}
	return n, nil
}
