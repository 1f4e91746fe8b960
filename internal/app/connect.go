package app

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/redis/go-redis/v9"

	"github.com/mutt-go/mutt/internal/config"
	"github.com/mutt-go/mutt/internal/secrets"
)

// ConnectRedis opens a Redis client and checks it with PING: a client of
// the Sentinel-managed primary when REDIS_SENTINEL_ADDRS is set (it
// follows failovers), else of the one server at REDIS_URL or
// REDIS_HOST:REDIS_PORT. REDIS_CLUSTER_NODES is refused until MUTT's
// multi-key scripts keep their keys in one hash slot. Every new
// connection to a Redis server authenticates with the password the server
// accepted last (CURRENT at first) and, when that one is refused, with the
// other one of the pair, so a password rotation never needs a restart (see
// redisAuth). The pair is cfg.Credentials when a secret provider set it,
// else one built from cfg.Password and cfg.PasswordNext.
func ConnectRedis(ctx context.Context, cfg config.Redis, logger *slog.Logger) (redis.UniversalClient, error) {
	opts, auth, err := redisOptions(cfg, credentials(cfg.Credentials, cfg.Password, cfg.PasswordNext), logger)
	if err != nil {
		return nil, err
	}
	client, err := newRedisClient(cfg, opts, auth)
	if err != nil {
		return nil, err
	}
	pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := client.Ping(pctx).Err(); err != nil {
		_ = client.Close()
		if hint := cfg.TLSHint(); hint != "" && !errors.Is(err, syscall.ECONNREFUSED) {
			return nil, fmt.Errorf("connecting to Redis at %s: %w (%s)", cfg.Addr(), err, hint)
		}
		return nil, fmt.Errorf("connecting to Redis at %s: %w", cfg.Addr(), err)
	}
	return client, nil
}

// newRedisClient builds the client of the topology cfg selects from the
// options of one connection; auth, when not nil, authenticates every new
// connection to a Redis server.
func newRedisClient(cfg config.Redis, opts *redis.Options, auth *redisAuth) (redis.UniversalClient, error) {
	switch cfg.Topology() {
	case config.RedisCluster:
		return nil, errors.New("REDIS_CLUSTER_NODES: Redis Cluster is not supported yet (MUTT's multi-key scripts " +
			"need keys in one hash slot); use one server (REDIS_URL) or Sentinel (REDIS_SENTINEL_ADDRS, REDIS_SENTINEL_MASTER)")
	case config.RedisSentinel:
		client := redis.NewFailoverClient(failoverOptions(cfg, opts))
		if auth != nil {
			// A hook of the failover client wraps the dials of the
			// primary only: the Sentinels have clients of their own.
			client.AddHook(auth)
		}
		return client, nil
	default:
		return redis.NewClient(opts), nil
	}
}

// failoverOptions carries the options of one connection over to a client
// of the primary the Sentinels name for cfg.SentinelMaster; the Sentinels
// authenticate with REDIS_SENTINEL_PASSWORD.
func failoverOptions(cfg config.Redis, opts *redis.Options) *redis.FailoverOptions {
	return &redis.FailoverOptions{
		MasterName:       cfg.SentinelMaster,
		SentinelAddrs:    cfg.SentinelAddrs,
		SentinelPassword: cfg.SentinelPassword.Reveal(),
		Username:         opts.Username,
		Password:         opts.Password,
		DB:               opts.DB,
		PoolSize:         opts.PoolSize,
		DialTimeout:      opts.DialTimeout,
		DialerRetries:    opts.DialerRetries,
		ReadTimeout:      opts.ReadTimeout,
		WriteTimeout:     opts.WriteTimeout,
		TLSConfig:        opts.TLSConfig,

		ContextTimeoutEnabled: opts.ContextTimeoutEnabled,
	}
}

// credentials returns live when set, else a pair of the static values.
func credentials(live *secrets.Pair, current, next secrets.Secret) *secrets.Pair {
	if live != nil {
		return live
	}
	return secrets.NewPair(current, next)
}

// redisOptions are the options of one connection to the server cfg names,
// with the dialer of auth, which is nil when REDIS_URL's password is used
// as is.
func redisOptions(cfg config.Redis, pair *secrets.Pair, logger *slog.Logger) (*redis.Options, *redisAuth, error) {
	var opts *redis.Options
	if cfg.URL.IsSet() {
		o, err := redis.ParseURL(cfg.URL.Reveal())
		if err != nil {
			return nil, nil, fmt.Errorf("REDIS_URL: %w", err)
		}
		opts = o
	} else {
		opts = &redis.Options{Addr: net.JoinHostPort(cfg.Host, strconv.Itoa(cfg.Port)), DB: cfg.DB}
		if cfg.TLSEnabled {
			tc := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: cfg.Host}
			if cfg.CACertPath != "" {
				pool, err := loadCA(cfg.CACertPath)
				if err != nil {
					return nil, nil, fmt.Errorf("REDIS_CA_CERT_PATH: %w", err)
				}
				tc.RootCAs = pool
			}
			opts.TLSConfig = tc
		}
	}
	if opts.TLSConfig != nil && cfg.Topology() == config.RedisSentinel {
		// The primary moves between hosts: verify each against its own
		// name rather than REDIS_HOST's.
		opts.TLSConfig.ServerName = ""
	}
	opts.PoolSize = cfg.MaxConnections
	opts.DialTimeout = 5 * time.Second
	// One quick retry: while Redis is down, requests should get their 503
	// at once rather than after the default five dial attempts.
	opts.DialerRetries = 1
	opts.ReadTimeout = 10 * time.Second
	opts.WriteTimeout = 10 * time.Second
	opts.ContextTimeoutEnabled = true
	// A password in REDIS_URL is used as is when no pair is configured;
	// otherwise the dialer authenticates and go-redis sends no AUTH.
	var auth *redisAuth
	if pair.IsSet() || opts.Password == "" {
		auth = &redisAuth{pair: pair, username: opts.Username, timeout: opts.DialTimeout,
			netDial: redis.NewDialer(opts), logger: logger}
		opts.Username, opts.Password = "", ""
		opts.Dialer = auth.dial
	}
	return opts, auth, nil
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

// ConnectPostgres opens a pool and checks it. Every new connection of the
// pool gets its password from the CURRENT/NEXT pair as Redis connections
// do (see pgAuth); the pair is cfg.Credentials when set, else one built
// from cfg.Password and cfg.PasswordNext.
func ConnectPostgres(ctx context.Context, cfg config.Postgres, logger *slog.Logger) (*pgxpool.Pool, error) {
	pc, err := postgresConfig(cfg, credentials(cfg.Credentials, cfg.Password, cfg.PasswordNext), logger)
	if err != nil {
		return nil, err
	}
	pool, err := pgxpool.NewWithConfig(ctx, pc)
	if err != nil {
		return nil, fmt.Errorf("connecting to PostgreSQL at %s: %w", postgresAddr(cfg), err)
	}
	pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := pool.Ping(pctx); err != nil {
		pool.Close()
		if hint := cfg.TLSHint(); hint != "" && (strings.Contains(err.Error(), "TLS") || strings.Contains(err.Error(), "SSL")) {
			return nil, fmt.Errorf("connecting to PostgreSQL at %s: %w (%s)", postgresAddr(cfg), err, hint)
		}
		return nil, fmt.Errorf("connecting to PostgreSQL at %s: %w", postgresAddr(cfg), err)
	}
	return pool, nil
}

func postgresAddr(cfg config.Postgres) string {
	if cfg.URL.IsSet() {
		return cfg.URL.String()
	}
	return net.JoinHostPort(cfg.Host, strconv.Itoa(cfg.Port)) + "/" + cfg.Name
}

func postgresConfig(cfg config.Postgres, pair *secrets.Pair, logger *slog.Logger) (*pgxpool.Config, error) {
	dsn := cfg.URL.Reveal()
	if dsn == "" {
		dsn = strings.Join(keywordDSN(cfg), " ")
	}
	pc, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		return nil, fmt.Errorf("PostgreSQL settings: %w", err)
	}
	// A password in DATABASE_URL is used as is when no pair is configured.
	if pair.IsSet() || pc.ConnConfig.Password == "" {
		auth := &pgAuth{pair: pair, logger: logger, probe: probePostgres}
		pc.BeforeConnect = auth.beforeConnect
	}
	if !strings.Contains(cfg.URL.Reveal(), "pool_max_conns") {
		pc.MaxConns = int32(cfg.PoolMaxConns)
		pc.MinConns = int32(cfg.PoolMinConns)
	}
	pc.ConnConfig.RuntimeParams["application_name"] = "mutt"
	return pc, nil
}

// keywordDSN is the keyword/value form of the PostgreSQL fields, without
// the password. Values go through it quoted, never into SQL.
func keywordDSN(cfg config.Postgres) []string {
	sslmode := "prefer"
	if cfg.TLSEnabled {
		sslmode = "require"
		if cfg.CACertPath != "" {
			sslmode = "verify-ca"
		}
	}
	kv := []string{
		"host=" + quoteDSN(cfg.Host), "port=" + strconv.Itoa(cfg.Port), "dbname=" + quoteDSN(cfg.Name),
		"user=" + quoteDSN(cfg.User), "sslmode=" + sslmode,
	}
	if cfg.CACertPath != "" {
		kv = append(kv, "sslrootcert="+quoteDSN(cfg.CACertPath))
	}
	return kv
}

func quoteDSN(v string) string {
	return "'" + strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(v) + "'"
}
