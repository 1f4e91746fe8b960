package store

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"
)

// Operations a config_audit_log row may record; the table's CHECK
// constraint allows no others.
const (
	OpCreate = "CREATE"
	OpUpdate = "UPDATE"
	OpDelete = "DELETE"
)

// ErrInvalidConfigChange is wrapped by every error RecordConfigChange and
// RecordConfigChangeTx return for a change that breaks the writer contract,
// before anything is sent to PostgreSQL. Such a change can never be written
// as it is; an API would answer it with 400.
var ErrInvalidConfigChange = errors.New("invalid config change")

// ConfigChange is one row of config_audit_log: who changed which
// configuration record, from what, to what and why.
type ConfigChange struct {
	ChangedBy string // who: 1 to 100 characters
	Operation string // OpCreate, OpUpdate or OpDelete
	TableName string // what kind of record: 1 to 50 characters
	RecordID  int64  // which record: 1 to 2147483647 (the column is INTEGER)
	// Old and New are the record's values before and after, encoded with
	// encoding/json; each must encode to a JSON object, or be nil. An empty
	// object is stored as NULL. A CREATE has no old values and a DELETE no
	// new ones: any given are dropped with a warning. An UPDATE needs both.
	Old, New any
	// Reason is the operator's explanation; empty is stored as NULL.
	Reason string
	// CorrelationID ties the row to the request or run that made the
	// change: at most 36 characters (a UUID); empty is stored as NULL.
	CorrelationID string
}

const insertConfigChangeSQL = `
INSERT INTO config_audit_log (changed_by, operation, table_name, record_id,
                              old_values, new_values, reason, correlation_id)
VALUES ($1, $2, $3, $4, $5::jsonb, $6::jsonb, $7, $8)
RETURNING id`

const checkConfigAuditSQL = `SELECT 1 FROM config_audit_log WHERE false`

// RecordConfigChange validates c against the writer contract and inserts it
// into config_audit_log in a transaction of its own, returning the new
// row's id.
func (s *Store) RecordConfigChange(ctx context.Context, c ConfigChange) (int64, error) {
	return recordConfigChange(ctx, s.pool, c)
}

// RecordConfigChangeTx is RecordConfigChange inside the caller's
// transaction, so that a configuration change and its audit row commit or
// roll back together. The caller commits.
func RecordConfigChangeTx(ctx context.Context, tx pgx.Tx, c ConfigChange) (int64, error) {
	return recordConfigChange(ctx, tx, c)
}

// CheckConfigAudit returns an error when config_audit_log cannot be read
// (most often because the schema has not been migrated), so that a caller
// can refuse before it makes a change it could not record.
func (s *Store) CheckConfigAudit(ctx context.Context) error {
	rows, err := s.pool.Query(ctx, checkConfigAuditSQL)
	if err == nil {
		rows.Close()
		err = rows.Err()
	}
	if err != nil {
		return fmt.Errorf("checking config_audit_log (run `mutt migrate` if the schema is missing): %w", err)
	}
	return nil
}

// queryRower is what a pool and a transaction have in common for one insert.
type queryRower interface {
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

func recordConfigChange(ctx context.Context, q queryRower, c ConfigChange) (int64, error) {
	row, err := c.encode()
	if err != nil {
		return 0, err
	}
	var id int64
	err = q.QueryRow(ctx, insertConfigChangeSQL, c.ChangedBy, c.Operation, c.TableName, c.RecordID,
		row.old, row.new, nullable(c.Reason), nullable(c.CorrelationID)).Scan(&id)
	if err != nil {
		return 0, fmt.Errorf("writing config audit row (%s %s %d): %w", c.Operation, c.TableName, c.RecordID, err)
	}
	return id, nil
}

// encodedChange holds the JSONB parameters: nil means NULL.
type encodedChange struct {
	old, new any
}

// encode checks c against the writer contract and encodes its values.
func (c ConfigChange) encode() (encodedChange, error) {
	invalid := func(format string, args ...any) error {
		return fmt.Errorf("%w: %s", ErrInvalidConfigChange, fmt.Sprintf(format, args...))
	}
	if n := utf8.RuneCountInString(c.ChangedBy); n < 1 || n > 100 {
		return encodedChange{}, invalid("changed_by must be 1 to 100 characters, got %d", n)
	}
	switch c.Operation {
	case OpCreate, OpUpdate, OpDelete:
	default:
		return encodedChange{}, invalid("operation must be CREATE, UPDATE or DELETE, got %q", c.Operation)
	}
	if n := utf8.RuneCountInString(c.TableName); n < 1 || n > 50 {
		return encodedChange{}, invalid("table_name must be 1 to 50 characters, got %d", n)
	}
	if c.RecordID < 1 || c.RecordID > math.MaxInt32 {
		return encodedChange{}, invalid("record_id must be from 1 to %d, got %d", math.MaxInt32, c.RecordID)
	}
	if n := utf8.RuneCountInString(c.CorrelationID); n > 36 {
		return encodedChange{}, invalid("correlation_id must be at most 36 characters, got %d", n)
	}
	oldJSON, err := jsonObject(c.Old)
	if err != nil {
		return encodedChange{}, invalid("old_values: %v", err)
	}
	newJSON, err := jsonObject(c.New)
	if err != nil {
		return encodedChange{}, invalid("new_values: %v", err)
	}
	switch c.Operation {
	case OpCreate:
		if oldJSON != nil {
			dropped(c, "old_values")
			oldJSON = nil
		}
	case OpDelete:
		if newJSON != nil {
			dropped(c, "new_values")
			newJSON = nil
		}
	case OpUpdate:
		if oldJSON == nil || newJSON == nil {
			return encodedChange{}, invalid("an UPDATE needs both old_values and new_values (non-empty objects)")
		}
	}
	var out encodedChange
	// A nil []byte would be sent as NULL too, but an untyped nil says so
	// plainly.
	if oldJSON != nil {
		out.old = string(oldJSON)
	}
	if newJSON != nil {
		out.new = string(newJSON)
	}
	return out, nil
}

// dropped warns that a value the operation cannot have was ignored: the
// caller's mistake, which does not deserve to lose the audit row.
func dropped(c ConfigChange, field string) {
	slog.Default().Warn("config audit: value ignored for this operation",
		"field", field, "operation", c.Operation, "table", c.TableName, "record_id", c.RecordID)
}

// jsonObject encodes v, which must be nil or encode to a JSON object. It
// returns nil for nil, JSON null and an empty object.
func jsonObject(v any) ([]byte, error) {
	if v == nil {
		return nil, nil
	}
	b, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("encoding as JSON: %w", err)
	}
	b = bytes.TrimSpace(b)
	if bytes.Equal(b, []byte("null")) {
		return nil, nil
	}
	if len(b) == 0 || b[0] != '{' {
		return nil, fmt.Errorf("must be a JSON object, got %.40s", b)
	}
	var probe map[string]json.RawMessage
	if err := json.Unmarshal(b, &probe); err != nil {
		return nil, fmt.Errorf("must be a JSON object: %w", err)
	}
	if len(probe) == 0 {
		return nil, nil
	}
	return b, nil
}

// nullable maps "" to NULL.
func nullable(s string) any {
	if s == "" {
		return nil
	}
	return s
}
