package main

import (
	"bytes"
	"encoding/json"
	"fmt"
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

// verifiedBackup writes a backup set under root taken at at whose
// component succeeded and verified.
func verifiedBackup(t *testing.T, root string, at time.Time, component string) {
	t.Helper()
	at = at.UTC().Truncate(time.Second)
	m := &backup.Manifest{SetID: backup.NewSetID(at, "test", "daily"), Profile: "daily", Host: "test", StartedAt: at, Status: backup.StatusOK,
		Components: []backup.Component{{Name: component, Status: backup.StatusOK,
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
	verifiedBackup(t, root, time.Now().Add(-time.Hour), backup.ComponentPostgres)
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

// TestRetentionEmbedded runs the retention on an embedded data directory
// with no Redis or PostgreSQL setting: without a verified sqlite backup it
// refuses (exit 1, the gate metric set, nothing deleted); with one a dry run
// lists the month of audit rows past the active period and changes nothing.
func TestRetentionEmbedded(t *testing.T) {
	_, file := newEmbeddedEnv(t)
	root, archive := t.TempDir(), t.TempDir()
	metrics := filepath.Join(t.TempDir(), "mutt_retention.prom")
	t.Setenv("MUTT_BACKUP_ROOT", root)
	t.Setenv("MUTT_ARCHIVE_DIR", archive)
	t.Setenv("MUTT_RETENTION_METRICS_FILE", metrics)
	db := openEmbeddedTestDB(t, file)
	ms := "UPDOWN"
	rule, err := db.CreateRule(t.Context(), store.Rule{MatchString: &ms, MatchType: "contains", Priority: 10,
		ProdHandling: "Page_and_ticket", DevHandling: "Ticket_only", TeamAssignment: "NetOps", IsActive: true},
		store.Actor{ChangedBy: "cli:alice"})
	if err != nil {
		t.Fatal(err)
	}
	old := time.Now().UTC().AddDate(0, -6, 0)
	if _, err := db.InsertAudit(t.Context(), []store.AuditRow{{EventID: "6f1c1f0e-7a4b-4c43-9d0e-1d2a3b4c5d6e", Timestamp: old,
		Hostname: "edge-01", RuleID: rule, Handling: "Page_and_ticket"}}); err != nil {
		t.Fatal(err)
	}
	code, out, errOut := runDLQ("retention", "run")
	if code != exitFailure || !strings.Contains(out, "refused to drop or delete") || !strings.Contains(errOut, "--components sqlite") {
		t.Fatalf("without a backup: exit %d\n%s%s", code, out, errOut)
	}
	if m, _ := os.ReadFile(metrics); !strings.Contains(string(m), "mutt_retention_backup_gate_refused 1") ||
		!strings.Contains(string(m), `mutt_table_size_bytes{table="event_audit_log"}`) {
		t.Errorf("metrics after a refusal:\n%s", m)
	}
	verifiedBackup(t, root, time.Now().Add(-time.Hour), backup.ComponentSQLite)
	code, out, errOut = runDLQ("retention", "run", "--dry-run")
	month := fmt.Sprintf("event_audit_log_%04d_%02d", old.Year(), int(old.Month()))
	if code != exitOK || !strings.Contains(out, "would do") || !strings.Contains(out, "archive_partition") || !strings.Contains(out, month) {
		t.Fatalf("dry run: exit %d\n%s%s", code, out, errOut)
	}
	if n, err := db.AuditRowCount(t.Context()); err != nil || n != 1 {
		t.Errorf("%d audit rows after the dry run, %v; want 1", n, err)
	}
	if ents, _ := os.ReadDir(archive); len(ents) != 0 {
		t.Errorf("the dry run wrote archives: %v", ents)
	}
}
