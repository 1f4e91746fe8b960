package main

import (
	"context"
	"errors"
	"fmt"

	"github.com/mutt-go/mutt/internal/app"
	"github.com/mutt-go/mutt/internal/backup"
	"github.com/mutt-go/mutt/internal/config"
	"github.com/mutt-go/mutt/internal/secrets/vault"
)

// The Vault client is what the vault component and restore vault need.
var _ backup.VaultKV = (*vault.Client)(nil)

// vaultSettingsHelp documents the Vault settings of backup and restore.
const vaultSettingsHelp = `
Vault (the vault component, restore vault, restore full --with-vault; and the
Redis and PostgreSQL passwords, read as the services read them):
  VAULT_ADDR, VAULT_CACERT, VAULT_SECRETS_PATH   as for the services
  MUTT_BACKUP_VAULT_ROLE_ID          AppRole of the backup identity (default VAULT_ROLE_ID)
  MUTT_BACKUP_VAULT_SECRET_ID_FILE   its secret id file (default VAULT_SECRET_ID_FILE)
  MUTT_BACKUP_VAULT_PATHS            comma list of KV paths to back up (default VAULT_SECRETS_PATH)`

// loadBackupConfig loads the configuration and, when VAULT_ADDR is set,
// takes the Redis and PostgreSQL passwords from Vault as the services do.
// A Vault that cannot give them is reported on stderr and the environment's
// credentials are kept: a Vault outage (or the loss of the secret, which
// restore vault repairs) must not stop backups or restores of the rest.
// The returned function stops the secret refresh; it is never nil.
func (g *globalOptions) loadBackupConfig(ctx context.Context) (config.Config, func(), error) {
	cfg, err := g.loadConfig()
	if err != nil {
		return cfg, func() {}, err
	}
	resolved := cfg
	stop, err := app.ResolveSecrets(ctx, &resolved, g.logger(cfg))
	if err != nil {
		fmt.Fprintf(g.stderr, "mutt: warning: %v; using the credentials of the environment\n", err)
		return cfg, func() {}, nil
	}
	return resolved, stop, nil
}

// backupVaultConfig is the Vault client configuration of backup and
// restore: the services' address and CA with the backup identity.
func backupVaultConfig(s backup.Settings, v config.Vault) vault.Config {
	c := vault.Config{
		Addr: v.Addr, RoleID: v.RoleID, SecretIDFile: v.SecretIDFile, SecretsPath: v.SecretsPath,
		RenewThreshold: v.RenewThreshold, CheckInterval: v.CheckInterval, CACertPath: v.CACertPath,
	}
	if s.VaultRoleID != "" {
		c.RoleID = s.VaultRoleID
	}
	if s.VaultSecretIDFile != "" {
		c.SecretIDFile = s.VaultSecretIDFile
	}
	return c
}

// backupVaultPaths returns MUTT_BACKUP_VAULT_PATHS, or the services'
// secret path when it is unset.
func backupVaultPaths(s backup.Settings, v config.Vault) []string {
	var out []string
	for _, p := range s.VaultPaths {
		if p = vault.KVPath(p); p != "" {
			out = append(out, p)
		}
	}
	if len(out) == 0 {
		if p := vault.KVPath(v.SecretsPath); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// vaultNotFound recognises the error of a missing secret.
func vaultNotFound(err error) bool { return errors.Is(err, vault.ErrNotFound) }

// loginBackupVault logs in to Vault with the backup identity. Without
// VAULT_ADDR it returns a usage error naming the setting.
func loginBackupVault(ctx context.Context, g *globalOptions, s backup.Settings, cfg config.Config) (backup.VaultKV, error) {
	if !cfg.Vault.Enabled() {
		return nil, usageError{errors.New("VAULT_ADDR is not set: the Vault of MUTT's secrets must be configured (VAULT_ADDR, MUTT_BACKUP_VAULT_ROLE_ID, MUTT_BACKUP_VAULT_SECRET_ID_FILE)")}
	}
	c, err := vault.Login(ctx, backupVaultConfig(s, cfg.Vault), g.logger(cfg).With("component", "vault"))
	if err != nil {
		return nil, fmt.Errorf("connecting to Vault for the backup: %w", err)
	}
	return c, nil
}

// addVaultSource gives a run that includes the vault component its client
// and paths. Without VAULT_ADDR the component stays unconfigured (skipped);
// a failed login marks it failed and the other components still run.
func addVaultSource(ctx context.Context, g *globalOptions, s backup.Settings, cfg config.Config, opts *backup.RunOptions) {
	if !cfg.Vault.Enabled() {
		return
	}
	kv, err := loginBackupVault(ctx, g, s, cfg)
	if err != nil {
		opts.Unreachable[backup.ComponentVault] = err
		return
	}
	opts.Vault, opts.VaultPaths = kv, backupVaultPaths(s, cfg.Vault)
}
