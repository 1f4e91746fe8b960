package app

import (
	"context"
	"fmt"
	"log/slog"
	"sync"

	"github.com/mutt-go/mutt/internal/config"
	"github.com/mutt-go/mutt/internal/secrets"
	"github.com/mutt-go/mutt/internal/secrets/vault"
)

// ResolveSecrets fills cfg's credentials from Vault when VAULT_ADDR is set:
// it logs in with AppRole, reads the KV secret at VAULT_SECRETS_PATH, and
// sets the Redis and PostgreSQL passwords (CURRENT, else the legacy single
// password, and NEXT), DB_USER and the API keys, each taking precedence
// over the environment. It fails when Vault is configured but cannot be
// used, or when neither a CURRENT nor a NEXT password is known for Redis
// or for PostgreSQL.
//
// It then installs live password pairs as cfg.Redis.Credentials and
// cfg.Postgres.Credentials and starts a background loop that keeps the
// token alive and re-reads the secret every VAULT_RENEW_CHECK_INTERVAL,
// or at once when a store refuses both passwords, so that rotated
// passwords reach new connections without a restart. API keys are read
// once. stop ends the loop and waits for it; it is safe to call twice.
//
// Without VAULT_ADDR it changes nothing and stop does nothing.
func ResolveSecrets(ctx context.Context, cfg *config.Config, logger *slog.Logger) (stop func(), err error) {
	if !cfg.Vault.Enabled() {
		return func() {}, nil
	}
	v := cfg.Vault
	logger = logger.With("component", "vault")
	client, err := vault.Login(ctx, vault.Config{
		Addr: v.Addr, RoleID: v.RoleID, SecretIDFile: v.SecretIDFile, SecretsPath: v.SecretsPath,
		RenewThreshold: v.RenewThreshold, CheckInterval: v.CheckInterval, CACertPath: v.CACertPath,
	}, logger)
	if err != nil {
		return nil, fmt.Errorf("reading secrets from Vault: %w", err)
	}
	data, err := client.ReadSecrets(ctx)
	if err != nil {
		return nil, fmt.Errorf("reading secrets from Vault: %w", err)
	}
	applyVaultSecrets(cfg, data)
	where := vault.Mount + "/" + vault.KVPath(v.SecretsPath)
	if !cfg.Redis.Password.IsSet() && !cfg.Redis.PasswordNext.IsSet() {
		return nil, fmt.Errorf("no Redis password: Vault secret %s has neither REDIS_PASS_CURRENT (or REDIS_PASS) nor REDIS_PASS_NEXT", where)
	}
	if !cfg.Postgres.Password.IsSet() && !cfg.Postgres.PasswordNext.IsSet() {
		return nil, fmt.Errorf("no PostgreSQL password: Vault secret %s has neither DB_PASS_CURRENT (or DB_PASS) nor DB_PASS_NEXT", where)
	}
	redisPair := secrets.NewPair(cfg.Redis.Password, cfg.Redis.PasswordNext)
	pgPair := secrets.NewPair(cfg.Postgres.Password, cfg.Postgres.PasswordNext)
	cfg.Redis.Credentials, cfg.Postgres.Credentials = redisPair, pgPair
	logger.Info("secrets read from Vault", "path", where, "keys", len(data))

	runCtx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-runCtx.Done():
				return
			case <-redisPair.RefreshRequests():
				client.Refresh()
			case <-pgPair.RefreshRequests():
				client.Refresh()
			}
		}
	}()
	go func() {
		defer wg.Done()
		_ = client.Run(runCtx, func(data map[string]secrets.Secret) {
			updatePair(redisPair, data, "Redis", "REDIS_PASS", logger)
			updatePair(pgPair, data, "PostgreSQL", "DB_PASS", logger)
		})
	}()
	return sync.OnceFunc(func() { cancel(); wg.Wait() }), nil
}

// first returns the first of names set in data.
func first(data map[string]secrets.Secret, names ...string) (secrets.Secret, bool) {
	for _, n := range names {
		if s, ok := data[n]; ok && s.IsSet() {
			return s, true
		}
	}
	return secrets.Secret{}, false
}

// applyVaultSecrets copies the keys of MUTT's Vault secret into cfg;
// values absent from Vault keep what the environment gave.
func applyVaultSecrets(cfg *config.Config, data map[string]secrets.Secret) {
	set := func(dst *secrets.Secret, names ...string) {
		if s, ok := first(data, names...); ok {
			*dst = s
		}
	}
	if s, ok := first(data, "DB_USER"); ok {
		cfg.Postgres.User = s.Reveal()
	}
	set(&cfg.Postgres.Password, "DB_PASS_CURRENT", "DB_PASS")
	set(&cfg.Postgres.PasswordNext, "DB_PASS_NEXT")
	set(&cfg.Redis.Password, "REDIS_PASS_CURRENT", "REDIS_PASS")
	set(&cfg.Redis.PasswordNext, "REDIS_PASS_NEXT")
	set(&cfg.Ingest.APIKey, "INGEST_API_KEY")
	set(&cfg.Ingest.APIKeyNext, "INGEST_API_KEY_NEXT")
	set(&cfg.Forwarder.APIKey, "MOOG_API_KEY")
	set(&cfg.Web.APIKey, "WEBUI_API_KEY")
	set(&cfg.Web.APIKeyNext, "WEBUI_API_KEY_NEXT")
}

// updatePair installs a re-read password pair. A secret that lost both
// passwords is ignored (with an error log) rather than leaving the store
// without credentials.
func updatePair(p *secrets.Pair, data map[string]secrets.Secret, store, prefix string, logger *slog.Logger) {
	current, _ := first(data, prefix+"_CURRENT", prefix)
	next, _ := first(data, prefix+"_NEXT")
	if !current.IsSet() && !next.IsSet() {
		logger.Error("Vault secret no longer holds a password; keeping the previous ones", "store", store,
			"keys", prefix+"_CURRENT, "+prefix+"_NEXT")
		return
	}
	if current == p.Current() && next == p.Next() {
		return
	}
	p.Set(current, next)
	logger.Info("password pair changed in Vault; new connections use it", "store", store)
}
