package config

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mutt-go/mutt/internal/secrets"
)

func lookup(m map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
}

func TestDefaultsAreValid(t *testing.T) {
	cfg := Default()
	cfg.Finish()
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	if cfg.Keys.IngestQueue != "mutt:ingest_queue" || cfg.Keys.AlerterDLQ != "mutt:dlq:alerter" {
		t.Errorf("derived keys = %+v", cfg.Keys)
	}
	if strings.Contains(cfg.PodName, ":") || cfg.PodName == "" {
		t.Errorf("pod name = %q", cfg.PodName)
	}
}

func TestEnvironmentOverrides(t *testing.T) {
	cfg, err := Load("", lookup(map[string]string{
		"MUTT_KEY_PREFIX":          "site1",
		"ALERT_QUEUE_NAME":         "custom:alerts",
		"SERVER_PORT_INGESTOR":     "9090",
		"REQUIRED_MESSAGE_FIELDS":  "hostname, message ,",
		"CACHE_RELOAD_INTERVAL":    "60",
		"ALERTER_DEFER_SLEEP_MS":   "100",
		"UNHANDLED_EXPIRY_SECONDS": "3600",
		"RATE_LIMIT_ENABLED":       "TRUE",
		"REDIS_TLS_ENABLED":        "false",
		"INGEST_API_KEY":           "ingest-key-0123456789",
	}))
	if err != nil {
		t.Fatal(err)
	}
	cfg.Finish()
	checks := []struct {
		name      string
		got, want any
	}{
		{"ingest queue from prefix", cfg.Keys.IngestQueue, "site1:ingest_queue"},
		{"explicit alert queue", cfg.Keys.AlertQueue, "custom:alerts"},
		{"port keeps host part", cfg.Ingest.Listen, ":9090"},
		{"legacy required fields name", strings.Join(cfg.Ingest.RequiredFields, ","), "hostname,message"},
		{"seconds", cfg.Alerter.CacheReloadInterval, 60 * time.Second},
		{"milliseconds", cfg.Alerter.Shedding.DeferSleep, 100 * time.Millisecond},
		{"expiry", cfg.Alerter.UnhandledExpiry, time.Hour},
		{"bool case-insensitive", cfg.Ingest.RateLimit.Enabled, true},
		{"bool false", cfg.Redis.TLSEnabled, false},
		{"secret", cfg.Ingest.APIKey.Reveal(), "ingest-key-0123456789"},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s: got %v, want %v", c.name, c.got, c.want)
		}
	}
}

func TestRequiredFieldsTakesPrecedence(t *testing.T) {
	cfg, err := Load("", lookup(map[string]string{"REQUIRED_FIELDS": "a", "REQUIRED_MESSAGE_FIELDS": "b"}))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(cfg.Ingest.RequiredFields, ",") != "a" {
		t.Errorf("required = %v", cfg.Ingest.RequiredFields)
	}
}

func TestValidateNamesEveryBadField(t *testing.T) {
	tests := []struct {
		env   map[string]string
		field string
	}{
		{map[string]string{"REDIS_PORT": "70000"}, "REDIS_PORT"},
		{map[string]string{"REDIS_DB": "16"}, "REDIS_DB"},
		{map[string]string{"REDIS_MAX_CONNECTIONS": "2"}, "REDIS_MAX_CONNECTIONS"},
		{map[string]string{"DB_POOL_MIN_CONN": "5", "DB_POOL_MAX_CONN": "2"}, "DB_POOL_MAX_CONN"},
		{map[string]string{"MAX_INGEST_QUEUE_SIZE": "999"}, "MAX_INGEST_QUEUE_SIZE"},
		{map[string]string{"ALERTER_SHED_MODE": "DLQ"}, "ALERTER_SHED_MODE"},
		{map[string]string{"ALERTER_QUEUE_WARN_THRESHOLD": "5000"}, "ALERTER_QUEUE_WARN_THRESHOLD"},
		{map[string]string{"POD_NAME": "x:y"}, "POD_NAME"},
		{map[string]string{"LOG_LEVEL": "loud"}, "LOG_LEVEL"},
		{map[string]string{"REDIS_URL": "http://x"}, "REDIS_URL"},
		{map[string]string{"ALERTER_WORKERS": "0"}, "ALERTER_WORKERS"},
		{map[string]string{"UNHANDLED_THRESHOLD": "0"}, "UNHANDLED_THRESHOLD"},
	}
	for _, tt := range tests {
		t.Run(tt.field, func(t *testing.T) {
			cfg, err := Load("", lookup(tt.env))
			if err != nil {
				t.Fatal(err)
			}
			cfg.Finish()
			err = cfg.Validate()
			var fe *FieldError
			if !errors.As(err, &fe) || !strings.Contains(err.Error(), tt.field) {
				t.Errorf("Validate() = %v, want an error naming %s", err, tt.field)
			}
		})
	}
}

func TestParseErrorsAreCollected(t *testing.T) {
	_, err := Load("", lookup(map[string]string{"REDIS_PORT": "x", "DB_PORT": "y", "RATE_LIMIT_ENABLED": "maybe"}))
	if err == nil {
		t.Fatal("no error")
	}
	for _, f := range []string{"REDIS_PORT", "DB_PORT", "RATE_LIMIT_ENABLED"} {
		if !strings.Contains(err.Error(), f) {
			t.Errorf("error does not name %s: %v", f, err)
		}
	}
}

func TestYAMLFileThenEnvironment(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "mutt.yaml")
	yaml := "key_prefix: fromfile\nalerter:\n  workers: 4\n  shedding:\n    mode: dlq\ningest:\n  max_queue_size: 5000\n"
	if err := os.WriteFile(path, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := Load(path, lookup(map[string]string{"ALERTER_WORKERS": "8"}))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.KeyPrefix != "fromfile" || cfg.Alerter.Workers != 8 || cfg.Alerter.Shedding.Mode != "dlq" || cfg.Ingest.MaxQueueSize != 5000 {
		t.Errorf("cfg = %+v", cfg)
	}
	if err := os.WriteFile(path, []byte("alerter:\n  wokers: 4\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(path, lookup(nil)); err == nil || !strings.Contains(err.Error(), "wokers") {
		t.Errorf("a misspelt key must be an error naming it, got %v", err)
	}
	if err := os.WriteFile(path, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(path, lookup(nil)); err != nil {
		t.Errorf("an empty file is no settings, got %v", err)
	}
}

func TestSecretsNeverSerialised(t *testing.T) {
	cfg, err := Load("", lookup(map[string]string{"INGEST_API_KEY": "sekrit-1", "DB_PASS": "sekrit-2", "REDIS_PASS_NEXT": "sekrit-3"}))
	if err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(b), "sekrit") {
		t.Errorf("config JSON reveals a secret: %s", b)
	}
	if cfg.Postgres.Password.Reveal() != "sekrit-2" {
		t.Error("legacy DB_PASS not read")
	}
}

func TestShortAPIKeysRefused(t *testing.T) {
	long := "0123456789abcdef"
	for _, field := range []string{"INGEST_API_KEY", "INGEST_API_KEY_NEXT", "WEBUI_API_KEY", "WEBUI_API_KEY_NEXT"} {
		t.Run(field, func(t *testing.T) {
			for _, v := range []string{"x", "y", long[:15]} {
				cfg, err := Load("", lookup(map[string]string{field: v}))
				if err != nil {
					t.Fatal(err)
				}
				cfg.Finish()
				err = cfg.Validate()
				var fe *FieldError
				if !errors.As(err, &fe) || fe.Field != field || !strings.Contains(err.Error(), "16") {
					t.Errorf("%s=%q: Validate() = %v, want a FieldError naming %s and the 16-character rule", field, v, err, field)
					continue
				}
				if strings.Contains(err.Error(), v) && len(v) > 1 {
					t.Errorf("the error shows the key: %v", err)
				}
			}
			cfg, err := Load("", lookup(map[string]string{field: long}))
			if err != nil {
				t.Fatal(err)
			}
			cfg.Finish()
			if err := cfg.Validate(); err != nil {
				t.Errorf("a 16-character key refused: %v", err)
			}
		})
	}
	// Keys that arrive later (from Vault) are checked where a role needs them.
	cfg := Default()
	cfg.Finish()
	cfg.Ingest.APIKey = secrets.New("y")
	if err := cfg.RequireIngestKey(); err == nil || !strings.Contains(err.Error(), "INGEST_API_KEY") {
		t.Errorf("RequireIngestKey with a short key: %v", err)
	}
	cfg.Web.APIKey = secrets.New("x")
	if err := cfg.RequireWebKey(); err == nil || !strings.Contains(err.Error(), "WEBUI_API_KEY") {
		t.Errorf("RequireWebKey with a short key: %v", err)
	}
	if err := cfg.Web.Validate(); err == nil || !strings.Contains(err.Error(), "WEBUI_API_KEY") {
		t.Errorf("Web.Validate with a short key: %v", err)
	}
}
