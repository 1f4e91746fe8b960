package config

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/mutt-go/mutt/internal/secrets"
)

// binding ties environment variable names (the first set one wins) to a
// field of Config.
type binding struct {
	names []string
	set   func(string) error
}

func str(dst *string) func(string) error {
	return func(v string) error { *dst = v; return nil }
}

func urlValue(dst *URL) func(string) error {
	return func(v string) error { *dst = NewURL(v); return nil }
}

func integer(dst *int) func(string) error {
	return func(v string) error {
		n, err := strconv.Atoi(strings.TrimSpace(v))
		if err != nil {
			return fmt.Errorf("must be an integer, got %q", v)
		}
		*dst = n
		return nil
	}
}

func integer64(dst *int64) func(string) error {
	return func(v string) error {
		n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
		if err != nil {
			return fmt.Errorf("must be an integer, got %q", v)
		}
		*dst = n
		return nil
	}
}

// boolean accepts true/false, 1/0, yes/no and on/off, case-insensitively.
func boolean(dst *bool) func(string) error {
	return func(v string) error {
		switch strings.ToLower(strings.TrimSpace(v)) {
		case "true", "1", "yes", "on":
			*dst = true
		case "false", "0", "no", "off", "":
			*dst = false
		default:
			return fmt.Errorf("must be true or false, got %q", v)
		}
		return nil
	}
}

// seconds reads a whole number of seconds (MUTT's historical unit) or a Go
// duration such as "250ms".
func seconds(dst *time.Duration) func(string) error {
	return func(v string) error {
		v = strings.TrimSpace(v)
		if n, err := strconv.ParseFloat(v, 64); err == nil {
			*dst = time.Duration(n * float64(time.Second))
			return nil
		}
		d, err := time.ParseDuration(v)
		if err != nil {
			return fmt.Errorf("must be seconds or a duration like 250ms, got %q", v)
		}
		*dst = d
		return nil
	}
}

func millis(dst *time.Duration) func(string) error {
	return func(v string) error {
		n, err := strconv.Atoi(strings.TrimSpace(v))
		if err != nil {
			return fmt.Errorf("must be an integer number of milliseconds, got %q", v)
		}
		*dst = time.Duration(n) * time.Millisecond
		return nil
	}
}

func port(dst *string) func(string) error {
	return func(v string) error {
		n, err := strconv.Atoi(strings.TrimSpace(v))
		if err != nil || n < 1 || n > 65535 {
			return fmt.Errorf("must be a port from 1 to 65535, got %q", v)
		}
		host := ""
		if i := strings.LastIndex(*dst, ":"); i >= 0 {
			host = (*dst)[:i]
		}
		*dst = host + ":" + strconv.Itoa(n)
		return nil
	}
}

func list(dst *[]string) func(string) error {
	return func(v string) error {
		var out []string
		for _, f := range strings.Split(v, ",") {
			if f = strings.TrimSpace(f); f != "" {
				out = append(out, f)
			}
		}
		*dst = out
		return nil
	}
}

func (c *Config) bindings() []binding {
	r, pg, in, al := &c.Redis, &c.Postgres, &c.Ingest, &c.Alerter
	fw, rm := &c.Forwarder, &c.Remediation
	return []binding{
		{[]string{"MUTT_KEY_PREFIX"}, str(&c.KeyPrefix)},
		{[]string{"POD_NAME"}, str(&c.PodName)},
		{[]string{"DYNAMIC_CONFIG_ENABLED"}, boolean(&c.DynamicConfigEnabled)},
		{[]string{"LOG_LEVEL"}, str(&c.Log.Level)},
		{[]string{"LOG_FORMAT"}, str(&c.Log.Format)},
		{[]string{"LOG_JSON_ENABLED"}, func(v string) error {
			var on bool
			if err := boolean(&on)(v); err != nil {
				return err
			}
			c.Log.Format = map[bool]string{true: "json", false: "text"}[on]
			return nil
		}},

		{[]string{"MUTT_STORAGE"}, str(&c.Storage.Mode)},
		{[]string{"MUTT_DATA_DIR"}, str(&c.Storage.DataDir)},

		{[]string{"REDIS_URL"}, urlValue(&r.URL)},
		{[]string{"REDIS_HOST"}, str(&r.Host)},
		{[]string{"REDIS_PORT"}, integer(&r.Port)},
		{[]string{"REDIS_DB"}, integer(&r.DB)},
		{[]string{"REDIS_TLS_ENABLED"}, boolean(&r.TLSEnabled)},
		{[]string{"REDIS_CA_CERT_PATH"}, str(&r.CACertPath)},
		{[]string{"REDIS_MAX_CONNECTIONS"}, integer(&r.MaxConnections)},
		{[]string{"REDIS_SENTINEL_ADDRS"}, list(&r.SentinelAddrs)},
		{[]string{"REDIS_SENTINEL_MASTER"}, str(&r.SentinelMaster)},
		{[]string{"REDIS_CLUSTER_NODES"}, list(&r.ClusterNodes)},

		{[]string{"DATABASE_URL"}, urlValue(&pg.URL)},
		{[]string{"DB_HOST"}, str(&pg.Host)},
		{[]string{"DB_PORT"}, integer(&pg.Port)},
		{[]string{"DB_NAME"}, str(&pg.Name)},
		{[]string{"DB_USER"}, str(&pg.User)},
		{[]string{"DB_TLS_ENABLED"}, boolean(&pg.TLSEnabled)},
		{[]string{"DB_TLS_CA_CERT_PATH"}, str(&pg.CACertPath)},
		{[]string{"DB_POOL_MIN_CONN"}, integer(&pg.PoolMinConns)},
		{[]string{"DB_POOL_MAX_CONN"}, integer(&pg.PoolMaxConns)},

		{[]string{"INGEST_QUEUE_NAME"}, str(&c.Keys.IngestQueue)},
		{[]string{"ALERT_QUEUE_NAME"}, str(&c.Keys.AlertQueue)},
		{[]string{"ALERTER_DLQ_NAME"}, str(&c.Keys.AlerterDLQ)},
		{[]string{"METRICS_PREFIX"}, str(&c.Keys.MetricsPrefix)},
		{[]string{"UNHANDLED_PREFIX"}, str(&c.Keys.UnhandledPrefix)},

		{[]string{"SERVER_PORT_INGESTOR"}, port(&in.Listen)},
		{[]string{"INGEST_LISTEN"}, str(&in.Listen)},
		{[]string{"MAX_INGEST_QUEUE_SIZE"}, integer64(&in.MaxQueueSize)},
		{[]string{"INGEST_MAX_BODY_BYTES"}, integer64(&in.MaxBodyBytes)},
		{[]string{"REQUIRED_FIELDS", "REQUIRED_MESSAGE_FIELDS"}, list(&in.RequiredFields)},
		{[]string{"RATE_LIMIT_ENABLED"}, boolean(&in.RateLimit.Enabled)},
		{[]string{"INGEST_MAX_RATE"}, integer(&in.RateLimit.Max)},
		{[]string{"INGEST_RATE_WINDOW"}, seconds(&in.RateLimit.Window)},

		{[]string{"METRICS_PORT_ALERTER"}, port(&al.MetricsListen)},
		{[]string{"HEALTH_PORT_ALERTER"}, port(&al.HealthListen)},
		{[]string{"ALERTER_METRICS_LISTEN"}, str(&al.MetricsListen)},
		{[]string{"ALERTER_HEALTH_LISTEN"}, str(&al.HealthListen)},
		{[]string{"ALERTER_WORKERS"}, integer(&al.Workers)},
		{[]string{"ALERTER_BATCH_SIZE"}, integer(&al.BatchSize)},
		{[]string{"BRPOPLPUSH_TIMEOUT", "ALERTER_BLOCK"}, seconds(&al.Block)},
		{[]string{"ALERTER_MAX_RETRIES"}, integer(&al.MaxRetries)},
		{[]string{"ALERTER_JANITOR_TIMEOUT", "ALERTER_RECLAIM_IDLE"}, seconds(&al.ReclaimIdle)},
		{[]string{"CACHE_RELOAD_INTERVAL"}, seconds(&al.CacheReloadInterval)},
		{[]string{"UNHANDLED_THRESHOLD"}, integer(&al.UnhandledThreshold)},
		{[]string{"UNHANDLED_EXPIRY_SECONDS"}, seconds(&al.UnhandledExpiry)},
		{[]string{"UNHANDLED_DEFAULT_TEAM"}, str(&al.UnhandledDefaultTeam)},
		{[]string{"ALERTER_QUEUE_WARN_THRESHOLD"}, integer64(&al.Shedding.WarnThreshold)},
		{[]string{"ALERTER_QUEUE_SHED_THRESHOLD"}, integer64(&al.Shedding.ShedThreshold)},
		{[]string{"ALERTER_SHED_MODE"}, str(&al.Shedding.Mode)},
		{[]string{"ALERTER_DEFER_SLEEP_MS"}, millis(&al.Shedding.DeferSleep)},

		{[]string{"MOOG_DLQ_NAME"}, str(&c.Keys.MoogDLQ)},
		{[]string{"DEAD_LETTER_QUEUE"}, str(&c.Keys.DeadDLQ)},
		{[]string{"MOOG_RATE_LIMIT_KEY"}, str(&c.Keys.MoogRateLimit)},
		{[]string{"METRICS_PORT_MOOG"}, port(&fw.MetricsListen)},
		{[]string{"HEALTH_PORT_MOOG"}, port(&fw.HealthListen)},
		{[]string{"FORWARDER_METRICS_LISTEN"}, str(&fw.MetricsListen)},
		{[]string{"FORWARDER_HEALTH_LISTEN"}, str(&fw.HealthListen)},
		{[]string{"MOOG_WEBHOOK_URL"}, urlValue(&fw.WebhookURL)},
		{[]string{"MOOG_WEBHOOK_TIMEOUT"}, seconds(&fw.Timeout)},
		{[]string{"FORWARDER_WORKERS"}, integer(&fw.Workers)},
		{[]string{"FORWARDER_BATCH_SIZE"}, integer(&fw.BatchSize)},
		{[]string{"FORWARDER_CONCURRENCY"}, integer(&fw.Concurrency)},
		{[]string{"FORWARDER_BLOCK"}, seconds(&fw.Block)},
		{[]string{"MOOG_JANITOR_TIMEOUT", "FORWARDER_RECLAIM_IDLE"}, seconds(&fw.ReclaimIdle)},
		{[]string{"MOOG_RATE_LIMIT"}, integer(&fw.RateLimit)},
		{[]string{"MOOG_RATE_PERIOD"}, seconds(&fw.RatePeriod)},
		{[]string{"MOOG_MAX_RETRIES"}, integer(&fw.MaxRetries)},
		{[]string{"MOOG_RETRY_BASE_DELAY"}, seconds(&fw.RetryBaseDelay)},
		{[]string{"MOOG_RETRY_MAX_DELAY"}, seconds(&fw.RetryMaxDelay)},
		{[]string{"CIRCUIT_BREAKER_ENABLED"}, boolean(&fw.BreakerEnabled)},
		{[]string{"CIRCUIT_BREAKER_THRESHOLD"}, integer(&fw.BreakerThreshold)},
		{[]string{"CIRCUIT_BREAKER_TIMEOUT"}, seconds(&fw.BreakerTimeout)},

		{[]string{"METRICS_PORT_REMEDIATION"}, port(&rm.MetricsListen)},
		{[]string{"HEALTH_PORT_REMEDIATION"}, port(&rm.HealthListen)},
		{[]string{"REMEDIATION_METRICS_LISTEN"}, str(&rm.MetricsListen)},
		{[]string{"REMEDIATION_HEALTH_LISTEN"}, str(&rm.HealthListen)},
		{[]string{"REMEDIATION_ENABLED"}, boolean(&rm.Enabled)},
		{[]string{"REMEDIATION_INTERVAL"}, seconds(&rm.Interval)},
		{[]string{"REMEDIATION_BATCH_SIZE"}, integer(&rm.BatchSize)},
		{[]string{"MAX_POISON_RETRIES", "REMEDIATION_MAX_REPLAYS"}, integer(&rm.MaxReplays)},
		{[]string{"MOOG_HEALTH_URL"}, urlValue(&rm.HealthURL)},
		{[]string{"MOOG_HEALTH_TIMEOUT"}, seconds(&rm.HealthTimeout)},
		{[]string{"MOOG_HEALTH_CHECK_ENABLED"}, boolean(&rm.HealthCheck)},
	}
}

// secretBindings lists the secrets read from NAME or NAME_FILE; for each
// destination the first set name wins (CURRENT before the legacy name).
func (c *Config) secretBindings() []struct {
	names []string
	dst   *secrets.Secret
} {
	return []struct {
		names []string
		dst   *secrets.Secret
	}{
		{[]string{"INGEST_API_KEY"}, &c.Ingest.APIKey},
		{[]string{"INGEST_API_KEY_NEXT"}, &c.Ingest.APIKeyNext},
		{[]string{"MOOG_API_KEY"}, &c.Forwarder.APIKey},
		{[]string{"REDIS_PASS_CURRENT", "REDIS_PASS"}, &c.Redis.Password},
		{[]string{"REDIS_PASS_NEXT"}, &c.Redis.PasswordNext},
		{[]string{"REDIS_SENTINEL_PASSWORD"}, &c.Redis.SentinelPassword},
		{[]string{"DB_PASS_CURRENT", "DB_PASS"}, &c.Postgres.Password},
		{[]string{"DB_PASS_NEXT"}, &c.Postgres.PasswordNext},
		{[]string{"SNMP_COMMUNITIES"}, &c.SNMP.Communities},
	}
}

// FieldError names a configuration setting and what is wrong with it.
type FieldError struct {
	Field string // environment variable or YAML path
	Rule  string
}

func (e *FieldError) Error() string { return e.Field + ": " + e.Rule }

func (c *Config) applyEnv(lookup secrets.Lookup) error {
	var errs []error
	for _, b := range append(append(append(c.bindings(), c.webBindings()...), c.vaultBindings()...), c.receiverBindings()...) {
		for _, name := range b.names {
			v, ok := lookup(name)
			if !ok {
				continue
			}
			if err := b.set(v); err != nil {
				errs = append(errs, &FieldError{Field: name, Rule: err.Error()})
			}
			// An empty value (REDIS_URL= in an env file) gives nothing: it
			// does not pick the storage mode.
			if strings.TrimSpace(v) != "" {
				c.noteStorageSetting(name)
			}
			break
		}
	}
	for _, s := range append(c.secretBindings(), c.webSecretBindings()...) {
		for _, name := range s.names {
			v, ok, err := secrets.FromEnv(lookup, name)
			if err != nil {
				errs = append(errs, &FieldError{Field: name, Rule: err.Error()})
				break
			}
			if ok {
				*s.dst = v
				c.noteStorageSetting(name)
				break
			}
		}
	}
	return errors.Join(errs...)
}
