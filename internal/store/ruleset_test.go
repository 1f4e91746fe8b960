package store

import (
	"context"
	"reflect"
	"testing"

	"github.com/mutt-go/mutt/internal/itest"
	"github.com/mutt-go/mutt/internal/rules"
)

func TestLoadRuleSet(t *testing.T) {
	t.Parallel()
	pool := migrated(t)
	ctx := t.Context()

	empty, err := New(pool).LoadRuleSet(ctx)
	if err != nil {
		t.Fatalf("LoadRuleSet of empty tables: %v", err)
	}
	if len(empty.Rules) != 0 || len(empty.DevHosts) != 0 || len(empty.Teams) != 0 || empty.Teams == nil {
		t.Errorf("LoadRuleSet of empty tables = %#v, want no rules, no hosts and an empty team map", empty)
	}

	// Inserted out of order so that the result's order comes from the query.
	_, err = pool.Exec(ctx, `
		INSERT INTO alert_rules (id, match_string, trap_oid, syslog_severity, match_type, priority,
		                         prod_handling, dev_handling, team_assignment, is_active) VALUES
		(4, 'ERROR',     NULL,                     NULL, 'contains',   20,  'Ticket_only',     'Ignore',      'NETO',     true),
		(2, 'CRITICAL',  NULL,                     2,    'contains',   10,  'Page_and_ticket', 'Ticket_only', 'NETO',     true),
		(3, NULL,        '.1.3.6.1.4.1.9.9.41.2',  NULL, 'oid_prefix', 10,  'Page_and_ticket', 'Ignore',      'NetOps',   true),
		(1, 'LINK-DOWN', NULL,                     NULL, 'contains',   5,   'Page_and_ticket', 'Ticket_only', 'NetOps',   false),
		(5, 'fan \d+ failure', NULL,               0,    'regex',      -1,  'Page_and_ticket', 'Page_and_ticket', 'DC', true),
		(6, 'DOT1X',     '1.3.6.1.4.1.9',          7,    'contains',   50,  'Ticket_only',     'Ignore',      'Security', true);
		INSERT INTO development_hosts (hostname) VALUES ('test-switch1'), ('dev-router1'), ('qa-firewall1');
		INSERT INTO device_teams (hostname, team_assignment) VALUES
		('router1.prod.example.com', 'NetOps'), ('firewall1.prod.example.com', 'Security'),
		('server1.prod.example.com', 'SysAdmin');`)
	if err != nil {
		t.Fatalf("seeding: %v", err)
	}
	set, err := New(pool).LoadRuleSet(ctx)
	if err != nil {
		t.Fatalf("LoadRuleSet: %v", err)
	}
	sev := func(v int) *int { return &v }
	wantRules := []rules.Rule{
		{ID: 5, MatchString: `fan \d+ failure`, Severity: sev(0), MatchType: rules.Regex, Priority: -1,
			ProdHandling: "Page_and_ticket", DevHandling: "Page_and_ticket", Team: "DC", Active: true},
		{ID: 2, MatchString: "CRITICAL", Severity: sev(2), MatchType: rules.Contains, Priority: 10,
			ProdHandling: "Page_and_ticket", DevHandling: "Ticket_only", Team: "NETO", Active: true},
		{ID: 3, TrapOID: ".1.3.6.1.4.1.9.9.41.2", MatchType: rules.OIDPrefix, Priority: 10,
			ProdHandling: "Page_and_ticket", DevHandling: "Ignore", Team: "NetOps", Active: true},
		{ID: 4, MatchString: "ERROR", MatchType: rules.Contains, Priority: 20,
			ProdHandling: "Ticket_only", DevHandling: "Ignore", Team: "NETO", Active: true},
		{ID: 6, MatchString: "DOT1X", TrapOID: "1.3.6.1.4.1.9", Severity: sev(7), MatchType: rules.Contains, Priority: 50,
			ProdHandling: "Ticket_only", DevHandling: "Ignore", Team: "Security", Active: true},
	}
	if !reflect.DeepEqual(set.Rules, wantRules) {
		t.Errorf("rules:\n got %+v\nwant %+v", set.Rules, wantRules)
	}
	wantHosts := []string{"dev-router1", "qa-firewall1", "test-switch1"}
	if !reflect.DeepEqual(set.DevHosts, wantHosts) {
		t.Errorf("dev hosts = %v, want %v", set.DevHosts, wantHosts)
	}
	wantTeams := map[string]string{
		"router1.prod.example.com":   "NetOps",
		"firewall1.prod.example.com": "Security",
		"server1.prod.example.com":   "SysAdmin",
	}
	if !reflect.DeepEqual(set.Teams, wantTeams) {
		t.Errorf("teams = %v, want %v", set.Teams, wantTeams)
	}
}

func TestLoadRuleSetErrors(t *testing.T) {
	t.Parallel()
	migratedPool := migrated(t)
	emptyPool, _ := itest.Pool(t)
	cancelled, cancel := context.WithCancel(t.Context())
	cancel()
	tests := []struct {
		name  string
		store *Store
		ctx   context.Context
	}{
		{"cancelled context", New(migratedPool), cancelled},
		{"schema not migrated", New(emptyPool), t.Context()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			set, err := tt.store.LoadRuleSet(tt.ctx)
			if err == nil {
				t.Fatalf("LoadRuleSet succeeded with %+v, want an error", set)
			}
			if set.Rules != nil || set.Teams != nil {
				t.Errorf("LoadRuleSet returned a partial rule set %+v with its error", set)
			}
		})
	}
}

func TestPing(t *testing.T) {
	t.Parallel()
	pool, _ := itest.Pool(t)
	s := New(pool)
	if err := s.Ping(t.Context()); err != nil {
		t.Errorf("Ping: %v", err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if err := s.Ping(ctx); err == nil {
		t.Error("Ping with a cancelled context succeeded")
	}
}
