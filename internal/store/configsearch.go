package store

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// ConfigAuditFilter selects rows of config_audit_log; all set fields must
// match.
type ConfigAuditFilter struct {
	ChangedBy  string    // case-insensitive substring; "" = any
	Operation  string    // "" or OpCreate, OpUpdate, OpDelete (callers validate)
	TableName  string    // exact; "" = any
	RecordID   *int64    // nil = any
	Start, End time.Time // inclusive bounds on changed_at; zero = unbounded
	Limit      int       // page size, 1..200 (clamped here too)
	Offset     int       // rows to skip
	OrderByID  bool      // true: id DESC (a record's history); false: changed_at DESC, id DESC
}

// ConfigAuditRow is one row of config_audit_log as the control plane shows
// it; absent values, reason and correlation id encode as JSON null.
type ConfigAuditRow struct {
	ID            int64           `json:"id"`
	ChangedAt     time.Time       `json:"changed_at"`
	ChangedBy     string          `json:"changed_by"`
	Operation     string          `json:"operation"`
	TableName     string          `json:"table_name"`
	RecordID      int64           `json:"record_id"`
	OldValues     json.RawMessage `json:"old_values"` // JSON object, or nil (null)
	NewValues     json.RawMessage `json:"new_values"`
	Reason        *string         `json:"reason"`
	CorrelationID *string         `json:"correlation_id"`
}

// SearchConfigAudit returns one page of the config audit rows matching f
// and the exact number of matching rows. Times are in UTC.
func (s *Store) SearchConfigAudit(ctx context.Context, f ConfigAuditFilter) ([]ConfigAuditRow, int64, error) {
	var w where
	if f.ChangedBy != "" {
		w.add(`changed_by ILIKE '%' || ? || '%'`, escapeLike(f.ChangedBy))
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
		w.add("changed_at >= ?", f.Start)
	}
	if !f.End.IsZero() {
		w.add("changed_at <= ?", f.End)
	}
	order := "changed_at DESC, id DESC"
	if f.OrderByID {
		order = "id DESC"
	}
	limit, offset := page(f.Limit, f.Offset)
	countSQL := "SELECT count(*) FROM config_audit_log" + w.sql()
	pageSQL := fmt.Sprintf(`
SELECT id, changed_at, changed_by, operation, table_name, record_id, old_values, new_values, reason, correlation_id
FROM config_audit_log%s
ORDER BY %s
LIMIT %d OFFSET %d`, w.sql(), order, limit, offset)

	batch := &pgx.Batch{}
	batch.Queue(countSQL, w.args...)
	batch.Queue(pageSQL, w.args...)
	results := s.pool.SendBatch(ctx, batch)
	defer results.Close()
	var total int64
	if err := results.QueryRow().Scan(&total); err != nil {
		return nil, 0, fmt.Errorf("counting config audit rows: %w", err)
	}
	rows, err := results.Query()
	if err != nil {
		return nil, 0, fmt.Errorf("searching config audit rows: %w", err)
	}
	list, err := pgx.CollectRows(rows, scanConfigAuditRow)
	if err != nil {
		return nil, 0, fmt.Errorf("searching config audit rows: %w", err)
	}
	if err := results.Close(); err != nil {
		return nil, 0, fmt.Errorf("searching config audit rows: %w", err)
	}
	return list, total, nil
}

func scanConfigAuditRow(row pgx.CollectableRow) (ConfigAuditRow, error) {
	var (
		r              ConfigAuditRow
		oldRaw, newRaw []byte
	)
	err := row.Scan(&r.ID, &r.ChangedAt, &r.ChangedBy, &r.Operation, &r.TableName, &r.RecordID,
		&oldRaw, &newRaw, &r.Reason, &r.CorrelationID)
	r.ChangedAt = r.ChangedAt.UTC()
	// NULL scans as nil, which encodes as null.
	if oldRaw != nil {
		r.OldValues = json.RawMessage(oldRaw)
	}
	if newRaw != nil {
		r.NewValues = json.RawMessage(newRaw)
	}
	return r, err
}

// likeEscaper escapes the LIKE wildcards and the escape character itself
// (backslash, PostgreSQL's default), so that input matches literally.
var likeEscaper = strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`)

// escapeLike returns s with its LIKE metacharacters escaped.
func escapeLike(s string) string {
	return likeEscaper.Replace(s)
}
