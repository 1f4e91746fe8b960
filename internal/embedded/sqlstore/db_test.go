package sqlstore

import (
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestOpenSettingsAndMigrations checks the pragmas every connection gets and
// that opening the same file again applies no migration twice.
func TestOpenSettingsAndMigrations(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "mutt.db")
	d, err := Open(ctx, path)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	tests := []struct {
		pragma string
		want   string
	}{
		{"journal_mode", "wal"},
		{"synchronous", "2"}, // FULL
		{"foreign_keys", "1"},
	}
	for _, tt := range tests {
		for name, pool := range map[string]queryer{"writer": d.w, "reader": d.r} {
			var got string
			if err := pool.QueryRowContext(ctx, "PRAGMA "+tt.pragma).Scan(&got); err != nil {
				t.Fatalf("PRAGMA %s on the %s: %v", tt.pragma, name, err)
			}
			if got != tt.want {
				t.Errorf("PRAGMA %s on the %s = %s, want %s", tt.pragma, name, got, tt.want)
			}
		}
	}
	if _, err := d.r.ExecContext(ctx, "DELETE FROM development_hosts"); err == nil {
		t.Error("the read pool accepted a write")
	}
	if err := d.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := d.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	d, err = Open(ctx, path)
	if err != nil {
		t.Fatalf("reopening: %v", err)
	}
	defer d.Close()
	var applied int
	if err := d.r.QueryRowContext(ctx, "SELECT count(*) FROM schema_migrations").Scan(&applied); err != nil {
		t.Fatal(err)
	}
	// Migrations are numbered per change, so the numbers may have gaps:
	// the version is the highest number, and each file is applied once.
	names, _ := filepath.Glob("migrations/*.sql")
	latest := 0
	for _, n := range names {
		num, _, _ := strings.Cut(filepath.Base(n), "_")
		if v, err := strconv.Atoi(num); err == nil {
			latest = max(latest, v)
		}
	}
	if v, err := d.SchemaVersion(ctx); err != nil || v != latest || applied != len(names) {
		t.Fatalf("schema version %d (%v), %d rows; want %d and %d, once each", v, err, applied, latest, len(names))
	}
}
