package backup

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/mutt-go/mutt/internal/embedded/datadir"
	"github.com/mutt-go/mutt/internal/embedded/sqlstore"
	"github.com/mutt-go/mutt/internal/store"
)

// seedEmbedded creates the embedded database in a new data directory with
// a few hosts and teams, and returns the directory and the open store.
func seedEmbedded(t *testing.T) (string, *sqlstore.DB) {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "data")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	db, err := sqlstore.Open(t.Context(), filepath.Join(dir, SQLiteDatabaseFile))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	actor := store.Actor{ChangedBy: "cli:backup-test"}
	for i := range 5 {
		if err := db.AddDevHost(t.Context(), fmt.Sprintf("dev-%02d.example.com", i), actor); err != nil {
			t.Fatal(err)
		}
	}
	return dir, db
}

// embeddedRows lists the hosts and the audit trail of the database at p.
func embeddedRows(t *testing.T, p string) []string {
	t.Helper()
	db, err := sqlstore.Open(t.Context(), p)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	hosts, err := db.ListDevHosts(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	audit, _, err := db.SearchConfigAudit(t.Context(), store.ConfigAuditFilter{Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	out := slices.Clone(hosts)
	for _, a := range audit {
		out = append(out, fmt.Sprintf("audit %d %s %s", a.ID, a.Operation, a.TableName))
	}
	return out
}

// TestSQLiteBackupVerifyRestore takes a daily set in the embedded mode
// while the store is open (the backup is online), deep-verifies it and
// restores it into a fresh data directory: the rows are those of the
// source.
func TestSQLiteBackupVerifyRestore(t *testing.T) {
	ctx := t.Context()
	dataDir, live := seedEmbedded(t)
	root := t.TempDir()
	keys := recipientKeys(t)

	m, err := Run(ctx, RunOptions{Root: root, Keys: keys, Profile: "daily", Storage: StorageEmbedded, Host: "h",
		SQLite: &SQLiteSource{DatabaseFile: filepath.Join(dataDir, SQLiteDatabaseFile)}})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, c := range m.Components {
		names = append(names, c.Name)
	}
	if want := []string{ComponentSQLite, ComponentConfig, ComponentLogs}; !slices.Equal(names, want) {
		t.Fatalf("embedded daily components = %v, want %v", names, want)
	}
	c := m.Component(ComponentSQLite)
	if c.Status != StatusOK || c.Verify == nil || c.Verify.Status != StatusOK {
		t.Fatalf("sqlite component = %+v", c)
	}
	if c.Counts["development_hosts"] != 5 {
		t.Fatalf("counts = %v, want 5 development_hosts", c.Counts)
	}
	entries, _ := filepath.Glob(filepath.Join(dataDir, ".*"))
	if len(entries) != 0 {
		t.Fatalf("the backup left %v in the data directory", entries)
	}

	// A write after the backup is not in the set.
	want := embeddedRows(t, filepath.Join(dataDir, SQLiteDatabaseFile))
	if err := live.AddDevHost(ctx, "after.example.com", store.Actor{ChangedBy: "cli:backup-test"}); err != nil {
		t.Fatal(err)
	}

	if errs := DeepVerify(ctx, DeepVerifyOptions{Root: root, Manifest: m, Keys: keys}); len(errs) > 0 {
		t.Fatal(errs)
	}
	if v := m.Component(ComponentSQLite).Verify; v.Level != VerifyDeep || v.Status != StatusOK {
		t.Fatalf("deep verify = %+v", v)
	}

	fresh := filepath.Join(t.TempDir(), "fresh")
	spec, _ := NewRegistry().Lookup(ComponentSQLite)
	detail, err := spec.Restore(ctx, RestoreOptions{Root: root, Manifest: m, Keys: keys, DataDir: fresh})
	if err != nil {
		t.Fatal(err)
	}
	t.Log(detail)
	got := embeddedRows(t, filepath.Join(fresh, SQLiteDatabaseFile))
	if !slices.Equal(got, want) {
		t.Fatalf("restored rows\n%v\nwant\n%v", got, want)
	}
}

// TestSQLiteRestoreKeepsPreviousAndRefuses restores over an existing
// database (kept beside it, its WAL too), and refuses while the data
// directory is locked or when the database is a link.
func TestSQLiteRestoreKeepsPreviousAndRefuses(t *testing.T) {
	ctx := t.Context()
	dataDir, live := seedEmbedded(t)
	root := t.TempDir()
	keys := recipientKeys(t)
	dbFile := filepath.Join(dataDir, SQLiteDatabaseFile)
	m, err := Run(ctx, RunOptions{Root: root, Keys: keys, Components: []string{ComponentSQLite}, Storage: StorageEmbedded,
		SQLite: &SQLiteSource{DatabaseFile: dbFile}})
	if err != nil || m.Component(ComponentSQLite).Status != StatusOK {
		t.Fatalf("run: %v, %+v", err, m)
	}
	if err := live.AddDevHost(ctx, "after.example.com", store.Actor{ChangedBy: "cli:backup-test"}); err != nil {
		t.Fatal(err)
	}
	opts := RestoreOptions{Root: root, Manifest: m, Keys: keys, DataDir: dataDir}

	t.Run("locked", func(t *testing.T) {
		lock, err := datadir.Acquire(dataDir)
		if err != nil {
			t.Fatal(err)
		}
		defer lock.Release()
		if _, err := RestoreSQLite(ctx, opts); !errors.Is(err, datadir.ErrInUse) {
			t.Fatalf("restore under a held lock: %v, want ErrInUse", err)
		}
	})
	t.Run("link", func(t *testing.T) {
		other := t.TempDir()
		linked := filepath.Join(other, "data")
		if err := os.Mkdir(linked, 0o700); err != nil {
			t.Fatal(err)
		}
		outside := filepath.Join(other, "outside.db")
		if err := os.WriteFile(outside, []byte("not a database"), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink(outside, filepath.Join(linked, SQLiteDatabaseFile)); err != nil {
			t.Fatal(err)
		}
		o := opts
		o.DataDir = linked
		if _, err := RestoreSQLite(ctx, o); err == nil {
			t.Fatal("restore through a linked database succeeded")
		}
		if b, _ := os.ReadFile(outside); string(b) != "not a database" {
			t.Fatalf("the link's target was written: %q", b)
		}
	})
	t.Run("over the live file", func(t *testing.T) {
		// The server is stopped before a restore; its WAL stays behind.
		if err := live.Close(); err != nil {
			t.Fatal(err)
		}
		res, err := RestoreSQLite(ctx, opts)
		if err != nil {
			t.Fatal(err)
		}
		if res.PreRestore == "" {
			t.Fatal("the previous database was not kept")
		}
		hosts := embeddedRows(t, dbFile)
		if slices.Contains(hosts, "after.example.com") || !slices.Contains(hosts, "dev-00.example.com") {
			t.Fatalf("restored hosts = %v", hosts)
		}
		if kept := embeddedRows(t, res.PreRestore); !slices.Contains(kept, "after.example.com") {
			t.Fatalf("kept database lost the write after the backup: %v", kept)
		}
	})
	t.Run("damaged", func(t *testing.T) {
		a := m.Component(ComponentSQLite).Artifacts[0]
		p := filepath.Join(root, filepath.FromSlash(a.Path))
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		b[len(b)/2] ^= 0xff
		if err := os.WriteFile(p, b, 0o600); err != nil {
			t.Fatal(err)
		}
		before, _ := os.ReadFile(dbFile)
		if _, err := RestoreSQLite(ctx, opts); err == nil {
			t.Fatal("restore of a damaged artifact succeeded")
		}
		if after, _ := os.ReadFile(dbFile); string(after) != string(before) {
			t.Fatal("a refused restore changed the live database")
		}
	})
}
