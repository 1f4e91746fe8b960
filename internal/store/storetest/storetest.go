package storetest

import (
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/mutt-go/mutt/internal/store"
)

// Interface is store.Interface, under the name the suites' callers use.
type Interface = store.Interface

// Run runs the suite; newStore returns an empty, migrated store of its own
// for each subtest and arranges its cleanup.
func Run(t *testing.T, newStore func(t *testing.T) Interface) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s Interface)
	}{
		{"Ping", testPing},
		{"RuleCRUD", testRuleCRUD},
		{"RuleInvalid", testRuleInvalid},
		{"HostsAndTeams", testHostsAndTeams},
		{"LoadRuleSet", testLoadRuleSet},
		{"AuditIdempotent", testAuditIdempotent},
		{"AuditAllOrNothing", testAuditAllOrNothing},
		{"EventSearch", testEventSearch},
		{"ConfigAuditSameTransaction", testConfigAuditSameTx},
		{"ConfigAuditSearch", testConfigAuditSearch},
		{"ConcurrentWriters", testConcurrentWriters},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { tt.fn(t, newStore(t)) })
	}
}

var actor = store.Actor{ChangedBy: "cli:conformance", Reason: "suite", CorrelationID: "6f1c2b1e-0000-4000-8000-000000000001"}

func ptr[T any](v T) *T { return &v }

func sampleRule(match string, priority int) store.Rule {
	return store.Rule{
		MatchString: ptr(match), MatchType: "contains", Priority: priority, SyslogSeverity: ptr(3),
		ProdHandling: "Page_and_ticket", DevHandling: "Ticket_only", TeamAssignment: "NetOps", IsActive: true,
	}
}

func mustRule(t *testing.T, s Interface, r store.Rule) int64 {
	t.Helper()
	id, err := s.CreateRule(t.Context(), r, actor)
	if err != nil {
		t.Fatalf("CreateRule: %v", err)
	}
	return id
}

// configRows returns every config audit row of table, newest first.
func configRows(t *testing.T, s Interface, table string) []store.ConfigAuditRow {
	t.Helper()
	rows, _, err := s.SearchConfigAudit(t.Context(), store.ConfigAuditFilter{TableName: table, Limit: 200, OrderByID: true})
	if err != nil {
		t.Fatalf("SearchConfigAudit: %v", err)
	}
	return rows
}

func decode(t *testing.T, raw json.RawMessage) map[string]any {
	t.Helper()
	if raw == nil {
		return nil
	}
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatalf("decoding %s: %v", raw, err)
	}
	return m
}

func asJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatalf("encoding %+v: %v", v, err)
	}
	return string(b)
}

func testPing(t *testing.T, s Interface) {
	if err := s.Ping(t.Context()); err != nil {
		t.Fatalf("Ping: %v", err)
	}
	if err := s.CheckConfigAudit(t.Context()); err != nil {
		t.Fatalf("CheckConfigAudit on a migrated store: %v", err)
	}
}

func testRuleCRUD(t *testing.T, s Interface) {
	ctx := t.Context()
	r := sampleRule("LINK-DOWN", 10)
	id := mustRule(t, s, r)
	second := mustRule(t, s, store.Rule{TrapOID: ptr("1.3.6.1.6.3.1.1.5.3"), MatchType: "oid_prefix", Priority: 5,
		ProdHandling: "Ticket_only", DevHandling: "Ignore", TeamAssignment: "Core", IsActive: false})
	if second <= id {
		t.Fatalf("second rule id %d, want more than %d", second, id)
	}
	got, err := s.GetRule(ctx, id)
	if err != nil {
		t.Fatalf("GetRule: %v", err)
	}
	r.ID = id
	if asJSON(t, got) != asJSON(t, r) {
		t.Fatalf("GetRule = %+v, want %+v", got, r)
	}
	list, err := s.ListRules(ctx)
	if err != nil {
		t.Fatalf("ListRules: %v", err)
	}
	if len(list) != 2 || list[0].ID != second || list[1].ID != id {
		t.Fatalf("ListRules order = %+v, want [%d %d] (priority, then id)", list, second, id)
	}
	if list[0].MatchString != nil || list[0].SyslogSeverity != nil {
		t.Fatalf("unset fields of rule %d = %+v, want nil", second, list[0])
	}

	if err := s.UpdateRule(ctx, id, map[string]any{"priority": 1, "match_string": nil, "trap_oid": "1.3.6"}, actor); err != nil {
		t.Fatalf("UpdateRule: %v", err)
	}
	got, _ = s.GetRule(ctx, id)
	if got.Priority != 1 || got.MatchString != nil || got.TrapOID == nil || *got.TrapOID != "1.3.6" {
		t.Fatalf("after update %+v", got)
	}
	if err := s.UpdateRule(ctx, 999999, map[string]any{"priority": 1}, actor); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("UpdateRule of a missing rule: %v, want ErrNotFound", err)
	}
	if err := s.DeleteRule(ctx, second, actor); err != nil {
		t.Fatalf("DeleteRule: %v", err)
	}
	if _, err := s.GetRule(ctx, second); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("GetRule after delete: %v, want ErrNotFound", err)
	}
	if err := s.DeleteRule(ctx, second, actor); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("second DeleteRule: %v, want ErrNotFound", err)
	}

	audit := configRows(t, s, store.RulesTable)
	if len(audit) != 4 {
		t.Fatalf("config audit rows = %d, want 4 (2 creates, 1 update, 1 delete)", len(audit))
	}
	upd, del := audit[1], audit[0]
	if upd.Operation != store.OpUpdate || upd.RecordID != id {
		t.Fatalf("update row %+v", upd)
	}
	oldV, newV := decode(t, upd.OldValues), decode(t, upd.NewValues)
	if oldV["priority"] != float64(10) || oldV["match_string"] != "LINK-DOWN" || len(oldV) != 3 {
		t.Fatalf("update old values %v", oldV)
	}
	if newV["priority"] != float64(1) || newV["match_string"] != nil || newV["trap_oid"] != "1.3.6" || len(newV) != 3 {
		t.Fatalf("update new values %v", newV)
	}
	if del.Operation != store.OpDelete || del.NewValues != nil || decode(t, del.OldValues)["team_assignment"] != "Core" {
		t.Fatalf("delete row %+v", del)
	}
	if del.ChangedBy != actor.ChangedBy || del.Reason == nil || *del.Reason != actor.Reason ||
		del.CorrelationID == nil || *del.CorrelationID != actor.CorrelationID {
		t.Fatalf("delete row actor fields %+v", del)
	}
}

func testRuleInvalid(t *testing.T, s Interface) {
	ctx := t.Context()
	bad := sampleRule("X", 1)
	bad.SyslogSeverity = ptr(9)
	if _, err := s.CreateRule(ctx, bad, actor); !errors.Is(err, store.ErrInvalidConfigChange) {
		t.Fatalf("severity 9: %v, want ErrInvalidConfigChange", err)
	}
	bad = sampleRule("X", 1)
	bad.MatchType = "glob"
	if _, err := s.CreateRule(ctx, bad, actor); !errors.Is(err, store.ErrInvalidConfigChange) {
		t.Fatalf("match type glob: %v, want ErrInvalidConfigChange", err)
	}
	id := mustRule(t, s, sampleRule("OK", 1))
	tests := []struct {
		name   string
		fields map[string]any
	}{
		{"unknown column", map[string]any{"id": 3}},
		{"wrong type", map[string]any{"priority": "high"}},
		{"check", map[string]any{"syslog_severity": 8}},
		{"both criteria null", map[string]any{"match_string": nil}},
		{"none", map[string]any{}},
	}
	for _, tt := range tests {
		if err := s.UpdateRule(ctx, id, tt.fields, actor); !errors.Is(err, store.ErrInvalidConfigChange) {
			t.Errorf("%s: %v, want ErrInvalidConfigChange", tt.name, err)
		}
	}
	if n := len(configRows(t, s, store.RulesTable)); n != 1 {
		t.Fatalf("config audit rows = %d, want 1: a refused change writes none", n)
	}
}

func testHostsAndTeams(t *testing.T, s Interface) {
	ctx := t.Context()
	for _, h := range []string{"web-02", "db-01"} {
		if err := s.AddDevHost(ctx, h, actor); err != nil {
			t.Fatalf("AddDevHost(%s): %v", h, err)
		}
	}
	if err := s.AddDevHost(ctx, "db-01", actor); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("duplicate host: %v, want ErrConflict", err)
	}
	hosts, err := s.ListDevHosts(ctx)
	if err != nil || fmt.Sprint(hosts) != "[db-01 web-02]" {
		t.Fatalf("ListDevHosts = %v, %v", hosts, err)
	}
	if err := s.DeleteDevHost(ctx, "web-02", actor); err != nil {
		t.Fatalf("DeleteDevHost: %v", err)
	}
	if err := s.DeleteDevHost(ctx, "web-02", actor); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("DeleteDevHost again: %v, want ErrNotFound", err)
	}
	hostRows := configRows(t, s, store.DevHostsTable)
	if len(hostRows) != 3 || hostRows[0].RecordID != store.HashRecordID("web-02") || hostRows[0].Operation != store.OpDelete {
		t.Fatalf("host audit rows %+v", hostRows)
	}

	if err := s.AddTeam(ctx, store.Team{Hostname: "core-sw-01", TeamAssignment: "NetOps"}, actor); err != nil {
		t.Fatalf("AddTeam: %v", err)
	}
	if err := s.AddTeam(ctx, store.Team{Hostname: "core-sw-01", TeamAssignment: "X"}, actor); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("duplicate team: %v, want ErrConflict", err)
	}
	if err := s.UpdateTeam(ctx, store.Team{Hostname: "core-sw-01", TeamAssignment: "Core"}, actor); err != nil {
		t.Fatalf("UpdateTeam: %v", err)
	}
	if err := s.UpdateTeam(ctx, store.Team{Hostname: "nope", TeamAssignment: "Core"}, actor); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("UpdateTeam missing: %v, want ErrNotFound", err)
	}
	teams, err := s.ListTeams(ctx)
	if err != nil || len(teams) != 1 || teams[0].TeamAssignment != "Core" {
		t.Fatalf("ListTeams = %v, %v", teams, err)
	}
	if err := s.DeleteTeam(ctx, "core-sw-01", actor); err != nil {
		t.Fatalf("DeleteTeam: %v", err)
	}
	if err := s.DeleteTeam(ctx, "core-sw-01", actor); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("DeleteTeam again: %v, want ErrNotFound", err)
	}
	teamRows := configRows(t, s, store.TeamsTable)
	if len(teamRows) != 3 {
		t.Fatalf("team audit rows = %d, want 3", len(teamRows))
	}
	if o, n := decode(t, teamRows[1].OldValues), decode(t, teamRows[1].NewValues); o["team_assignment"] != "NetOps" || n["team_assignment"] != "Core" {
		t.Fatalf("team update row old %v new %v", o, n)
	}
}

func testLoadRuleSet(t *testing.T, s Interface) {
	ctx := t.Context()
	a := mustRule(t, s, sampleRule("A", 20))
	inactive := sampleRule("B", 1)
	inactive.IsActive = false
	mustRule(t, s, inactive)
	c := mustRule(t, s, store.Rule{TrapOID: ptr("1.3.6.1"), MatchType: "oid_prefix", Priority: 5,
		ProdHandling: "P", DevHandling: "D", TeamAssignment: "T", IsActive: true})
	_ = s.AddDevHost(ctx, "dev-1", actor)
	_ = s.AddTeam(ctx, store.Team{Hostname: "sw-1", TeamAssignment: "NetOps"}, actor)
	set, err := s.LoadRuleSet(ctx)
	if err != nil {
		t.Fatalf("LoadRuleSet: %v", err)
	}
	if len(set.Rules) != 2 || set.Rules[0].ID != c || set.Rules[1].ID != a {
		t.Fatalf("rules %+v, want active [%d %d]", set.Rules, c, a)
	}
	if set.Rules[0].MatchString != "" || set.Rules[0].Severity != nil || set.Rules[1].Severity == nil || *set.Rules[1].Severity != 3 {
		t.Fatalf("rule conversion %+v", set.Rules)
	}
	if fmt.Sprint(set.DevHosts) != "[dev-1]" || set.Teams["sw-1"] != "NetOps" || len(set.Teams) != 1 {
		t.Fatalf("hosts %v teams %v", set.DevHosts, set.Teams)
	}
}

// auditRows returns n rows of rule ruleID for host, one second apart from
// start.
func auditRows(n int, ruleID int64, host string, start time.Time) []store.AuditRow {
	rows := make([]store.AuditRow, n)
	for i := range rows {
		id := uuid.NewString()
		rows[i] = store.AuditRow{
			EventID: id, Timestamp: start.Add(time.Duration(i) * time.Second), Hostname: host, RuleID: ruleID,
			Handling: "Page_and_ticket", Forwarded: i%2 == 0,
			Raw: []byte(fmt.Sprintf(`{"hostname":%q,"_event_id":%q,"message":"LINK-DOWN"}`, host, id)),
		}
	}
	return rows
}

func countAudit(t *testing.T, s Interface, f store.EventAuditFilter) int64 {
	t.Helper()
	f.Limit = 1
	_, total, _, err := s.SearchEventAudit(t.Context(), f)
	if err != nil {
		t.Fatalf("SearchEventAudit: %v", err)
	}
	return total
}

func testAuditIdempotent(t *testing.T, s Interface) {
	ctx := t.Context()
	rule := mustRule(t, s, sampleRule("LINK", 1))
	start := time.Date(2026, 11, 3, 10, 0, 0, 123456000, time.UTC)
	rows := auditRows(20, rule, "sw-1", start)
	n, err := s.InsertAudit(ctx, rows)
	if err != nil || n != 20 {
		t.Fatalf("InsertAudit = %d, %v; want 20", n, err)
	}
	// A redelivered batch, with the first half again and ten new rows, one
	// of them twice within the batch.
	more := auditRows(10, rule, "sw-1", start.Add(time.Hour))
	again := append(append(append([]store.AuditRow{}, rows[:10]...), more...), more[0])
	n, err = s.InsertAudit(ctx, again)
	if err != nil || n != 10 {
		t.Fatalf("redelivered InsertAudit = %d, %v; want 10 new", n, err)
	}
	if total := countAudit(t, s, store.EventAuditFilter{}); total != 30 {
		t.Fatalf("audit rows = %d, want 30", total)
	}
	n, err = s.InsertAudit(ctx, nil)
	if err != nil || n != 0 {
		t.Fatalf("empty InsertAudit = %d, %v", n, err)
	}
}

func testAuditAllOrNothing(t *testing.T, s Interface) {
	ctx := t.Context()
	rule := mustRule(t, s, sampleRule("LINK", 1))
	rows := auditRows(5, rule, "sw-1", time.Now().UTC())
	rows[3].RuleID = rule + 1000 // no such rule
	if _, err := s.InsertAudit(ctx, rows); err == nil {
		t.Fatal("InsertAudit with an unknown rule succeeded")
	}
	rows = auditRows(3, rule, "sw-1", time.Now().UTC())
	rows[1].EventID = "not-a-uuid"
	if _, err := s.InsertAudit(ctx, rows); err == nil {
		t.Fatal("InsertAudit with a malformed event id succeeded")
	}
	if total := countAudit(t, s, store.EventAuditFilter{}); total != 0 {
		t.Fatalf("audit rows after refused batches = %d, want 0", total)
	}
	good := auditRows(1, rule, "sw-1", time.Now().UTC())
	if _, err := s.InsertAudit(ctx, good); err != nil {
		t.Fatalf("InsertAudit: %v", err)
	}
	if err := s.DeleteRule(ctx, rule, actor); !errors.Is(err, store.ErrReferenced) {
		t.Fatalf("DeleteRule of an audited rule: %v, want ErrReferenced", err)
	}
}

func testEventSearch(t *testing.T, s Interface) {
	ctx := t.Context()
	r1 := mustRule(t, s, sampleRule("A", 1))
	r2 := mustRule(t, s, sampleRule("B", 2))
	start := time.Date(2026, 10, 1, 0, 0, 0, 0, time.UTC)
	var all []store.AuditRow
	all = append(all, auditRows(7, r1, "sw-1", start)...)
	all = append(all, auditRows(5, r2, "sw-2", start.Add(time.Minute))...)
	// Two rows with the same timestamp: the id breaks the tie.
	tie := auditRows(2, r1, "sw-3", start.Add(time.Hour))
	tie[1].Timestamp = tie[0].Timestamp
	all = append(all, tie...)
	if _, err := s.InsertAudit(ctx, all); err != nil {
		t.Fatalf("InsertAudit: %v", err)
	}
	tests := []struct {
		name string
		f    store.EventAuditFilter
		want int64
	}{
		{"all", store.EventAuditFilter{}, 14},
		{"host", store.EventAuditFilter{Hostname: "sw-2"}, 5},
		{"rule", store.EventAuditFilter{RuleID: &r1}, 9},
		{"start inclusive", store.EventAuditFilter{Start: start.Add(6 * time.Second)}, 8},
		{"end inclusive", store.EventAuditFilter{End: start.Add(6 * time.Second)}, 7},
		{"host and rule", store.EventAuditFilter{Hostname: "sw-2", RuleID: &r1}, 0},
	}
	for _, tt := range tests {
		if got := countAudit(t, s, tt.f); got != tt.want {
			t.Errorf("%s: total %d, want %d", tt.name, got, tt.want)
		}
	}
	page1, total, estimated, err := s.SearchEventAudit(ctx, store.EventAuditFilter{Limit: 3})
	if err != nil || total != 14 || estimated || len(page1) != 3 {
		t.Fatalf("page 1: %d rows, total %d, estimated %v, %v", len(page1), total, estimated, err)
	}
	if !page1[0].EventTimestamp.Equal(page1[1].EventTimestamp) || page1[0].ID < page1[1].ID || page1[0].Hostname != "sw-3" {
		t.Fatalf("newest first, id breaking ties: %+v", page1[:2])
	}
	if page1[0].EventTimestamp.Location() != time.UTC {
		t.Fatalf("timestamp not in UTC: %v", page1[0].EventTimestamp)
	}
	page2, _, _, err := s.SearchEventAudit(ctx, store.EventAuditFilter{Limit: 3, Offset: 3})
	if err != nil || len(page2) != 3 || !page2[0].EventTimestamp.Before(page1[2].EventTimestamp) {
		t.Fatalf("page 2: %+v, %v", page2, err)
	}
	last, _, _, _ := s.SearchEventAudit(ctx, store.EventAuditFilter{Limit: 500, Offset: -5})
	if len(last) != 14 {
		t.Fatalf("clamped page = %d rows, want 14", len(last))
	}
	row := page2[0]
	if row.RawMessage == nil || row.HandlingDecision != "Page_and_ticket" || row.MatchedRuleID == 0 {
		t.Fatalf("row fields %+v", row)
	}
	// Microsecond precision survives the round trip.
	got, _, _, _ := s.SearchEventAudit(ctx, store.EventAuditFilter{Hostname: "sw-1", Limit: 1, End: start})
	if len(got) != 1 || !got[0].EventTimestamp.Equal(start) {
		t.Fatalf("oldest sw-1 row %+v, want timestamp %v", got, start)
	}
}

func testConfigAuditSameTx(t *testing.T, s Interface) {
	ctx := t.Context()
	nobody := store.Actor{} // changed_by empty: the audit row is refused
	if _, err := s.CreateRule(ctx, sampleRule("X", 1), nobody); !errors.Is(err, store.ErrInvalidConfigChange) {
		t.Fatalf("CreateRule without actor: %v, want ErrInvalidConfigChange", err)
	}
	if list, _ := s.ListRules(ctx); len(list) != 0 {
		t.Fatalf("rule kept although its audit row failed: %+v", list)
	}
	if err := s.AddDevHost(ctx, "h1", nobody); err == nil {
		t.Fatal("AddDevHost without actor succeeded")
	}
	if hosts, _ := s.ListDevHosts(ctx); len(hosts) != 0 {
		t.Fatalf("host kept although its audit row failed: %v", hosts)
	}
	if err := s.AddTeam(ctx, store.Team{Hostname: "h1", TeamAssignment: "T"}, nobody); err == nil {
		t.Fatal("AddTeam without actor succeeded")
	}
	id := mustRule(t, s, sampleRule("Y", 1))
	if err := s.UpdateRule(ctx, id, map[string]any{"priority": 7}, nobody); err == nil {
		t.Fatal("UpdateRule without actor succeeded")
	}
	if r, _ := s.GetRule(ctx, id); r.Priority != 1 {
		t.Fatalf("priority %d changed although its audit row failed", r.Priority)
	}
	if err := s.DeleteRule(ctx, id, nobody); err == nil {
		t.Fatal("DeleteRule without actor succeeded")
	}
	if _, err := s.GetRule(ctx, id); err != nil {
		t.Fatalf("rule gone although its audit row failed: %v", err)
	}
	_, total, err := s.SearchConfigAudit(ctx, store.ConfigAuditFilter{Limit: 1})
	if err != nil || total != 1 {
		t.Fatalf("config audit rows = %d, %v; want only the one successful create", total, err)
	}
}

func testConfigAuditSearch(t *testing.T, s Interface) {
	ctx := t.Context()
	changes := []store.ConfigChange{
		{ChangedBy: "webui_api:AbC", Operation: store.OpCreate, TableName: "alert_rules", RecordID: 1, New: map[string]any{"a": 1}},
		{ChangedBy: "cli:alice", Operation: store.OpUpdate, TableName: "alert_rules", RecordID: 1,
			Old: map[string]any{"a": 1}, New: map[string]any{"a": 2}, Reason: "tune"},
		{ChangedBy: "cli:bob_x", Operation: store.OpDelete, TableName: "device_teams", RecordID: 7, Old: map[string]any{"t": "x"},
			New: map[string]any{"ignored": true}},
	}
	ids := make([]int64, len(changes))
	for i, c := range changes {
		id, err := s.RecordConfigChange(ctx, c)
		if err != nil {
			t.Fatalf("RecordConfigChange %d: %v", i, err)
		}
		ids[i] = id
	}
	if _, err := s.RecordConfigChange(ctx, store.ConfigChange{ChangedBy: "x", Operation: "MERGE", TableName: "t", RecordID: 1}); !errors.Is(err, store.ErrInvalidConfigChange) {
		t.Fatalf("bad operation: %v, want ErrInvalidConfigChange", err)
	}
	rec := int64(1)
	tests := []struct {
		name string
		f    store.ConfigAuditFilter
		want []int64
	}{
		{"all", store.ConfigAuditFilter{OrderByID: true}, []int64{ids[2], ids[1], ids[0]}},
		{"changed_by substring case-insensitive", store.ConfigAuditFilter{ChangedBy: "ABC"}, []int64{ids[0]}},
		{"changed_by literal underscore", store.ConfigAuditFilter{ChangedBy: "b_x"}, []int64{ids[2]}},
		{"changed_by wildcard is literal", store.ConfigAuditFilter{ChangedBy: "%"}, nil},
		{"operation", store.ConfigAuditFilter{Operation: store.OpUpdate}, []int64{ids[1]}},
		{"table and record", store.ConfigAuditFilter{TableName: "alert_rules", RecordID: &rec, OrderByID: true}, []int64{ids[1], ids[0]}},
		{"future start", store.ConfigAuditFilter{Start: time.Now().Add(time.Hour)}, nil},
		{"past end", store.ConfigAuditFilter{End: time.Now().Add(-time.Hour)}, nil},
	}
	for _, tt := range tests {
		tt.f.Limit = 200
		rows, total, err := s.SearchConfigAudit(ctx, tt.f)
		if err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		var got []int64
		for _, r := range rows {
			got = append(got, r.ID)
		}
		if fmt.Sprint(got) != fmt.Sprint(tt.want) || total != int64(len(tt.want)) {
			t.Errorf("%s: ids %v total %d, want %v", tt.name, got, total, tt.want)
		}
	}
	rows, total, err := s.SearchConfigAudit(ctx, store.ConfigAuditFilter{Limit: 1, Offset: 1, OrderByID: true})
	if err != nil || total != 3 || len(rows) != 1 || rows[0].ID != ids[1] {
		t.Fatalf("paged: %+v total %d, %v", rows, total, err)
	}
	r := rows[0]
	if r.Reason == nil || *r.Reason != "tune" || r.CorrelationID != nil || r.ChangedAt.Location() != time.UTC ||
		time.Since(r.ChangedAt) > time.Minute {
		t.Fatalf("row fields %+v", r)
	}
	del, _, _ := s.SearchConfigAudit(ctx, store.ConfigAuditFilter{Operation: store.OpDelete, Limit: 1})
	if len(del) != 1 || del[0].NewValues != nil || decode(t, del[0].OldValues)["t"] != "x" {
		t.Fatalf("delete row keeps no new values: %+v", del)
	}
}

func testConcurrentWriters(t *testing.T, s Interface) {
	ctx := t.Context()
	rule := mustRule(t, s, sampleRule("LINK", 1))
	const writers, batches, perBatch = 4, 5, 50
	start := time.Now().UTC()
	var wg sync.WaitGroup
	errs := make(chan error, writers*batches*2)
	for w := 0; w < writers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			host := fmt.Sprintf("sw-%d", w)
			for b := 0; b < batches; b++ {
				rows := auditRows(perBatch, rule, host, start.Add(time.Duration(b)*time.Hour))
				if _, err := s.InsertAudit(ctx, rows); err != nil {
					errs <- err
				}
				// Every writer also makes a configuration change.
				if err := s.AddDevHost(ctx, fmt.Sprintf("%s-dev-%d", host, b), actor); err != nil {
					errs <- err
				}
			}
		}(w)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("concurrent writer: %v", err)
	}
	if total := countAudit(t, s, store.EventAuditFilter{}); total != writers*batches*perBatch {
		t.Fatalf("audit rows = %d, want %d", total, writers*batches*perBatch)
	}
	hosts, _ := s.ListDevHosts(ctx)
	if len(hosts) != writers*batches || len(configRows(t, s, store.DevHostsTable)) != writers*batches {
		t.Fatalf("hosts %d, host audit rows %d, want %d each", len(hosts), len(configRows(t, s, store.DevHostsTable)), writers*batches)
	}
}
