package app

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"log/slog"
	"net"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/redis/go-redis/v9"

	"github.com/mutt-go/mutt/internal/config"
	"github.com/mutt-go/mutt/internal/secrets"
)

// ConnectRedis opens a Redis client and checks it with PING. When the
// current password is refused and a next password is configured, it tries
// that one, so a password rotation in progress does not stop a start.
func ConnectRedis(ctx context.Context, cfg config.Redis, logger *slog.Logger) (*redis.Client, error) {
	try := func(pw secrets.Secret) (*redis.Client, error) {
		opts, err := redisOptions(cfg, pw)
		if err != nil {
			return nil, err
		}
		client := redis.NewClient(opts)
		pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		if err := client.Ping(pctx).Err(); err != nil {
			_ = client.Close()
			return nil, err
		}
		return client, nil
	}
	client, err := try(cfg.Password)
	if err != nil && cfg.PasswordNext.IsSet() && isAuthError(err) {
		logger.Warn("Redis refused the current password; trying the next one")
		client, err = try(cfg.PasswordNext)
	}
	if err != nil {
		return nil, fmt.Errorf("connecting to Redis at %s: %w", redisAddr(cfg), err)
	}
	return client, nil
}

func isAuthError(err error) bool {
	s := err.Error()
	return strings.Contains(s, "WRONGPASS") || strings.Contains(s, "NOAUTH") || strings.Contains(s, "invalid password") ||
		strings.Contains(s, "password authentication failed")
}

func redisAddr(cfg config.Redis) string {
	if cfg.URL != "" {
		return redactURL(cfg.URL)
	}
	return net.JoinHostPort(cfg.Host, strconv.Itoa(cfg.Port))
}

// redactURL drops the password of a URL for messages.
func redactURL(raw string) string {
	if i := strings.Index(raw, "@"); i >= 0 {
		if j := strings.Index(raw, "://"); j >= 0 && j < i {
			return raw[:j+3] + "…@" + raw[i+1:]
		}
	}
	return raw
}

func redisOptions(cfg config.Redis, pw secrets.Secret) (*redis.Options, error) {
	var opts *redis.Options
	if cfg.URL != "" {
		o, err := redis.ParseURL(cfg.URL)
		if err != nil {
			return nil, fmt.Errorf("REDIS_URL: %w", err)
		}
		opts = o
	} else {
		opts = &redis.Options{Addr: net.JoinHostPort(cfg.Host, strconv.Itoa(cfg.Port)), DB: cfg.DB}
		if cfg.TLSEnabled {
			tc := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: cfg.Host}
			if cfg.CACertPath != "" {
				pool, err := loadCA(cfg.CACertPath)
				if err != nil {
					return nil, fmt.Errorf("REDIS_CA_CERT_PATH: %w", err)
				}
				tc.RootCAs = pool
			}
			opts.TLSConfig = tc
		}
	}
	if pw.IsSet() {
		opts.Password = pw.Reveal()
	}
	opts.PoolSize = cfg.MaxConnections
	opts.DialTimeout = 5 * time.Second
	// One quick retry: while Redis is down, requests should get their 503
	// at once rather than after the default five dial attempts.
	opts.DialerRetries = 1
	opts.ReadTimeout = 10 * time.Second
	opts.WriteTimeout = 10 * time.Second
	opts.ContextTimeoutEnabled = true
	return opts, nil
}

func loadCA(path string) (*x509.CertPool, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(b) {
		return nil, fmt.Errorf("%s holds no PEM certificate", path)
	}
	return pool, nil
}

// ConnectPostgres opens a pool and checks it, with the same current/next
// password fallback as ConnectRedis.
func ConnectPostgres(ctx context.Context, cfg config.Postgres, logger *slog.Logger) (*pgxpool.Pool, error) {
	try := func(pw secrets.Secret) (*pgxpool.Pool, error) {
		pc, err := postgresConfig(cfg, pw)
		if err != nil {
			return nil, err
		}
		pool, err := pgxpool.NewWithConfig(ctx, pc)
		if err != nil {
			return nil, err
		}
		pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		if err := pool.Ping(pctx); err != nil {
			pool.Close()
			return nil, err
		}
		return pool, nil
	}
	pool, err := try(cfg.Password)
	if err != nil && cfg.PasswordNext.IsSet() && isAuthError(err) {
		logger.Warn("PostgreSQL refused the current password; trying the next one")
		pool, err = try(cfg.PasswordNext)
	}
	if err != nil {
		return nil, fmt.Errorf("connecting to PostgreSQL at %s: %w", postgresAddr(cfg), err)
	}
	return pool, nil
}

func postgresAddr(cfg config.Postgres) string {
	if cfg.URL != "" {
		return redactURL(cfg.URL)
	}
	return net.JoinHostPort(cfg.Host, strconv.Itoa(cfg.Port)) + "/" + cfg.Name
}

func postgresConfig(cfg config.Postgres, pw secrets.Secret) (*pgxpool.Config, error) {
	dsn := cfg.URL
	if dsn == "" {
		sslmode := "prefer"
		if cfg.TLSEnabled {
			sslmode = "require"
			if cfg.CACertPath != "" {
				sslmode = "verify-ca"
			}
		}
		// Values go through the keyword/value form, quoted, never into SQL.
		kv := []string{
			"host=" + quoteDSN(cfg.Host), "port=" + strconv.Itoa(cfg.Port), "dbname=" + quoteDSN(cfg.Name),
			"user=" + quoteDSN(cfg.User), "sslmode=" + sslmode,
		}
		if cfg.CACertPath != "" {
			kv = append(kv, "sslrootcert="+quoteDSN(cfg.CACertPath))
		}
		dsn = strings.Join(kv, " ")
	}
	pc, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		return nil, fmt.Errorf("PostgreSQL settings: %w", err)
	}
	if pw.IsSet() {
		pc.ConnConfig.Password = pw.Reveal()
	}
	if cfg.URL == "" || !strings.Contains(cfg.URL, "pool_max_conns") {
		pc.MaxConns = int32(cfg.PoolMaxConns)
		pc.MinConns = int32(cfg.PoolMinConns)
	}
	pc.ConnConfig.RuntimeParams["application_name"] = "mutt"
	return pc, nil
}

func quoteDSN(v string) string {
	return "'" + strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(v) + "'"
}
