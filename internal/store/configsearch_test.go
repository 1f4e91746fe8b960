package store

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"
)

// seededChange is a config audit row the test wrote, with the time it was
// given.
type seededChange struct {
	id int64
	c  ConfigChange
	at time.Time
}

// seedChanges writes changes one hour apart going back from base, in the
// order given, and sets their changed_at.
func seedChanges(t *testing.T, st *Store, base time.Time, changes []ConfigChange) []seededChange {
	t.Helper()
	out := make([]seededChange, len(changes))
	for i, c := range changes {
		id, err := st.RecordConfigChange(t.Context(), c)
		if err != nil {
			t.Fatalf("RecordConfigChange(%+v): %v", c, err)
		}
		at := base.Add(-time.Duration(i) * time.Hour)
		if _, err := st.pool.Exec(t.Context(), "UPDATE config_audit_log SET changed_at = $2 WHERE id = $1", id, at); err != nil {
			t.Fatal(err)
		}
		out[i] = seededChange{id: id, c: c, at: at}
	}
	return out
}

func TestSearchConfigAudit(t *testing.T) {
	t.Parallel()
	pool := migrated(t)
	st := New(pool)
	ctx := t.Context()
	base := time.Date(2025, 11, 10, 10, 0, 0, 0, time.UTC)
	host := map[string]string{"hostname": "lab1"}
	changes := seedChanges(t, st, base, []ConfigChange{
		{ChangedBy: "webui_api:3f2a9c1e", Operation: OpCreate, TableName: "alert_rules", RecordID: 7,
			New: map[string]any{"priority": 5}, Reason: "new rule", CorrelationID: "c-1"},
		{ChangedBy: "ops%team", Operation: OpUpdate, TableName: "alert_rules", RecordID: 7,
			Old: map[string]any{"priority": 5}, New: map[string]any{"priority": 1}},
		{ChangedBy: "opsXteam", Operation: OpDelete, TableName: "alert_rules", RecordID: 7,
			Old: map[string]any{"priority": 1}},
		{ChangedBy: "ops_team", Operation: OpCreate, TableName: "development_hosts", RecordID: HashRecordID("lab1"), New: host},
		{ChangedBy: `ops\team`, Operation: OpDelete, TableName: "development_hosts", RecordID: HashRecordID("lab1"), Old: host},
		{ChangedBy: "CLI:Alice", Operation: OpCreate, TableName: "device_teams", RecordID: 9,
			New: map[string]any{"hostname": "sw1", "team_assignment": "Core"}},
	})
	// The row written last is the oldest, so id order and time order
	// disagree.
	byTime := func(idx ...int) []int64 {
		var ids []int64
		for _, i := range idx {
			ids = append(ids, changes[i].id)
		}
		return ids
	}
	rec7 := int64(7)
	tests := []struct {
		name  string
		f     ConfigAuditFilter
		want  []int64
		total int64
	}{
		{"everything by time", ConfigAuditFilter{Limit: 50}, byTime(0, 1, 2, 3, 4, 5), 6},
		{"everything by id", ConfigAuditFilter{Limit: 50, OrderByID: true}, byTime(5, 4, 3, 2, 1, 0), 6},
		{"paged", ConfigAuditFilter{Limit: 2, Offset: 2}, byTime(2, 3), 6},
		{"changed_by substring, any case", ConfigAuditFilter{ChangedBy: "ALICE", Limit: 50}, byTime(5), 1},
		{"percent is literal", ConfigAuditFilter{ChangedBy: "%", Limit: 50}, byTime(1), 1},
		{"underscore is literal", ConfigAuditFilter{ChangedBy: "s_t", Limit: 50}, byTime(3), 1},
		{"backslash is literal", ConfigAuditFilter{ChangedBy: `\`, Limit: 50}, byTime(4), 1},
		{"plain substring", ConfigAuditFilter{ChangedBy: "team", Limit: 50}, byTime(1, 2, 3, 4), 4},
		{"operation", ConfigAuditFilter{Operation: OpCreate, Limit: 50}, byTime(0, 3, 5), 3},
		{"table", ConfigAuditFilter{TableName: "development_hosts", Limit: 50}, byTime(3, 4), 2},
		{"table is exact", ConfigAuditFilter{TableName: "alert_%", Limit: 50}, nil, 0},
		{"record history", ConfigAuditFilter{TableName: "alert_rules", RecordID: &rec7, Limit: 50, OrderByID: true},
			byTime(2, 1, 0), 3},
		{"window inclusive", ConfigAuditFilter{Start: changes[4].at, End: changes[1].at, Limit: 50}, byTime(1, 2, 3, 4), 4},
		{"combined", ConfigAuditFilter{ChangedBy: "ops", Operation: OpDelete, TableName: "alert_rules",
			RecordID: &rec7, Start: base.Add(-24 * time.Hour), End: base, Limit: 10}, byTime(2), 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, total, err := st.SearchConfigAudit(ctx, tt.f)
			if err != nil {
				t.Fatalf("SearchConfigAudit: %v", err)
			}
			var ids []int64
			for _, r := range got {
				ids = append(ids, r.ID)
			}
			if !slices.Equal(ids, tt.want) || total != tt.total {
				t.Errorf("ids = %v, total %d; want %v, total %d", ids, total, tt.want, tt.total)
			}
			if got == nil {
				t.Error("rows = nil, want an empty slice")
			}
		})
	}
}

func TestConfigAuditRowJSON(t *testing.T) {
	t.Parallel()
	pool := migrated(t)
	st := New(pool)
	at := time.Date(2025, 11, 10, 10, 0, 0, 0, time.UTC)
	changes := seedChanges(t, st, at, []ConfigChange{
		{ChangedBy: "cli:alice", Operation: OpUpdate, TableName: "device_teams", RecordID: 9,
			Old: map[string]any{"team_assignment": "Core"}, New: map[string]any{"team_assignment": "Edge"},
			Reason: "re-org", CorrelationID: "0b9c1f4e-2d3a-4c5b-8e6f-7a8b9c0d1e2f"},
	})
	seedChanges(t, st, at.Add(-time.Hour), []ConfigChange{
		{ChangedBy: "cli:alice", Operation: OpCreate, TableName: "device_teams", RecordID: 9,
			New: map[string]any{"team_assignment": "Core"}},
	})
	got, _, err := st.SearchConfigAudit(t.Context(), ConfigAuditFilter{Limit: 10})
	if err != nil || len(got) != 2 {
		t.Fatalf("SearchConfigAudit = %d rows, %v; want 2", len(got), err)
	}
	if got[0].ChangedAt.Location() != time.UTC || !got[0].ChangedAt.Equal(at) {
		t.Errorf("changed_at = %v, want %v in UTC", got[0].ChangedAt, at)
	}
	tests := []struct {
		name string
		row  ConfigAuditRow
		want map[string]any
	}{
		{"update", got[0], map[string]any{
			"id": changes[0].id, "changed_at": "2025-11-10T10:00:00Z", "changed_by": "cli:alice",
			"operation": "UPDATE", "table_name": "device_teams", "record_id": 9,
			"old_values": map[string]any{"team_assignment": "Core"}, "new_values": map[string]any{"team_assignment": "Edge"},
			"reason": "re-org", "correlation_id": "0b9c1f4e-2d3a-4c5b-8e6f-7a8b9c0d1e2f",
		}},
		{"create without reason", got[1], map[string]any{
			"id": got[1].ID, "changed_at": "2025-11-10T09:00:00Z", "changed_by": "cli:alice",
			"operation": "CREATE", "table_name": "device_teams", "record_id": 9,
			"old_values": nil, "new_values": map[string]any{"team_assignment": "Core"},
			"reason": nil, "correlation_id": nil,
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := json.Marshal(tt.row)
			if err != nil {
				t.Fatalf("encoding: %v", err)
			}
			var gotJSON, wantJSON any
			if err := json.Unmarshal(b, &gotJSON); err != nil {
				t.Fatalf("decoding %s: %v", b, err)
			}
			w, _ := json.Marshal(tt.want)
			_ = json.Unmarshal(w, &wantJSON)
			g, _ := json.Marshal(gotJSON)
			w, _ = json.Marshal(wantJSON)
			if string(g) != string(w) {
				t.Errorf("JSON = %s\nwant   %s", g, w)
			}
		})
	}
	// A nil RawMessage encodes as null, never as "" or an error.
	b, err := json.Marshal(ConfigAuditRow{})
	if err != nil || !strings.Contains(string(b), `"old_values":null,"new_values":null`) {
		t.Errorf("zero row encodes as %s, %v", b, err)
	}
}

func TestEscapeLike(t *testing.T) {
	tests := []struct{ in, want string }{
		{"plain", "plain"},
		{"100%", `100\%`},
		{"a_b", `a\_b`},
		{`c:\dir`, `c:\\dir`},
		{`\%_`, `\\\%\_`},
	}
	for _, tt := range tests {
		if got := escapeLike(tt.in); got != tt.want {
			t.Errorf("escapeLike(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}
