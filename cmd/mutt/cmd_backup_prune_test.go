package main

import (
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mutt-go/mutt/internal/backup"
)

// runRedisSet makes one redis set with `backup run` and moves its start
// time age into the past by rewriting the manifest.
func runRedisSet(t *testing.T, root string, age time.Duration, pin bool) *backup.Manifest {
	t.Helper()
	args := []string{"backup", "run", "--components", "redis", "--json"}
	if pin {
		args = append(args, "--pin")
	}
	code, out, errOut := runBackupCmd(t, args...)
	if code != exitOK {
		t.Fatalf("backup run exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
	var m backup.Manifest
	if err := json.Unmarshal([]byte(out), &m); err != nil {
		t.Fatalf("backup run --json: %v\n%s", err, out)
	}
	if !m.Verified(backup.ComponentRedis) {
		t.Fatalf("set %s is not verified: %+v", m.SetID, m.Components)
	}
	m.StartedAt = m.StartedAt.Add(-age)
	if _, err := backup.WriteManifest(root, &m); err != nil {
		t.Fatal(err)
	}
	return &m
}

func pathExists(t *testing.T, p string) bool {
	t.Helper()
	_, err := os.Stat(p)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		t.Fatal(err)
	}
	return err == nil
}

func TestBackupPrune(t *testing.T) {
	e := newBackupEnv(t)
	const day = 24 * time.Hour
	newest := runRedisSet(t, e.root, 0, false)
	second := runRedisSet(t, e.root, 10*day, false)
	pinned := runRedisSet(t, e.root, 20*day, true)
	old1 := runRedisSet(t, e.root, 30*day, false)
	old2 := runRedisSet(t, e.root, 40*day, false)

	setDir := func(m *backup.Manifest) string {
		return filepath.Join(e.root, filepath.FromSlash(backup.SetDirs(m)[0]))
	}
	manifest := func(m *backup.Manifest) string {
		rel, err := backup.ManifestPath(m.SetID)
		if err != nil {
			t.Fatal(err)
		}
		return filepath.Join(e.root, rel)
	}
	partial := filepath.Join(setDir(newest), "stray.dump.age.partial")
	oldOrphanID := "20200101T000000Z-host-daily-abcd"
	oldOrphan := filepath.Join(e.root, "redis", "2020", "01", "01", oldOrphanID)
	freshOrphan := filepath.Join(filepath.Dir(setDir(newest)), backup.NewSetID(time.Now(), "host", "daily"))
	for _, f := range []string{partial, filepath.Join(oldOrphan, "dump.age"), filepath.Join(freshOrphan, "dump.age")} {
		if err := os.MkdirAll(filepath.Dir(f), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(f, []byte("leftover"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	// A partial file is debris only when nothing has written it for a day;
	// one modified just now belongs to a writer still at work.
	stale := time.Now().Add(-25 * time.Hour)
	if err := os.Chtimes(partial, stale, stale); err != nil {
		t.Fatal(err)
	}
	freshPartial := filepath.Join(setDir(newest), "running.dump.age.partial")
	if err := os.WriteFile(freshPartial, []byte("being written"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("MUTT_BACKUP_RETENTION_REDIS", "7d")
	t.Setenv("MUTT_BACKUP_KEEP_MIN", "2")

	kept := []*backup.Manifest{newest, second, pinned}
	deleted := []*backup.Manifest{old1, old2}
	tests := []struct {
		name    string
		args    []string
		removed bool
	}{
		{name: "dry run", args: []string{"backup", "prune", "--dry-run"}},
		{name: "dry run json", args: []string{"backup", "prune", "--dry-run", "--json"}},
		{name: "other component", args: []string{"backup", "prune", "--component", "postgres", "--yes"}},
		{name: "prune", args: []string{"backup", "prune", "--yes"}, removed: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out, errOut := runBackupCmd(t, tt.args...)
			if code != exitOK {
				t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
			}
			listed := !slices.Contains(tt.args, "postgres")
			for _, m := range deleted {
				if strings.Contains(out, m.SetID) != listed {
					t.Errorf("output names %s = %t, want %t:\n%s", m.SetID, !listed, listed, out)
				}
				if got := pathExists(t, manifest(m)); got == tt.removed {
					t.Errorf("manifest of %s exists = %t", m.SetID, got)
				}
				if got := pathExists(t, setDir(m)); got == tt.removed {
					t.Errorf("artifacts of %s exist = %t", m.SetID, got)
				}
			}
			for _, m := range kept {
				if !pathExists(t, manifest(m)) || !pathExists(t, setDir(m)) {
					t.Errorf("kept set %s was deleted", m.SetID)
				}
			}
			if tt.removed && !strings.Contains(out, "freed ") {
				t.Errorf("prune does not report the bytes freed:\n%s", out)
			}
			if listed && !strings.Contains(out, oldOrphanID) {
				t.Errorf("output does not name the orphan %s:\n%s", oldOrphanID, out)
			}
			if got := pathExists(t, partial); got == tt.removed {
				t.Errorf("partial file exists = %t", got)
			}
			if got := pathExists(t, filepath.Join(e.root, "redis", "2020")); got == tt.removed {
				t.Errorf("old orphan date directory exists = %t", got)
			}
			if !pathExists(t, freshPartial) {
				t.Error("a partial file modified within 24 h was removed")
			}
			if !pathExists(t, freshOrphan) {
				t.Error("an orphan younger than 24 h was removed")
			}
			if strings.HasSuffix(tt.name, "json") {
				var res backupPruneResult
				if err := json.Unmarshal([]byte(out), &res); err != nil {
					t.Fatalf("--json: %v\n%s", err, out)
				}
				var ids []string
				for _, d := range res.Delete {
					ids = append(ids, d.SetID)
				}
				if want := []string{old1.SetID, old2.SetID}; !slices.Equal(ids, want) || len(res.Garbage) != 2 || !res.DryRun {
					t.Errorf("plan deletes %v, garbage %v, want %v and 2 garbage paths", ids, res.Garbage, want)
				}
			}
		})
	}

	_, out, _ := runBackupCmd(t, "backup", "list")
	for _, m := range kept {
		if !strings.Contains(out, m.SetID) {
			t.Errorf("list after prune lacks %s:\n%s", m.SetID, out)
		}
	}
}

func TestBackupPruneRefuses(t *testing.T) {
	root := t.TempDir()
	t.Setenv("MUTT_BACKUP_ROOT", root)
	t.Setenv("MUTT_BACKUP_KEEP_MIN", "")
	tests := []struct {
		name     string
		env      map[string]string
		locked   bool
		args     []string
		wantCode int
		wantErr  string
	}{
		{name: "empty root", args: []string{"--yes"}, wantCode: exitOK},
		{name: "lock held", locked: true, args: []string{"--yes"}, wantCode: exitLocked, wantErr: "locked"},
		{name: "bad retention", env: map[string]string{"MUTT_BACKUP_RETENTION_POSTGRES": "soon"}, wantCode: exitUsage, wantErr: "MUTT_BACKUP_RETENTION_POSTGRES"},
		{name: "zero retention", env: map[string]string{"MUTT_BACKUP_RETENTION_VAULT": "0d"}, wantCode: exitUsage, wantErr: "MUTT_BACKUP_RETENTION_VAULT"},
		{name: "bad keep-min setting", env: map[string]string{"MUTT_BACKUP_KEEP_MIN": "none"}, wantCode: exitUsage, wantErr: "MUTT_BACKUP_KEEP_MIN"},
		{name: "bad keep-min flag", args: []string{"--keep-min", "0"}, wantCode: exitUsage, wantErr: "--keep-min"},
		{name: "unknown component", args: []string{"--component", "mail"}, wantCode: exitUsage, wantErr: "mail"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for k, v := range tt.env {
				t.Setenv(k, v)
			}
			// A running backup holds the lock: its partial files stay,
			// however old their modification time looks.
			partial := filepath.Join(root, "redis", "2020", "01", "01", "x", "keys.age.partial")
			if tt.locked {
				if err := os.MkdirAll(filepath.Dir(partial), 0o700); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(partial, []byte("x"), 0o600); err != nil {
					t.Fatal(err)
				}
				old := time.Now().Add(-48 * time.Hour)
				if err := os.Chtimes(partial, old, old); err != nil {
					t.Fatal(err)
				}
				defer os.RemoveAll(filepath.Join(root, "redis"))
				unlock, err := backup.Lock(root)
				if err != nil {
					t.Fatal(err)
				}
				defer unlock()
			}
			code, out, errOut := runBackupCmd(t, append([]string{"backup", "prune"}, tt.args...)...)
			if code != tt.wantCode {
				t.Fatalf("exit %d, want %d\nstdout:\n%s\nstderr:\n%s", code, tt.wantCode, out, errOut)
			}
			if !strings.Contains(errOut, tt.wantErr) {
				t.Errorf("stderr lacks %q:\n%s", tt.wantErr, errOut)
			}
			if tt.locked && !pathExists(t, partial) {
				t.Error("prune removed a partial file while a backup held the lock")
			}
		})
	}
}
