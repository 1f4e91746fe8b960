package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mutt-go/mutt/internal/backup"
	"github.com/mutt-go/mutt/internal/itest"
	"github.com/mutt-go/mutt/internal/retention"
	"github.com/mutt-go/mutt/internal/store"
)

// newRetentionEnv points the mutt command at a migrated database, a key
// prefix, an archive directory, a metrics file and a backup root.
func newRetentionEnv(t *testing.T) (root, metrics string) {
	t.Helper()
	_, prefix := itest.Redis(t)
	pool, dsn := itest.Pool(t)
	if err := store.Migrate(t.Context(), pool, nil); err != nil {
		t.Fatal(err)
	}
	root = t.TempDir()
	metrics = filepath.Join(t.TempDir(), "mutt_retention.prom")
	t.Setenv("REDIS_URL", itest.RedisURL())
	t.Setenv("DATABASE_URL", dsn)
	t.Setenv("MUTT_KEY_PREFIX", prefix)
	t.Setenv("MUTT_BACKUP_ROOT", root)
	t.Setenv("MUTT_ARCHIVE_DIR", t.TempDir())
	t.Setenv("MUTT_RETENTION_METRICS_FILE", metrics)
	return root, metrics
}

func verifiedBackup(t *testing.T, root string, at time.Time) {
	t.Helper()
	at = at.UTC().Truncate(time.Second)
	m := &backup.Manifest{SetID: backup.NewSetID(at, "test", "daily"), Profile: "daily", Host: "test", StartedAt: at, Status: backup.StatusOK,
		Components: []backup.Component{{Name: backup.ComponentPostgres, Status: backup.StatusOK,
			Verify: &backup.Verify{Level: "quick", Status: backup.StatusOK, At: at}}}}
	if _, err := backup.WriteManifest(root, m); err != nil {
		t.Fatal(err)
	}
}

func TestRetentionRunCommand(t *testing.T) {
	root, metrics := newRetentionEnv(t)
	var out, errOut bytes.Buffer
	// No backup: partitions ahead are created, everything else refused, exit 1.
	if code := run([]string{"retention", "run"}, &out, &errOut); code != exitFailure {
		t.Fatalf("exit %d without a backup, want %d\n%s%s", code, exitFailure, out.String(), errOut.String())
	}
	if !strings.Contains(out.String(), "refused to drop or delete") || !strings.Contains(errOut.String(), "mutt backup run --components postgres") {
		t.Errorf("refusal not explained:\n%s%s", out.String(), errOut.String())
	}
	if m, _ := os.ReadFile(metrics); !strings.Contains(string(m), "mutt_retention_backup_gate_refused 1") {
		t.Errorf("metrics after a refusal:\n%s", m)
	}
	verifiedBackup(t, root, time.Now().Add(-time.Hour))
	out.Reset()
	errOut.Reset()
	if code := run([]string{"retention", "run", "--dry-run", "--json"}, &out, &errOut); code != exitOK {
		t.Fatalf("dry run exit %d\n%s%s", code, out.String(), errOut.String())
	}
	var res retention.Result
	if err := json.Unmarshal(out.Bytes(), &res); err != nil || !res.DryRun || res.Refused != "" {
		t.Fatalf("dry run result %+v, %v\n%s", res, err, out.String())
	}
	out.Reset()
	nas := t.TempDir()
	t.Setenv("MUTT_BACKUP_REMOTES", "file://"+nas)
	if code := run([]string{"retention", "run"}, &out, &errOut); code != exitOK {
		t.Fatalf("exit %d\n%s%s", code, out.String(), errOut.String())
	}
	if m, _ := os.ReadFile(metrics); !strings.Contains(string(m), "mutt_retention_last_status 1") {
		t.Errorf("metrics after a run:\n%s", m)
	}
}

func TestRetentionRejectsAShortPolicy(t *testing.T) {
	t.Setenv("RETENTION_DLQ_DAYS", "2")
	var out, errOut bytes.Buffer
	if code := run([]string{"retention", "run", "--dry-run"}, &out, &errOut); code != exitUsage {
		t.Fatalf("exit %d, want %d", code, exitUsage)
	}
	if !strings.Contains(errOut.String(), "RETENTION_DLQ_DAYS must be at least 7 days") {
		t.Errorf("stderr %q", errOut.String())
	}
}
