package retention

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/redis/go-redis/v9"

	"github.com/mutt-go/mutt/internal/backup"
	"github.com/mutt-go/mutt/internal/itest"
	"github.com/mutt-go/mutt/internal/store"
)

// fixture is a database with audit data of every age, a Redis with old and
// new dead letters, an archive tree with a file past the archive period and
// a backup root.
type fixture struct {
	t       *testing.T
	pool    *pgxpool.Pool
	rdb     *redis.Client
	dlq     string
	now     time.Time
	old     time.Time // a month past the active period, with its own partition
	archive string
	backups string
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	ctx := context.Background()
	pool, _ := itest.Pool(t)
	if err := store.Migrate(ctx, pool, nil); err != nil {
		t.Fatal(err)
	}
	rdb, prefix := itest.Redis(t)
	now := time.Now().UTC()
	f := &fixture{t: t, pool: pool, rdb: rdb, dlq: prefix + ":dlq:moog", now: now,
		old: monthStart(now).AddDate(0, -6, 0), archive: t.TempDir(), backups: t.TempDir()}
	if _, err := store.EnsurePartitions(ctx, pool, f.old, 1); err != nil {
		t.Fatal(err)
	}
	f.exec(`INSERT INTO alert_rules (match_string, match_type, priority, prod_handling, dev_handling, team_assignment)
		VALUES ('UPDOWN', 'contains', 10, 'Page_and_ticket', 'Ticket_only', 'NetOps')`)
	// 3 rows in the old partition (one message with a newline and a quote),
	// 2 in the default partition five months back (no partition there),
	// 2 in the current month.
	for i, at := range []time.Time{f.old.Add(time.Hour), f.old.Add(48 * time.Hour), f.old.Add(72 * time.Hour),
		f.old.AddDate(0, 1, 3), f.old.AddDate(0, 1, 4), now.Add(-time.Minute), now.Add(-2 * time.Minute)} {
		msg := "%LINK-3-UPDOWN: port " + strconv.Itoa(i)
		if i == 0 {
			msg += "\nsecond line, \"quoted\""
		}
		f.exec(`INSERT INTO event_audit_log (event_timestamp, hostname, matched_rule_id, handling_decision, raw_message, event_id)
			SELECT $1, 'edge-01', id, 'Page_and_ticket', $2, $3 FROM alert_rules LIMIT 1`, at, msg, uuid.New())
	}
	f.exec(`INSERT INTO config_audit_log (changed_at, changed_by, operation, table_name, record_id, new_values)
		VALUES ($1, 'alice', 'CREATE', 'alert_rules', 1, '{"priority": 10}'), ($2, 'bob', 'UPDATE', 'alert_rules', 1, '{"priority": 20}')`,
		now.AddDate(0, 0, -400), now.AddDate(0, 0, -10))
	f.exec(`INSERT INTO event_audit_log_archive (event_timestamp, hostname, matched_rule_id, handling_decision)
		VALUES ($1, 'edge-01', 1, 'Ticket_only'), ($2, 'edge-01', 1, 'Ticket_only')`, now.AddDate(-8, 0, 0), now.AddDate(-2, 0, 0))
	for _, at := range []time.Time{now.AddDate(0, 0, -40), now.Add(-time.Hour)} {
		if err := rdb.XAdd(ctx, &redis.XAddArgs{Stream: f.dlq, ID: strconv.FormatInt(at.UnixMilli(), 10) + "-0", Values: []any{"payload", "{}"}}).Err(); err != nil {
			t.Fatal(err)
		}
	}
	archiveFiles(t, f.archive, "event_audit_log/2015/event_audit_log_2015_01.csv.gz", "event_audit_log/2024/event_audit_log_2024_01.csv.gz")
	return f
}

// dirRemote is a backup remote in a directory of the test.
func dirRemote(t *testing.T) backup.RemoteStore {
	t.Helper()
	target, err := backup.ParseRemoteTarget("file://" + t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	remote, err := backup.NewDirRemote(target, "test-host")
	if err != nil {
		t.Fatal(err)
	}
	return remote
}

// archiveFiles writes placeholder archive files at names under dir.
func archiveFiles(t *testing.T, dir string, names ...string) {
	t.Helper()
	for _, name := range names {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte("x"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
}

func (f *fixture) exec(sql string, args ...any) {
	f.t.Helper()
	if _, err := f.pool.Exec(context.Background(), sql, args...); err != nil {
		f.t.Fatalf("%s: %v", sql, err)
	}
}

func (f *fixture) count(sql string, args ...any) int64 {
	f.t.Helper()
	var n int64
	if err := f.pool.QueryRow(context.Background(), sql, args...).Scan(&n); err != nil {
		f.t.Fatalf("%s: %v", sql, err)
	}
	return n
}

// backupAt writes a verified postgres backup set taken at at.
func (f *fixture) backupAt(at time.Time) {
	f.t.Helper()
	verifiedSet(f.t, f.backups, at, backup.ComponentPostgres)
}

// verifiedSet writes a backup set under root taken at at whose component
// succeeded and verified.
func verifiedSet(t *testing.T, root string, at time.Time, component string) {
	t.Helper()
	at = at.UTC().Truncate(time.Second)
	m := &backup.Manifest{SetID: backup.NewSetID(at, "test", "daily"), Profile: "daily", Host: "test",
		StartedAt: at, FinishedAt: at.Add(time.Minute), Status: backup.StatusOK,
		Components: []backup.Component{{Name: component, Status: backup.StatusOK,
			Verify: &backup.Verify{Level: "quick", Status: backup.StatusOK, At: at.Add(2 * time.Minute)}}}}
	if _, err := backup.WriteManifest(root, m); err != nil {
		t.Fatal(err)
	}
}

func (f *fixture) options(dryRun bool) Options {
	return Options{Policy: DefaultPolicy(), Pool: f.pool, Redis: f.rdb, DLQs: []string{f.dlq},
		ArchiveDir: f.archive, BackupRoot: f.backups, DryRun: dryRun, Now: f.now}
}

func (f *fixture) partitionExists(name string) bool {
	return f.count(`SELECT count(*) FROM pg_class WHERE relname = $1`, name) == 1
}

func TestDryRunPlansAndChangesNothing(t *testing.T) {
	f := newFixture(t)
	f.backupAt(f.now.Add(-2 * time.Hour))
	res, err := Run(context.Background(), f.options(true))
	if err != nil {
		t.Fatal(err)
	}
	kinds := map[string]int64{}
	for _, a := range res.Actions {
		if a.Done {
			t.Errorf("dry run did %+v", a)
		}
		kinds[a.Kind] += a.Rows
	}
	if kinds["archive_partition"] != 3 || kinds["archive_rows"] != 3 || kinds["delete_rows"] != 1 || kinds["trim_dlq"] != 1 {
		t.Errorf("planned %v, want 3 partition rows, 2 default + 1 config audit rows, 1 archive row, 1 dead letter", kinds)
	}
	if _, ok := kinds["create_partition"]; !ok {
		t.Error("no partition ahead planned")
	}
	if !f.partitionExists(partitionName(f.old)) || f.count("SELECT count(*) FROM event_audit_log") != 7 ||
		f.count("SELECT count(*) FROM config_audit_log") != 2 || f.rdb.XLen(context.Background(), f.dlq).Val() != 2 {
		t.Error("the dry run changed data")
	}
	if _, err := os.Stat(filepath.Join(f.archive, "event_audit_log", "2015", "event_audit_log_2015_01.csv.gz")); err != nil {
		t.Errorf("the dry run deleted an archive file: %v", err)
	}
}

func TestRunArchivesBeforeDroppingAndAuditsEveryAction(t *testing.T) {
	f := newFixture(t)
	f.backupAt(f.now.Add(-2 * time.Hour))
	ctx := context.Background()
	remote := dirRemote(t)
	opts := f.options(false)
	opts.Remotes = []backup.RemoteStore{remote}
	start := time.Now()
	res, err := Run(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	old := partitionName(f.old)
	if f.partitionExists(old) {
		t.Errorf("partition %s past the active period still exists", old)
	}
	// The archive holds every row of the partition, the multi-line one intact.
	path := filepath.Join(f.archive, "event_audit_log", strconv.Itoa(f.old.Year()), old+".csv.gz")
	n, err := countRecords(path)
	if err != nil || n != 3 {
		t.Fatalf("archive %s: %d records, %v; want 3", path, n, err)
	}
	raw, _ := os.ReadFile(path)
	zr, err := gzip.NewReader(bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	text, _ := io.ReadAll(zr)
	if !strings.Contains(string(text), "second line, \"\"quoted\"\"") || !strings.HasPrefix(string(text), "id,event_timestamp,hostname") {
		t.Errorf("archive content:\n%s", text)
	}
	sum := sha256.Sum256(raw)
	side, _ := os.ReadFile(path + ".sha256")
	if string(side) != hex.EncodeToString(sum[:])+"  "+filepath.Base(path)+"\n" {
		t.Errorf("checksum file %q does not match the archive", side)
	}
	rel := filepath.Join("archive", "event_audit_log", strconv.Itoa(f.old.Year()), old+".csv.gz")
	rc, err := remote.Get(ctx, filepath.ToSlash(rel))
	if err != nil {
		t.Fatalf("archive not on the remote: %v", err)
	}
	copied, _ := io.ReadAll(rc)
	rc.Close()
	if !bytes.Equal(copied, raw) {
		t.Error("the remote copy differs from the archive")
	}
	if fi, _ := os.Stat(path); fi.Mode().Perm() != 0o600 {
		t.Errorf("archive mode %v, want 0600", fi.Mode().Perm())
	}
	// Live data stays; what is past its policy is gone.
	if got := f.count("SELECT count(*) FROM event_audit_log"); got != 2 {
		t.Errorf("%d audit rows left, want the 2 recent ones", got)
	}
	if got := f.count("SELECT count(*) FROM config_audit_log WHERE changed_by <> $1", Actor); got != 1 {
		t.Errorf("%d configuration audit rows left, want the 10-day-old one", got)
	}
	if got := f.count("SELECT count(*) FROM event_audit_log_archive"); got != 1 {
		t.Errorf("%d archive rows left, want the 2-year-old one", got)
	}
	if got := f.rdb.XLen(ctx, f.dlq).Val(); got != 1 {
		t.Errorf("%d dead letters left, want the recent one", got)
	}
	if _, err := os.Stat(filepath.Join(f.archive, "event_audit_log", "2015", "event_audit_log_2015_01.csv.gz")); !os.IsNotExist(err) {
		t.Errorf("archive past 7 years kept: %v", err)
	}
	if _, err := os.Stat(filepath.Join(f.archive, "event_audit_log", "2024", "event_audit_log_2024_01.csv.gz")); err != nil {
		t.Errorf("archive within 7 years deleted: %v", err)
	}
	for i := 0; i <= 3; i++ {
		if name := partitionName(monthStart(f.now).AddDate(0, i, 0)); !f.partitionExists(name) {
			t.Errorf("partition %s ahead missing", name)
		}
	}
	// Every action has its audit row, the drop with its archive.
	var archived string
	if err := f.pool.QueryRow(ctx, `SELECT old_values->>'archive' FROM config_audit_log
		WHERE changed_by = $1 AND operation = 'DELETE' AND table_name = $2`, Actor, old).Scan(&archived); err != nil {
		t.Fatalf("no audit row for dropping %s: %v", old, err)
	}
	if archived != filepath.Join("event_audit_log", strconv.Itoa(f.old.Year()), old+".csv.gz") {
		t.Errorf("audit row names archive %q", archived)
	}
	var done int64
	for _, a := range res.Actions {
		if a.Done {
			done++
		}
	}
	if got := f.count("SELECT count(*) FROM config_audit_log WHERE changed_by = $1", Actor); got != done {
		t.Errorf("%d audit rows for %d actions: %+v", got, done, res.Actions)
	}

	metrics := filepath.Join(t.TempDir(), "mutt_retention.prom")
	tables, err := MeasureTables(ctx, f.pool)
	if err != nil {
		t.Fatal(err)
	}
	if err := WriteMetrics(metrics, Report{Result: res, Policy: DefaultPolicy(), Tables: tables, Duration: time.Since(start)}); err != nil {
		t.Fatal(err)
	}
	m, _ := os.ReadFile(metrics)
	for _, want := range []string{"mutt_retention_last_status 1", `mutt_retention_last_run_deleted_records{type="event_audit"} 5`,
		`mutt_retention_last_run_deleted_records{type="dlq"} 1`, `mutt_retention_policy_days{type="config_audit"} 365`,
		`mutt_table_size_bytes{table="event_audit_log"}`, `mutt_table_oldest_record_timestamp_seconds{table="config_audit_log"}`} {
		if !strings.Contains(string(m), want) {
			t.Errorf("metrics lack %q:\n%s", want, m)
		}
	}
	promtoolCheckMetrics(t, m)

	// A second run finds nothing left to do.
	again, err := Run(ctx, f.options(false))
	if err != nil {
		t.Fatal(err)
	}
	if len(again.Actions) != 0 {
		t.Errorf("second run did %+v", again.Actions)
	}
}

func TestStaleBackupRefusesEveryDrop(t *testing.T) {
	f := newFixture(t)
	f.backupAt(f.now.Add(-30 * time.Hour))
	res, err := Run(context.Background(), f.options(false))
	if !errors.Is(err, ErrBackupGate) || !strings.Contains(res.Refused, "past the 26h0m0s gate") {
		t.Fatalf("err %v, refused %q; want the backup gate", err, res.Refused)
	}
	if !f.partitionExists(partitionName(f.old)) || f.count("SELECT count(*) FROM event_audit_log") != 7 ||
		f.count("SELECT count(*) FROM config_audit_log WHERE changed_by <> $1", Actor) != 2 || f.rdb.XLen(context.Background(), f.dlq).Val() != 2 {
		t.Error("data was dropped or deleted behind a stale backup")
	}
	// Creating partitions ahead is never refused.
	if !f.partitionExists(partitionName(monthStart(f.now).AddDate(0, 3, 0))) {
		t.Error("partitions ahead were not created")
	}
	metrics := filepath.Join(t.TempDir(), "mutt_retention.prom")
	if err := WriteMetrics(metrics, Report{Result: res, Err: err, Policy: DefaultPolicy()}); err != nil {
		t.Fatal(err)
	}
	m, _ := os.ReadFile(metrics)
	if !strings.Contains(string(m), "mutt_retention_last_status 0") || !strings.Contains(string(m), "mutt_retention_backup_gate_refused 1") {
		t.Errorf("metrics:\n%s", m)
	}
}

func TestNoBackupRefuses(t *testing.T) {
	f := newFixture(t)
	_, err := Run(context.Background(), f.options(false))
	if !errors.Is(err, ErrBackupGate) || !f.partitionExists(partitionName(f.old)) {
		t.Fatalf("err %v; want the backup gate and the partition kept", err)
	}
}

func TestArchiveThroughASymlinkIsRefused(t *testing.T) {
	f := newFixture(t)
	f.backupAt(f.now.Add(-time.Hour))
	elsewhere := t.TempDir()
	year := filepath.Join(f.archive, "event_audit_log", strconv.Itoa(f.old.Year()))
	_ = os.RemoveAll(year)
	if err := os.Symlink(elsewhere, year); err != nil {
		t.Fatal(err)
	}
	_, err := Run(context.Background(), f.options(false))
	if err == nil || !strings.Contains(err.Error(), "symbolic link") {
		t.Fatalf("err %v, want a refusal to write through the link", err)
	}
	if !f.partitionExists(partitionName(f.old)) {
		t.Error("partition dropped although its archive could not be written")
	}
	if entries, _ := os.ReadDir(elsewhere); len(entries) != 0 {
		t.Errorf("wrote %d files outside the archive tree", len(entries))
	}
}

// failingRemote refuses every upload.
type failingRemote struct{ backup.RemoteStore }

func (failingRemote) Target() string { return "file:///unreachable/" }
func (failingRemote) Put(context.Context, string, io.Reader, int64, backup.ObjectMeta) error {
	return errors.New("remote unreachable")
}

func TestUnreachableRemoteKeepsThePartition(t *testing.T) {
	f := newFixture(t)
	f.backupAt(f.now.Add(-time.Hour))
	opts := f.options(false)
	opts.Remotes = []backup.RemoteStore{failingRemote{}}
	_, err := Run(context.Background(), opts)
	if err == nil || !strings.Contains(err.Error(), "nothing dropped") {
		t.Fatalf("err %v, want the upload failure", err)
	}
	if !f.partitionExists(partitionName(f.old)) {
		t.Error("partition dropped although its archive never reached the remote")
	}
}

func TestPolicyValidation(t *testing.T) {
	tests := []struct {
		name  string
		edit  func(*Policy)
		field string
	}{
		{"active too short", func(p *Policy) { p.ActiveDays = 3 }, "RETENTION_EVENT_AUDIT_DAYS"},
		{"config audit too short", func(p *Policy) { p.ConfigAuditDays = 1 }, "CONFIG_AUDIT_RETENTION_DAYS"},
		{"dlq too short", func(p *Policy) { p.DLQDays = 0 }, "RETENTION_DLQ_DAYS"},
		{"no archive", func(p *Policy) { p.ArchiveYears = 0 }, "EVENT_ARCHIVE_RETENTION_YEARS"},
		{"too many months ahead", func(p *Policy) { p.PartitionsAhead = 100 }, "RETENTION_PRECREATE_MONTHS"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := DefaultPolicy()
			tt.edit(&p)
			if err := p.Validate(); err == nil || !strings.Contains(err.Error(), tt.field) {
				t.Errorf("Validate() = %v, want an error naming %s", err, tt.field)
			}
		})
	}
	if err := DefaultPolicy().Validate(); err != nil {
		t.Errorf("default policy: %v", err)
	}
}

// promtoolCheckMetrics lints a metrics file with promtool. The one
// finding it tolerates is the unit of mutt_retention_policy_days, the
// original's name that existing rules and dashboards select on.
func promtoolCheckMetrics(t *testing.T, data []byte) {
	t.Helper()
	cmd := exec.Command(itest.Tool(t, "promtool", "prometheus"), "check", "metrics")
	cmd.Stdin = bytes.NewReader(data)
	out, err := cmd.CombinedOutput()
	if err == nil {
		return
	}
	for line := range strings.Lines(string(out)) {
		if line = strings.TrimSpace(line); line != "" && line != `mutt_retention_policy_days use base unit "seconds" instead of "days"` {
			t.Errorf("promtool check metrics: %v\n%s", err, out)
			return
		}
	}
}
