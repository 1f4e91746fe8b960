// Package config is MUTT's static configuration: one typed struct tree with
// its defaults, filled from an optional YAML file, then from the environment
// variables MUTT has always used, then from command-line flags, and checked
// by Validate, which names every bad field.
//
// It imports only the secrets package of MUTT.
package config

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/mutt-go/mutt/internal/secrets"
)

// Config is the whole static configuration of every MUTT role.
type Config struct {
	// KeyPrefix is the first part of every Redis key MUTT derives a default
	// name for ("mutt" gives mutt:ingest_queue, mutt:dlq:alerter, …).
	KeyPrefix string `yaml:"key_prefix"`
	// PodName identifies this process as a queue consumer; it must be unique
	// among running processes and must not contain ':'.
	PodName string `yaml:"pod_name"`
	// DynamicConfigEnabled makes the services read mutt:config:* overrides.
	DynamicConfigEnabled bool `yaml:"dynamic_config_enabled"`

	Log         Log         `yaml:"log"`
	Redis       Redis       `yaml:"redis"`
	Postgres    Postgres    `yaml:"postgres"`
	Storage     Storage     `yaml:"storage"`
	Keys        Keys        `yaml:"keys"`
	Ingest      Ingest      `yaml:"ingest"`
	Alerter     Alerter     `yaml:"alerter"`
	Forwarder   Forwarder   `yaml:"forwarder"`
	Remediation Remediation `yaml:"remediation"`
	Web         Web         `yaml:"web"`
	Vault       Vault       `yaml:"vault"`
	Syslog      Syslog      `yaml:"syslog"`
	SNMP        SNMP        `yaml:"snmp"`
}

// Forwarder configures delivery of alerts to Moogsoft.
type Forwarder struct {
	MetricsListen string `yaml:"metrics_listen"`
	HealthListen  string `yaml:"health_listen"`
	// WebhookURL may carry credentials; it redacts its password when printed.
	WebhookURL  URL            `yaml:"webhook_url"`
	Timeout     time.Duration  `yaml:"timeout"`
	APIKey      secrets.Secret `yaml:"-"`
	Workers     int            `yaml:"workers"`
	BatchSize   int            `yaml:"batch_size"`
	Concurrency int            `yaml:"concurrency"` // requests in flight per worker
	Block       time.Duration  `yaml:"block"`
	ReclaimIdle time.Duration  `yaml:"reclaim_idle"`
	// RateLimit alerts per RatePeriod across all forwarders; 0 disables.
	RateLimit        int           `yaml:"rate_limit"`
	RatePeriod       time.Duration `yaml:"rate_period"`
	MaxRetries       int           `yaml:"max_retries"`
	RetryBaseDelay   time.Duration `yaml:"retry_base_delay"`
	RetryMaxDelay    time.Duration `yaml:"retry_max_delay"`
	BreakerEnabled   bool          `yaml:"breaker_enabled"`
	BreakerThreshold int           `yaml:"breaker_threshold"`
	BreakerTimeout   time.Duration `yaml:"breaker_timeout"`
}

// Remediation configures the dead-letter replay service.
type Remediation struct {
	MetricsListen string        `yaml:"metrics_listen"`
	HealthListen  string        `yaml:"health_listen"`
	Enabled       bool          `yaml:"enabled"`
	Interval      time.Duration `yaml:"interval"`
	BatchSize     int           `yaml:"batch_size"`
	MaxReplays    int           `yaml:"max_replays"`
	// HealthURL is probed (GET, with the API key) before Moogsoft's DLQ is
	// replayed; empty means the webhook URL.
	HealthURL     URL           `yaml:"health_url"`
	HealthTimeout time.Duration `yaml:"health_timeout"`
	HealthCheck   bool          `yaml:"health_check"`
}

// Log configures log/slog.
type Log struct {
	Level  string `yaml:"level"`  // debug, info, warn, error
	Format string `yaml:"format"` // json or text
}

// Redis says how to reach Redis.
type Redis struct {
	// URL (redis:// or rediss://) wins over Host, Port, DB and TLSEnabled;
	// it redacts its password when printed.
	URL            URL            `yaml:"url"`
	Host           string         `yaml:"host"`
	Port           int            `yaml:"port"`
	DB             int            `yaml:"db"`
	TLSEnabled     bool           `yaml:"tls_enabled"`
	CACertPath     string         `yaml:"ca_cert_path"`
	MaxConnections int            `yaml:"max_connections"`
	Password       secrets.Secret `yaml:"-"`
	PasswordNext   secrets.Secret `yaml:"-"`
	// SentinelAddrs (host:port of each Sentinel) and SentinelMaster (the
	// monitored master's name) select a Sentinel-managed primary instead of
	// Host and Port; SentinelPassword authenticates to the Sentinels.
	SentinelAddrs    []string       `yaml:"sentinel_addrs"`
	SentinelMaster   string         `yaml:"sentinel_master"`
	SentinelPassword secrets.Secret `yaml:"-"`
	// ClusterNodes (host:port of some Redis Cluster nodes) selects a Redis
	// Cluster instead of Host and Port.
	ClusterNodes []string `yaml:"cluster_nodes"`
	// Credentials, when set (by a secret provider such as Vault), holds the
	// live Password/PasswordNext pair every new connection authenticates
	// with; it is shared by all copies of this struct.
	Credentials *secrets.Pair `yaml:"-" json:"-"`
}

// Postgres says how to reach PostgreSQL.
type Postgres struct {
	// URL (postgres://…) wins over the separate fields; it redacts its
	// password when printed.
	URL          URL            `yaml:"url"`
	Host         string         `yaml:"host"`
	Port         int            `yaml:"port"`
	Name         string         `yaml:"name"`
	User         string         `yaml:"user"`
	TLSEnabled   bool           `yaml:"tls_enabled"`
	CACertPath   string         `yaml:"ca_cert_path"`
	PoolMinConns int            `yaml:"pool_min_conns"`
	PoolMaxConns int            `yaml:"pool_max_conns"`
	Password     secrets.Secret `yaml:"-"`
	PasswordNext secrets.Secret `yaml:"-"`
	// Credentials is the live password pair, as for Redis.
	Credentials *secrets.Pair `yaml:"-" json:"-"`
}

// Keys are the Redis key names. Empty names are derived from KeyPrefix.
type Keys struct {
	IngestQueue     string `yaml:"ingest_queue"`
	AlertQueue      string `yaml:"alert_queue"`
	AlerterDLQ      string `yaml:"alerter_dlq"`
	MetricsPrefix   string `yaml:"metrics_prefix"`
	UnhandledPrefix string `yaml:"unhandled_prefix"`
	RateLimit       string `yaml:"rate_limit"`
	ConfigPrefix    string `yaml:"config_prefix"`
	ReloadChannel   string `yaml:"reload_channel"`
	MoogDLQ         string `yaml:"moog_dlq"`
	DeadDLQ         string `yaml:"dead_dlq"`
	MoogRateLimit   string `yaml:"moog_rate_limit"`
	MoogRetry       string `yaml:"moog_retry"`
	BreakerPrefix   string `yaml:"breaker_prefix"`
}

// Ingest configures the HTTP ingestor.
type Ingest struct {
	Listen         string         `yaml:"listen"` // host:port; SERVER_PORT_INGESTOR sets the port
	MaxQueueSize   int64          `yaml:"max_queue_size"`
	MaxBodyBytes   int64          `yaml:"max_body_bytes"`
	RequiredFields []string       `yaml:"required_fields"`
	RateLimit      RateLimit      `yaml:"rate_limit"`
	APIKey         secrets.Secret `yaml:"-"`
	APIKeyNext     secrets.Secret `yaml:"-"`
}

// RateLimit is the optional cluster-wide ingest request limit.
type RateLimit struct {
	Enabled bool          `yaml:"enabled"`
	Max     int           `yaml:"max"`    // requests per window
	Window  time.Duration `yaml:"window"` // sliding window
}

// Alerter configures the rule-applying consumer of the ingest queue.
type Alerter struct {
	MetricsListen        string        `yaml:"metrics_listen"`
	HealthListen         string        `yaml:"health_listen"`
	Workers              int           `yaml:"workers"`
	BatchSize            int           `yaml:"batch_size"`
	Block                time.Duration `yaml:"block"`
	MaxRetries           int           `yaml:"max_retries"`
	ReclaimIdle          time.Duration `yaml:"reclaim_idle"`
	CacheReloadInterval  time.Duration `yaml:"cache_reload_interval"`
	UnhandledThreshold   int           `yaml:"unhandled_threshold"`
	UnhandledExpiry      time.Duration `yaml:"unhandled_expiry"`
	UnhandledDefaultTeam string        `yaml:"unhandled_default_team"`
	Shedding             Shedding      `yaml:"shedding"`
}

// Shedding is the alerter's reaction to a long alert queue.
type Shedding struct {
	WarnThreshold int64         `yaml:"warn_threshold"`
	ShedThreshold int64         `yaml:"shed_threshold"`
	Mode          string        `yaml:"mode"` // defer, dlq or off
	DeferSleep    time.Duration `yaml:"defer_sleep"`
}

// Shedding modes.
const (
	ShedDefer = "defer"
	ShedDLQ   = "dlq"
	ShedOff   = "off"
)

// Default returns the configuration with every default filled in.
func Default() Config {
	return Config{
		KeyPrefix: "mutt",
		Log:       Log{Level: "info", Format: "json"},
		Redis: Redis{
			Host: "localhost", Port: 6379, TLSEnabled: true, MaxConnections: 20,
		},
		Postgres: Postgres{
			Host: "localhost", Port: 5432, Name: "mutt_db", User: "mutt_user",
			TLSEnabled: true, PoolMinConns: 2, PoolMaxConns: 10,
		},
		Ingest: Ingest{
			Listen:         ":8080",
			MaxQueueSize:   1_000_000,
			MaxBodyBytes:   1 << 20,
			RequiredFields: []string{"hostname", "message", "timestamp"},
			RateLimit:      RateLimit{Enabled: false, Max: 1000, Window: 60 * time.Second},
		},
		Alerter: Alerter{
			MetricsListen:        ":8081",
			HealthListen:         ":8082",
			Workers:              2,
			BatchSize:            256,
			Block:                5 * time.Second,
			MaxRetries:           3,
			ReclaimIdle:          30 * time.Second,
			CacheReloadInterval:  300 * time.Second,
			UnhandledThreshold:   100,
			UnhandledExpiry:      86400 * time.Second,
			UnhandledDefaultTeam: "NETO",
			Shedding: Shedding{
				WarnThreshold: 1000, ShedThreshold: 2000, Mode: ShedDefer, DeferSleep: 250 * time.Millisecond,
			},
		},
		Forwarder: Forwarder{
			MetricsListen: ":8083", HealthListen: ":8084",
			WebhookURL: NewURL("https://moogsoft.example.com/api/v1/events"), Timeout: 10 * time.Second,
			Workers: 2, BatchSize: 64, Concurrency: 32, Block: 5 * time.Second, ReclaimIdle: 30 * time.Second,
			RateLimit: 50, RatePeriod: time.Second,
			MaxRetries: 5, RetryBaseDelay: time.Second, RetryMaxDelay: 60 * time.Second,
			BreakerEnabled: true, BreakerThreshold: 10, BreakerTimeout: 300 * time.Second,
		},
		Storage: Storage{DataDir: "mutt-data"},
		Web:     DefaultWeb(),
		Vault:   defaultVault(),
		Syslog:  defaultSyslog(),
		SNMP:    defaultSNMP(),
		Remediation: Remediation{
			MetricsListen: ":8086", HealthListen: ":8087", Enabled: true,
			Interval: 300 * time.Second, BatchSize: 10, MaxReplays: 3,
			HealthTimeout: 5 * time.Second, HealthCheck: true,
		},
	}
}

// Load builds the configuration: defaults, then the YAML file at path (when
// path is not empty), then the environment read through lookup. Flags are
// applied by the caller afterwards, followed by Finish.
func Load(path string, lookup secrets.Lookup) (Config, error) {
	cfg := Default()
	if path != "" {
		if err := cfg.loadFile(path); err != nil {
			return cfg, err
		}
	}
	if err := cfg.applyEnv(lookup); err != nil {
		return cfg, err
	}
	return cfg, nil
}

func (c *Config) loadFile(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("reading config file: %w", err)
	}
	defer f.Close()
	dec := yaml.NewDecoder(f)
	dec.KnownFields(true)
	// An empty file decodes to io.EOF and simply sets nothing.
	if err := dec.Decode(c); err != nil && !errors.Is(err, io.EOF) {
		return fmt.Errorf("config file %s: %w", path, err)
	}
	return c.noteFileStorage(path)
}

// noteFileStorage records the redis and postgres sections of the file at
// path as given settings, for StorageMode.
func (c *Config) noteFileStorage(path string) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("reading config file: %w", err)
	}
	var sections map[string]any
	if err := yaml.Unmarshal(data, &sections); err != nil {
		return fmt.Errorf("config file %s: %w", path, err)
	}
	if _, ok := sections["redis"]; ok {
		c.Storage.redisSet = append(c.Storage.redisSet, path+": redis")
	}
	if _, ok := sections["postgres"]; ok {
		c.Storage.postgresSet = append(c.Storage.postgresSet, path+": postgres")
	}
	return nil
}

// Finish derives the values that depend on others (key names from the
// prefix, a pod name when none was given). Call it after the last override.
func (c *Config) Finish() {
	p := c.KeyPrefix
	set := func(dst *string, suffix string) {
		if *dst == "" {
			*dst = p + ":" + suffix
		}
	}
	set(&c.Keys.IngestQueue, "ingest_queue")
	set(&c.Keys.AlertQueue, "alert_queue")
	set(&c.Keys.AlerterDLQ, "dlq:alerter")
	set(&c.Keys.MetricsPrefix, "metrics")
	set(&c.Keys.UnhandledPrefix, "unhandled")
	set(&c.Keys.RateLimit, "rate_limit:ingestor")
	set(&c.Keys.ConfigPrefix, "config")
	set(&c.Keys.ReloadChannel, "alerter:reload")
	set(&c.Keys.MoogDLQ, "dlq:moog")
	set(&c.Keys.DeadDLQ, "dlq:dead")
	set(&c.Keys.MoogRateLimit, "rate_limit:moog")
	set(&c.Keys.MoogRetry, "retry:moog")
	set(&c.Keys.BreakerPrefix, "circuit_breaker:moogsoft")
	if c.PodName == "" {
		host, _ := os.Hostname()
		host = strings.ReplaceAll(host, ":", "-")
		var b [3]byte
		_, _ = rand.Read(b[:])
		c.PodName = "mutt-" + host + "-" + hex.EncodeToString(b[:])
	}
}

// TLSHint says, for an error connecting to Redis, that TLS is on: it is by
// default, and a server without TLS then answers a handshake with
// silence (a timeout), which does not tell the operator why. It is empty
// when REDIS_URL decides the scheme or TLS is off.
func (r Redis) TLSHint() string {
	if r.URL.IsSet() || !r.TLSEnabled {
		return ""
	}
	return "Redis TLS is on by default (REDIS_TLS_ENABLED=true): set REDIS_TLS_ENABLED=false for a local server without TLS, or use REDIS_URL=redis://host:port/db"
}

// TLSHint says, for an error connecting to PostgreSQL, that TLS is on (it
// is by default); empty when DATABASE_URL decides or TLS is off.
func (p Postgres) TLSHint() string {
	if p.URL.IsSet() || !p.TLSEnabled {
		return ""
	}
	return "PostgreSQL TLS is on by default (DB_TLS_ENABLED=true): set DB_TLS_ENABLED=false for a local server without TLS, or use DATABASE_URL=postgres://…?sslmode=disable"
}
