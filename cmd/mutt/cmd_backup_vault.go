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

// vaultNotFound recognises the error of a missing secret.
func vaultNotFound(err error) bool { return errors.Is(err, vault.ErrNotFound) }

// loginBackupVault logs in to Vault with the backup identity. Without
// VAULT_ADDR it returns a usage error naming the setting.
func loginBackupVault(ctx context.Context, g *globalOptions, s backup.Settings, cfg config.Config) (backup.VaultKV, error) {
	kv, err := app.LoginBackupVault(ctx, s, cfg, g.logger(cfg))
	if errors.Is(err, app.ErrNoBackupVault) {
		return nil, usageError{err}
	}
	return kv, err
}
