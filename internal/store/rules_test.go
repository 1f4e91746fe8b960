package store

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
)

// lastChange returns the newest config_audit_log row, failing when there is
// none.
func lastChange(t *testing.T, pool *pgxpool.Pool) storedChange {
	t.Helper()
	var id int64
	if err := pool.QueryRow(context.Background(), "SELECT COALESCE(max(id), 0) FROM config_audit_log").Scan(&id); err != nil {
		t.Fatalf("finding the newest config audit row: %v", err)
	}
	if id == 0 {
		t.Fatal("no config audit row")
	}
	return readChange(t, pool, id)
}

// checkChange compares an audit row with what a write by actor should have
// recorded; nil maps stand for NULL.
func checkChange(t *testing.T, got storedChange, actor Actor, op, table string, recordID int64, old, new map[string]any) {
	t.Helper()
	if got.changedBy != actor.ChangedBy || got.operation != op || got.table != table || got.recordID != recordID {
		t.Errorf("audit row = %s %s %s %d, want %s %s %s %d",
			got.changedBy, got.operation, got.table, got.recordID, actor.ChangedBy, op, table, recordID)
	}
	if !sameJSON(t, got.old, old) {
		t.Errorf("old_values = %s, want %v", deref(got.old), old)
	}
	if !sameJSON(t, got.new, new) {
		t.Errorf("new_values = %s, want %v", deref(got.new), new)
	}
	if !nullableIs(got.reason, actor.Reason) || !nullableIs(got.correlationID, actor.CorrelationID) {
		t.Errorf("reason, correlation_id = %s, %s; want %q, %q",
			deref(got.reason), deref(got.correlationID), actor.Reason, actor.CorrelationID)
	}
}

func ptr[T any](v T) *T { return &v }

// testActor is a complete actor; its fields must all reach the audit row.
var testActor = Actor{ChangedBy: "webui_api:3f2a9c1e", Reason: "ticket CHG-42", CorrelationID: "0b9c1f4e-2d3a-4c5b-8e6f-7a8b9c0d1e2f"}

// linkDown is a valid rule used across the tests.
func linkDown() Rule {
	return Rule{MatchString: ptr("LINK-DOWN"), SyslogSeverity: ptr(3), MatchType: "contains", Priority: 10,
		ProdHandling: "Page_and_ticket", DevHandling: "Ticket_only", TeamAssignment: "NetOps", IsActive: true}
}

// sameRule compares rules by value, pointers by what they point to.
func sameRule(a, b Rule) bool {
	sev := func(p *int) int {
		if p == nil {
			return -1
		}
		return *p
	}
	return a.ID == b.ID && deref(a.MatchString) == deref(b.MatchString) && deref(a.TrapOID) == deref(b.TrapOID) &&
		sev(a.SyslogSeverity) == sev(b.SyslogSeverity) && a.MatchType == b.MatchType && a.Priority == b.Priority &&
		a.ProdHandling == b.ProdHandling && a.DevHandling == b.DevHandling &&
		a.TeamAssignment == b.TeamAssignment && a.IsActive == b.IsActive
}

func ruleCount(t *testing.T, pool *pgxpool.Pool) int {
	t.Helper()
	var n int
	if err := pool.QueryRow(context.Background(), "SELECT count(*) FROM alert_rules").Scan(&n); err != nil {
		t.Fatalf("counting rules: %v", err)
	}
	return n
}

func TestRuleColumns(t *testing.T) {
	want := []string{"match_string", "trap_oid", "syslog_severity", "match_type", "priority",
		"prod_handling", "dev_handling", "team_assignment", "is_active"}
	got := RuleColumns()
	if !slices.Equal(got, want) {
		t.Fatalf("RuleColumns() = %v, want %v", got, want)
	}
	got[0] = "changed"
	if RuleColumns()[0] != "match_string" {
		t.Error("changing the returned slice changed RuleColumns")
	}
}

func TestCreateGetAndListRules(t *testing.T) {
	t.Parallel()
	pool := migrated(t)
	st := New(pool)
	ctx := t.Context()

	first := linkDown()
	trap := Rule{TrapOID: ptr("1.3.6.1.6.3.1.1.5.3"), MatchType: "oid_prefix", Priority: 5,
		ProdHandling: "Page", DevHandling: "Ignore", TeamAssignment: "Core", IsActive: false, ID: 999}
	tie := linkDown()
	tie.MatchString = ptr("it's 100% \"quoted\"; DROP TABLE alert_rules; --")

	var ids []int64
	for _, r := range []Rule{first, trap, tie} {
		id, err := st.CreateRule(ctx, r, testActor)
		if err != nil {
			t.Fatalf("CreateRule: %v", err)
		}
		ids = append(ids, id)
		r.ID = id
		checkChange(t, lastChange(t, pool), testActor, OpCreate, "alert_rules", id, nil, map[string]any{
			"match_string": r.MatchString, "trap_oid": r.TrapOID, "syslog_severity": r.SyslogSeverity,
			"match_type": r.MatchType, "priority": r.Priority, "prod_handling": r.ProdHandling,
			"dev_handling": r.DevHandling, "team_assignment": r.TeamAssignment, "is_active": r.IsActive,
		})
		got, err := st.GetRule(ctx, id)
		if err != nil {
			t.Fatalf("GetRule(%d): %v", id, err)
		}
		if !sameRule(got, r) {
			t.Errorf("GetRule(%d) = %+v, want %+v", id, got, r)
		}
	}
	if ids[1] == 999 {
		t.Error("CreateRule used the given ID")
	}

	list, err := st.ListRules(ctx)
	if err != nil {
		t.Fatalf("ListRules: %v", err)
	}
	var order []int64
	for _, r := range list {
		order = append(order, r.ID)
	}
	// Priority 5 first, then the two priority-10 rules by id; inactive
	// rules are listed too.
	if want := []int64{ids[1], ids[0], ids[2]}; !slices.Equal(order, want) {
		t.Errorf("ListRules order = %v, want %v", order, want)
	}
	if list[0].MatchString != nil || list[0].SyslogSeverity != nil || *list[1].SyslogSeverity != 3 {
		t.Errorf("nullable columns read wrongly: %+v / %+v", list[0], list[1])
	}

	if _, err := st.GetRule(ctx, 424242); !errors.Is(err, ErrNotFound) {
		t.Errorf("GetRule of a missing rule: %v, want ErrNotFound", err)
	}
}

func TestListRulesEmpty(t *testing.T) {
	t.Parallel()
	list, err := New(migrated(t)).ListRules(t.Context())
	// Empty, not nil, so that it encodes as [] rather than null.
	if err != nil || list == nil || len(list) != 0 {
		t.Fatalf("ListRules = %#v, %v; want an empty slice", list, err)
	}
}

func TestCreateRuleRejectsBadValues(t *testing.T) {
	t.Parallel()
	pool := migrated(t)
	st := New(pool)
	tests := []struct {
		name   string
		change func(*Rule)
		naming string // what the error must name
	}{
		{"bad match type", func(r *Rule) { r.MatchType = "x" }, "chk_match_type"},
		{"severity 8", func(r *Rule) { r.SyslogSeverity = ptr(8) }, "chk_syslog_severity"},
		{"neither match string nor OID", func(r *Rule) { r.MatchString = nil }, "chk_match_criteria"},
		{"match string too long", func(r *Rule) { r.MatchString = ptr(strings.Repeat("m", 256)) }, "too long"},
		{"team too long", func(r *Rule) { r.TeamAssignment = strings.Repeat("t", 101) }, "too long"},
		{"priority beyond INT", func(r *Rule) { r.Priority = 1 << 40 }, "priority"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := linkDown()
			tt.change(&r)
			_, err := st.CreateRule(t.Context(), r, testActor)
			if !errors.Is(err, ErrInvalidConfigChange) {
				t.Fatalf("CreateRule error = %v, want ErrInvalidConfigChange", err)
			}
			if !strings.Contains(err.Error(), tt.naming) {
				t.Errorf("error %q does not name %q", err, tt.naming)
			}
		})
	}
	if n := ruleCount(t, pool); n != 0 {
		t.Errorf("%d rules written", n)
	}
	if n := countChanges(t, pool); n != 0 {
		t.Errorf("%d audit rows written", n)
	}
}

func TestUpdateRule(t *testing.T) {
	t.Parallel()
	pool := migrated(t)
	st := New(pool)
	ctx := t.Context()
	id, err := st.CreateRule(ctx, linkDown(), testActor)
	if err != nil {
		t.Fatal(err)
	}

	fields := map[string]any{
		"priority":        1,
		"trap_oid":        ptr("1.3.6.1"),
		"syslog_severity": (*int)(nil),
		"is_active":       false,
		"dev_handling":    "Ignore",
	}
	actor := Actor{ChangedBy: "cli:alice"}
	if err := st.UpdateRule(ctx, id, fields, actor); err != nil {
		t.Fatalf("UpdateRule: %v", err)
	}
	checkChange(t, lastChange(t, pool), actor, OpUpdate, "alert_rules", id,
		map[string]any{"priority": 10, "trap_oid": nil, "syslog_severity": 3, "is_active": true, "dev_handling": "Ticket_only"},
		map[string]any{"priority": 1, "trap_oid": "1.3.6.1", "syslog_severity": nil, "is_active": false, "dev_handling": "Ignore"})
	got, err := st.GetRule(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if got.Priority != 1 || deref(got.TrapOID) != "1.3.6.1" || got.SyslogSeverity != nil || got.IsActive ||
		got.DevHandling != "Ignore" || deref(got.MatchString) != "LINK-DOWN" || got.ProdHandling != "Page_and_ticket" {
		t.Errorf("rule after update = %+v", got)
	}

	// Setting a nullable column to NULL and an int pointer.
	if err := st.UpdateRule(ctx, id, map[string]any{"match_string": nil, "syslog_severity": ptr(7)}, actor); err != nil {
		t.Fatalf("UpdateRule to NULL: %v", err)
	}
	checkChange(t, lastChange(t, pool), actor, OpUpdate, "alert_rules", id,
		map[string]any{"match_string": "LINK-DOWN", "syslog_severity": nil},
		map[string]any{"match_string": nil, "syslog_severity": 7})
}

func TestUpdateRuleErrors(t *testing.T) {
	t.Parallel()
	pool := migrated(t)
	st := New(pool)
	id, err := st.CreateRule(t.Context(), linkDown(), testActor)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		id     int64
		fields map[string]any
		want   error
		naming string
	}{
		{"missing rule", 424242, map[string]any{"priority": 1}, ErrNotFound, ""},
		{"no fields", id, map[string]any{}, ErrInvalidConfigChange, "no fields"},
		{"unknown column", id, map[string]any{"priority": 1, "id": 5}, ErrInvalidConfigChange, `"id"`},
		{"injected column", id, map[string]any{"priority = 0; --": 1}, ErrInvalidConfigChange, "not a writable"},
		{"wrong type", id, map[string]any{"priority": "high"}, ErrInvalidConfigChange, "priority"},
		{"null handling", id, map[string]any{"prod_handling": nil}, ErrInvalidConfigChange, "prod_handling"},
		{"null priority", id, map[string]any{"priority": (*int)(nil)}, ErrInvalidConfigChange, "priority"},
		{"bad match type", id, map[string]any{"match_type": "x"}, ErrInvalidConfigChange, "chk_match_type"},
		{"severity 8", id, map[string]any{"syslog_severity": 8}, ErrInvalidConfigChange, "chk_syslog_severity"},
		{"no criteria left", id, map[string]any{"match_string": nil}, ErrInvalidConfigChange, "chk_match_criteria"},
	}
	before := countChanges(t, pool)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := st.UpdateRule(t.Context(), tt.id, tt.fields, testActor)
			if !errors.Is(err, tt.want) {
				t.Fatalf("UpdateRule error = %v, want %v", err, tt.want)
			}
			if !strings.Contains(err.Error(), tt.naming) {
				t.Errorf("error %q does not name %q", err, tt.naming)
			}
		})
	}
	if n := countChanges(t, pool); n != before {
		t.Errorf("%d audit rows written by failed updates", n-before)
	}
	got, err := st.GetRule(t.Context(), id)
	if err != nil {
		t.Fatal(err)
	}
	if got.Priority != 10 || got.MatchType != "contains" || deref(got.MatchString) != "LINK-DOWN" {
		t.Errorf("rule changed by failed updates: %+v", got)
	}
}

func TestDeleteRule(t *testing.T) {
	t.Parallel()
	pool := migrated(t)
	st := New(pool)
	ctx := t.Context()
	r := linkDown()
	id, err := st.CreateRule(ctx, r, testActor)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.DeleteRule(ctx, id, testActor); err != nil {
		t.Fatalf("DeleteRule: %v", err)
	}
	checkChange(t, lastChange(t, pool), testActor, OpDelete, "alert_rules", id, map[string]any{
		"match_string": "LINK-DOWN", "trap_oid": nil, "syslog_severity": 3, "match_type": "contains",
		"priority": 10, "prod_handling": "Page_and_ticket", "dev_handling": "Ticket_only",
		"team_assignment": "NetOps", "is_active": true,
	}, nil)
	if _, err := st.GetRule(ctx, id); !errors.Is(err, ErrNotFound) {
		t.Errorf("GetRule after delete: %v, want ErrNotFound", err)
	}
	if err := st.DeleteRule(ctx, id, testActor); !errors.Is(err, ErrNotFound) {
		t.Errorf("second DeleteRule: %v, want ErrNotFound", err)
	}
}

func TestDeleteReferencedRule(t *testing.T) {
	t.Parallel()
	pool := migrated(t)
	st := New(pool)
	ctx := t.Context()
	id, err := st.CreateRule(ctx, linkDown(), testActor)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.InsertAudit(ctx, auditRows(t, 1, id, time.Now())); err != nil {
		t.Fatalf("InsertAudit: %v", err)
	}
	before := countChanges(t, pool)
	err = st.DeleteRule(ctx, id, testActor)
	if !errors.Is(err, ErrReferenced) {
		t.Fatalf("DeleteRule of a referenced rule: %v, want ErrReferenced", err)
	}
	if _, err := st.GetRule(ctx, id); err != nil {
		t.Errorf("rule gone after refused delete: %v", err)
	}
	if n := countChanges(t, pool); n != before {
		t.Errorf("%d audit rows written by a refused delete", n-before)
	}
}

// TestRuleWritesRollBackWhenAuditFails makes the audit insert fail after
// the rule change was made in the transaction: the change must not stay.
func TestRuleWritesRollBackWhenAuditFails(t *testing.T) {
	t.Parallel()
	pool := migrated(t)
	st := New(pool)
	ctx := t.Context()
	id, err := st.CreateRule(ctx, linkDown(), testActor)
	if err != nil {
		t.Fatal(err)
	}
	// The writer refuses this actor before sending the row.
	tooLong := Actor{ChangedBy: strings.Repeat("a", 101)}
	// PostgreSQL refuses this one when the row is inserted.
	if _, err := pool.Exec(ctx, `ALTER TABLE config_audit_log ADD CONSTRAINT test_refuse CHECK (reason IS DISTINCT FROM 'refuse')`); err != nil {
		t.Fatal(err)
	}
	refused := Actor{ChangedBy: "tester", Reason: "refuse"}
	before := countChanges(t, pool)
	for _, a := range []Actor{tooLong, refused} {
		if _, err := st.CreateRule(ctx, linkDown(), a); err == nil {
			t.Error("CreateRule succeeded without its audit row")
		}
		if err := st.UpdateRule(ctx, id, map[string]any{"priority": 99}, a); err == nil {
			t.Error("UpdateRule succeeded without its audit row")
		}
		if err := st.DeleteRule(ctx, id, a); err == nil {
			t.Error("DeleteRule succeeded without its audit row")
		}
	}
	if n := ruleCount(t, pool); n != 1 {
		t.Errorf("%d rules, want 1", n)
	}
	got, err := st.GetRule(ctx, id)
	if err != nil || got.Priority != 10 {
		t.Errorf("rule after failed writes = %+v, %v; want priority 10", got, err)
	}
	if n := countChanges(t, pool); n != before {
		t.Errorf("%d audit rows written", n-before)
	}
}
