package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/mutt-go/mutt/internal/backup"
	"github.com/mutt-go/mutt/internal/embedded/datadir"
	"github.com/mutt-go/mutt/internal/embedded/sqlstore"
	"github.com/mutt-go/mutt/internal/store"
)

// embeddedEnv points the mutt command at a new embedded data directory
// holding a seeded database and at a backup root with a fresh age key.
func embeddedEnv(t *testing.T) (dataDir, root string) {
	t.Helper()
	dataDir = filepath.Join(t.TempDir(), "data")
	if err := os.Mkdir(dataDir, 0o700); err != nil {
		t.Fatal(err)
	}
	for i := range 7 {
		addHost(t, dataDir, fmt.Sprintf("dev-%d", i))
	}
	root = t.TempDir()
	recipients, identity := writeAgeKeys(t, t.TempDir())
	t.Setenv("MUTT_CONFIG", "")
	t.Setenv("MUTT_STORAGE", "embedded")
	t.Setenv("MUTT_DATA_DIR", dataDir)
	t.Setenv("MUTT_BACKUP_ROOT", root)
	t.Setenv("MUTT_BACKUP_RECIPIENTS_FILE", recipients)
	t.Setenv("MUTT_BACKUP_PASSPHRASE_FILE", "")
	t.Setenv("MUTT_BACKUP_IDENTITY_FILE", identity)
	t.Setenv("MUTT_BACKUP_METRICS_FILE", filepath.Join(t.TempDir(), "mutt_backup.prom"))
	configFixture(t)
	return dataDir, root
}

// withEmbedded runs fn on the embedded database in dir, opened for the
// call only: a restore replaces the file underneath.
func withEmbedded(t *testing.T, dir string, fn func(*sqlstore.DB) error) {
	t.Helper()
	db, err := sqlstore.Open(t.Context(), filepath.Join(dir, backup.SQLiteDatabaseFile))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := fn(db); err != nil {
		t.Fatal(err)
	}
}

// addHost adds a development host to the embedded database in dir.
func addHost(t *testing.T, dir, host string) {
	t.Helper()
	withEmbedded(t, dir, func(db *sqlstore.DB) error {
		return db.AddDevHost(t.Context(), host, store.Actor{ChangedBy: "cli:restore-test"})
	})
}

// hostsIn lists the development hosts of the embedded database in dir.
func hostsIn(t *testing.T, dir string) (hosts []string) {
	t.Helper()
	withEmbedded(t, dir, func(db *sqlstore.DB) (err error) {
		hosts, err = db.ListDevHosts(t.Context())
		return err
	})
	return hosts
}

// TestBackupRestoreEmbedded runs the commands of the guide's embedded-mode
// block in order (a write after the backup is undone by the restore), then
// checks that a daily set holds sqlite instead of postgres and redis, that
// restore sqlite brings the rows back into a fresh data directory, and that
// a held data-directory lock stops the restore.
func TestBackupRestoreEmbedded(t *testing.T) {
	dataDir, root := embeddedEnv(t)
	seeded := hostsIn(t, dataDir)

	cmds := docCommandsIn(t, backupDocPath, "sh embedded")
	if len(cmds) < 3 {
		t.Fatalf("found %d embedded-mode commands in %s", len(cmds), backupDocPath)
	}
	for _, c := range cmds {
		words, err := shellWords(c.text)
		if err != nil {
			t.Fatalf("line %d: %v", c.line, err)
		}
		if words[1] == "restore" {
			addHost(t, dataDir, "after-the-backup")
		}
		code, out, errOut := runBackupCmd(t, words[1:]...)
		if code != c.wantCode {
			t.Fatalf("line %d: %s: exit %d, want %d\nstdout:\n%s\nstderr:\n%s", c.line, c.text, code, c.wantCode, out, errOut)
		}
		if words[2] == "verify" && !strings.Contains(out, "deep sqlite: ok: integrity ok") {
			t.Fatalf("line %d: %s:\n%s", c.line, c.text, out)
		}
	}
	if got := hostsIn(t, dataDir); !slices.Equal(got, seeded) {
		t.Fatalf("hosts after the guide's restore = %v, want %v", got, seeded)
	}

	ms, err := backup.ListManifests(root)
	if err != nil || len(ms) == 0 {
		t.Fatalf("sets: %v, %v", ms, err)
	}
	var names []string
	for _, c := range ms[len(ms)-1].Components {
		names = append(names, c.Name+"="+c.Status)
	}
	if want := []string{"sqlite=ok", "config=ok", "logs=ok"}; !slices.Equal(names, want) {
		t.Fatalf("embedded daily set = %v, want %v", names, want)
	}
	// The status checklist asks for the embedded mode's components only.
	_, out, _ := runBackupCmd(t, "backup", "status", "--json")
	var rep backup.StatusReport
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("status --json: %v\n%s", err, out)
	}
	checks := map[string]string{}
	for _, c := range rep.Checks {
		checks[c.Name] = c.Status
	}
	if checks["backup:sqlite"] != backup.CheckPass || checks["verify:sqlite"] != backup.CheckPass {
		t.Errorf("status of sqlite: %v", rep.Checks)
	}
	for _, name := range []string{"backup:postgres", "backup:redis", "backup:pgconfig"} {
		if _, ok := checks[name]; ok {
			t.Errorf("embedded status checks %s: %v", name, rep.Checks)
		}
	}

	fresh := filepath.Join(t.TempDir(), "fresh")
	out = mustRun(t, "restore", "sqlite", "latest", "--data-dir", fresh, "--yes")
	if !strings.Contains(out, "table counts match the manifest") {
		t.Fatalf("restore sqlite:\n%s", out)
	}
	if got, want := hostsIn(t, fresh), hostsIn(t, dataDir); !slices.Equal(got, want) || len(got) != 7 {
		t.Fatalf("restored hosts %v, want %v", got, want)
	}

	lock, err := datadir.Acquire(dataDir)
	if err != nil {
		t.Fatal(err)
	}
	defer lock.Release()
	code, _, errOut := runBackupCmd(t, "restore", "sqlite", "latest", "--yes")
	if code == exitOK || !strings.Contains(errOut, "used by another mutt process") {
		t.Fatalf("restore under a held lock: exit %d\n%s", code, errOut)
	}
}

// TestBackupSettingsRefused checks that a profile without components in the
// embedded mode, and a bad setting, stop backup and restore commands before
// they do anything, naming each bad variable.
func TestBackupSettingsRefused(t *testing.T) {
	_, root := embeddedEnv(t)
	code, _, errOut := runBackupCmd(t, "backup", "run", "--profile", "base", "--no-sync")
	if code != exitUsage || !strings.Contains(errOut, `profile "base" takes no component in the embedded storage mode`) {
		t.Errorf("base profile in the embedded mode: exit %d\n%s", code, errOut)
	}
	t.Setenv("MUTT_BACKUP_KEEP_MIN", "x")
	t.Setenv("MUTT_BACKUP_RETENTION_SQLITE", "soon")
	for _, args := range [][]string{{"backup", "run", "--profile", "daily"}, {"backup", "list"}, {"restore", "sqlite", "latest", "--yes"}} {
		code, _, errOut := runBackupCmd(t, args...)
		if code != exitUsage {
			t.Errorf("mutt %s: exit %d, want %d\n%s", strings.Join(args, " "), code, exitUsage, errOut)
		}
		for _, want := range []string{`MUTT_BACKUP_KEEP_MIN: must be a whole number of at least 1, got "x"`, `MUTT_BACKUP_RETENTION_SQLITE: `} {
			if !strings.Contains(errOut, want) {
				t.Errorf("mutt %s: stderr does not name %s:\n%s", strings.Join(args, " "), want, errOut)
			}
		}
	}
	if ms, _ := backup.ListManifests(root); len(ms) != 0 {
		t.Fatalf("a refused run wrote %d sets", len(ms))
	}
}
