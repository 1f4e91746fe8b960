package config

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"
)

// Validate checks every setting and returns all problems at once, each a
// *FieldError naming the setting and the rule it breaks.
func (c *Config) Validate() error {
	var errs []error
	bad := func(field, format string, args ...any) {
		errs = append(errs, &FieldError{Field: field, Rule: fmt.Sprintf(format, args...)})
	}
	errs = append(errs, c.validateStorage()...)
	if c.KeyPrefix == "" {
		bad("key_prefix", "must not be empty")
	}
	if strings.Contains(c.PodName, ":") {
		bad("POD_NAME", "must not contain ':' (it is part of Redis names), got %q", c.PodName)
	}
	switch strings.ToLower(c.Log.Level) {
	case "debug", "info", "warn", "warning", "error":
	default:
		bad("LOG_LEVEL", "must be debug, info, warn or error, got %q", c.Log.Level)
	}
	if c.Log.Format != "json" && c.Log.Format != "text" {
		bad("LOG_FORMAT", "must be json or text, got %q", c.Log.Format)
	}

	if c.Redis.URL.IsSet() {
		if u, err := url.Parse(c.Redis.URL.Reveal()); err != nil || (u.Scheme != "redis" && u.Scheme != "rediss" && u.Scheme != "unix") {
			bad("REDIS_URL", "must be a redis://, rediss:// or unix:// URL")
		}
	} else if c.Redis.Host == "" {
		bad("REDIS_HOST", "must not be empty")
	}
	if c.Redis.Port < 1 || c.Redis.Port > 65535 {
		bad("REDIS_PORT", "must be from 1 to 65535, got %d", c.Redis.Port)
	}
	if c.Redis.DB < 0 || c.Redis.DB > 15 {
		bad("REDIS_DB", "must be a database index from 0 to 15, got %d", c.Redis.DB)
	}
	errs = append(errs, c.Redis.validateTopology()...)
	if c.Redis.MaxConnections < 5 {
		bad("REDIS_MAX_CONNECTIONS", "must be at least 5, got %d", c.Redis.MaxConnections)
	}

	if c.Postgres.URL.IsSet() {
		if u, err := url.Parse(c.Postgres.URL.Reveal()); err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
			bad("DATABASE_URL", "must be a postgres:// URL")
		}
	} else if c.Postgres.Host == "" {
		bad("DB_HOST", "must not be empty")
	}
	if c.Postgres.PoolMinConns < 1 {
		bad("DB_POOL_MIN_CONN", "must be at least 1, got %d", c.Postgres.PoolMinConns)
	}
	if c.Postgres.PoolMaxConns < c.Postgres.PoolMinConns {
		bad("DB_POOL_MAX_CONN", "must be at least DB_POOL_MIN_CONN (%d), got %d", c.Postgres.PoolMinConns, c.Postgres.PoolMaxConns)
	}

	checkListen := func(field, addr string) {
		if _, _, err := net.SplitHostPort(addr); err != nil {
			bad(field, "must be host:port or :port, got %q", addr)
		}
	}
	checkListen("INGEST_LISTEN", c.Ingest.Listen)
	checkListen("METRICS_PORT_ALERTER", c.Alerter.MetricsListen)
	checkListen("HEALTH_PORT_ALERTER", c.Alerter.HealthListen)

	if c.Ingest.MaxQueueSize < 1000 {
		bad("MAX_INGEST_QUEUE_SIZE", "must be at least 1000, got %d", c.Ingest.MaxQueueSize)
	}
	if c.Ingest.MaxBodyBytes < 1024 {
		bad("INGEST_MAX_BODY_BYTES", "must be at least 1024, got %d", c.Ingest.MaxBodyBytes)
	}
	if c.Ingest.RateLimit.Enabled {
		if c.Ingest.RateLimit.Max < 1 {
			bad("INGEST_MAX_RATE", "must be at least 1, got %d", c.Ingest.RateLimit.Max)
		}
		if c.Ingest.RateLimit.Window < 1e9 {
			bad("INGEST_RATE_WINDOW", "must be at least 1 second, got %s", c.Ingest.RateLimit.Window)
		}
	}

	a := c.Alerter
	if a.Workers < 1 || a.Workers > 64 {
		bad("ALERTER_WORKERS", "must be from 1 to 64, got %d", a.Workers)
	}
	if a.BatchSize < 1 || a.BatchSize > 10000 {
		bad("ALERTER_BATCH_SIZE", "must be from 1 to 10000, got %d", a.BatchSize)
	}
	if a.Block < 1e6 {
		bad("BRPOPLPUSH_TIMEOUT", "must be at least 1ms, got %s", a.Block)
	}
	if a.MaxRetries < 0 {
		bad("ALERTER_MAX_RETRIES", "must not be negative, got %d", a.MaxRetries)
	}
	if a.ReclaimIdle < 1e9 {
		bad("ALERTER_JANITOR_TIMEOUT", "must be at least 1 second, got %s", a.ReclaimIdle)
	}
	if a.CacheReloadInterval < 1e9 {
		bad("CACHE_RELOAD_INTERVAL", "must be at least 1 second, got %s", a.CacheReloadInterval)
	}
	if a.UnhandledThreshold < 1 {
		bad("UNHANDLED_THRESHOLD", "must be at least 1, got %d", a.UnhandledThreshold)
	}
	if a.UnhandledExpiry < 1e9 {
		bad("UNHANDLED_EXPIRY_SECONDS", "must be at least 1 second, got %s", a.UnhandledExpiry)
	}
	if a.UnhandledDefaultTeam == "" {
		bad("UNHANDLED_DEFAULT_TEAM", "must not be empty")
	}
	switch a.Shedding.Mode {
	case ShedDefer, ShedDLQ, ShedOff:
	default:
		bad("ALERTER_SHED_MODE", "must be defer, dlq or off, got %q", a.Shedding.Mode)
	}
	if a.Shedding.ShedThreshold < 1 {
		bad("ALERTER_QUEUE_SHED_THRESHOLD", "must be at least 1, got %d", a.Shedding.ShedThreshold)
	}
	if a.Shedding.WarnThreshold > a.Shedding.ShedThreshold {
		bad("ALERTER_QUEUE_WARN_THRESHOLD", "must not exceed ALERTER_QUEUE_SHED_THRESHOLD (%d), got %d", a.Shedding.ShedThreshold, a.Shedding.WarnThreshold)
	}
	f := c.Forwarder
	checkListen("METRICS_PORT_MOOG", f.MetricsListen)
	checkListen("HEALTH_PORT_MOOG", f.HealthListen)
	if u, err := url.Parse(f.WebhookURL.Reveal()); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		bad("MOOG_WEBHOOK_URL", "must be an http:// or https:// URL, got %q", f.WebhookURL)
	}
	if f.Timeout < 1e8 {
		bad("MOOG_WEBHOOK_TIMEOUT", "must be at least 100ms, got %s", f.Timeout)
	}
	if f.Workers < 1 || f.Workers > 64 {
		bad("FORWARDER_WORKERS", "must be from 1 to 64, got %d", f.Workers)
	}
	if f.BatchSize < 1 || f.BatchSize > 5000 {
		bad("FORWARDER_BATCH_SIZE", "must be from 1 to 5000, got %d", f.BatchSize)
	}
	if f.Concurrency < 1 || f.Concurrency > 1024 {
		bad("FORWARDER_CONCURRENCY", "must be from 1 to 1024, got %d", f.Concurrency)
	}
	if f.RateLimit < 0 {
		bad("MOOG_RATE_LIMIT", "must be 0 (no limit) or more, got %d", f.RateLimit)
	}
	if f.RatePeriod < 1e6 {
		bad("MOOG_RATE_PERIOD", "must be at least 1ms, got %s", f.RatePeriod)
	}
	if f.MaxRetries < 0 {
		bad("MOOG_MAX_RETRIES", "must not be negative, got %d", f.MaxRetries)
	}
	if f.RetryBaseDelay <= 0 || f.RetryMaxDelay < f.RetryBaseDelay {
		bad("MOOG_RETRY_MAX_DELAY", "must be at least MOOG_RETRY_BASE_DELAY (%s) and positive, got %s", f.RetryBaseDelay, f.RetryMaxDelay)
	}
	if f.BreakerThreshold < 1 {
		bad("CIRCUIT_BREAKER_THRESHOLD", "must be at least 1, got %d", f.BreakerThreshold)
	}
	if f.BreakerTimeout < 1e8 {
		bad("CIRCUIT_BREAKER_TIMEOUT", "must be at least 100ms, got %s", f.BreakerTimeout)
	}
	errs = append(errs, c.ingestKeyErrors()...)
	errs = append(errs, c.Web.validate()...)
	errs = append(errs, c.Vault.validate()...)
	errs = append(errs, c.validateReceivers()...)
	rm := c.Remediation
	checkListen("METRICS_PORT_REMEDIATION", rm.MetricsListen)
	checkListen("HEALTH_PORT_REMEDIATION", rm.HealthListen)
	if rm.Interval < 1e8 {
		bad("REMEDIATION_INTERVAL", "must be at least 100ms, got %s", rm.Interval)
	}
	if rm.BatchSize < 1 || rm.BatchSize > 100000 {
		bad("REMEDIATION_BATCH_SIZE", "must be from 1 to 100000, got %d", rm.BatchSize)
	}
	if rm.MaxReplays < 0 {
		bad("MAX_POISON_RETRIES", "must not be negative, got %d", rm.MaxReplays)
	}
	return errors.Join(errs...)
}

// RequireMoogKey reports an error when the Moogsoft API key is missing.
func (c *Config) RequireMoogKey() error {
	if !c.Forwarder.APIKey.IsSet() {
		return &FieldError{Field: "MOOG_API_KEY", Rule: "is required to run the forwarder (set it or MOOG_API_KEY_FILE)"}
	}
	return nil
}

// RequireIngestKey reports an error when the ingest API key is missing; the
// ingestor refuses to start without one rather than run open.
func (c *Config) RequireIngestKey() error {
	if !c.Ingest.APIKey.IsSet() {
		return &FieldError{Field: "INGEST_API_KEY", Rule: "is required to run the ingestor (set it or INGEST_API_KEY_FILE)"}
	}
	return errors.Join(c.ingestKeyErrors()...)
}
