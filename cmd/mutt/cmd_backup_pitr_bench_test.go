package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/mutt-go/mutt/internal/backup"
	"github.com/mutt-go/mutt/internal/itest"
)

// pitrBenchRows and pitrBenchWALRows size the benchmark: a base of a
// million audit rows, then WAL of more rows written after it.
const (
	pitrBenchRows    = 1_000_000
	pitrBenchWALRows = 300_000
)

// BenchmarkPITRRestore measures the recovery time of a point-in-time
// restore (to the end of the archive) of a 1,000,000-row base plus the WAL
// written after it, with mutt and with pgBackRest, which archive the same
// WAL (both in archive_command) and back up the same cluster in the same
// run. Each restore goes into a new data directory and counts as done
// when the server is promoted and answers. Run it once:
//
//	go test -run '^$' -bench BenchmarkPITRRestore -benchtime 1x ./cmd/mutt/
func BenchmarkPITRRestore(b *testing.B) {
	pgbr, err := exec.LookPath("pgbackrest")
	if err != nil {
		b.Skip("pgbackrest not installed (Debian package pgbackrest)")
	}
	bin := filepath.Join(b.TempDir(), "mutt")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		b.Fatalf("go build: %v\n%s", err, out)
	}
	// pgBackRest's repository, lock and log directories belong to the
	// server's OS user, which runs archive-push.
	cred := serverCredential(b)
	brDir, err := os.MkdirTemp("", "mutt-pgbr-")
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { os.RemoveAll(brDir) })
	shareDir(b, brDir, cred, true)
	if err := os.Chmod(brDir, 0o755); err != nil {
		b.Fatal(err)
	}
	brConf := filepath.Join(brDir, "pgbackrest.conf")
	e := newPITREnv(b, bin, " && "+pgbr+" --config="+brConf+" --stanza=mutt archive-push %p")
	conf := fmt.Sprintf("[global]\nrepo1-path=%s/repo\nrepo1-cipher-type=aes-256-cbc\nrepo1-cipher-pass=benchmark-only-passphrase\ncompress-type=zst\nlock-path=%s/lock\nlog-path=%s/log\nlog-level-console=warn\nlog-level-file=off\nstart-fast=y\narchive-check=n\n\n[mutt]\npg1-path=%s\npg1-port=%d\npg1-socket-path=%s\n",
		brDir, brDir, brDir, e.cluster.dir, e.cluster.port, e.cluster.dir)
	if err := os.WriteFile(brConf, []byte(conf), 0o644); err != nil {
		b.Fatal(err)
	}
	pgbackrest := func(args ...string) time.Duration {
		b.Helper()
		start := time.Now()
		cmd := exec.Command(pgbr, append([]string{"--config=" + brConf, "--stanza=mutt"}, args...)...)
		cmd.Dir = "/"
		if cred != nil {
			cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
		}
		if out, err := cmd.CombinedOutput(); err != nil {
			b.Fatalf("pgbackrest %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return time.Since(start)
	}
	pgbackrest("stanza-create")

	ctx := context.Background()
	db := e.muttDB(b)
	insertAudit(b, db, 1, pitrBenchRows)

	// The ceiling of both backups: pg_basebackup alone, to /dev/null.
	ceiling := time.Now()
	raw := exec.Command(filepath.Join(e.bin, "pg_basebackup"), "--dbname="+e.cluster.url("mutt"), "--pgdata=-", "--format=tar",
		"--wal-method=fetch", "--checkpoint=fast")
	if err := raw.Run(); err != nil {
		b.Fatalf("pg_basebackup: %v", err)
	}
	ceilingTook := time.Since(ceiling)

	muttBackup := time.Now()
	if code, out, errOut := e.muttCmd(b, "backup", "run", "--profile", "base", "--no-sync"); code != 0 {
		b.Fatalf("backup run --profile base: exit %d\n%s\n%s", code, out, errOut)
	}
	muttBackupTook := time.Since(muttBackup)
	brBackupTook := pgbackrest("backup", "--type=full")

	// The WAL both restores replay: more rows after the bases, archived.
	var firstSeg string
	if err := db.QueryRow(ctx, `SELECT pg_walfile_name(pg_current_wal_lsn())`).Scan(&firstSeg); err != nil {
		b.Fatal(err)
	}
	for from := pitrBenchRows + 1; from <= pitrBenchRows+pitrBenchWALRows; from += 50_000 {
		insertAudit(b, db, from, from+49_999)
	}
	var end string
	if err := db.QueryRow(ctx, `SELECT pg_switch_wal()::text`).Scan(&end); err != nil {
		b.Fatal(err)
	}
	archivedUpTo(b, db, end, 5*time.Minute)
	var lastSeg string
	if err := db.QueryRow(ctx, `SELECT pg_walfile_name($1::pg_lsn)`, end).Scan(&lastSeg); err != nil {
		b.Fatal(err)
	}
	want := pitrBenchRows + pitrBenchWALRows

	var muttRTO, brRTO time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		dir := filepath.Join(e.dir, "mutt-restore-"+strconv.Itoa(i))
		port := freeTCPPort(b)
		start := time.Now()
		code, out, errOut := e.muttCmd(b, "restore", "postgres", "latest", "--target-datadir", dir, "--port", strconv.Itoa(port))
		if code != 0 {
			b.Fatalf("mutt restore: exit %d\n%s\n%s", code, out, errOut)
		}
		waitRows(b, port, want)
		muttRTO += time.Since(start)
		stopPG(e.bin, dir, cred)

		dir = filepath.Join(e.dir, "pgbr-restore-"+strconv.Itoa(i))
		port = freeTCPPort(b)
		start = time.Now()
		shareDir(b, dir, cred, true)
		pgbackrest("restore", "--pg1-path="+dir, "--type=default", "--archive-mode=off")
		// The copied postgresql.conf names the source's port and socket.
		f, err := os.OpenFile(filepath.Join(dir, "postgresql.auto.conf"), os.O_APPEND|os.O_WRONLY, 0)
		if err != nil {
			b.Fatal(err)
		}
		fmt.Fprintf(f, "\nport = %d\nunix_socket_directories = ''\narchive_mode = off\n", port)
		f.Close()
		c := &pgCluster{bin: e.bin, dir: dir, port: port, cred: cred}
		c.run(b, "pg_ctl", "start", "-D", dir, "-l", filepath.Join(dir, "server.log"), "-w", "-t", "600")
		waitRows(b, port, want)
		brRTO += time.Since(start)
		stopPG(e.bin, dir, cred)
	}
	b.StopTimer()
	segs, _ := backup.ListWAL(e.root)
	b.ReportMetric(muttRTO.Seconds()/float64(b.N), "mutt-rto-s")
	b.ReportMetric(brRTO.Seconds()/float64(b.N), "pgbackrest-rto-s")
	b.ReportMetric(muttBackupTook.Seconds(), "mutt-backup-s")
	b.ReportMetric(brBackupTook.Seconds(), "pgbackrest-backup-s")
	b.ReportMetric(ceilingTook.Seconds(), "pg_basebackup-s")
	b.ReportMetric(float64(len(segs)), "wal-files")
	b.Logf("rows %d base + %d in WAL (%s..%s); mutt: backup %s, RTO %s; pgBackRest: backup %s, RTO %s",
		pitrBenchRows, pitrBenchWALRows, firstSeg, lastSeg, muttBackupTook.Round(time.Millisecond), (muttRTO / time.Duration(b.N)).Round(time.Millisecond),
		brBackupTook.Round(time.Millisecond), (brRTO / time.Duration(b.N)).Round(time.Millisecond))
}

// waitRows waits until the server on port is promoted and holds want
// audit rows.
func waitRows(b *testing.B, port, want int) {
	b.Helper()
	url := fmt.Sprintf("postgres://postgres@127.0.0.1:%d/mutt?sslmode=disable", port)
	itest.Eventually(b, 10*time.Minute, "the restored server to be promoted with every row", func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		conn, err := pgx.Connect(ctx, url)
		if err != nil {
			return false
		}
		defer conn.Close(ctx)
		var n int
		var rec bool
		if err := conn.QueryRow(ctx, `SELECT count(*), pg_is_in_recovery() FROM event_audit_log`).Scan(&n, &rec); err != nil {
			return false
		}
		if !rec && n != want {
			b.Fatalf("restored server has %d rows, want %d", n, want)
		}
		return !rec
	})
}
