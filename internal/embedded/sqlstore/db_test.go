package sqlstore

import (
	"os"
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
	names, _ := filepath.Glob("migrations/*.sql")
	newest := 0
	for _, n := range names {
		num, _, _ := strings.Cut(filepath.Base(n), "_")
		v, _ := strconv.Atoi(num)
		newest = max(newest, v)
	}
	if v, err := d.SchemaVersion(ctx); err != nil || v != newest || applied != len(names) {
		t.Fatalf("schema version %d (%v), %d rows; want %d and %d, once each", v, err, applied, newest, len(names))
	}
}

// TestOpenPrivateFileNoLinks checks that a new database is readable by its
// owner only and that a symbolic link in the database's place is refused,
// whatever it points at.
func TestOpenPrivateFileNoLinks(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "mutt.db")
	d, err := Open(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	_ = d.Close()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if mode := fi.Mode().Perm(); mode != 0o600 {
		t.Errorf("new database has mode %o, want 600", mode)
	}
	outside := filepath.Join(t.TempDir(), "elsewhere.db")
	link := filepath.Join(dir, "linked.db")
	if err := os.Symlink(outside, link); err != nil {
		t.Fatal(err)
	}
	if d, err := Open(t.Context(), link); err == nil {
		_ = d.Close()
		t.Fatal("Open followed a symbolic link")
	} else if !strings.Contains(err.Error(), "symbolic link") {
		t.Errorf("error %v does not say the path is a link", err)
	}
	if _, err := os.Lstat(outside); !os.IsNotExist(err) {
		t.Errorf("the link's target was created (%v)", err)
	}
}
