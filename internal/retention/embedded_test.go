package retention

import (
	"bytes"
	"compress/gzip"
	"context"
	"database/sql"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/mutt-go/mutt/internal/backup"
	"github.com/mutt-go/mutt/internal/embedded/sqlstore"
	"github.com/mutt-go/mutt/internal/store"
)

// embeddedFixture is an embedded database with audit rows of every age,
// configuration audit rows and dead letters on both sides of their
// cutoffs, an archive tree with a file past the archive period and a
// backup root.
type embeddedFixture struct {
	t       *testing.T
	db      *sqlstore.DB
	raw     *sql.DB // a second connection to the file, to age rows
	now     time.Time
	old     time.Time // six months back: two months of rows past the active period
	dlq     string
	archive string
	backups string
}

func newEmbeddedFixture(t *testing.T) *embeddedFixture {
	t.Helper()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "mutt.db")
	db, err := sqlstore.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	raw, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(10000)")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = raw.Close() })
	now := time.Now().UTC()
	f := &embeddedFixture{t: t, db: db, raw: raw, now: now, old: monthStart(now).AddDate(0, -6, 0),
		dlq: "mutt:dlq:moog", archive: t.TempDir(), backups: t.TempDir()}
	ms := "UPDOWN"
	rule, err := db.CreateRule(ctx, store.Rule{MatchString: &ms, MatchType: "contains", Priority: 10,
		ProdHandling: "Page_and_ticket", DevHandling: "Ticket_only", TeamAssignment: "NetOps", IsActive: true},
		store.Actor{ChangedBy: "cli:alice"})
	if err != nil {
		t.Fatal(err)
	}
	// 3 rows in the old month (one message with a newline and a quote), 2
	// in the month after it, 2 in the last minutes.
	var rows []store.AuditRow
	for i, at := range []time.Time{f.old.Add(time.Hour), f.old.Add(48 * time.Hour), f.old.Add(72 * time.Hour),
		f.old.AddDate(0, 1, 3), f.old.AddDate(0, 1, 4), now.Add(-time.Minute), now.Add(-2 * time.Minute)} {
		msg := "%LINK-3-UPDOWN: port " + strconv.Itoa(i)
		if i == 0 {
			msg += "\nsecond line, \"quoted\""
		}
		rows = append(rows, store.AuditRow{EventID: uuid.NewString(), Timestamp: at, Hostname: "edge-01", RuleID: rule,
			Handling: "Page_and_ticket", Raw: []byte(msg)})
	}
	if _, err := db.InsertAudit(ctx, rows); err != nil {
		t.Fatal(err)
	}
	// A configuration change 400 days old beside the recent rule creation.
	id, err := db.RecordConfigChange(ctx, store.ConfigChange{ChangedBy: "cli:bob", Operation: store.OpUpdate,
		TableName: "alert_rules", RecordID: rule, Old: map[string]any{"priority": 10}, New: map[string]any{"priority": 20}})
	if err != nil {
		t.Fatal(err)
	}
	f.exec(`UPDATE config_audit_log SET changed_at = ? WHERE id = ?`, now.AddDate(0, 0, -400).UnixMicro(), id)
	// Two dead letters, one parked 40 days ago.
	dead := []sqlstore.DeadLetter{{Queue: f.dlq, Payload: []byte(`{"n":1}`), Reason: "max_retries", Error: "503", Source: "mutt:alerts"},
		{Queue: f.dlq, Payload: []byte(`{"n":2}`), Reason: "max_retries", Error: "503", Source: "mutt:alerts"}}
	if _, err := db.Commit(ctx, sqlstore.Batch{Dead: dead}); err != nil {
		t.Fatal(err)
	}
	f.exec(`UPDATE dead_letters SET failed_at = ? WHERE id = (SELECT min(id) FROM dead_letters)`, now.AddDate(0, 0, -40).UnixMicro())
	archiveFiles(t, f.archive, "event_audit_log/2015/event_audit_log_2015_01.csv.gz")
	return f
}

func (f *embeddedFixture) exec(q string, args ...any) {
	f.t.Helper()
	if _, err := f.raw.Exec(q, args...); err != nil {
		f.t.Fatalf("%s: %v", q, err)
	}
}

func (f *embeddedFixture) count(q string, args ...any) int64 {
	f.t.Helper()
	var n int64
	if err := f.raw.QueryRow(q, args...).Scan(&n); err != nil {
		f.t.Fatalf("%s: %v", q, err)
	}
	return n
}

// backupAt writes a backup set taken at at whose component verified.
func (f *embeddedFixture) backupAt(at time.Time, component string) {
	f.t.Helper()
	verifiedSet(f.t, f.backups, at, component)
}

func (f *embeddedFixture) options(dryRun bool) EmbeddedOptions {
	return EmbeddedOptions{DB: f.db, ChunkRows: 2, Options: Options{Policy: DefaultPolicy(), DLQs: []string{f.dlq},
		ArchiveDir: f.archive, BackupRoot: f.backups, DryRun: dryRun, Now: f.now}}
}

// unchanged fails the test when anything of the fixture's data is gone.
func (f *embeddedFixture) unchanged() {
	f.t.Helper()
	if f.count("SELECT count(*) FROM event_audit_log") != 7 || f.count("SELECT count(*) FROM config_audit_log") != 2 ||
		f.count("SELECT count(*) FROM dead_letters") != 2 || f.count("SELECT count(*) FROM config_audit_log WHERE changed_by = ?", Actor) != 0 {
		f.t.Error("the run changed data")
	}
	if _, err := os.Stat(filepath.Join(f.archive, "event_audit_log", "2015", "event_audit_log_2015_01.csv.gz")); err != nil {
		f.t.Errorf("the run deleted an archive file: %v", err)
	}
}

// planned sums the rows of the actions by kind, failing on a done one.
func planned(t *testing.T, res Result) map[string]int64 {
	t.Helper()
	kinds := map[string]int64{}
	for _, a := range res.Actions {
		if a.Done {
			t.Errorf("did %+v", a)
		}
		kinds[a.Kind] += a.Rows
	}
	if kinds["archive_partition"] != 5 || kinds["archive_rows"] != 1 || kinds["trim_dlq"] != 1 {
		t.Errorf("planned %v, want 5 audit rows in two months, 1 config audit row, 1 dead letter", kinds)
	}
	if _, ok := kinds["delete_file"]; !ok {
		t.Error("no archive file past the archive period listed")
	}
	return kinds
}

func TestEmbeddedDryRunPlansAndChangesNothing(t *testing.T) {
	f := newEmbeddedFixture(t)
	f.backupAt(f.now.Add(-2*time.Hour), backup.ComponentSQLite)
	res, err := RunEmbedded(context.Background(), f.options(true))
	if err != nil {
		t.Fatal(err)
	}
	if !res.DryRun || res.Refused != "" {
		t.Errorf("result %+v", res)
	}
	planned(t, res)
	f.unchanged()
	if _, err := os.Stat(filepath.Join(f.archive, "event_audit_log", strconv.Itoa(f.old.Year()), partitionName(f.old)+".csv.gz")); !os.IsNotExist(err) {
		t.Errorf("the dry run wrote an archive: %v", err)
	}
}

func TestEmbeddedRefusesWithoutVerifiedSQLiteBackup(t *testing.T) {
	f := newEmbeddedFixture(t)
	// A recent postgres backup does not cover the embedded database.
	f.backupAt(f.now.Add(-time.Hour), backup.ComponentPostgres)
	f.backupAt(f.now.Add(-30*time.Hour), backup.ComponentSQLite)
	res, err := RunEmbedded(context.Background(), f.options(false))
	if !errors.Is(err, ErrBackupGate) || !strings.Contains(err.Error(), "--components sqlite") {
		t.Fatalf("error %v, want the backup gate naming the sqlite component", err)
	}
	if !strings.Contains(res.Refused, "past the 26h0m0s gate") {
		t.Errorf("refused %q", res.Refused)
	}
	planned(t, res)
	f.unchanged()
}

func TestEmbeddedRunArchivesBeforeDeletingAndAuditsEveryStep(t *testing.T) {
	f := newEmbeddedFixture(t)
	f.backupAt(f.now.Add(-2*time.Hour), backup.ComponentSQLite)
	ctx := context.Background()
	remote := dirRemote(t)
	opts := f.options(false)
	opts.Remotes = []backup.RemoteStore{remote}
	res, err := RunEmbedded(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	deleted := map[string]int64{}
	for _, a := range res.Actions {
		if !a.Done {
			t.Errorf("not done: %+v", a)
		}
		if a.Kind != "archive_partition" && a.Kind != "archive_rows" {
			continue
		}
		n, err := countRecords(a.File)
		if err != nil || n != a.Rows {
			t.Errorf("archive %s: %d records, %v; the run deleted %d", a.File, n, err, a.Rows)
		}
		rel, _ := filepath.Rel(f.archive, a.File)
		if rc, err := remote.Get(ctx, "archive/"+filepath.ToSlash(rel)); err != nil {
			t.Errorf("archive not on the remote: %v", err)
		} else {
			_ = rc.Close()
		}
		deleted[a.Target] = a.Rows
	}
	old := partitionName(f.old)
	if deleted[old] != 3 || deleted[partitionName(f.old.AddDate(0, 1, 0))] != 2 || deleted["config_audit_log"] != 1 {
		t.Errorf("archived and deleted %v", deleted)
	}
	path := filepath.Join(f.archive, "event_audit_log", strconv.Itoa(f.old.Year()), old+".csv.gz")
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	zr, err := gzip.NewReader(bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	text, _ := io.ReadAll(zr)
	if !strings.HasPrefix(string(text), "id,event_timestamp,hostname,matched_rule_id,handling_decision,forwarded_to_moog,raw_message,event_id\n") ||
		!strings.Contains(string(text), "second line, \"\"quoted\"\"") || !strings.Contains(string(text), f.old.Add(time.Hour).Format("2006-01-02 15:04:05")+"+00,edge-01") {
		t.Errorf("archive content:\n%s", text)
	}
	if f.count("SELECT count(*) FROM event_audit_log") != 2 || f.count("SELECT count(*) FROM event_audit_log WHERE event_timestamp < ?", f.now.AddDate(0, 0, -90).UnixMicro()) != 0 {
		t.Error("old audit rows left, or recent ones deleted")
	}
	if f.count("SELECT count(*) FROM config_audit_log WHERE changed_by <> ?", Actor) != 1 || f.count("SELECT count(*) FROM dead_letters") != 1 ||
		f.count("SELECT count(*) FROM dead_letters WHERE failed_at < ?", f.now.AddDate(0, 0, -30).UnixMicro()) != 0 {
		t.Error("configuration audit rows or dead letters past their cutoff left, or recent ones deleted")
	}
	if _, err := os.Stat(filepath.Join(f.archive, "event_audit_log", "2015", "event_audit_log_2015_01.csv.gz")); !os.IsNotExist(err) {
		t.Errorf("archive past the archive period kept: %v", err)
	}
	for _, table := range []string{"event_audit_log", "config_audit_log", "archive_file", f.dlq} {
		want := int64(1)
		if table == "event_audit_log" {
			want = 2 // one per month, however many chunks
		}
		if n := f.count("SELECT count(*) FROM config_audit_log WHERE changed_by = ? AND table_name = ? AND operation = 'DELETE'", Actor, table); n != want {
			t.Errorf("%d audit rows for %s, want %d", n, table, want)
		}
	}
	// A second run finds nothing to do.
	again, err := RunEmbedded(ctx, opts)
	if err != nil || len(again.Actions) != 0 {
		t.Errorf("second run: %+v, %v", again.Actions, err)
	}
	stats, err := MeasureEmbeddedTables(ctx, f.db)
	if err != nil || len(stats) != 2 || stats[0].Bytes <= 0 || stats[0].Oldest.Before(f.now.Add(-time.Hour)) {
		t.Errorf("table stats %+v, %v", stats, err)
	}
}
