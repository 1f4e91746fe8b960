package store

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/mutt-go/mutt/internal/itest"
)

// storedChange is a config_audit_log row as read back, JSONB as text.
type storedChange struct {
	changedBy, operation, table string
	recordID                    int64
	old, new                    *string
	reason, correlationID       *string
}

func readChange(t *testing.T, pool *pgxpool.Pool, id int64) storedChange {
	t.Helper()
	var r storedChange
	err := pool.QueryRow(context.Background(), `
		SELECT changed_by, operation, table_name, record_id, old_values::text, new_values::text, reason, correlation_id
		FROM config_audit_log WHERE id = $1`, id).
		Scan(&r.changedBy, &r.operation, &r.table, &r.recordID, &r.old, &r.new, &r.reason, &r.correlationID)
	if err != nil {
		t.Fatalf("reading config audit row %d: %v", id, err)
	}
	return r
}

// sameJSON reports whether got (JSONB text or NULL) holds want (nil for NULL).
func sameJSON(t *testing.T, got *string, want map[string]any) bool {
	t.Helper()
	if got == nil || want == nil {
		return got == nil && want == nil
	}
	var g map[string]any
	if err := json.Unmarshal([]byte(*got), &g); err != nil {
		t.Fatalf("decoding %s: %v", *got, err)
	}
	a, _ := json.Marshal(g)
	b, _ := json.Marshal(want)
	return string(a) == string(b)
}

func countChanges(t *testing.T, pool *pgxpool.Pool) int {
	t.Helper()
	var n int
	if err := pool.QueryRow(context.Background(), "SELECT count(*) FROM config_audit_log").Scan(&n); err != nil {
		t.Fatalf("counting config audit rows: %v", err)
	}
	return n
}

func TestRecordConfigChangeWriterContract(t *testing.T) {
	pool := schemaOnly(t)
	s := New(pool)
	valid := func(mod func(*ConfigChange)) ConfigChange {
		c := ConfigChange{
			ChangedBy: "webui_api:abcd1234", Operation: OpUpdate, TableName: "alert_rules", RecordID: 7,
			Old: map[string]any{"priority": 5}, New: map[string]any{"priority": 10},
			Reason: "tuning", CorrelationID: uuid.NewString(),
		}
		if mod != nil {
			mod(&c)
		}
		return c
	}
	tests := []struct {
		name    string
		change  ConfigChange
		wantErr string         // part of the error; "" means the row is written
		wantOld map[string]any // nil means NULL
		wantNew map[string]any
	}{
		{name: "update with both values", change: valid(nil),
			wantOld: map[string]any{"priority": 5.0}, wantNew: map[string]any{"priority": 10.0}},
		{name: "changed_by empty", change: valid(func(c *ConfigChange) { c.ChangedBy = "" }), wantErr: "changed_by"},
		{name: "changed_by 101 characters", change: valid(func(c *ConfigChange) { c.ChangedBy = strings.Repeat("é", 101) }), wantErr: "changed_by"},
		{name: "changed_by 100 multibyte characters fits", change: valid(func(c *ConfigChange) { c.ChangedBy = strings.Repeat("é", 100) }),
			wantOld: map[string]any{"priority": 5.0}, wantNew: map[string]any{"priority": 10.0}},
		{name: "operation lower case", change: valid(func(c *ConfigChange) { c.Operation = "update" }), wantErr: "operation"},
		{name: "operation unknown", change: valid(func(c *ConfigChange) { c.Operation = "MERGE" }), wantErr: "operation"},
		{name: "table_name empty", change: valid(func(c *ConfigChange) { c.TableName = "" }), wantErr: "table_name"},
		{name: "table_name 51 characters", change: valid(func(c *ConfigChange) { c.TableName = strings.Repeat("t", 51) }), wantErr: "table_name"},
		{name: "record_id zero", change: valid(func(c *ConfigChange) { c.RecordID = 0 }), wantErr: "record_id"},
		{name: "record_id negative", change: valid(func(c *ConfigChange) { c.RecordID = -3 }), wantErr: "record_id"},
		{name: "record_id beyond INTEGER", change: valid(func(c *ConfigChange) { c.RecordID = 1 << 31 }), wantErr: "record_id"},
		{name: "correlation_id too long", change: valid(func(c *ConfigChange) { c.CorrelationID = strings.Repeat("c", 37) }), wantErr: "correlation_id"},
		{name: "old values not an object", change: valid(func(c *ConfigChange) { c.Old = []int{1, 2} }), wantErr: "old_values"},
		{name: "new values not encodable", change: valid(func(c *ConfigChange) { c.New = map[string]any{"f": func() {}} }), wantErr: "new_values"},
		{name: "update without old values", change: valid(func(c *ConfigChange) { c.Old = nil }), wantErr: "UPDATE needs both"},
		{name: "update with empty new values", change: valid(func(c *ConfigChange) { c.New = map[string]any{} }), wantErr: "UPDATE needs both"},
		{name: "create drops old values", change: valid(func(c *ConfigChange) { c.Operation = OpCreate }),
			wantNew: map[string]any{"priority": 10.0}},
		{name: "delete drops new values", change: valid(func(c *ConfigChange) { c.Operation = OpDelete }),
			wantOld: map[string]any{"priority": 5.0}},
		{name: "create with empty new values stores NULL", change: valid(func(c *ConfigChange) {
			c.Operation, c.Old, c.New = OpCreate, nil, map[string]string{}
		})},
		{name: "raw JSON and structs are objects too", change: valid(func(c *ConfigChange) {
			c.Old = json.RawMessage(`{"a": [1, 2]}`)
			c.New = struct {
				A []int `json:"a"`
			}{A: []int{3}}
		}), wantOld: map[string]any{"a": []any{1.0, 2.0}}, wantNew: map[string]any{"a": []any{3.0}}},
		{name: "empty reason and correlation id are NULL", change: valid(func(c *ConfigChange) { c.Reason, c.CorrelationID = "", "" }),
			wantOld: map[string]any{"priority": 5.0}, wantNew: map[string]any{"priority": 10.0}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := countChanges(t, pool)
			id, err := s.RecordConfigChange(t.Context(), tt.change)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) || !errors.Is(err, ErrInvalidConfigChange) {
					t.Fatalf("error = %v, want an ErrInvalidConfigChange naming %q", err, tt.wantErr)
				}
				if n := countChanges(t, pool); n != before {
					t.Errorf("%d rows written for a refused change", n-before)
				}
				return
			}
			if err != nil {
				t.Fatalf("RecordConfigChange: %v", err)
			}
			got := readChange(t, pool, id)
			if got.changedBy != tt.change.ChangedBy || got.operation != tt.change.Operation ||
				got.table != tt.change.TableName || got.recordID != tt.change.RecordID {
				t.Errorf("row = %+v, want the change's %+v", got, tt.change)
			}
			if !sameJSON(t, got.old, tt.wantOld) {
				t.Errorf("old_values = %v, want %v", deref(got.old), tt.wantOld)
			}
			if !sameJSON(t, got.new, tt.wantNew) {
				t.Errorf("new_values = %v, want %v", deref(got.new), tt.wantNew)
			}
			if !nullableIs(got.reason, tt.change.Reason) {
				t.Errorf("reason = %v, want %q (NULL when empty)", deref(got.reason), tt.change.Reason)
			}
			if !nullableIs(got.correlationID, tt.change.CorrelationID) {
				t.Errorf("correlation_id = %v, want %q (NULL when empty)", deref(got.correlationID), tt.change.CorrelationID)
			}
		})
	}
}

// nullableIs reports whether got is NULL for an empty want and want otherwise.
func nullableIs(got *string, want string) bool {
	if want == "" {
		return got == nil
	}
	return got != nil && *got == want
}

func deref(s *string) string {
	if s == nil {
		return "<NULL>"
	}
	return *s
}

// TestRecordConfigChangeTxFollowsTheTransaction checks that an audit row
// written in a transaction disappears with a rollback and stays with a
// commit.
func TestRecordConfigChangeTxFollowsTheTransaction(t *testing.T) {
	pool := schemaOnly(t)
	change := ConfigChange{ChangedBy: "tester", Operation: OpDelete, TableName: "device_teams", RecordID: 42,
		Old: map[string]string{"hostname": "router1", "team": "NetOps"}}
	tests := []struct {
		name   string
		commit bool
		want   int
	}{
		{"rolled back", false, 0},
		{"committed", true, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := pool.Exec(t.Context(), "DELETE FROM config_audit_log"); err != nil {
				t.Fatal(err)
			}
			err := func() error {
				tx, err := pool.Begin(t.Context())
				if err != nil {
					return err
				}
				defer func() { _ = tx.Rollback(context.Background()) }()
				id, err := RecordConfigChangeTx(t.Context(), tx, change)
				if err != nil {
					return err
				}
				if id < 1 {
					t.Errorf("id = %d", id)
				}
				if tt.commit {
					return tx.Commit(t.Context())
				}
				return nil
			}()
			if err != nil {
				t.Fatalf("writing in a transaction: %v", err)
			}
			if n := countChanges(t, pool); n != tt.want {
				t.Errorf("%d rows after the transaction, want %d", n, tt.want)
			}
		})
	}
}

func TestRecordConfigChangeTxRefusesBeforeTouchingTheTransaction(t *testing.T) {
	pool := schemaOnly(t)
	err := pgx.BeginFunc(t.Context(), pool, func(tx pgx.Tx) error {
		if _, err := RecordConfigChangeTx(t.Context(), tx, ConfigChange{Operation: OpCreate}); !errors.Is(err, ErrInvalidConfigChange) {
			t.Errorf("error = %v, want ErrInvalidConfigChange", err)
		}
		// The transaction is still usable: nothing was sent for the
		// refused change.
		_, err := RecordConfigChangeTx(t.Context(), tx, ConfigChange{ChangedBy: "tester", Operation: OpCreate,
			TableName: "development_hosts", RecordID: 1, New: map[string]string{"hostname": "lab1"}})
		return err
	})
	if err != nil {
		t.Fatalf("transaction: %v", err)
	}
	if n := countChanges(t, pool); n != 1 {
		t.Errorf("%d rows, want 1", n)
	}
}

func TestCheckConfigAudit(t *testing.T) {
	tests := []struct {
		name    string
		migrate bool
		wantErr bool
	}{
		{"schema migrated", true, false},
		{"empty database", false, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var s *Store
			if tt.migrate {
				s = New(schemaOnly(t))
			} else {
				pool, _ := itest.Pool(t)
				s = New(pool)
			}
			err := s.CheckConfigAudit(t.Context())
			if (err != nil) != tt.wantErr {
				t.Fatalf("error = %v, want error %v", err, tt.wantErr)
			}
			if err != nil && !strings.Contains(err.Error(), "mutt migrate") {
				t.Errorf("error %q does not say what to do", err)
			}
		})
	}
}
