package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/mutt-go/mutt/internal/store"
)

const insertConfigChangeSQL = `
INSERT INTO config_audit_log (changed_at, changed_by, operation, table_name, record_id,
                              old_values, new_values, reason, correlation_id)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`

// RecordConfigChange validates c against store's writer contract and
// inserts it into config_audit_log in a transaction of its own, returning
// the new row's id.
func (d *DB) RecordConfigChange(ctx context.Context, c store.ConfigChange) (int64, error) {
	var id int64
	err := d.inTx(ctx, func(tx *sql.Tx) error {
		var err error
		id, err = d.recordTx(ctx, tx, c)
		return err
	})
	return id, err
}

// recordTx writes c inside tx, so that a change and its audit row commit or
// roll back together.
func (d *DB) recordTx(ctx context.Context, tx *sql.Tx, c store.ConfigChange) (int64, error) {
	oldJSON, newJSON, err := store.EncodeConfigChange(c)
	if err != nil {
		return 0, err
	}
	res, err := tx.ExecContext(ctx, insertConfigChangeSQL, micros(d.now()), c.ChangedBy, c.Operation, c.TableName,
		c.RecordID, oldJSON, newJSON, nullable(c.Reason), nullable(c.CorrelationID))
	if err != nil {
		return 0, fmt.Errorf("writing config audit row (%s %s %d): %w", c.Operation, c.TableName, c.RecordID, classify(err))
	}
	return res.LastInsertId()
}

// SearchConfigAudit returns one page of the config audit rows matching f
// and the exact number of matching rows, as store.SearchConfigAudit does.
// The changed_by match folds ASCII case only. Times are in UTC.
func (d *DB) SearchConfigAudit(ctx context.Context, f store.ConfigAuditFilter) ([]store.ConfigAuditRow, int64, error) {
	var w where
	if f.ChangedBy != "" {
		w.add("instr(lower(changed_by), ?) > 0", strings.ToLower(f.ChangedBy))
	}
	if f.Operation != "" {
		w.add("operation = ?", f.Operation)
	}
	if f.TableName != "" {
		w.add("table_name = ?", f.TableName)
	}
	if f.RecordID != nil {
		w.add("record_id = ?", *f.RecordID)
	}
	if !f.Start.IsZero() {
		w.add("changed_at >= ?", micros(f.Start))
	}
	if !f.End.IsZero() {
		w.add("changed_at <= ?", micros(f.End))
	}
	order := "changed_at DESC, id DESC"
	if f.OrderByID {
		order = "id DESC"
	}
	limit, offset := store.Page(f.Limit, f.Offset)
	tx, err := d.r.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return nil, 0, fmt.Errorf("searching config audit rows: %w", err)
	}
	defer func() { _ = tx.Rollback() }()
	var total int64
	if err := tx.QueryRowContext(ctx, "SELECT count(*) FROM config_audit_log"+w.sql(), w.args...).Scan(&total); err != nil {
		return nil, 0, fmt.Errorf("counting config audit rows: %w", err)
	}
	q, err := tx.QueryContext(ctx, fmt.Sprintf(`
SELECT id, changed_at, changed_by, operation, table_name, record_id, old_values, new_values, reason, correlation_id
FROM config_audit_log%s
ORDER BY %s
LIMIT %d OFFSET %d`, w.sql(), order, limit, offset), w.args...)
	if err != nil {
		return nil, 0, fmt.Errorf("searching config audit rows: %w", err)
	}
	defer q.Close()
	list := []store.ConfigAuditRow{}
	for q.Next() {
		var (
			r              store.ConfigAuditRow
			at             int64
			oldRaw, newRaw sql.NullString
			reason, corrID sql.NullString
		)
		if err := q.Scan(&r.ID, &at, &r.ChangedBy, &r.Operation, &r.TableName, &r.RecordID,
			&oldRaw, &newRaw, &reason, &corrID); err != nil {
			return nil, 0, fmt.Errorf("searching config audit rows: %w", err)
		}
		r.ChangedAt = fromMicros(at)
		if oldRaw.Valid {
			r.OldValues = json.RawMessage(oldRaw.String)
		}
		if newRaw.Valid {
			r.NewValues = json.RawMessage(newRaw.String)
		}
		if reason.Valid {
			r.Reason = &reason.String
		}
		if corrID.Valid {
			r.CorrelationID = &corrID.String
		}
		list = append(list, r)
	}
	if err := q.Err(); err != nil {
		return nil, 0, fmt.Errorf("searching config audit rows: %w", err)
	}
	return list, total, nil
}

// nullable maps "" to NULL.
func nullable(s string) any {
	if s == "" {
		return nil
	}
	return s
}
