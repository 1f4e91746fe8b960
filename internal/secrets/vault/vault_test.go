package vault_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mutt-go/mutt/internal/itest"
	"github.com/mutt-go/mutt/internal/secrets"
	"github.com/mutt-go/mutt/internal/secrets/vault"
	"github.com/mutt-go/mutt/internal/secrets/vaulttest"
)

// logSink collects log output safely across goroutines.
type logSink struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *logSink) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *logSink) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

func newLogger() (*slog.Logger, *logSink) {
	sink := &logSink{}
	return slog.New(slog.NewJSONHandler(sink, &slog.HandlerOptions{Level: slog.LevelDebug})), sink
}

func prodSecret(redisPass string) map[string]any {
	return map[string]any{
		"DB_USER": "mutt_app", "DB_PASS_CURRENT": "db-current-hunter2", "DB_PASS_NEXT": "db-next-hunter2",
		"REDIS_PASS_CURRENT": redisPass, "REDIS_PASS_NEXT": "redis-next-hunter2",
		"WEBUI_API_KEY": "webui-hunter2", "VERSION": float64(3),
	}
}

func login(t *testing.T, srv *vaulttest.Server, tweak func(*vault.Config)) (*vault.Client, *logSink) {
	t.Helper()
	cfg := srv.Config(t.TempDir())
	if tweak != nil {
		tweak(&cfg)
	}
	logger, sink := newLogger()
	c, err := vault.Login(context.Background(), cfg, logger)
	if err != nil {
		t.Fatalf("Login: %v", err)
	}
	return c, sink
}

func TestLoginAndReadSecrets(t *testing.T) {
	srv := vaulttest.NewServer(t)
	srv.SetSecret("mutt/prod", prodSecret("redis-current-hunter2"))
	c, _ := login(t, srv, nil)
	got, err := c.ReadSecrets(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if got["REDIS_PASS_CURRENT"].Reveal() != "redis-current-hunter2" || got["DB_USER"].Reveal() != "mutt_app" {
		t.Errorf("ReadSecrets = %v", got)
	}
	if got["VERSION"].Reveal() != "3" {
		t.Errorf("number kept as %q, want 3", got["VERSION"].Reveal())
	}
	if srv.Count(vaulttest.Login) != 1 || srv.Count(vaulttest.Read) != 1 {
		t.Errorf("logins %d, reads %d; want 1 and 1", srv.Count(vaulttest.Login), srv.Count(vaulttest.Read))
	}
}

func TestSecretsPathIsFixed(t *testing.T) {
	tests := []struct {
		raw  string
		want string
	}{
		{"secret/mutt/prod", "mutt/prod"},
		{"mutt/prod", "mutt/prod"},
		{"secret/data/mutt/prod", "mutt/prod"},
		{"/secret/mutt/prod/", "mutt/prod"},
		{"mutt/dev", "mutt/dev"},
	}
	srv := vaulttest.NewServer(t)
	srv.SetSecret("mutt/prod", prodSecret("x"))
	srv.SetSecret("mutt/dev", prodSecret("y"))
	for _, tt := range tests {
		t.Run(tt.raw, func(t *testing.T) {
			if got := vault.KVPath(tt.raw); got != tt.want {
				t.Errorf("KVPath(%q) = %q, want %q", tt.raw, got, tt.want)
			}
			c, _ := login(t, srv, func(c *vault.Config) { c.SecretsPath = tt.raw })
			if _, err := c.ReadSecrets(context.Background()); err != nil {
				t.Fatal(err)
			}
			paths := srv.Paths()
			if last := paths[len(paths)-1]; last != "/v1/secret/data/"+tt.want {
				t.Errorf("requested %s, want /v1/secret/data/%s", last, tt.want)
			}
		})
	}
}

func TestLoginConfigErrors(t *testing.T) {
	srv := vaulttest.NewServer(t)
	dir := t.TempDir()
	good := srv.Config(dir)
	empty := filepath.Join(dir, "empty")
	if err := os.WriteFile(empty, []byte(" \n"), 0o600); err != nil {
		t.Fatal(err)
	}
	wrong := filepath.Join(dir, "wrong")
	if err := os.WriteFile(wrong, []byte("wrong-hunter2"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name  string
		tweak func(*vault.Config)
		want  string
	}{
		{"no addr", func(c *vault.Config) { c.Addr = "" }, "VAULT_ADDR"},
		{"bad addr", func(c *vault.Config) { c.Addr = "vault:8200" }, "VAULT_ADDR"},
		{"no role id", func(c *vault.Config) { c.RoleID = "" }, "VAULT_ROLE_ID"},
		{"no secret id file", func(c *vault.Config) { c.SecretIDFile = "" }, "VAULT_SECRET_ID_FILE"},
		{"missing secret id file", func(c *vault.Config) { c.SecretIDFile = filepath.Join(dir, "nope") }, "VAULT_SECRET_ID_FILE"},
		{"empty secret id file", func(c *vault.Config) { c.SecretIDFile = empty }, "VAULT_SECRET_ID_FILE"},
		{"wrong secret id", func(c *vault.Config) { c.SecretIDFile = wrong }, "invalid role or secret ID"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := good
			tt.tweak(&cfg)
			logger, sink := newLogger()
			_, err := vault.Login(context.Background(), cfg, logger)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want mention of %q", err, tt.want)
			}
			for _, out := range []string{err.Error(), sink.String()} {
				if strings.Contains(out, "hunter2") || strings.Contains(out, srv.SecretID()) {
					t.Errorf("a secret leaked: %s", out)
				}
			}
		})
	}
}

func TestReadMissingSecret(t *testing.T) {
	srv := vaulttest.NewServer(t)
	c, _ := login(t, srv, nil)
	_, err := c.ReadSecrets(context.Background())
	if !errors.Is(err, vault.ErrNotFound) || !strings.Contains(err.Error(), "VAULT_SECRETS_PATH") {
		t.Errorf("err = %v, want ErrNotFound naming VAULT_SECRETS_PATH", err)
	}
}

func TestWriteListReadKV(t *testing.T) {
	srv := vaulttest.NewServer(t)
	c, _ := login(t, srv, nil)
	ctx := context.Background()
	for _, p := range []string{"mutt/prod", "mutt/dev", "mutt/extra/one"} {
		if err := c.WriteKV(ctx, p, map[string]any{"K": "v-" + p}); err != nil {
			t.Fatal(err)
		}
	}
	keys, err := c.ListKV(ctx, "secret/mutt")
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(keys, ",") != "dev,extra/,prod" {
		t.Errorf("ListKV = %v, want [dev extra/ prod]", keys)
	}
	got, err := c.ReadKV(ctx, "secret/mutt/extra/one")
	if err != nil {
		t.Fatal(err)
	}
	if got["K"] != "v-mutt/extra/one" {
		t.Errorf("ReadKV = %v", got)
	}
	if keys, err := c.ListKV(ctx, "nothing/here"); err != nil || len(keys) != 0 {
		t.Errorf("ListKV of a missing folder = %v, %v; want no keys, no error", keys, err)
	}
}

func TestExpiredTokenLogsInAgain(t *testing.T) {
	srv := vaulttest.NewServer(t)
	srv.SetSecret("mutt/prod", prodSecret("p"))
	c, _ := login(t, srv, nil)
	srv.RevokeTokens()
	if _, err := c.ReadSecrets(context.Background()); err != nil {
		t.Fatalf("read after the token was revoked: %v", err)
	}
	if n := srv.Count(vaulttest.Login); n != 2 {
		t.Errorf("logins = %d, want 2", n)
	}
}

// runClient starts Run and returns a function giving the last secrets seen.
func runClient(t *testing.T, c *vault.Client) func() map[string]secrets.Secret {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	var mu sync.Mutex
	var last map[string]secrets.Secret
	done := make(chan error, 1)
	go func() {
		done <- c.Run(ctx, func(s map[string]secrets.Secret) {
			mu.Lock()
			last = s
			mu.Unlock()
		})
	}()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
	return func() map[string]secrets.Secret {
		mu.Lock()
		defer mu.Unlock()
		return last
	}
}

func fast(c *vault.Config) {
	c.CheckInterval = 10 * time.Millisecond
	c.RenewThreshold = time.Hour
}

func TestRunRenewsToken(t *testing.T) {
	srv := vaulttest.NewServer(t)
	srv.SetSecret("mutt/prod", prodSecret("p"))
	srv.SetTokenPolicy(30*time.Minute, 72*time.Hour, true)
	c, sink := login(t, srv, fast)
	runClient(t, c)
	itest.Eventually(t, 5*time.Second, "token renewed", func() bool { return srv.Count(vaulttest.Renew) >= 2 })
	if n := srv.Count(vaulttest.Login); n != 1 {
		t.Errorf("logins = %d, want 1 (renewal should keep the token)", n)
	}
	if !strings.Contains(sink.String(), "renewed the Vault token") {
		t.Error("renewal not logged")
	}
}

func TestRunLogsInAgainAtMaxTTL(t *testing.T) {
	srv := vaulttest.NewServer(t)
	srv.SetSecret("mutt/prod", prodSecret("p"))
	srv.SetTokenPolicy(30*time.Minute, 45*time.Minute, true)
	c, _ := login(t, srv, fast)
	runClient(t, c)
	itest.Eventually(t, 5*time.Second, "token renewed", func() bool { return srv.Count(vaulttest.Renew) >= 1 })
	if n := srv.Count(vaulttest.Login); n != 1 {
		t.Fatalf("logins = %d before the max TTL, want 1", n)
	}
	// 20 minutes on, a renewal can only reach the 45 minute maximum.
	srv.Advance(20 * time.Minute)
	itest.Eventually(t, 5*time.Second, "new login at max TTL", func() bool { return srv.Count(vaulttest.Login) >= 2 })
}

func TestRunLogsInAgainWhenNotRenewable(t *testing.T) {
	srv := vaulttest.NewServer(t)
	srv.SetSecret("mutt/prod", prodSecret("p"))
	srv.SetTokenPolicy(30*time.Minute, 72*time.Hour, false)
	c, _ := login(t, srv, fast)
	runClient(t, c)
	itest.Eventually(t, 5*time.Second, "new login", func() bool { return srv.Count(vaulttest.Login) >= 2 })
	if n := srv.Count(vaulttest.Renew); n != 0 {
		t.Errorf("renew-self called %d times on a non-renewable token", n)
	}
}

func TestRunRereadsRotatedSecret(t *testing.T) {
	srv := vaulttest.NewServer(t)
	srv.SetSecret("mutt/prod", prodSecret("old-hunter2"))
	c, sink := login(t, srv, fast)
	last := runClient(t, c)
	itest.Eventually(t, 5*time.Second, "first periodic read", func() bool { return last() != nil })
	srv.SetSecret("mutt/prod", prodSecret("rotated-hunter2"))
	itest.Eventually(t, 5*time.Second, "rotated password read", func() bool {
		return last()["REDIS_PASS_CURRENT"].Reveal() == "rotated-hunter2"
	})
	if strings.Contains(sink.String(), "hunter2") || strings.Contains(sink.String(), "hvs.") {
		t.Errorf("logs reveal a secret or token: %s", sink.String())
	}
}

func TestRefreshRereadsAtOnce(t *testing.T) {
	srv := vaulttest.NewServer(t)
	srv.SetSecret("mutt/prod", prodSecret("old"))
	c, _ := login(t, srv, func(c *vault.Config) { c.CheckInterval = time.Hour })
	last := runClient(t, c)
	srv.SetSecret("mutt/prod", prodSecret("new"))
	c.Refresh()
	itest.Eventually(t, 5*time.Second, "refresh read", func() bool {
		return last()["REDIS_PASS_CURRENT"].Reveal() == "new"
	})
}

func TestRunLogsFailuresWithoutSecrets(t *testing.T) {
	srv := vaulttest.NewServer(t)
	srv.SetSecret("mutt/prod", prodSecret("p-hunter2"))
	c, sink := login(t, srv, func(c *vault.Config) {
		fast(c)
		c.SecretsPath = "mutt/missing"
	})
	runClient(t, c)
	itest.Eventually(t, 5*time.Second, "failed read logged", func() bool {
		return strings.Contains(sink.String(), "re-reading secrets from Vault")
	})
	out := sink.String()
	if strings.Contains(out, "hunter2") || strings.Contains(out, "hvs.") || strings.Contains(out, srv.SecretID()) {
		t.Errorf("logs reveal a secret: %s", out)
	}
}

// TestNoRedirectToAnotherHost points the client at an address that
// redirects every request to another host: following it would hand that
// host the AppRole secret id (a 307 repeats the body) or the token.
func TestNoRedirectToAnotherHost(t *testing.T) {
	srv := vaulttest.NewServer(t)
	var reached atomic.Bool
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		reached.Store(true)
		w.WriteHeader(http.StatusNotFound)
	}))
	defer other.Close()
	redirector := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, other.URL+r.URL.Path, http.StatusTemporaryRedirect)
	}))
	defer redirector.Close()
	cfg := srv.Config(t.TempDir())
	cfg.Addr = redirector.URL
	_, err := vault.Login(context.Background(), cfg, slog.New(slog.DiscardHandler))
	if err == nil || !strings.Contains(err.Error(), "refusing a redirect") {
		t.Errorf("Login through a redirect to another host: %v", err)
	}
	if reached.Load() {
		t.Error("the request was sent on to the other host")
	}
}
