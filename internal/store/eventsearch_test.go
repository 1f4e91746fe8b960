package store

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"
)

// seedEvents inserts n event audit rows one minute apart going back from
// base, over three hostnames and the given rules; rows 10 and 11 share a
// timestamp and every fifth row has no raw message. It returns the rows as
// stored.
func seedEvents(t *testing.T, st *Store, n int, base time.Time, ruleIDs []int64) []EventAuditRow {
	t.Helper()
	hosts := []string{"h1", "h2", "h'3"}
	rows := make([]EventAuditRow, n)
	for i := range rows {
		ts := base.Add(-time.Duration(i) * time.Minute)
		if i == 11 {
			ts = rows[10].EventTimestamp
		}
		r := EventAuditRow{EventTimestamp: ts, Hostname: hosts[i%len(hosts)], MatchedRuleID: ruleIDs[i%len(ruleIDs)],
			HandlingDecision: "Page_and_ticket", ForwardedToMoog: i%2 == 0}
		if i%5 != 0 {
			r.RawMessage = ptr(`{"message":"event ` + string(rune('a'+i%26)) + `"}`)
		}
		err := st.pool.QueryRow(t.Context(), `
			INSERT INTO event_audit_log (event_id, event_timestamp, hostname, matched_rule_id, handling_decision,
			                             forwarded_to_moog, raw_message)
			VALUES (gen_random_uuid(), $1, $2, $3, $4, $5, $6) RETURNING id`,
			r.EventTimestamp, r.Hostname, r.MatchedRuleID, r.HandlingDecision, r.ForwardedToMoog, r.RawMessage).Scan(&r.ID)
		if err != nil {
			t.Fatalf("inserting event row %d: %v", i, err)
		}
		rows[i] = r
	}
	return rows
}

// expectEvents filters and orders rows as SearchEventAudit must, and
// returns the ids of the page and the total.
func expectEvents(rows []EventAuditRow, f EventAuditFilter) ([]int64, int64) {
	var match []EventAuditRow
	for _, r := range rows {
		if (f.Hostname == "" || r.Hostname == f.Hostname) && (f.RuleID == nil || r.MatchedRuleID == *f.RuleID) &&
			(f.Start.IsZero() || !r.EventTimestamp.Before(f.Start)) && (f.End.IsZero() || !r.EventTimestamp.After(f.End)) {
			match = append(match, r)
		}
	}
	slices.SortFunc(match, func(a, b EventAuditRow) int {
		if c := b.EventTimestamp.Compare(a.EventTimestamp); c != 0 {
			return c
		}
		return int(b.ID - a.ID)
	})
	ids := []int64{}
	for i := f.Offset; i < len(match) && i < f.Offset+f.Limit; i++ {
		ids = append(ids, match[i].ID)
	}
	return ids, int64(len(match))
}

func TestSearchEventAudit(t *testing.T) {
	t.Parallel()
	pool := migrated(t)
	st := New(pool)
	ctx := t.Context()
	insertRule(t, pool, 1)
	insertRule(t, pool, 2)
	base := time.Now().UTC().Truncate(time.Millisecond)
	rows := seedEvents(t, st, 30, base, []int64{1, 2})

	one, two, none := int64(1), int64(2), int64(3)
	tests := []struct {
		name string
		f    EventAuditFilter
	}{
		{"everything", EventAuditFilter{Limit: 50}},
		{"first page", EventAuditFilter{Limit: 7}},
		{"middle page across the tie", EventAuditFilter{Limit: 4, Offset: 8}},
		{"past the end", EventAuditFilter{Limit: 10, Offset: 40}},
		{"hostname", EventAuditFilter{Hostname: "h2", Limit: 50}},
		{"hostname with a quote", EventAuditFilter{Hostname: "h'3", Limit: 50}},
		{"hostname is not a pattern", EventAuditFilter{Hostname: "h%", Limit: 50}},
		{"rule", EventAuditFilter{RuleID: &two, Limit: 50}},
		{"unknown rule", EventAuditFilter{RuleID: &none, Limit: 50}},
		{"start inclusive", EventAuditFilter{Start: rows[5].EventTimestamp, Limit: 50}},
		{"end inclusive", EventAuditFilter{End: rows[20].EventTimestamp, Limit: 50}},
		{"window", EventAuditFilter{Start: rows[20].EventTimestamp, End: rows[10].EventTimestamp, Limit: 50}},
		{"all combined, paged", EventAuditFilter{Hostname: "h1", RuleID: &one, Start: rows[28].EventTimestamp,
			End: rows[2].EventTimestamp, Limit: 2, Offset: 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, total, estimated, err := st.SearchEventAudit(ctx, tt.f)
			if err != nil {
				t.Fatalf("SearchEventAudit: %v", err)
			}
			wantIDs, wantTotal := expectEvents(rows, tt.f)
			var ids []int64
			for _, r := range got {
				ids = append(ids, r.ID)
			}
			if !slices.Equal(ids, wantIDs) {
				t.Errorf("ids = %v, want %v", ids, wantIDs)
			}
			if total != wantTotal || estimated {
				t.Errorf("total = %d (estimated %v), want %d exactly", total, estimated, wantTotal)
			}
			if got == nil {
				t.Error("rows = nil, want an empty slice")
			}
		})
	}

	// Rows come back complete, in UTC, with a NULL raw message as nil.
	got, _, _, err := st.SearchEventAudit(ctx, EventAuditFilter{Limit: 200})
	if err != nil {
		t.Fatal(err)
	}
	byID := make(map[int64]EventAuditRow)
	for _, r := range rows {
		byID[r.ID] = r
	}
	for _, r := range got {
		want := byID[r.ID]
		if r.EventTimestamp.Location() != time.UTC || !r.EventTimestamp.Equal(want.EventTimestamp) ||
			r.Hostname != want.Hostname || r.MatchedRuleID != want.MatchedRuleID ||
			r.HandlingDecision != want.HandlingDecision || r.ForwardedToMoog != want.ForwardedToMoog ||
			deref(r.RawMessage) != deref(want.RawMessage) {
			t.Errorf("row %d = %+v, want %+v", r.ID, r, want)
		}
	}
	b, err := json.Marshal(byID[rows[0].ID])
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), `"raw_message":null`) {
		t.Errorf("a row without raw message encodes as %s, want raw_message null", b)
	}
}

func TestSearchEventAuditClampsPaging(t *testing.T) {
	t.Parallel()
	pool := migrated(t)
	st := New(pool)
	insertRule(t, pool, 1)
	seedEvents(t, st, 3, time.Now(), []int64{1})
	tests := []struct {
		name  string
		f     EventAuditFilter
		count int
	}{
		{"zero limit means one row", EventAuditFilter{}, 1},
		{"negative offset means zero", EventAuditFilter{Limit: 10, Offset: -5}, 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, total, _, err := st.SearchEventAudit(t.Context(), tt.f)
			if err != nil || len(got) != tt.count || total != 3 {
				t.Errorf("got %d rows, total %d, %v; want %d rows, total 3", len(got), total, err, tt.count)
			}
		})
	}
}

func TestSearchEventAuditEstimatesAboveTheCap(t *testing.T) {
	t.Parallel()
	pool := migrated(t)
	st := New(pool)
	ctx := t.Context()
	insertRule(t, pool, 1)
	insertRule(t, pool, 2)
	rows := seedEvents(t, st, 30, time.Now(), []int64{1, 2})
	if _, err := pool.Exec(ctx, "ANALYZE event_audit_log"); err != nil {
		t.Fatal(err)
	}
	two := int64(2)
	tests := []struct {
		name          string
		f             EventAuditFilter
		countCap      int64
		wantEstimated bool
		wantTotal     int64 // exact total; a lower bound when estimated
	}{
		{"at the cap", EventAuditFilter{Limit: 5}, 30, false, 30},
		{"one above the cap", EventAuditFilter{Limit: 5}, 29, true, 30},
		{"far above the cap", EventAuditFilter{Limit: 5}, 3, true, 4},
		{"filter above the cap", EventAuditFilter{RuleID: &two, Limit: 5}, 10, true, 11},
		{"filter below the cap", EventAuditFilter{Hostname: "h1", Limit: 5}, 10, false, 10},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, total, estimated, err := st.searchEventAudit(ctx, tt.f, tt.countCap)
			if err != nil {
				t.Fatalf("searchEventAudit: %v", err)
			}
			if estimated != tt.wantEstimated {
				t.Errorf("estimated = %v, want %v", estimated, tt.wantEstimated)
			}
			if tt.wantEstimated && total < tt.wantTotal || !tt.wantEstimated && total != tt.wantTotal {
				t.Errorf("total = %d, want %d (a lower bound when estimated)", total, tt.wantTotal)
			}
			wantIDs, _ := expectEvents(rows, tt.f)
			var ids []int64
			for _, r := range got {
				ids = append(ids, r.ID)
			}
			if !slices.Equal(ids, wantIDs) {
				t.Errorf("ids = %v, want %v", ids, wantIDs)
			}
		})
	}
}

// TestHostnameSearchIndex checks that the index the hostname search relies
// on exists on the parent and on every partition, new ones included.
func TestHostnameSearchIndex(t *testing.T) {
	t.Parallel()
	pool := migrated(t)
	ctx := t.Context()
	var def string
	err := pool.QueryRow(ctx, `SELECT indexdef FROM pg_indexes WHERE indexname = 'idx_audit_log_hostname_timestamp'`).Scan(&def)
	if err != nil {
		t.Fatalf("reading the index: %v", err)
	}
	if !strings.Contains(def, "(hostname, event_timestamp DESC, id DESC)") {
		t.Errorf("index = %s", def)
	}
	if _, err := EnsurePartitions(ctx, pool, time.Now().AddDate(1, 0, 0), 1); err != nil {
		t.Fatal(err)
	}
	var missing []string
	rows, err := pool.Query(ctx, `
		SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
		WHERE i.inhparent = 'event_audit_log'::regclass
		  AND NOT EXISTS (SELECT 1 FROM pg_indexes x WHERE x.tablename = c.relname
		                  AND x.indexdef LIKE '%(hostname, event_timestamp DESC, id DESC)%')`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var name string
		if err := rows.Scan(&name); err != nil {
			t.Fatal(err)
		}
		missing = append(missing, name)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	if len(missing) > 0 {
		t.Errorf("partitions without the hostname search index: %v", missing)
	}
}
