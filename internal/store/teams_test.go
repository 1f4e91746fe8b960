package store

import (
	"errors"
	"slices"
	"strings"
	"testing"
)

func TestTeams(t *testing.T) {
	t.Parallel()
	pool := migrated(t)
	st := New(pool)
	ctx := t.Context()

	teams, err := st.ListTeams(ctx)
	if err != nil || teams == nil || len(teams) != 0 {
		t.Fatalf("ListTeams of none = %#v, %v; want an empty slice", teams, err)
	}
	added := []Team{{"sw-b", "NetOps"}, {"sw-a", "Core"}}
	for _, h := range oddHostnames {
		added = append(added, Team{h, "Team '" + h + "'"})
	}
	for _, tm := range added {
		if err := st.AddTeam(ctx, tm, testActor); err != nil {
			t.Fatalf("AddTeam(%+v): %v", tm, err)
		}
		checkChange(t, lastChange(t, pool), testActor, OpCreate, "device_teams", HashRecordID(tm.Hostname),
			nil, map[string]any{"hostname": tm.Hostname, "team_assignment": tm.TeamAssignment})
	}
	teams, err = st.ListTeams(ctx)
	if err != nil {
		t.Fatalf("ListTeams: %v", err)
	}
	if len(teams) != len(added) {
		t.Errorf("ListTeams = %+v, want %d teams", teams, len(added))
	}
	for _, tm := range added {
		if !slices.Contains(teams, tm) {
			t.Errorf("%+v not stored verbatim; have %+v", tm, teams)
		}
	}
	if slices.Index(teams, added[1]) > slices.Index(teams, added[0]) {
		t.Errorf("ListTeams not ordered by hostname: %+v", teams)
	}

	actor := Actor{ChangedBy: "cli:bob"}
	if err := st.UpdateTeam(ctx, Team{"%", "Storage"}, actor); err != nil {
		t.Fatalf("UpdateTeam: %v", err)
	}
	checkChange(t, lastChange(t, pool), actor, OpUpdate, "device_teams", HashRecordID("%"),
		map[string]any{"hostname": "%", "team_assignment": "Team '%'"},
		map[string]any{"hostname": "%", "team_assignment": "Storage"})
	if err := st.DeleteTeam(ctx, "_", actor); err != nil {
		t.Fatalf("DeleteTeam: %v", err)
	}
	checkChange(t, lastChange(t, pool), actor, OpDelete, "device_teams", HashRecordID("_"),
		map[string]any{"hostname": "_", "team_assignment": "Team '_'"}, nil)

	teams, err = st.ListTeams(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(teams, Team{"%", "Storage"}) || len(teams) != len(added)-1 ||
		!slices.Contains(teams, Team{"sw-a", "Core"}) {
		t.Errorf("teams after update and delete = %+v", teams)
	}
}

func TestTeamErrors(t *testing.T) {
	t.Parallel()
	pool := migrated(t)
	st := New(pool)
	ctx := t.Context()
	if err := st.AddTeam(ctx, Team{"sw-a", "Core"}, testActor); err != nil {
		t.Fatal(err)
	}
	before := countChanges(t, pool)
	tests := []struct {
		name string
		call func() error
		want error
	}{
		{"add existing", func() error { return st.AddTeam(ctx, Team{"sw-a", "Other"}, testActor) }, ErrConflict},
		{"add long team", func() error { return st.AddTeam(ctx, Team{"sw-b", strings.Repeat("t", 101)}, testActor) }, ErrInvalidConfigChange},
		{"update missing", func() error { return st.UpdateTeam(ctx, Team{"sw-z", "Core"}, testActor) }, ErrNotFound},
		{"update long team", func() error { return st.UpdateTeam(ctx, Team{"sw-a", strings.Repeat("t", 101)}, testActor) }, ErrInvalidConfigChange},
		{"delete missing", func() error { return st.DeleteTeam(ctx, "sw-z", testActor) }, ErrNotFound},
		{"delete by pattern", func() error { return st.DeleteTeam(ctx, "sw-%", testActor) }, ErrNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.call(); !errors.Is(err, tt.want) {
				t.Errorf("error = %v, want %v", err, tt.want)
			}
		})
	}
	if n := countChanges(t, pool); n != before {
		t.Errorf("%d audit rows written by failed writes", n-before)
	}
	teams, err := st.ListTeams(ctx)
	if err != nil || !slices.Equal(teams, []Team{{"sw-a", "Core"}}) {
		t.Errorf("teams = %+v, %v; want only sw-a → Core", teams, err)
	}
}

func TestTeamWritesRollBackWhenAuditFails(t *testing.T) {
	t.Parallel()
	pool := migrated(t)
	st := New(pool)
	ctx := t.Context()
	if err := st.AddTeam(ctx, Team{"kept", "Core"}, testActor); err != nil {
		t.Fatal(err)
	}
	if _, err := pool.Exec(ctx, `ALTER TABLE config_audit_log ADD CONSTRAINT test_refuse CHECK (reason IS DISTINCT FROM 'refuse')`); err != nil {
		t.Fatal(err)
	}
	before := countChanges(t, pool)
	for _, a := range []Actor{{ChangedBy: strings.Repeat("a", 101)}, {ChangedBy: "tester", Reason: "refuse"}} {
		if err := st.AddTeam(ctx, Team{"new", "Core"}, a); err == nil {
			t.Error("AddTeam succeeded without its audit row")
		}
		if err := st.UpdateTeam(ctx, Team{"kept", "Other"}, a); err == nil {
			t.Error("UpdateTeam succeeded without its audit row")
		}
		if err := st.DeleteTeam(ctx, "kept", a); err == nil {
			t.Error("DeleteTeam succeeded without its audit row")
		}
	}
	teams, err := st.ListTeams(ctx)
	if err != nil || !slices.Equal(teams, []Team{{"kept", "Core"}}) {
		t.Errorf("teams after failed writes = %+v, %v; want only kept → Core", teams, err)
	}
	if n := countChanges(t, pool); n != before {
		t.Errorf("%d audit rows written", n-before)
	}
}
