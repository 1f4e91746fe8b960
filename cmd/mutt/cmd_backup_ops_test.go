package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/mutt-go/mutt/internal/backup"
	"github.com/mutt-go/mutt/internal/itest"
)

// hookRecorder is a Slack-compatible webhook that records every message.
type hookRecorder struct {
	mu     sync.Mutex
	status int
	bodies []string
}

func (h *hookRecorder) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	h.mu.Lock()
	defer h.mu.Unlock()
	h.bodies = append(h.bodies, string(body))
	w.WriteHeader(h.status)
}

func (h *hookRecorder) messages() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []string
	for _, b := range h.bodies {
		var msg struct{ Text string }
		if json.Unmarshal([]byte(b), &msg) == nil {
			out = append(out, msg.Text)
		}
	}
	return out
}

// metricsFileEnv points MUTT_BACKUP_METRICS_FILE into a fresh directory.
func metricsFileEnv(t *testing.T) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "mutt_backup.prom")
	t.Setenv("MUTT_BACKUP_METRICS_FILE", p)
	return p
}

func readFile(t *testing.T, p string) string {
	t.Helper()
	data, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

func TestBackupRunWritesMetricsAndNotifiesFailure(t *testing.T) {
	newBackupEnv(t)
	metrics := metricsFileEnv(t)
	hook := &hookRecorder{status: http.StatusOK}
	srv := httptest.NewServer(hook)
	defer srv.Close()
	t.Setenv("MUTT_BACKUP_NOTIFY_URL", srv.URL+"/services/T0/B0/webhookToken")

	// postgres unreachable (its URL carries the password), redis fine.
	port := itest.FreePort(t)
	t.Setenv("DATABASE_URL", fmt.Sprintf("postgres://mutt:%s@127.0.0.1:%d/mutt?sslmode=disable&connect_timeout=2", backupTestDBPassword, port))
	code, out, errOut := runBackupCmd(t, "backup", "run", "--components", "postgres,redis", "--json")
	if code != exitFailure {
		t.Fatalf("exit %d, want %d\n%s%s", code, exitFailure, out, errOut)
	}
	var m backup.Manifest
	if err := json.Unmarshal([]byte(out), &m); err != nil {
		t.Fatalf("run --json: %v\n%s", err, out)
	}
	text := readFile(t, metrics)
	for _, want := range []string{
		`mutt_backup_last_status{component="postgres"} 0`, `mutt_backup_last_status{component="redis"} 1`,
		`mutt_backup_sets{component="redis",location="local"} 1`, "mutt_backup_filesystem_used_ratio ",
		`mutt_backup_verify_last_success_timestamp_seconds{component="redis",level="quick"} `,
	} {
		if !strings.Contains(text, want) {
			t.Errorf("metrics lack %q:\n%s", want, text)
		}
	}
	msgs := hook.messages()
	if len(msgs) != 1 {
		t.Fatalf("webhook got %d messages, want 1", len(msgs))
	}
	host, _ := os.Hostname()
	for _, want := range []string{m.SetID, "postgres: ", host, "FAILED"} {
		if !strings.Contains(msgs[0], want) {
			t.Errorf("notification lacks %q:\n%s", want, msgs[0])
		}
	}
	if strings.Contains(msgs[0], backupTestDBPassword) || strings.Contains(msgs[0], "redis: ") {
		t.Errorf("notification holds the password or a healthy component:\n%s", msgs[0])
	}

	// A webhook that refuses is logged and changes nothing; success is
	// announced only when asked for.
	hook.mu.Lock()
	hook.status = http.StatusNotFound
	hook.mu.Unlock()
	t.Setenv("MUTT_BACKUP_NOTIFY_ON_SUCCESS", "true")
	code, out, errOut = runBackupCmd(t, "backup", "run", "--components", "redis")
	if code != exitOK {
		t.Fatalf("a failing webhook changed the exit code to %d\n%s%s", code, out, errOut)
	}
	if !strings.Contains(errOut, "backup notification not delivered") || strings.Contains(errOut, "webhookToken") {
		t.Errorf("stderr should log the failed notification without the webhook token:\n%s", errOut)
	}
	if n := len(hook.messages()); n != 2 {
		t.Errorf("webhook got %d messages, want 2", n)
	}

	// verify and prune rewrite the file as well.
	if err := os.Remove(metrics); err != nil {
		t.Fatal(err)
	}
	if code, _, errOut := runBackupCmd(t, "backup", "verify", "--all"); code != exitOK {
		t.Fatalf("verify exit %d: %s", code, errOut)
	}
	if text := readFile(t, metrics); !strings.Contains(text, `mutt_backup_sets{component="redis",location="local"} 2`) {
		t.Errorf("metrics after verify:\n%s", text)
	}
	if code, _, errOut := runBackupCmd(t, "backup", "alert-test", "--minutes", "5"); code != exitOK {
		t.Fatalf("alert-test exit %d: %s", code, errOut)
	}
	if text := readFile(t, metrics); !strings.Contains(text, `mutt_backup_last_status{component="alert-test"} 0`) {
		t.Errorf("metrics after alert-test:\n%s", text)
	}
	if code, _, errOut := runBackupCmd(t, "backup", "alert-test", "--clear"); code != exitOK {
		t.Fatalf("alert-test --clear exit %d: %s", code, errOut)
	}
	if text := readFile(t, metrics); strings.Contains(text, "alert-test") {
		t.Errorf("metrics after alert-test --clear:\n%s", text)
	}
}

func TestBackupStatusCommand(t *testing.T) {
	newBackupEnv(t)
	metricsFileEnv(t)
	if code, out, errOut := runBackupCmd(t, "backup", "run", "--components", "redis"); code != exitOK {
		t.Fatalf("run exit %d\n%s%s", code, out, errOut)
	}
	code, out, errOut := runBackupCmd(t, "backup", "status", "--json")
	if code != exitFailure {
		t.Fatalf("status with postgres never backed up: exit %d, want %d\n%s%s", code, exitFailure, out, errOut)
	}
	var rep backup.StatusReport
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("status --json: %v\n%s", err, out)
	}
	want := map[string]string{"backup:redis": "pass", "verify:redis": "pass", "backup:postgres": "fail", "permissions:root": "pass",
		"encryption": "pass", "partial-files": "pass", "permissions:identity": "pass"}
	for _, c := range rep.Checks {
		if w, ok := want[c.Name]; ok {
			if c.Status != w {
				t.Errorf("check %s = %s (%s), want %s", c.Name, c.Status, c.Detail, w)
			}
			delete(want, c.Name)
		}
	}
	if len(want) > 0 {
		t.Errorf("checks missing: %v\n%s", want, out)
	}
	if !strings.Contains(errOut, "backup:postgres") {
		t.Errorf("stderr does not name the failed check:\n%s", errOut)
	}

	if code, _, errOut := runBackupCmd(t, "backup", "alert-test"); code != exitOK {
		t.Fatalf("alert-test exit %d: %s", code, errOut)
	}
	_, out, _ = runBackupCmd(t, "backup", "status", "--quarterly")
	for _, want := range []string{"PASS  alert-test", "FAIL  dr-drill", "INFO  dr-documentation", "SKIP  remote-sync"} {
		if !strings.Contains(out, want) {
			t.Errorf("status --quarterly lacks %q:\n%s", want, out)
		}
	}
	if code, _, _ := runBackupCmd(t, "backup", "status", "--weekly", "--monthly"); code != exitUsage {
		t.Errorf("two levels: exit %d, want %d", code, exitUsage)
	}
	t.Setenv("MUTT_BACKUP_METRICS_FILE", filepath.Join(t.TempDir(), "absent", "x.prom"))
	if code, _, errOut := runBackupCmd(t, "backup", "alert-test"); code != exitUsage || !strings.Contains(errOut, "MUTT_BACKUP_METRICS_FILE") {
		t.Errorf("alert-test without a metrics directory: exit %d, stderr %s", code, errOut)
	}
}

func TestBackupScheduleCommand(t *testing.T) {
	root := t.TempDir()
	dir := t.TempDir()
	code, out, errOut := runBackupCmd(t, "backup", "schedule", "install", "--root", root, "--unit-dir", dir, "--binary", "/usr/local/bin/mutt")
	if code != exitOK {
		t.Fatalf("install exit %d\n%s%s", code, out, errOut)
	}
	svc := readFile(t, filepath.Join(dir, "mutt-backup-deep-verify.service"))
	tmr := readFile(t, filepath.Join(dir, "mutt-backup-deep-verify.timer"))
	if !strings.Contains(tmr, "OnCalendar=Sun *-*-01..07 03:00:00") || !strings.Contains(svc, "ReadWritePaths="+root+"\n") {
		t.Errorf("deep verify units:\n%s\n%s", svc, tmr)
	}
	if !strings.Contains(out, "systemctl daemon-reload && systemctl enable --now mutt-backup-hourly.timer") {
		t.Errorf("install does not say what to do next:\n%s", out)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 12 {
		t.Errorf("%d files in the unit dir, want 12", len(entries))
	}
	if err := os.MkdirAll(filepath.Join(dir, "timers.target.wants"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("../mutt-backup-daily.timer", filepath.Join(dir, "timers.target.wants", "mutt-backup-daily.timer")); err != nil {
		t.Fatal(err)
	}

	code, out, _ = runBackupCmd(t, "backup", "schedule", "show", "--cron", "--root", root, "--binary", "/usr/local/bin/mutt")
	if code != exitOK || !strings.Contains(out, `0 3 1-7 * * mutt [ "$(date +\%u)" = 7 ] && `) || strings.Contains(out, "0 3 1 * 0") {
		t.Errorf("show --cron exit %d:\n%s", code, out)
	}
	if code, out, errOut := runBackupCmd(t, "backup", "schedule", "remove", "--unit-dir", dir); code != exitOK {
		t.Fatalf("remove exit %d\n%s%s", code, out, errOut)
	}
	entries, _ = os.ReadDir(dir)
	wants, _ := os.ReadDir(filepath.Join(dir, "timers.target.wants"))
	if len(entries) != 1 || len(wants) != 0 {
		t.Errorf("after remove: %d entries and %d timer links left", len(entries), len(wants))
	}
	for _, args := range [][]string{{"backup", "schedule"}, {"backup", "schedule", "enable"}, {"backup", "schedule", "show", "--binary", "mutt"}} {
		if code, _, _ := runBackupCmd(t, args...); code != exitUsage {
			t.Errorf("%v: exit %d, want %d", args, code, exitUsage)
		}
	}
}

// writeScript writes an executable shell script.
func writeScript(t *testing.T, p, body string) string {
	t.Helper()
	if err := os.WriteFile(p, []byte("#!/bin/sh\n"+body), 0o755); err != nil {
		t.Fatal(err)
	}
	return p
}

// findFiles returns the files under root whose name ends with suffix.
func findFiles(t *testing.T, root, suffix string) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() && strings.HasSuffix(p, suffix) {
			out = append(out, p)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestBackupRunKilledMidway kills `mutt backup run` with SIGKILL while the
// postgres artifact is being written: no manifest may claim the set, prune
// removes the partial file once it is a day old and the next run succeeds.
func TestBackupRunKilledMidway(t *testing.T) {
	e := newBackupEnv(t)
	bin := muttBinary(t)
	pgDump, err := exec.LookPath("pg_dump")
	if err != nil {
		t.Fatal(err)
	}
	// pg_dump finishes, then stalls before exiting: the artifact stays a
	// "*.partial" until the process is killed.
	stall := writeScript(t, filepath.Join(e.dir, "pg_dump_stall"), fmt.Sprintf("%q \"$@\" || exit 1\nexec sleep 60\n", pgDump))
	cmd := exec.Command(bin, "backup", "run", "--components", "postgres,redis")
	cmd.Env = append(os.Environ(), "MUTT_BACKUP_PG_DUMP="+stall)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	t.Cleanup(func() { _ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) })
	itest.Eventually(t, 30*time.Second, "a *.partial artifact to appear", func() bool {
		return len(findFiles(t, e.root, ".partial")) > 0
	})
	if err := syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err == nil {
		t.Fatal("killed run exited 0")
	}
	if ms, err := backup.ListManifests(e.root); err != nil || len(ms) != 0 {
		t.Fatalf("killed run left %d manifests (err %v)", len(ms), err)
	}
	partials := findFiles(t, e.root, ".partial")
	if len(partials) == 0 {
		t.Fatal("no partial file left to clean")
	}

	// Within a day the partial file may still be someone's work in
	// progress: prune leaves it. Once nothing wrote it for 24 h, it goes.
	code, out, errOut := runBackupCmd(t, "backup", "prune", "--yes")
	if code != exitOK {
		t.Fatalf("prune exit %d\n%s%s", code, out, errOut)
	}
	if left := findFiles(t, e.root, ".partial"); len(left) != len(partials) {
		t.Errorf("prune removed a partial file modified just now: %v left of %v", left, partials)
	}
	stale := time.Now().Add(-25 * time.Hour)
	for _, p := range partials {
		if err := os.Chtimes(p, stale, stale); err != nil {
			t.Fatal(err)
		}
	}
	code, out, errOut = runBackupCmd(t, "backup", "prune", "--yes")
	if code != exitOK {
		t.Fatalf("prune exit %d\n%s%s", code, out, errOut)
	}
	if left := findFiles(t, e.root, ".partial"); len(left) != 0 {
		t.Errorf("prune left %v", left)
	}

	code, out, errOut = runBackupCmd(t, "backup", "run", "--components", "postgres,redis", "--json")
	if code != exitOK {
		t.Fatalf("next run exit %d\n%s%s", code, out, errOut)
	}
	ms, err := backup.ListManifests(e.root)
	if err != nil || len(ms) != 1 || ms[0].Status != backup.SetComplete {
		t.Fatalf("after the next run: %d manifests (err %v)", len(ms), err)
	}
}

// diskFullRoot returns a backup root on a 1 MiB tmpfs when mounting works
// (root in a sandbox that allows it), and otherwise a plain directory plus
// a prefix that runs the command under a 256 KiB RLIMIT_FSIZE (forced with
// MUTT_TEST_DISK_FULL=rlimit).
func diskFullRoot(t *testing.T) (root string, prefix []string, limit string) {
	t.Helper()
	dir := t.TempDir()
	tmpfs := os.Getenv("MUTT_TEST_DISK_FULL") != "rlimit"
	if tmpfs && exec.Command("mount", "-t", "tmpfs", "-o", "size=1m,mode=0700", "tmpfs", dir).Run() == nil {
		t.Cleanup(func() {
			if out, err := exec.Command("umount", dir).CombinedOutput(); err != nil {
				t.Errorf("umount %s: %v\n%s", dir, err, out)
			}
		})
		return dir, nil, "no space left on device"
	}
	prlimit, err := exec.LookPath("prlimit")
	if err != nil {
		t.Skip("neither mount -t tmpfs nor prlimit is available")
	}
	return dir, []string{prlimit, "--fsize=262144", "--"}, "file too large"
}

func TestBackupRunDiskFull(t *testing.T) {
	newBackupEnv(t)
	// About 2 MB of incompressible rows make a dump that cannot fit.
	root, prefix, wantReason := diskFullRoot(t)
	fillDatabase(t, os.Getenv("DATABASE_URL"))

	args := append(prefix, muttBinary(t), "backup", "run", "--components", "postgres,redis", "--root", root, "--json")
	cmd := exec.Command(args[0], args[1:]...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	code := cmd.ProcessState.ExitCode()
	if code != exitFailure {
		t.Fatalf("disk full: exit %d (%v), want %d\nstdout:\n%s\nstderr:\n%s", code, err, exitFailure, stdout.String(), stderr.String())
	}
	if !strings.Contains(stderr.String(), "failed: postgres") {
		t.Errorf("stderr does not name the component:\n%s", stderr.String())
	}
	ms, err := backup.ListManifests(root)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range ms {
		c := m.Component(backup.ComponentPostgres)
		if c == nil || c.Status != backup.StatusFailed || len(c.Artifacts) != 0 || m.Status == backup.SetComplete {
			t.Errorf("manifest %s claims postgres %+v", m.SetID, c)
		}
		if c != nil && !strings.Contains(c.Reason, wantReason) {
			t.Errorf("postgres reason %q does not say %q", c.Reason, wantReason)
		}
	}
	if left := findFiles(t, root, ".partial"); len(left) != 0 {
		t.Errorf("a failed artifact left %v", left)
	}
}

// fillDatabase adds a table of about 2 MB of incompressible text.
func fillDatabase(t *testing.T, dsn string) {
	t.Helper()
	out, err := exec.Command("psql", "-q", "-v", "ON_ERROR_STOP=1", "-d", dsn, "-c",
		`CREATE TABLE filler AS SELECT g, md5(g::text) || md5((g * 7919)::text) AS v FROM generate_series(1, 60000) g`).CombinedOutput()
	if err != nil {
		t.Fatalf("filling the database: %v\n%s", err, out)
	}
}

// TestBackupSecretsNeverLeak runs backups with known Redis and PostgreSQL
// passwords, a passphrase file and a Vault-like token in dynamic config,
// then searches every output, log line, manifest, metrics file, webhook
// message and the pg_dump child's argv for the secret values.
func TestBackupSecretsNeverLeak(t *testing.T) {
	e := newBackupEnv(t)
	e.usePassphrase(t)
	rdb, _ := itest.Redis(t)
	ctx := t.Context()
	const (
		redisPassword = "redis-pw-4e1f9c-never-shown"
		vaultToken    = "hvs.CAESIvaultLikeToken7b2d-never-shown"
	)
	user := "mutt-test-" + strings.ReplaceAll(e.prefix, ":", "-")
	if err := rdb.Do(ctx, "ACL", "SETUSER", user, "on", ">"+redisPassword, "~*", "&*", "+@all").Err(); err != nil {
		t.Fatalf("creating Redis user: %v", err)
	}
	t.Cleanup(func() { rdb.Do(t.Context(), "ACL", "DELUSER", user) })
	if err := rdb.Set(ctx, e.prefix+":config:vault_token", vaultToken, 0).Err(); err != nil {
		t.Fatal(err)
	}
	t.Setenv("REDIS_URL", fmt.Sprintf("redis://%s:%s@127.0.0.1:6379/0", user, redisPassword))

	pgDump, err := exec.LookPath("pg_dump")
	if err != nil {
		t.Fatal(err)
	}
	record := filepath.Join(e.dir, "pg_dump.record")
	wrapper := writeScript(t, filepath.Join(e.dir, "pg_dump_record"), fmt.Sprintf(`{ printf 'argv:'; printf ' %%s' "$@"; echo; echo "cmdline: $(tr '\0' ' ' < /proc/$$/cmdline)"; env | cut -d= -f1 | sed 's/^/env: /'; } >> %q
exec %q "$@"
`, record, pgDump))
	t.Setenv("MUTT_BACKUP_PG_DUMP", wrapper)
	metrics := metricsFileEnv(t)
	hook := &hookRecorder{status: http.StatusOK}
	srv := httptest.NewServer(hook)
	defer srv.Close()
	t.Setenv("MUTT_BACKUP_NOTIFY_URL", srv.URL+"/hook")
	t.Setenv("MUTT_BACKUP_NOTIFY_ON_SUCCESS", "true")

	var logs bytes.Buffer
	runBin := func(wantCode int, args ...string) {
		t.Helper()
		cmd := exec.Command(muttBinary(t), args...)
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		_ = cmd.Run()
		fmt.Fprintf(&logs, "$ mutt %s\n%s%s", strings.Join(args, " "), stdout.String(), stderr.String())
		if code := cmd.ProcessState.ExitCode(); code != wantCode {
			t.Errorf("mutt %s: exit %d, want %d\n%s%s", strings.Join(args, " "), code, wantCode, stdout.String(), stderr.String())
		}
	}
	runBin(exitOK, "backup", "run", "--components", "postgres,pgconfig,redis", "--log-format", "json", "--log-level", "debug")
	runBin(exitOK, "backup", "verify", "--all", "--json")
	runBin(exitOK, "backup", "list", "--json")
	runBin(exitOK, "backup", "show", "latest")
	runBin(exitFailure, "backup", "status", "--quarterly", "--json")
	// A failing run: the database URL, with its password, points nowhere.
	t.Setenv("DATABASE_URL", fmt.Sprintf("postgres://mutt:%s@127.0.0.1:%d/mutt?sslmode=disable&connect_timeout=2", backupTestDBPassword, itest.FreePort(t)))
	runBin(exitFailure, "backup", "run", "--components", "postgres,redis", "--log-format", "json")

	haystacks := map[string]string{"outputs and logs": logs.String(), "metrics file": readFile(t, metrics), "pg_dump argv": readFile(t, record)}
	for i, m := range hook.messages() {
		haystacks[fmt.Sprintf("notification %d", i)] = m
	}
	for _, p := range findFiles(t, e.root, "") {
		haystacks[p] = readFile(t, p)
	}
	if len(hook.messages()) != 2 {
		t.Errorf("webhook got %d messages, want 2 (success, failure)", len(hook.messages()))
	}
	if !strings.Contains(haystacks["pg_dump argv"], "argv: --format=custom") || !strings.Contains(haystacks["pg_dump argv"], "env: PGPASSWORD") {
		t.Errorf("the pg_dump wrapper did not record its call:\n%s", haystacks["pg_dump argv"])
	}
	secrets := []string{backupTestDBPassword, backupTestPassphrase, redisPassword, vaultToken}
	for where, text := range haystacks {
		for _, s := range secrets {
			if strings.Contains(text, s) {
				t.Errorf("%s holds the secret %q", where, s)
			}
		}
	}
}
