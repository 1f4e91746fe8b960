package main

import (
	"bufio"
	"context"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/redis/go-redis/v9"

	"github.com/mutt-go/mutt/internal/backup"
	"github.com/mutt-go/mutt/internal/itest"
	"github.com/mutt-go/mutt/internal/secrets/vaulttest"
)

// backupDocPath is the operator guide whose commands the test runs.
const backupDocPath = "../../docs/operations/backup-recovery.md"

// docCommand is one `mutt …` line of a ```sh block of the guide.
type docCommand struct {
	line     int    // 1-based line number in the guide
	text     string // the command as written, without its comment
	wantCode int    // "# exit N" in the comment, else 0
}

// exitComment is how the guide says a command exits non-zero.
var exitComment = regexp.MustCompile(`\bexit (\d+)\b`)

// docCommands extracts, in document order, every line starting with
// "mutt " inside a ```sh fence. Lines in other fences (```text, ```json,
// ```sh embedded) and outside fences are not commands.
func docCommands(t *testing.T, path string) []docCommand {
	t.Helper()
	return docCommandsIn(t, path, "sh")
}

// docCommandsIn is docCommands for the fences whose info string is lang.
func docCommandsIn(t *testing.T, path, lang string) []docCommand {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatalf("opening the guide: %v", err)
	}
	defer f.Close()
	var (
		out   []docCommand
		fence string // language of the open fence; "" outside one
		open  bool
	)
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if rest, ok := strings.CutPrefix(line, "```"); ok {
			if open {
				open, fence = false, ""
			} else {
				open, fence = true, strings.TrimSpace(rest)
			}
			continue
		}
		if !open || fence != lang || !strings.HasPrefix(line, "mutt ") {
			continue
		}
		cmd, comment := splitComment(line)
		c := docCommand{line: n, text: cmd}
		if m := exitComment.FindStringSubmatch(comment); m != nil {
			c.wantCode, _ = strconv.Atoi(m[1])
		}
		out = append(out, c)
	}
	if err := sc.Err(); err != nil {
		t.Fatalf("reading the guide: %v", err)
	}
	if open {
		t.Fatalf("%s: a code fence is never closed", path)
	}
	return out
}

// splitComment cuts a "# …" comment (a # after a space, outside quotes)
// off a shell line.
func splitComment(line string) (cmd, comment string) {
	var quote rune
	for i, r := range line {
		switch {
		case quote != 0:
			if r == quote {
				quote = 0
			}
		case r == '\'' || r == '"':
			quote = r
		case r == '#' && i > 0 && line[i-1] == ' ':
			return strings.TrimSpace(line[:i]), line[i+1:]
		}
	}
	return strings.TrimSpace(line), ""
}

// shellWords splits a command into words with single and double quotes;
// anything a shell would interpret beyond that (pipes, redirections,
// variables, sequences) is an error, so documented commands stay literal.
func shellWords(s string) ([]string, error) {
	var (
		words []string
		cur   strings.Builder
		in    bool
		quote rune
	)
	for _, r := range s {
		switch {
		case quote != 0:
			if r == quote {
				quote = 0
			} else {
				cur.WriteRune(r)
			}
		case r == '\'' || r == '"':
			quote, in = r, true
		case r == ' ' || r == '\t':
			if in {
				words = append(words, cur.String())
				cur.Reset()
				in = false
			}
		case strings.ContainsRune("|&;<>$`\\(){}*?", r):
			return nil, fmt.Errorf("%q: shell syntax %q is not allowed in a documented command", s, r)
		default:
			cur.WriteRune(r)
			in = true
		}
	}
	if quote != 0 {
		return nil, fmt.Errorf("%q: unclosed quote", s)
	}
	if in {
		words = append(words, cur.String())
	}
	return words, nil
}

func TestDocCommandsParsing(t *testing.T) {
	dir := t.TempDir()
	doc := filepath.Join(dir, "doc.md")
	text := "intro `mutt backup list` inline\n" +
		"```sh\nmutt backup run --label \"a # b\"   # comment\nsystemctl stop x\n  mutt restore redis latest   # exit 2: refused\n```\n" +
		"```text\nmutt backup schedule install\n```\n" +
		"1. step\n   ```sh\n   mutt backup status\n   ```\n"
	if err := os.WriteFile(doc, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	got := docCommands(t, doc)
	want := []docCommand{
		{line: 3, text: `mutt backup run --label "a # b"`},
		{line: 5, text: "mutt restore redis latest", wantCode: 2},
		{line: 12, text: "mutt backup status"},
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("docCommands = %v, want %v", got, want)
	}
	tests := []struct {
		name    string
		in      string
		want    []string
		wantErr bool
	}{
		{name: "quotes", in: `mutt backup run --label "upgrade to 2.6" --pin`, want: []string{"mutt", "backup", "run", "--label", "upgrade to 2.6", "--pin"}},
		{name: "single quotes", in: `mutt a 'b c'`, want: []string{"mutt", "a", "b c"}},
		{name: "pipe", in: "mutt backup list | head", wantErr: true},
		{name: "variable", in: "mutt backup show $ID", wantErr: true},
		{name: "placeholder left", in: "mutt backup show <set-id>", wantErr: true},
		{name: "unclosed", in: `mutt a "b`, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := shellWords(tt.in)
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, want error %t", err, tt.wantErr)
			}
			if !tt.wantErr && fmt.Sprint(got) != fmt.Sprint(tt.want) {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

// docVaultSecret is MUTT's secret in the fake Vault; none of its values may
// appear in any output.
var docVaultSecret = map[string]any{
	"DB_PASS_CURRENT":    backupTestDBPassword,
	"REDIS_PASS_CURRENT": "redis-pass-never-printed",
	"MOOG_API_KEY":       "moog-key-never-printed",
}

// docHook checks the state around one documented command: before sets up
// the damage the command repairs, after checks it was repaired.
type docHook struct {
	before, after func(t *testing.T)
}

// TestBackupRecoveryDoc runs every command of the backup and recovery guide
// in document order against real PostgreSQL and Redis, a fake Vault, a fake
// S3 bucket and a NAS directory, and checks each exit code.
func TestBackupRecoveryDoc(t *testing.T) {
	cmds := docCommands(t, backupDocPath)
	if len(cmds) < 40 {
		t.Fatalf("found %d commands in %s; the extraction is broken", len(cmds), backupDocPath)
	}
	start := time.Now()
	e := newBackupEnv(t)
	dsn := os.Getenv("DATABASE_URL")
	dropKept(t, dsn)
	_, envFile := configFixture(t)
	ctx := t.Context()
	opts, err := redis.ParseURL(itest.RedisURL())
	if err != nil {
		t.Fatal(err)
	}
	rdb := redis.NewClient(opts)
	t.Cleanup(func() { _ = rdb.Close() })

	// Settings the guide's environment would not set are cleared so that
	// the developer's own cannot leak in.
	for _, c := range []string{"POSTGRES", "PGCONFIG", "REDIS", "CONFIG", "LOGS", "VAULT", "PROMETHEUS", "SQLITE"} {
		t.Setenv("MUTT_BACKUP_RETENTION_"+c, "")
		t.Setenv("MUTT_BACKUP_REMOTE_RETENTION_"+c, "")
		t.Setenv("MUTT_BACKUP_REMOTE_TRANSITION_"+c, "")
	}
	for _, k := range []string{"MUTT_BACKUP_KEEP_MIN", "MUTT_BACKUP_NOTIFY_URL", "MUTT_BACKUP_PG_RESTORE",
		"MUTT_BACKUP_REDIS_SERVER", "MUTT_BACKUP_VAULT_PATHS", "MUTT_BACKUP_VAULT_ROLE_ID", "MUTT_BACKUP_VAULT_SECRET_ID_FILE",
		"MUTT_BACKUP_SIGNING_KEY_FILE", "MUTT_BACKUP_TRUSTED_KEYS_FILE"} {
		t.Setenv(k, "")
	}
	t.Setenv("MUTT_BACKUP_METRICS_FILE", filepath.Join(t.TempDir(), "mutt_backup.prom"))

	nas := "file://" + t.TempDir()
	s3 := remoteTestS3(t)
	t.Setenv("MUTT_BACKUP_REMOTES", s3+","+nas)

	vs := vaulttest.NewServer(t)
	vs.SetSecret("secret/mutt/prod", docVaultSecret)
	vcfg := vs.Config(t.TempDir())
	t.Setenv("VAULT_ADDR", vcfg.Addr)
	t.Setenv("VAULT_ROLE_ID", vcfg.RoleID)
	t.Setenv("VAULT_SECRET_ID_FILE", vcfg.SecretIDFile)
	t.Setenv("VAULT_SECRETS_PATH", vcfg.SecretsPath)
	// The test Redis has no password; naming the user makes it accept the
	// one from Vault (AUTH default <any>), so that password is really sent.
	ru, err := url.Parse(itest.RedisURL())
	if err != nil {
		t.Fatal(err)
	}
	ru.User = url.User("default")
	t.Setenv("REDIS_URL", ru.String())

	// The guide's placeholders and example targets, and what they stand
	// for here.
	placeholders := map[string]func() string{
		"<set-id>":                    func() string { return newestSet(t, e.root) },
		"s3://mutt-backups-prod/mutt": func() string { return s3 },
		"file:///mnt/backup-nas/mutt": func() string { return nas },
		"mutt-prod-01":                hostName,
	}

	breakVault := func(t *testing.T) {
		vs.SetSecret("secret/mutt/prod", map[string]any{"MOOG_API_KEY": "stale"})
	}
	vaultRestored := func(t *testing.T) {
		got, ok := vs.Secret("secret/mutt/prod")
		if !ok || fmt.Sprint(got) != fmt.Sprint(docVaultSecret) {
			t.Errorf("Vault secret after restore: %v keys (ok %t), want the backed-up %d keys", len(got), ok, len(docVaultSecret))
		}
	}
	hooks := map[string]docHook{
		"mutt backup run --profile weekly": {after: func(t *testing.T) {
			m, err := backup.FindSet(e.root, "latest", backup.ComponentVault)
			if err != nil {
				t.Fatalf("no vault set after the weekly run: %v", err)
			}
			if c := m.Component(backup.ComponentVault); c.Counts["keys"] != int64(len(docVaultSecret)) {
				t.Errorf("vault component counts %v, want %d keys", c.Counts, len(docVaultSecret))
			}
		}},
		"mutt restore postgres latest --yes": {
			before: func(t *testing.T) { execSQL(t, dsn, "DELETE FROM device_teams") },
			after: func(t *testing.T) {
				if n := countRows(t, dsn, "device_teams"); n != 11 {
					t.Errorf("device_teams has %d rows after restore, want 11", n)
				}
			},
		},
		"mutt restore redis latest --yes": {
			before: func(t *testing.T) {
				if err := rdb.Del(ctx, e.prefix+":config:answer").Err(); err != nil {
					t.Fatal(err)
				}
			},
			after: func(t *testing.T) {
				if v, err := rdb.Get(ctx, e.prefix+":config:answer").Result(); err != nil || v != "42" {
					t.Errorf("config key after restore: %q, %v", v, err)
				}
			},
		},
		"mutt restore config latest --files mutt.env --yes": {
			before: func(t *testing.T) {
				if err := os.WriteFile(envFile, []byte("DB_HOST=wrong\n"), 0o600); err != nil {
					t.Fatal(err)
				}
			},
			after: func(t *testing.T) {
				if b, err := os.ReadFile(envFile); err != nil || string(b) != "DB_HOST=db\n" {
					t.Errorf("env file after restore: %q, %v", b, err)
				}
			},
		},
		"mutt restore vault latest --yes":             {before: breakVault, after: vaultRestored},
		"mutt restore full latest --with-vault --yes": {before: breakVault, after: vaultRestored},
	}

	ran := 0
	for _, c := range cmds {
		text := c.text
		for p, v := range placeholders {
			if strings.Contains(text, p) {
				text = strings.ReplaceAll(text, p, v())
			}
		}
		args, err := shellWords(text)
		if err != nil {
			t.Fatalf("%s:%d: %v", backupDocPath, c.line, err)
		}
		h := hooks[c.text]
		name := fmt.Sprintf("line %d: %s", c.line, c.text)
		if h.before != nil {
			h.before(t)
		}
		code, out, errOut := runBackupCmd(t, args[1:]...)
		for _, v := range docVaultSecret {
			if s := v.(string); strings.Contains(out, s) || strings.Contains(errOut, s) {
				t.Errorf("%s printed a Vault secret value", name)
			}
		}
		if code != c.wantCode {
			t.Fatalf("%s: exit %d, the guide implies %d\nstdout:\n%s\nstderr:\n%s", name, code, c.wantCode, out, errOut)
		}
		if h.after != nil {
			h.after(t)
		}
		ran++
		delete(hooks, c.text)
	}
	if ran != len(cmds) {
		t.Errorf("ran %d of the guide's %d commands", ran, len(cmds))
	}
	for text := range hooks {
		t.Errorf("hook for %q matches no command of the guide", text)
	}
	t.Logf("ran %d documented commands in %s", ran, time.Since(start).Round(time.Millisecond))
}

// newestSet is the id of the newest set under root that is not a
// pre-restore safety set: "the set just made".
func newestSet(t *testing.T, root string) string {
	t.Helper()
	ms, err := backup.ListManifests(root)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range ms {
		if m.Profile != backup.ProfilePreRestore {
			return m.SetID
		}
	}
	t.Fatal("<set-id>: no backup set yet")
	return ""
}

func execSQL(t *testing.T, dsn, sql string) {
	t.Helper()
	conn, err := pgx.Connect(t.Context(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(t.Context(), sql); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
}

func countRows(t *testing.T, dsn, table string) int {
	t.Helper()
	conn, err := pgx.Connect(t.Context(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	var n int
	if err := conn.QueryRow(t.Context(), "SELECT count(*) FROM "+pgx.Identifier{table}.Sanitize()).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// TestBackupVaultUnconfigured checks the vault wiring without VAULT_ADDR:
// the component is skipped as not configured, and an error when named.
func TestBackupVaultUnconfigured(t *testing.T) {
	newBackupEnv(t)
	t.Setenv("VAULT_ADDR", "")
	t.Setenv("MUTT_BACKUP_REMOTES", "")
	out := mustRun(t, "backup", "run", "--profile", "weekly", "--no-sync")
	if !strings.Contains(out, "vault      skipped: not configured") {
		t.Errorf("weekly run without Vault:\n%s", out)
	}
	code, _, errOut := runBackupCmd(t, "backup", "run", "--components", "vault", "--no-sync")
	if code != exitFailure || !strings.Contains(errOut, "failed: vault") {
		t.Errorf("explicit vault without Vault: exit %d, %s", code, errOut)
	}
}
