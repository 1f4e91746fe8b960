package app

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"slices"
	"strings"

	"github.com/mutt-go/mutt/internal/backup"
	"github.com/mutt-go/mutt/internal/config"
	"github.com/mutt-go/mutt/internal/secrets/vault"
	"github.com/mutt-go/mutt/internal/store"
)

// BackupSources gives a backup run the sources of the components in names
// from the configuration and the backup settings s: the PostgreSQL dump
// and base backup options (and the schema version), the Redis client, the
// embedded database file, the configuration paths, the Vault client and
// paths, the Prometheus and the log directory. A source that cannot be
// reached is recorded in opts.Unreachable, so that its component fails and
// the others still run; lesser problems are written to warn. The returned
// function closes what it opened.
func BackupSources(ctx context.Context, s backup.Settings, cfg config.Config, names []string, opts *backup.RunOptions, logger *slog.Logger, warn io.Writer) func() {
	var closers []func() error
	closeAll := func() {
		for _, c := range closers {
			_ = c()
		}
	}
	if opts.Unreachable == nil {
		opts.Unreachable = map[string]error{}
	}
	if slices.Contains(names, backup.ComponentPostgres) || slices.Contains(names, backup.ComponentPgConfig) {
		opts.Postgres = &backup.PostgresDumpOptions{DatabaseURL: BackupDatabaseURL(cfg.Postgres), PgDump: s.PgDump}
		pool, err := ConnectPostgres(ctx, cfg.Postgres, logger)
		if err != nil {
			opts.Unreachable[backup.ComponentPostgres] = err
			opts.Unreachable[backup.ComponentPgConfig] = err
		} else {
			opts.SchemaVersion, err = store.SchemaVersion(ctx, pool)
			pool.Close()
			if err != nil {
				fmt.Fprintf(warn, "mutt: reading the schema version: %v\n", err)
			}
		}
	}
	if slices.Contains(names, backup.ComponentPgBase) {
		opts.PgBase = &backup.PgBaseOptions{DatabaseURL: BackupDatabaseURL(cfg.Postgres), PgBaseBackup: s.PgBaseBackup}
	}
	if slices.Contains(names, backup.ComponentRedis) {
		rdb, err := ConnectRedis(ctx, cfg.Redis, logger)
		if err != nil {
			opts.Unreachable[backup.ComponentRedis] = err
		} else {
			closers = append(closers, rdb.Close)
			opts.Redis = rdb
		}
	}
	if slices.Contains(names, backup.ComponentSQLite) {
		opts.SQLite = &backup.SQLiteSource{DatabaseFile: cfg.Storage.DatabaseFile()}
	}
	if slices.Contains(names, backup.ComponentConfig) {
		src := &backup.ConfigSource{Paths: s.ConfigPaths, Prefix: cfg.Keys.ConfigPrefix}
		// The embedded mode has no Redis to read the dynamic
		// configuration from.
		if opts.Redis == nil && opts.Storage != backup.StorageEmbedded {
			if rdb, err := ConnectRedis(ctx, cfg.Redis, logger); err != nil {
				fmt.Fprintf(warn, "mutt: the config backup goes without the dynamic configuration: %v\n", err)
			} else {
				src.Redis = rdb
				closers = append(closers, rdb.Close)
			}
		}
		opts.Config = src
	}
	if slices.Contains(names, backup.ComponentVault) && cfg.Vault.Enabled() {
		// Without VAULT_ADDR the component stays unconfigured (skipped).
		kv, err := LoginBackupVault(ctx, s, cfg, logger)
		if err != nil {
			opts.Unreachable[backup.ComponentVault] = err
		} else {
			opts.Vault, opts.VaultPaths = kv, BackupVaultPaths(s, cfg.Vault)
		}
	}
	if slices.Contains(names, backup.ComponentPrometheus) {
		opts.Prometheus = s.PrometheusSource()
	}
	if slices.Contains(names, backup.ComponentLogs) {
		opts.LogDir = s.LogSource()
	}
	return closeAll
}

// BackupDatabaseURL is the connection string pg_dump gets: the configured
// URL or fields, with the password filled in from its separate setting.
func BackupDatabaseURL(pg config.Postgres) string {
	pw := pg.Password.Reveal()
	if raw := pg.URL.Reveal(); raw != "" {
		if pw == "" {
			return raw
		}
		u, err := url.Parse(raw)
		if err != nil || u.User == nil {
			return raw
		}
		if _, has := u.User.Password(); has {
			return raw
		}
		u.User = url.UserPassword(u.User.Username(), pw)
		return u.String()
	}
	kv := keywordDSN(pg)
	if pw != "" {
		kv = append(kv, "password="+quoteDSN(pw))
	}
	return strings.Join(kv, " ")
}

// ErrNoBackupVault is LoginBackupVault's error without VAULT_ADDR.
var ErrNoBackupVault = errors.New("VAULT_ADDR is not set: the Vault of MUTT's secrets must be configured (VAULT_ADDR, MUTT_BACKUP_VAULT_ROLE_ID, MUTT_BACKUP_VAULT_SECRET_ID_FILE)")

// LoginBackupVault logs in to Vault with the backup identity; without
// VAULT_ADDR it returns ErrNoBackupVault.
func LoginBackupVault(ctx context.Context, s backup.Settings, cfg config.Config, logger *slog.Logger) (backup.VaultKV, error) {
	if !cfg.Vault.Enabled() {
		return nil, ErrNoBackupVault
	}
	c, err := vault.Login(ctx, BackupVaultConfig(s, cfg.Vault), logger.With("component", "vault"))
	if err != nil {
		return nil, fmt.Errorf("connecting to Vault for the backup: %w", err)
	}
	return c, nil
}

// BackupVaultConfig is the Vault client configuration of backup and
// restore: the services' address and CA with the backup identity.
func BackupVaultConfig(s backup.Settings, v config.Vault) vault.Config {
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

// BackupVaultPaths returns MUTT_BACKUP_VAULT_PATHS, or the services'
// secret path when it is unset.
func BackupVaultPaths(s backup.Settings, v config.Vault) []string {
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
