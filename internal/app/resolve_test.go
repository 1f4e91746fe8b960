package app

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mutt-go/mutt/internal/config"
	"github.com/mutt-go/mutt/internal/itest"
	"github.com/mutt-go/mutt/internal/secrets/vaulttest"
)

func vaultConfig(t *testing.T, srv *vaulttest.Server) config.Config {
	t.Helper()
	cfg := config.Default()
	cfg.Vault.Addr = srv.Addr()
	cfg.Vault.RoleID = srv.RoleID()
	cfg.Vault.SecretIDFile = srv.WriteSecretIDFile(t.TempDir())
	cfg.Vault.SecretsPath = "secret/mutt/prod"
	cfg.Vault.CheckInterval = 10 * time.Millisecond
	return cfg
}

func resolve(t *testing.T, cfg *config.Config) (*itest.Buffer, error) {
	t.Helper()
	logger, logs := testLogger()
	stop, err := ResolveSecrets(context.Background(), cfg, logger)
	if err == nil {
		t.Cleanup(stop)
	}
	return logs, err
}

func TestResolveSecretsFromVault(t *testing.T) {
	srv := vaulttest.NewServer(t)
	srv.SetSecret("mutt/prod", map[string]any{
		"DB_USER": "mutt_app", "DB_PASS_CURRENT": "db-cur-hunter2", "DB_PASS_NEXT": "db-next-hunter2",
		"REDIS_PASS": "redis-legacy-hunter2", "REDIS_PASS_NEXT": "redis-next-hunter2",
		"INGEST_API_KEY": "ingest-hunter2", "MOOG_API_KEY": "moog-hunter2", "WEBUI_API_KEY": "webui-hunter2",
	})
	cfg := vaultConfig(t, srv)
	logs, err := resolve(t, &cfg)
	if err != nil {
		t.Fatalf("ResolveSecrets: %v", err)
	}
	checks := []struct{ name, got, want string }{
		{"DB_USER", cfg.Postgres.User, "mutt_app"},
		{"DB current", cfg.Postgres.Password.Reveal(), "db-cur-hunter2"},
		{"DB next", cfg.Postgres.PasswordNext.Reveal(), "db-next-hunter2"},
		{"Redis current from legacy REDIS_PASS", cfg.Redis.Password.Reveal(), "redis-legacy-hunter2"},
		{"Redis next", cfg.Redis.PasswordNext.Reveal(), "redis-next-hunter2"},
		{"ingest key", cfg.Ingest.APIKey.Reveal(), "ingest-hunter2"},
		{"moog key", cfg.Forwarder.APIKey.Reveal(), "moog-hunter2"},
		{"web key", cfg.Web.APIKey.Reveal(), "webui-hunter2"},
		{"live Redis pair", cfg.Redis.Credentials.Current().Reveal(), "redis-legacy-hunter2"},
		{"live DB pair", cfg.Postgres.Credentials.Next().Reveal(), "db-next-hunter2"},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s = %q, want %q", c.name, c.got, c.want)
		}
	}

	// A rotation in Vault reaches the live pairs at the next check.
	srv.SetSecret("mutt/prod", map[string]any{
		"DB_PASS_CURRENT": "db-next-hunter2", "REDIS_PASS_CURRENT": "redis-next-hunter2",
		"REDIS_PASS_NEXT": "redis-fresh-hunter2",
	})
	itest.Eventually(t, 5*time.Second, "rotated passwords installed", func() bool {
		return cfg.Redis.Credentials.Current().Reveal() == "redis-next-hunter2" &&
			cfg.Redis.Credentials.Next().Reveal() == "redis-fresh-hunter2" &&
			cfg.Postgres.Credentials.Current().Reveal() == "db-next-hunter2"
	})
	if strings.Contains(logs.String(), "hunter2") {
		t.Errorf("logs reveal a secret: %s", logs.String())
	}
}

func TestResolveSecretsRefreshesOnRefusal(t *testing.T) {
	srv := vaulttest.NewServer(t)
	srv.SetSecret("mutt/prod", map[string]any{"DB_PASS_CURRENT": "d", "REDIS_PASS_CURRENT": "old"})
	cfg := vaultConfig(t, srv)
	cfg.Vault.CheckInterval = time.Hour
	if _, err := resolve(t, &cfg); err != nil {
		t.Fatal(err)
	}
	srv.SetSecret("mutt/prod", map[string]any{"DB_PASS_CURRENT": "d", "REDIS_PASS_CURRENT": "new"})
	cfg.Redis.Credentials.RequestRefresh() // what a dialer does when both passwords are refused
	itest.Eventually(t, 5*time.Second, "re-read on request", func() bool {
		return cfg.Redis.Credentials.Current().Reveal() == "new"
	})
}

func TestResolveSecretsFailsClearly(t *testing.T) {
	full := map[string]any{"DB_PASS_CURRENT": "d", "REDIS_PASS_CURRENT": "r"}
	tests := []struct {
		name   string
		secret map[string]any // nil: no secret stored
		tweak  func(*config.Config)
		want   string // "" means success
	}{
		{"complete", full, nil, ""},
		{"only NEXT passwords", map[string]any{"DB_PASS_NEXT": "d", "REDIS_PASS_NEXT": "r"}, nil, ""},
		{"no role id", full, func(c *config.Config) { c.Vault.RoleID = "" }, "VAULT_ROLE_ID"},
		{"missing secret id file", full, func(c *config.Config) {
			c.Vault.SecretIDFile = filepath.Join(t.TempDir(), "nope")
		}, "VAULT_SECRET_ID_FILE"},
		{"no Redis password", map[string]any{"DB_PASS_CURRENT": "d"}, nil, "REDIS_PASS_NEXT"},
		{"no DB password", map[string]any{"REDIS_PASS_CURRENT": "r"}, nil, "DB_PASS_NEXT"},
		{"no secret at the path", nil, nil, "VAULT_SECRETS_PATH"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := vaulttest.NewServer(t)
			if tt.secret != nil {
				srv.SetSecret("mutt/prod", tt.secret)
			}
			cfg := vaultConfig(t, srv)
			if tt.tweak != nil {
				tt.tweak(&cfg)
			}
			_, err := resolve(t, &cfg)
			if tt.want == "" {
				if err != nil {
					t.Fatalf("ResolveSecrets: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want mention of %s", err, tt.want)
			}
			var fe *config.FieldError
			if errors.As(err, &fe) {
				t.Error("a start failure must not be a configuration error (exit 1, not 2)")
			}
		})
	}
}

func TestResolveSecretsWithoutVaultChangesNothing(t *testing.T) {
	cfg := config.Default()
	before := cfg
	stop, err := ResolveSecrets(context.Background(), &cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	stop()
	stop()
	if cfg.Redis.Credentials != nil || cfg.Postgres.User != before.Postgres.User {
		t.Error("ResolveSecrets changed the configuration without Vault")
	}
}

// TestRotationProcedureWithVaultAndRedis runs the documented zero-downtime
// procedure against the real Redis with the fake Vault, without restarting
// the client.
func TestRotationProcedureWithVaultAndRedis(t *testing.T) {
	admin, prefix := itest.Redis(t)
	ctx := context.Background()
	pwA, pwB, pwC := itest.RandomName("pwA-"), itest.RandomName("pwB-"), itest.RandomName("pwC-")
	user := aclUser(t, admin, prefix, pwA)
	srv := vaulttest.NewServer(t)
	srv.SetSecret("mutt/prod", map[string]any{"DB_PASS_CURRENT": "d", "REDIS_PASS_CURRENT": pwA, "REDIS_PASS_NEXT": pwB})
	cfg := vaultConfig(t, srv)
	rc := redisConfigFor(t, user, "", "")
	cfg.Redis.URL, cfg.Redis.MaxConnections = rc.URL, rc.MaxConnections
	logs, err := resolve(t, &cfg)
	if err != nil {
		t.Fatal(err)
	}
	logger, _ := testLogger()
	client, err := ConnectRedis(ctx, cfg.Redis, logger)
	if err != nil {
		t.Fatalf("ConnectRedis: %v", err)
	}
	defer client.Close()
	key := prefix + ":n"
	use := func(step string) {
		t.Helper()
		if err := client.Incr(ctx, key).Err(); err != nil {
			t.Fatalf("%s: %v", step, err)
		}
	}
	use("start")
	// Step 2: the store accepts both.
	setOnlyPassword(t, admin, user, pwA, pwB)
	use("both accepted")
	// Step 3: promote in Vault, with a fresh NEXT.
	srv.SetSecret("mutt/prod", map[string]any{"DB_PASS_CURRENT": "d", "REDIS_PASS_CURRENT": pwB, "REDIS_PASS_NEXT": pwC})
	itest.Eventually(t, 5*time.Second, "promotion read from Vault", func() bool {
		return cfg.Redis.Credentials.Current().Reveal() == pwB
	})
	// Step 5: the old password goes; connections are dropped.
	setOnlyPassword(t, admin, user, pwB)
	use("old password removed")
	// The next rotation reaches the store before Vault is re-read.
	setOnlyPassword(t, admin, user, pwC)
	use("store ahead of Vault")
	for _, pw := range []string{pwA, pwB, pwC} {
		if strings.Contains(logs.String(), pw) {
			t.Error("a password leaked into the logs")
		}
	}
}
