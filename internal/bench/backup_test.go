package bench

import (
	"context"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/mutt-go/mutt/internal/itest"
)

func TestRunBackup(t *testing.T) {
	e := setup(t, nil)
	ctx := context.Background()
	r, err := e.RunBackup(ctx, BackupOptions{Seed: SeedOptions{Rows: 1_000, Rules: 20, Hosts: 10, Months: 2}, Dir: t.TempDir()})
	if err != nil {
		t.Fatalf("RunBackup: %v", err)
	}
	s := r.Seed
	if s.Rows != 1_000 || s.Rules != 20 || s.BusyHostRow != 100 || s.DevHosts == 0 || s.Teams == 0 || s.ConfigAudit < 20 {
		t.Errorf("seeded %+v", s)
	}
	if len(s.Partitions) != 2 {
		t.Errorf("rows in partitions %v, want 2", s.Partitions)
	}
	if s.DatabaseBytes <= 0 || s.AuditBytes <= 0 {
		t.Errorf("sizes: database %d, audit %d", s.DatabaseBytes, s.AuditBytes)
	}
	var names []string
	for _, p := range r.Phases {
		names = append(names, p.Name)
		if p.Seconds <= 0 {
			t.Errorf("phase %q took %v s", p.Name, p.Seconds)
		}
	}
	if len(r.Phases) != 4 || !strings.HasPrefix(names[2], "verify --deep") || !strings.HasPrefix(names[3], "restore postgres") {
		t.Errorf("phases %q, want backup run, verify, verify --deep, restore postgres", names)
	}
	if r.ArtifactBytes <= 0 || r.DumpBytes <= 0 || r.SetID == "" {
		t.Errorf("artifact %d bytes (dump %d) of set %q", r.ArtifactBytes, r.DumpBytes, r.SetID)
	}
	if !r.Met || r.RestoreSeconds <= 0 || r.RTOSeconds != 1800 || r.RowsWithinRTO < 1_000 {
		t.Errorf("restore %v s against %v s, met %v, rows within RTO %d", r.RestoreSeconds, r.RTOSeconds, r.Met, r.RowsWithinRTO)
	}

	// The restored database took the scratch name, and nothing derived
	// from it is left.
	var n int64
	if err := e.pool.QueryRow(ctx, "SELECT count(*) FROM event_audit_log WHERE hostname = $1", BusyHost).Scan(&n); err != nil || n != 100 {
		t.Errorf("restored database: %d busy-host rows (%v), want 100", n, err)
	}
	conn, err := pgx.Connect(ctx, itest.AdminDatabaseURL())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	if err := conn.QueryRow(ctx, "SELECT count(*) FROM pg_database WHERE starts_with(datname, $1)", e.Name()+"_").Scan(&n); err != nil || n != 0 {
		t.Errorf("%d databases named %s_… left (%v)", n, e.Name(), err)
	}

	var out strings.Builder
	if err := r.WriteText(&out); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"1,000 audit rows", "verify --deep", "MB/s", "RTO", "met"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("report lacks %q:\n%s", want, out.String())
		}
	}
}
