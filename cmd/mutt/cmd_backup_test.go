package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"filippo.io/age"
	"github.com/redis/go-redis/v9"

	"github.com/mutt-go/mutt/internal/backup"
	"github.com/mutt-go/mutt/internal/itest"
	"github.com/mutt-go/mutt/internal/store"
)

// backupEnvSecrets are values that must never appear in any output.
const (
	backupTestDBPassword = "db-password-never-printed"
	backupTestPassphrase = "passphrase-never-printed"
)

// backupEnv is one test's backup root, seeded database and Redis prefix,
// with the environment of the mutt command pointing at them.
type backupEnv struct {
	root   string
	prefix string
	dir    string // holds key files
}

func newBackupEnv(t *testing.T) *backupEnv {
	t.Helper()
	if _, err := exec.LookPath("pg_dump"); err != nil {
		t.Skipf("pg_dump not in PATH: %v", err)
	}
	ctx := t.Context()
	pool, dsn := itest.Pool(t)
	if err := store.Migrate(ctx, pool, nil); err != nil {
		t.Fatalf("migrating: %v", err)
	}
	for _, s := range []string{
		`INSERT INTO development_hosts SELECT 'dev-' || g FROM generate_series(1, 7) g`,
		`INSERT INTO device_teams SELECT 'router-' || g, 'team' || (g % 3) FROM generate_series(1, 11) g`,
	} {
		if _, err := pool.Exec(ctx, s); err != nil {
			t.Fatalf("seeding: %v", err)
		}
	}
	rdb, prefix := itest.Redis(t)
	if err := rdb.Set(ctx, prefix+":config:answer", "42", 0).Err(); err != nil {
		t.Fatal(err)
	}
	// Two dead letters, as the forwarder writes them (a stream).
	for _, v := range []string{"x", "y"} {
		if err := rdb.XAdd(ctx, &redis.XAddArgs{Stream: prefix + ":dlq:moog", Values: map[string]any{"payload": v}}).Err(); err != nil {
			t.Fatal(err)
		}
	}
	e := &backupEnv{root: t.TempDir(), prefix: prefix, dir: t.TempDir()}
	recipients, identity := writeAgeKeys(t, e.dir)
	t.Setenv("MUTT_CONFIG", "")
	t.Setenv("REDIS_URL", itest.RedisURL())
	t.Setenv("MUTT_KEY_PREFIX", prefix)
	t.Setenv("DATABASE_URL", dsn)
	// The test server trusts local connections, so the password is sent
	// along but never checked; it must still stay out of every output.
	t.Setenv("DB_PASS", backupTestDBPassword)
	t.Setenv("MUTT_BACKUP_ROOT", e.root)
	t.Setenv("MUTT_BACKUP_RECIPIENTS_FILE", recipients)
	t.Setenv("MUTT_BACKUP_PASSPHRASE_FILE", "")
	t.Setenv("MUTT_BACKUP_IDENTITY_FILE", identity)
	t.Setenv("MUTT_BACKUP_PG_DUMP", "")
	return e
}

// writeAgeKeys writes a new age identity and its recipient into dir and
// returns the two files.
func writeAgeKeys(t testing.TB, dir string) (recipients, identity string) {
	t.Helper()
	id, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	recipients, identity = filepath.Join(dir, "recipients"), filepath.Join(dir, "identity")
	if err := os.WriteFile(recipients, []byte(id.Recipient().String()+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(identity, []byte(id.String()+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return recipients, identity
}

// usePassphrase switches the environment to passphrase mode.
func (e *backupEnv) usePassphrase(t *testing.T) {
	t.Helper()
	p := filepath.Join(e.dir, "passphrase")
	if err := os.WriteFile(p, []byte(backupTestPassphrase+"\n"), 0o400); err != nil {
		t.Fatal(err)
	}
	t.Setenv("MUTT_BACKUP_RECIPIENTS_FILE", "")
	t.Setenv("MUTT_BACKUP_IDENTITY_FILE", "")
	t.Setenv("MUTT_BACKUP_PASSPHRASE_FILE", p)
}

// runBackupCmd runs mutt with args and returns the exit code, stdout and
// stderr. It fails the test when a secret shows in either output.
func runBackupCmd(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	code := run(args, &stdout, &stderr)
	for _, secret := range []string{backupTestDBPassword, backupTestPassphrase} {
		if strings.Contains(stdout.String(), secret) || strings.Contains(stderr.String(), secret) {
			t.Errorf("mutt %s printed a secret:\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), stdout.String(), stderr.String())
		}
	}
	return code, stdout.String(), stderr.String()
}

func TestBackupRunListShowVerify(t *testing.T) {
	e := newBackupEnv(t)

	code, out, errOut := runBackupCmd(t, "backup", "run", "--profile", "daily", "--label", "before-2.6", "--pin")
	if code != exitOK {
		t.Fatalf("backup run exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
	for _, want := range []string{"postgres", "redis", "config", "not configured", "partial"} {
		if !strings.Contains(out, want) {
			t.Errorf("run output lacks %q:\n%s", want, out)
		}
	}

	code, out, errOut = runBackupCmd(t, "backup", "show", "latest", "--json")
	if code != exitOK {
		t.Fatalf("show exit %d: %s", code, errOut)
	}
	var m backup.Manifest
	if err := json.Unmarshal([]byte(out), &m); err != nil {
		t.Fatalf("show --json: %v\n%s", err, out)
	}
	pg := m.Component(backup.ComponentPostgres)
	if pg == nil || pg.Status != backup.StatusOK || pg.Counts["development_hosts"] != 7 || pg.Counts["device_teams"] != 11 {
		t.Fatalf("postgres component = %+v", pg)
	}
	if r := m.Component(backup.ComponentRedis); r == nil || r.Status != backup.StatusOK || r.Counts["keys"] != 2 {
		t.Errorf("redis component = %+v", r)
	}
	if m.Label != "before-2.6" || !m.Pinned || m.Status != backup.SetPartial || m.SchemaVersion == 0 {
		t.Errorf("manifest label %q pinned %t status %s schema %d", m.Label, m.Pinned, m.Status, m.SchemaVersion)
	}

	tests := []struct {
		name     string
		args     []string
		wantCode int
		want     []string
		absent   []string
	}{
		{name: "list", args: []string{"backup", "list"}, want: []string{m.SetID, "daily (pinned)", "postgres:ok", "redis:ok"}},
		{name: "list by component", args: []string{"backup", "list", "--component", "redis"}, want: []string{m.SetID}},
		{name: "list skipped component", args: []string{"backup", "list", "--component", "vault"}, want: []string{"no backup sets"}, absent: []string{m.SetID}},
		{name: "list json", args: []string{"backup", "list", "--json"}, want: []string{`"set_id": "` + m.SetID + `"`, `"postgres": "ok"`}},
		{name: "show by id", args: []string{"backup", "show", m.SetID}, want: []string{"set:        " + m.SetID, "count device_teams = 11", "verify quick ok"}},
		{name: "verify latest", args: []string{"backup", "verify", "--latest"}, want: []string{m.SetID + ": ok"}},
		{name: "verify by id json", args: []string{"backup", "verify", m.SetID, "--json"}, want: []string{`"status": "ok"`}},
		{name: "verify all", args: []string{"backup", "verify", "--all"}, want: []string{m.SetID + ": ok"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out, errOut := runBackupCmd(t, tt.args...)
			if code != tt.wantCode {
				t.Fatalf("exit %d, want %d\nstdout:\n%s\nstderr:\n%s", code, tt.wantCode, out, errOut)
			}
			for _, w := range tt.want {
				if !strings.Contains(out, w) {
					t.Errorf("output lacks %q:\n%s", w, out)
				}
			}
			for _, a := range tt.absent {
				if strings.Contains(out, a) {
					t.Errorf("output holds %q:\n%s", a, out)
				}
			}
		})
	}

	// A flipped byte in the postgres artifact fails verification, names
	// the artifact and is recorded in the manifest.
	art := pg.Artifacts[0]
	path := filepath.Join(e.root, filepath.FromSlash(art.Path))
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	data[len(data)/2] ^= 0x01
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	code, out, errOut = runBackupCmd(t, "backup", "verify")
	if code != exitFailure {
		t.Fatalf("verify of a corrupt set exit %d, want %d\n%s%s", code, exitFailure, out, errOut)
	}
	if !strings.Contains(errOut, art.Path) || !strings.Contains(out, art.Path) {
		t.Errorf("verify does not name %s:\nstdout:\n%s\nstderr:\n%s", art.Path, out, errOut)
	}
	_, out, _ = runBackupCmd(t, "backup", "show", "latest", "--json")
	var after backup.Manifest
	if err := json.Unmarshal([]byte(out), &after); err != nil {
		t.Fatal(err)
	}
	if v := after.Component(backup.ComponentPostgres).Verify; v == nil || v.Status != backup.StatusFailed {
		t.Errorf("postgres verify after corruption = %+v, want failed", v)
	}
	if v := after.Component(backup.ComponentRedis).Verify; v == nil || v.Status != backup.StatusOK {
		t.Errorf("redis verify after corruption = %+v, want ok", v)
	}
}

func TestBackupRunPassphrase(t *testing.T) {
	e := newBackupEnv(t)
	e.usePassphrase(t)
	code, out, errOut := runBackupCmd(t, "backup", "run", "--profile", "redis", "--json")
	if code != exitOK {
		t.Fatalf("exit %d\n%s%s", code, out, errOut)
	}
	var m backup.Manifest
	if err := json.Unmarshal([]byte(out), &m); err != nil {
		t.Fatalf("run --json: %v\n%s", err, out)
	}
	if m.Status != backup.SetComplete || m.Encryption.Scheme != backup.SchemeScrypt {
		t.Errorf("status %s scheme %s, want complete %s", m.Status, m.Encryption.Scheme, backup.SchemeScrypt)
	}
	data, err := os.ReadFile(filepath.Join(e.root, filepath.FromSlash(m.Components[0].Artifacts[0].Path)))
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(data, []byte(backupTestPassphrase)) {
		t.Error("artifact holds the passphrase")
	}
}

func TestBackupRunComponentFailure(t *testing.T) {
	newBackupEnv(t)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	t.Setenv("DATABASE_URL", fmt.Sprintf("postgres://mutt:%s@127.0.0.1:%d/mutt?sslmode=disable&connect_timeout=2", backupTestDBPassword, port))
	code, out, errOut := runBackupCmd(t, "backup", "run", "--components", "postgres,redis")
	if code != exitFailure {
		t.Fatalf("exit %d, want %d\n%s%s", code, exitFailure, out, errOut)
	}
	if !strings.Contains(out, "postgres   failed") || !strings.Contains(out, "redis      ok") {
		t.Errorf("run output:\n%s", out)
	}
	if !strings.Contains(errOut, "failed: postgres") {
		t.Errorf("stderr does not name the failed component:\n%s", errOut)
	}
}

func TestBackupRefusals(t *testing.T) {
	e := newBackupEnv(t)
	lockedRoot := t.TempDir()
	unlock, err := backup.Lock(lockedRoot)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = unlock() })

	tests := []struct {
		name     string
		env      map[string]string
		args     []string
		wantCode int
		wantErr  string
	}{
		{
			name: "missing keys", env: map[string]string{"MUTT_BACKUP_RECIPIENTS_FILE": ""},
			args: []string{"backup", "run"}, wantCode: exitUsage, wantErr: "MUTT_BACKUP_RECIPIENTS_FILE",
		},
		{
			name: "unreadable recipients", env: map[string]string{"MUTT_BACKUP_RECIPIENTS_FILE": "/nonexistent/recipients"},
			args: []string{"backup", "run"}, wantCode: exitUsage, wantErr: "MUTT_BACKUP_RECIPIENTS_FILE",
		},
		{name: "unknown profile", args: []string{"backup", "run", "--profile", "monthly"}, wantCode: exitUsage, wantErr: "monthly"},
		{name: "unknown component", args: []string{"backup", "run", "--components", "mysql"}, wantCode: exitUsage, wantErr: "mysql"},
		{name: "bad flag", args: []string{"backup", "list", "--bogus"}, wantCode: exitUsage, wantErr: "bogus"},
		{name: "show needs a set", args: []string{"backup", "show"}, wantCode: exitUsage, wantErr: "set id"},
		{name: "show of a non-id", args: []string{"backup", "show", "yesterday"}, wantCode: exitUsage, wantErr: "yesterday"},
		{name: "show latest of an empty root", args: []string{"backup", "show", "latest"}, wantCode: exitFailure, wantErr: "no backup sets"},
		{name: "show unknown set", args: []string{"backup", "show", "20200101T000000Z-h-daily-0000"}, wantCode: exitFailure, wantErr: "no backup set"},
		{name: "verify with two selections", args: []string{"backup", "verify", "--latest", "--all"}, wantCode: exitUsage, wantErr: "one of"},
		{name: "run while locked", args: []string{"backup", "run", "--root", lockedRoot, "--profile", "redis"}, wantCode: exitLocked, wantErr: "locked"},
		{name: "verify while locked", args: []string{"backup", "verify", "--root", lockedRoot}, wantCode: exitLocked, wantErr: "locked"},
		{
			name: "explicitly requested component skipped", args: []string{"backup", "run", "--root", t.TempDir(), "--components", "redis,vault"},
			wantCode: exitFailure, wantErr: "failed: vault",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for k, v := range tt.env {
				t.Setenv(k, v)
			}
			code, out, errOut := runBackupCmd(t, tt.args...)
			if code != tt.wantCode {
				t.Fatalf("exit %d, want %d\nstdout:\n%s\nstderr:\n%s", code, tt.wantCode, out, errOut)
			}
			if !strings.Contains(errOut, tt.wantErr) {
				t.Errorf("stderr lacks %q:\n%s", tt.wantErr, errOut)
			}
			if tt.wantCode != exitFailure {
				if ms, _ := backup.ListManifests(e.root); len(ms) != 0 {
					t.Errorf("a refused command wrote %d sets", len(ms))
				}
			}
		})
	}
	// run, the real entry point, agrees on the codes it knows.
	var stdout, stderr bytes.Buffer
	t.Setenv("MUTT_BACKUP_RECIPIENTS_FILE", "")
	if code := run([]string{"backup", "run"}, &stdout, &stderr); code != exitUsage {
		t.Errorf("run without keys exit %d, want %d: %s", code, exitUsage, stderr.String())
	}
}
