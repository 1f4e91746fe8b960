package config

import (
	"fmt"
	"path/filepath"
	"slices"
	"strings"
)

// Storage modes: where MUTT keeps its queues, rules and audit trail.
const (
	// StorageEmbedded keeps everything in one SQLite file under DataDir;
	// one process, nothing else to run.
	StorageEmbedded = "embedded"
	// StorageRedis keeps queues and shared state in Redis and the rules and
	// audit trail in PostgreSQL.
	StorageRedis = "redis"
)

// Storage chooses the storage mode. With Mode empty it follows from the
// settings given: none of Redis or PostgreSQL means embedded, both means
// Redis + PostgreSQL, only one of them is an error naming both.
type Storage struct {
	// Mode is "embedded", "redis" or empty (decide from the settings).
	Mode string `yaml:"mode"`
	// DataDir holds the embedded database (mutt.db) and its lock file.
	DataDir string `yaml:"data_dir"`

	// redisSet and postgresSet name the Redis and PostgreSQL settings that
	// were given, in the YAML file or the environment.
	redisSet, postgresSet []string
}

// DatabaseFile is the embedded database's path.
func (s Storage) DatabaseFile() string { return filepath.Join(s.DataDir, "mutt.db") }

// StorageMode returns the storage mode the settings select, or an error
// naming the settings when they mix the two modes.
func (c *Config) StorageMode() (string, error) {
	switch c.Storage.Mode {
	case StorageEmbedded, StorageRedis:
		return c.Storage.Mode, nil
	case "":
	default:
		return "", &FieldError{Field: "MUTT_STORAGE", Rule: fmt.Sprintf("must be embedded or redis, got %q", c.Storage.Mode)}
	}
	r, p := c.Storage.redisSet, c.Storage.postgresSet
	// A URL set in code (tests, tools) counts like one from the
	// environment.
	if c.Redis.URL.IsSet() && len(r) == 0 {
		r = []string{"REDIS_URL"}
	}
	if c.Postgres.URL.IsSet() && len(p) == 0 {
		p = []string{"DATABASE_URL"}
	}
	switch {
	case len(r) == 0 && len(p) == 0:
		return StorageEmbedded, nil
	case len(r) > 0 && len(p) > 0:
		return StorageRedis, nil
	case len(r) > 0:
		return "", &FieldError{Field: strings.Join(r, ", "), Rule: "Redis is configured but PostgreSQL is not (no DATABASE_URL or DB_* setting): " +
			"set both for the Redis + PostgreSQL mode, neither for the embedded mode (MUTT_DATA_DIR), or MUTT_STORAGE=redis to use the PostgreSQL defaults"}
	default:
		return "", &FieldError{Field: strings.Join(p, ", "), Rule: "PostgreSQL is configured but Redis is not (no REDIS_URL or REDIS_* setting): " +
			"set both for the Redis + PostgreSQL mode, neither for the embedded mode (MUTT_DATA_DIR), or MUTT_STORAGE=redis to use the Redis defaults"}
	}
}

// UsesRedis reports whether the settings point at a Redis server: the
// Redis + PostgreSQL mode, or a Redis setting given at all. Commands that
// need only Redis (mutt dlq) use it.
func (c *Config) UsesRedis() bool {
	return c.Storage.Mode == StorageRedis || (c.Storage.Mode == "" && (len(c.Storage.redisSet) > 0 || c.Redis.URL.IsSet()))
}

// noteStorageSetting records that the setting name was given.
func (c *Config) noteStorageSetting(name string) {
	var dst *[]string
	switch {
	case strings.HasPrefix(name, "REDIS_"):
		dst = &c.Storage.redisSet
	case strings.HasPrefix(name, "DB_"), name == "DATABASE_URL":
		dst = &c.Storage.postgresSet
	default:
		return
	}
	if !slices.Contains(*dst, name) {
		*dst = append(*dst, name)
	}
}

// validateStorage checks the storage settings. Mixing the two modes is
// checked by StorageMode, where a command needs the mode: a command that
// needs only Redis may be given only Redis settings.
func (c *Config) validateStorage() []error {
	var errs []error
	switch c.Storage.Mode {
	case "", StorageEmbedded, StorageRedis:
	default:
		errs = append(errs, &FieldError{Field: "MUTT_STORAGE", Rule: fmt.Sprintf("must be embedded or redis, got %q", c.Storage.Mode)})
	}
	if c.Storage.DataDir == "" {
		errs = append(errs, &FieldError{Field: "MUTT_DATA_DIR", Rule: "must not be empty"})
	}
	return errs
}
