package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/mutt-go/mutt/internal/backup"
	"github.com/mutt-go/mutt/internal/itest"
	"github.com/mutt-go/mutt/internal/store"
)

// pgCluster is a private PostgreSQL cluster made with initdb for one test,
// run as the postgres OS user when the test runs as root.
type pgCluster struct {
	bin, dir string
	port     int
	cred     *syscall.Credential
}

// pgServerBin returns PostgreSQL's server bin directory: MUTT_BACKUP_PG_BIN,
// else that of the initdb in PATH, else Debian's. The test fails when none
// is installed (make test installs it) unless CI is not "true".
func pgServerBin(t testing.TB) string {
	t.Helper()
	dirs := []string{os.Getenv("MUTT_BACKUP_PG_BIN")}
	if p, err := exec.LookPath("initdb"); err == nil {
		if r, err := filepath.EvalSymlinks(p); err == nil {
			dirs = append(dirs, filepath.Dir(r))
		}
	}
	dirs = append(dirs, "/usr/lib/postgresql/15/bin")
	for _, d := range dirs {
		if d == "" {
			continue
		}
		if _, err := os.Stat(filepath.Join(d, "initdb")); err == nil {
			return d
		}
	}
	if os.Getenv("CI") != "true" {
		t.Skip("initdb not installed (postgresql server package)")
	}
	t.Fatal("initdb not installed: install the postgresql server package (scripts/services.sh ensure_test_tools)")
	return ""
}

// serverCredential is the OS user a private cluster runs as: postgres when
// root (the server refuses root), nil (this user) otherwise.
func serverCredential(t testing.TB) *syscall.Credential {
	t.Helper()
	if os.Geteuid() != 0 {
		return nil
	}
	u, err := user.Lookup("postgres")
	if err != nil {
		t.Fatalf("running as root, a private cluster needs the postgres OS user: %v", err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
}

// shareDir makes a directory for files both this test and the server's OS
// user use: traversable by all, owned by the server user when asked.
func shareDir(t testing.TB, p string, cred *syscall.Credential, own bool) string {
	t.Helper()
	if err := os.MkdirAll(p, 0o755); err != nil {
		t.Fatal(err)
	}
	mode := os.FileMode(0o755)
	if own {
		mode = 0o700
		if cred != nil {
			if err := os.Chown(p, int(cred.Uid), int(cred.Gid)); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := os.Chmod(p, mode); err != nil {
		t.Fatal(err)
	}
	return p
}

func (c *pgCluster) run(t testing.TB, prog string, args ...string) {
	t.Helper()
	cmd := exec.Command(filepath.Join(c.bin, prog), args...)
	cmd.Dir = "/"
	if c.cred != nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: c.cred}
	}
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%s %s: %v\n%s", prog, strings.Join(args, " "), err, out)
	}
}

// newPGCluster initdbs dir, appends conf and starts it on a free port; it
// is stopped when the test ends.
func newPGCluster(t testing.TB, bin, dir string, cred *syscall.Credential, conf string) *pgCluster {
	t.Helper()
	c := &pgCluster{bin: bin, dir: dir, port: freeTCPPort(t), cred: cred}
	shareDir(t, dir, cred, true)
	c.run(t, "initdb", "-D", dir, "--auth=trust", "-U", "postgres", "--no-sync")
	settings := fmt.Sprintf("\nport = %d\nlisten_addresses = '127.0.0.1'\nunix_socket_directories = '%s'\nfsync = off\n%s\n", c.port, dir, conf)
	f, err := os.OpenFile(filepath.Join(dir, "postgresql.conf"), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString(settings); err != nil {
		t.Fatal(err)
	}
	f.Close()
	c.run(t, "pg_ctl", "start", "-D", dir, "-l", filepath.Join(dir, "server.log"), "-w")
	t.Cleanup(func() { stopPG(bin, dir, cred) })
	return c
}

// stopPG stops the cluster of dir if it runs; for clean-ups.
func stopPG(bin, dir string, cred *syscall.Credential) {
	if _, err := os.Stat(filepath.Join(dir, "postmaster.pid")); err != nil {
		return
	}
	cmd := exec.Command(filepath.Join(bin, "pg_ctl"), "stop", "-D", dir, "-m", "immediate", "-w")
	cmd.Dir = "/"
	if cred != nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
	}
	_ = cmd.Run()
}

func (c *pgCluster) url(db string) string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/%s?sslmode=disable", c.port, db)
}

func freeTCPPort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// pitrEnv is a private cluster archiving into a backup root with the
// built mutt binary's wal-push.
type pitrEnv struct {
	bin, dir, root, mutt string
	cred                 *syscall.Credential
	cluster              *pgCluster
	env                  []string
}

func newPITREnv(t testing.TB, muttBin, alsoArchive string) *pitrEnv {
	t.Helper()
	e := &pitrEnv{bin: pgServerBin(t), cred: serverCredential(t)}
	dir, err := os.MkdirTemp("", "mutt-pitr-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	e.dir = shareDir(t, dir, e.cred, false)
	// The server's OS user runs archive_command: the binary, the public
	// key and the backup root must be reachable for it.
	e.mutt = filepath.Join(dir, "mutt")
	data, err := os.ReadFile(muttBin)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(e.mutt, data, 0o755); err != nil {
		t.Fatal(err)
	}
	recipients, identity := writeAgeKeys(t, dir)
	e.root = shareDir(t, filepath.Join(dir, "root"), e.cred, true)
	conf := fmt.Sprintf("archive_mode = on\narchive_timeout = 10s\nwal_level = replica\narchive_command = '%s backup wal-push --root %s --recipients-file %s %%p%s'\n",
		e.mutt, e.root, recipients, alsoArchive)
	e.cluster = newPGCluster(t, e.bin, filepath.Join(dir, "src"), e.cred, conf)
	e.env = append(os.Environ(), "MUTT_BACKUP_ROOT="+e.root, "MUTT_BACKUP_RECIPIENTS_FILE="+recipients,
		"MUTT_BACKUP_IDENTITY_FILE="+identity, "MUTT_BACKUP_PASSPHRASE_FILE=", "MUTT_BACKUP_PG_BIN="+e.bin,
		"MUTT_BACKUP_REMOTES=", "MUTT_BACKUP_METRICS_FILE="+filepath.Join(dir, "mutt_backup.prom"),
		"DATABASE_URL="+e.cluster.url("mutt"), "REDIS_URL="+itest.RedisURL())
	return e
}

// mutt runs the built binary with the environment of e.
func (e *pitrEnv) muttCmd(t testing.TB, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	cmd := exec.Command(e.mutt, args...)
	cmd.Env = e.env
	var out, errOut strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	if ee, ok := err.(*exec.ExitError); ok {
		return ee.ExitCode(), out.String(), errOut.String()
	}
	if err != nil {
		t.Fatalf("mutt %s: %v", strings.Join(args, " "), err)
	}
	return 0, out.String(), errOut.String()
}

// muttDB creates the MUTT database on the cluster, migrates it and adds
// the one rule the audit rows refer to; the pool is closed with the test.
func (e *pitrEnv) muttDB(t testing.TB) *pgxpool.Pool {
	t.Helper()
	ctx := context.Background()
	admin, err := pgx.Connect(ctx, e.cluster.url("postgres"))
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close(ctx)
	if _, err := admin.Exec(ctx, "CREATE DATABASE mutt"); err != nil {
		t.Fatal(err)
	}
	db, err := pgxpool.New(ctx, e.cluster.url("mutt"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(db.Close)
	if err := store.Migrate(ctx, db, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(ctx, `INSERT INTO alert_rules (match_string, priority, prod_handling, dev_handling, team_assignment) VALUES ('link down', 10, 'Page_and_ticket', 'Ignore', 'netops')`); err != nil {
		t.Fatal(err)
	}
	return db
}

// archivedUpTo waits until the WAL segment holding lsn is archived and
// returns when pg_stat_archiver says it was.
func archivedUpTo(t testing.TB, db *pgxpool.Pool, lsn string, within time.Duration) time.Time {
	t.Helper()
	var seg string
	if err := db.QueryRow(t.Context(), `SELECT pg_walfile_name($1::pg_lsn)`, lsn).Scan(&seg); err != nil {
		t.Fatal(err)
	}
	var at time.Time
	itest.Eventually(t, within, "WAL segment "+seg+" to be archived", func() bool {
		var last *string
		var lastAt *time.Time
		if err := db.QueryRow(t.Context(), `SELECT last_archived_wal, last_archived_time FROM pg_stat_archiver`).Scan(&last, &lastAt); err != nil {
			t.Fatal(err)
		}
		if last != nil && *last >= seg && lastAt != nil {
			at = *lastAt
			return true
		}
		return false
	})
	return at
}

func insertAudit(t testing.TB, db *pgxpool.Pool, from, to int) {
	t.Helper()
	_, err := db.Exec(t.Context(), `
INSERT INTO event_audit_log (event_timestamp, hostname, matched_rule_id, handling_decision, forwarded_to_moog, raw_message, event_id)
SELECT now(), 'router-' || g, (SELECT min(id) FROM alert_rules), 'Page_and_ticket', false, 'message ' || g, md5(g::text)::uuid
FROM generate_series($1::int, $2::int) g`, from, to)
	if err != nil {
		t.Fatal(err)
	}
}

// TestPointInTimeRestore is the acceptance test of point-in-time recovery:
// a private cluster archives its WAL with `mutt backup wal-push`, a base
// backup is taken, audit rows are written, a time T is noted, more rows are
// written and the table is dropped; the restore to T into a new data
// directory has every row from before T and none from after. The RPO (from
// the last commit to its WAL being archived) is measured on the way. A
// corrupted and a missing segment then stop a restore with the segment
// named and nothing left behind.
func TestPointInTimeRestore(t *testing.T) {
	e := newPITREnv(t, muttBinary(t), "")
	ctx := t.Context()
	db := e.muttDB(t)
	insertAudit(t, db, 1, 100)

	code, out, errOut := e.muttCmd(t, "backup", "run", "--profile", "base", "--no-sync", "--json")
	if code != 0 {
		t.Fatalf("backup run --profile base: exit %d\n%s\n%s", code, out, errOut)
	}
	var base backup.Manifest
	if err := json.Unmarshal([]byte(out), &base); err != nil {
		t.Fatalf("backup run --json: %v\n%s", err, out)
	}
	info, err := backup.PgBaseInfoOf(base.Component(backup.ComponentPgBase))
	if err != nil {
		t.Fatalf("pgbase component: %v (%+v)", err, base.Components)
	}

	insertAudit(t, db, 101, 200)
	var target time.Time
	if err := db.QueryRow(ctx, `SELECT clock_timestamp()`).Scan(&target); err != nil {
		t.Fatal(err)
	}
	insertAudit(t, db, 201, 300)
	var commitAt time.Time
	var lsn string
	if err := db.QueryRow(ctx, `SELECT now(), pg_current_wal_lsn()::text FROM (SELECT 1) x`).Scan(&commitAt, &lsn); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(ctx, `DROP TABLE event_audit_log CASCADE`); err != nil {
		t.Fatal(err)
	}
	if err := db.QueryRow(ctx, `SELECT pg_current_wal_lsn()::text`).Scan(&lsn); err != nil {
		t.Fatal(err)
	}
	// archive_timeout alone (10 s) must get the last commit archived: the
	// RPO of the shipped settings.
	archivedAt := archivedUpTo(t, db, lsn, 60*time.Second)
	rpo := archivedAt.Sub(commitAt)
	t.Logf("RPO: last commit archived %s after it was made (archive_timeout 10s)", rpo.Round(time.Millisecond))
	if rpo > 60*time.Second {
		t.Errorf("RPO %s, want at most 60s", rpo)
	}

	code, out, errOut = e.muttCmd(t, "backup", "list", "--component", "pgbase")
	if code != 0 || !strings.Contains(out, base.SetID) || !strings.Contains(out, "WAL from "+info.StartWAL) {
		t.Errorf("backup list --component pgbase: exit %d, want the base and the WAL it needs:\n%s\n%s", code, out, errOut)
	}
	code, out, errOut = e.muttCmd(t, "backup", "show", base.SetID)
	if code != 0 || !strings.Contains(out, info.StartWAL) {
		t.Errorf("backup show: exit %d, want the WAL range from %s:\n%s\n%s", code, info.StartWAL, out, errOut)
	}

	// The deep verify of a base replays the archive into a scratch
	// cluster.
	code, out, errOut = e.muttCmd(t, "backup", "verify", "--deep", base.SetID)
	if code != 0 || !strings.Contains(out+errOut, "replayed") {
		t.Errorf("backup verify --deep of the base: exit %d\n%s\n%s", code, out, errOut)
	}

	restored := filepath.Join(e.dir, "restored")
	port := freeTCPPort(t)
	t.Cleanup(func() { stopPG(e.bin, restored, e.cred) })
	code, out, errOut = e.muttCmd(t, "restore", "postgres", "--to-time", target.UTC().Format(time.RFC3339Nano),
		"--target-datadir", restored, "--port", strconv.Itoa(port), "--json")
	if code != 0 {
		t.Fatalf("restore postgres --to-time: exit %d\n%s\n%s", code, out, errOut)
	}
	var res backup.PITRResult
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatalf("restore --json: %v\n%s", err, out)
	}
	if res.SetID != base.SetID || res.ReachedTime.IsZero() || res.ReachedTime.After(target) {
		t.Errorf("restore result %+v: want base %s and a reached time at or before %s", res, base.SetID, target)
	}
	rdb, err := pgx.Connect(ctx, fmt.Sprintf("postgres://postgres@127.0.0.1:%d/mutt?sslmode=disable", port))
	if err != nil {
		t.Fatalf("the restored server does not answer on port %d: %v", port, err)
	}
	defer rdb.Close(ctx)
	var n, lo, hi int
	var inRecovery bool
	err = rdb.QueryRow(ctx, `SELECT count(*), min(substr(raw_message, 9)::int), max(substr(raw_message, 9)::int), pg_is_in_recovery() FROM event_audit_log`).Scan(&n, &lo, &hi, &inRecovery)
	if err != nil {
		t.Fatal(err)
	}
	if n != 200 || lo != 1 || hi != 200 || inRecovery {
		t.Errorf("restored to T: %d rows (%d..%d), in recovery %t; want exactly rows 1..200 and a promoted server", n, lo, hi, inRecovery)
	}
	if _, err := rdb.Exec(ctx, `INSERT INTO event_audit_log (event_timestamp, hostname, matched_rule_id, handling_decision, forwarded_to_moog, raw_message, event_id)
		VALUES (now(), 'h', (SELECT min(id) FROM alert_rules), 'x', false, 'after restore', gen_random_uuid())`); err != nil {
		t.Errorf("the restored server does not take writes: %v", err)
	}

	// A damaged archive stops the restore before any server starts, with
	// the segment named, and leaves no data directory behind. Two more
	// segments make sure a missing one is a hole, not the archive's end.
	for i := 0; i < 2; i++ {
		var sw string
		if err := db.QueryRow(ctx, `SELECT pg_switch_wal()::text`).Scan(&sw); err != nil {
			t.Fatal(err)
		}
		if _, err := db.Exec(ctx, `CREATE TABLE IF NOT EXISTS filler (x int); INSERT INTO filler VALUES (1)`); err != nil {
			t.Fatal(err)
		}
		archivedUpTo(t, db, sw, 30*time.Second)
	}
	// Prune removes exactly the WAL from before the only base's start.
	before, err := backup.ListWAL(e.root)
	if err != nil {
		t.Fatal(err)
	}
	code, out, errOut = e.muttCmd(t, "backup", "prune", "--yes", "--json")
	if code != 0 {
		t.Fatalf("prune: exit %d\n%s\n%s", code, out, errOut)
	}
	segs, err := backup.ListWAL(e.root)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range before {
		gone := !slices.Contains(segs, s)
		if needed := strings.HasSuffix(s, ".history") || s[:24] >= info.StartWAL; gone == needed {
			t.Errorf("after prune %s is gone = %t; the base starting at %s needs it = %t", s, gone, info.StartWAL, needed)
		}
	}
	if err != nil {
		t.Fatal(err)
	}
	var victim string
	for _, s := range segs {
		if len(s) == 24 && s > info.StopWAL {
			victim = s
			break
		}
	}
	if victim == "" {
		t.Fatalf("no archived segment after the base's %s: %v", info.StopWAL, segs)
	}
	art := filepath.Join(e.root, "wal", victim[:16], victim+".zst.age")
	orig, err := os.ReadFile(art)
	if err != nil {
		t.Fatal(err)
	}
	bad := append([]byte(nil), orig...)
	bad[len(bad)-10] ^= 0xff
	entry := filepath.Join(e.root, "wal", victim[:16], victim+".json")
	entryData, err := os.ReadFile(entry)
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name   string
		damage func()
		repair func()
		want   string
	}{
		{"corrupted segment", func() { os.WriteFile(art, bad, 0o600) }, func() { os.WriteFile(art, orig, 0o600) }, "corrupt"},
		{"missing segment", func() { os.Remove(entry) }, func() { os.WriteFile(entry, entryData, 0o600) }, "hole"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			tt.damage()
			defer tt.repair()
			dir := filepath.Join(e.dir, "broken")
			code, out, errOut := e.muttCmd(t, "restore", "postgres", "--target-datadir", dir, "--port", strconv.Itoa(freeTCPPort(t)))
			if code == 0 {
				stopPG(e.bin, dir, e.cred)
				t.Fatalf("restore from a damaged archive succeeded:\n%s", out)
			}
			if !strings.Contains(errOut, victim) || !strings.Contains(errOut, tt.want) {
				t.Errorf("stderr does not name segment %s as %s:\n%s", victim, tt.want, errOut)
			}
			if _, err := os.Stat(dir); err == nil {
				t.Errorf("a failed restore left %s behind", dir)
			}
		})
	}

	// backup status reads the archiving lag from pg_stat_archiver: fine
	// while archive_command works, failing once it has failed for longer
	// than MUTT_BACKUP_WAL_LAG_MAX; the metrics file carries the lag.
	walCheck := func() backup.Check {
		_, out, errOut := e.muttCmd(t, "backup", "status", "--json")
		var rep backup.StatusReport
		if err := json.Unmarshal([]byte(out), &rep); err != nil {
			t.Fatalf("status --json: %v\n%s\n%s", err, out, errOut)
		}
		for _, c := range rep.Checks {
			if c.Name == "wal-archiving" {
				return c
			}
		}
		t.Fatalf("status has no wal-archiving check: %+v", rep.Checks)
		return backup.Check{}
	}
	if c := walCheck(); c.Status != backup.CheckPass {
		t.Errorf("wal-archiving with a working archive_command: %+v", c)
	}
	if prom, err := os.ReadFile(filepath.Join(e.dir, "mutt_backup.prom")); err != nil || !strings.Contains(string(prom), "mutt_backup_wal_archive_lag_seconds 0") {
		t.Errorf("metrics file lacks a zero archiving lag (%v):\n%s", err, prom)
	}
	for _, q := range []string{`ALTER SYSTEM SET archive_command = 'false'`, `SELECT pg_reload_conf()`} {
		if _, err := db.Exec(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	e.env = append(e.env, "MUTT_BACKUP_WAL_LAG_MAX=1s")
	var last backup.Check
	itest.Eventually(t, 60*time.Second, "status to report the failing archive_command", func() bool {
		// The archiver reloads its settings on its own time: complete a
		// segment each round until one meets the failing command.
		for _, q := range []string{`INSERT INTO filler VALUES (2)`, `SELECT pg_switch_wal()`} {
			if _, err := db.Exec(ctx, q); err != nil {
				t.Fatal(err)
			}
		}
		last = walCheck()
		return last.Status == backup.CheckFail && strings.Contains(last.Detail, "failures")
	})
	if !strings.Contains(last.Detail, "behind") || !strings.Contains(last.Detail, "see the PostgreSQL log") {
		t.Errorf("wal-archiving detail %q does not say how far behind and where the error is", last.Detail)
	}
}
