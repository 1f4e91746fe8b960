package config

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/mutt-go/mutt/internal/secrets"
)

// Web configures the web UI and REST API service.
type Web struct {
	// Listen is host:port; SERVER_PORT_WEBUI (alias WEBUI_PORT) sets the port.
	Listen string `yaml:"listen"`
	// APIKey is the key named "default"; APIKeyNext, named "next", is
	// accepted alongside it during a rotation.
	APIKey     secrets.Secret `yaml:"-"`
	APIKeyNext secrets.Secret `yaml:"-"`
	// APIKeysFile names a file of "name:key" lines, one named key a line,
	// so that audit rows say whose key made a change.
	APIKeysFile string `yaml:"api_keys_file"`
	// AllowQueryKey also accepts the key as ?api_key= (it is redacted from
	// logs); the header is always preferred.
	AllowQueryKey bool `yaml:"allow_query_key"`
	// MetricsCacheTTL is how long the ingest rate summary is cached.
	MetricsCacheTTL time.Duration `yaml:"metrics_cache_ttl"`
	// PrometheusURL is where the SLO report queries; no trailing slash.
	PrometheusURL string `yaml:"prometheus_url"`
	// AuditLogPageSize is the default page size of paginated endpoints.
	AuditLogPageSize int `yaml:"audit_log_page_size"`
	// SessionKeyFile holds the key of the HMAC that names dashboard
	// sessions in Redis (so a copy of Redis cannot present one); empty
	// means a random key per process (sessions end at a restart).
	SessionKeyFile string `yaml:"session_key_file"`
	// MaxBodyBytes bounds a request body; larger bodies get 413.
	MaxBodyBytes int64 `yaml:"max_body_bytes"`
	// RateLimitPerMinute limits requests per client address; 0 disables.
	RateLimitPerMinute int `yaml:"rate_limit_per_minute"`
	// Dev allows starting without any API key: a random one is generated and
	// printed once. Only the --dev flag sets it.
	Dev bool `yaml:"-"`
}

// WebKey is one named API key of the web UI.
type WebKey struct {
	Name string
	Key  secrets.Secret
}

// DefaultWeb returns the web UI defaults.
func DefaultWeb() Web {
	return Web{
		Listen:           ":8090",
		MetricsCacheTTL:  5 * time.Second,
		PrometheusURL:    "http://localhost:9090",
		AuditLogPageSize: 50,
		MaxBodyBytes:     1 << 20,
	}
}

// webBindings are the environment variables of the web UI.
func (c *Config) webBindings() []binding {
	w := &c.Web
	return []binding{
		{[]string{"SERVER_PORT_WEBUI", "WEBUI_PORT"}, port(&w.Listen)},
		{[]string{"WEBUI_LISTEN"}, str(&w.Listen)},
		{[]string{"WEBUI_API_KEYS_FILE"}, str(&w.APIKeysFile)},
		{[]string{"WEBUI_ALLOW_QUERY_KEY"}, boolean(&w.AllowQueryKey)},
		{[]string{"METRICS_CACHE_TTL"}, seconds(&w.MetricsCacheTTL)},
		{[]string{"PROMETHEUS_URL"}, func(v string) error {
			w.PrometheusURL = strings.TrimRight(strings.TrimSpace(v), "/")
			return nil
		}},
		{[]string{"AUDIT_LOG_PAGE_SIZE"}, integer(&w.AuditLogPageSize)},
		{[]string{"MUTT_WEBUI_SESSION_KEY_FILE"}, str(&w.SessionKeyFile)},
		{[]string{"MUTT_WEBUI_MAX_BODY_BYTES"}, integer64(&w.MaxBodyBytes)},
		{[]string{"WEBUI_RATE_LIMIT_PER_MINUTE"}, integer(&w.RateLimitPerMinute)},
	}
}

// webSecretBindings are the web UI's keys, read from NAME or NAME_FILE.
func (c *Config) webSecretBindings() []struct {
	names []string
	dst   *secrets.Secret
} {
	return []struct {
		names []string
		dst   *secrets.Secret
	}{
		{[]string{"WEBUI_API_KEY"}, &c.Web.APIKey},
		{[]string{"WEBUI_API_KEY_NEXT"}, &c.Web.APIKeyNext},
	}
}

// validate checks the web settings; field names are the environment
// variables.
func (w Web) validate() []error {
	var errs []error
	bad := func(field, format string, args ...any) {
		errs = append(errs, &FieldError{Field: field, Rule: fmt.Sprintf(format, args...)})
	}
	if _, _, err := net.SplitHostPort(w.Listen); err != nil {
		bad("SERVER_PORT_WEBUI", "listen address must be host:port or :port, got %q", w.Listen)
	}
	if w.MetricsCacheTTL < 0 {
		bad("METRICS_CACHE_TTL", "must not be negative, got %s", w.MetricsCacheTTL)
	}
	if u, err := url.Parse(w.PrometheusURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		bad("PROMETHEUS_URL", "must be an http:// or https:// URL, got %q", w.PrometheusURL)
	}
	if w.AuditLogPageSize < 1 || w.AuditLogPageSize > 200 {
		bad("AUDIT_LOG_PAGE_SIZE", "must be from 1 to 200, got %d", w.AuditLogPageSize)
	}
	if w.MaxBodyBytes < 1024 {
		bad("MUTT_WEBUI_MAX_BODY_BYTES", "must be at least 1024, got %d", w.MaxBodyBytes)
	}
	if w.RateLimitPerMinute < 0 {
		bad("WEBUI_RATE_LIMIT_PER_MINUTE", "must be 0 (off) or more, got %d", w.RateLimitPerMinute)
	}
	return append(errs, w.webKeyErrors()...)
}

// Validate checks the web settings alone and returns every problem joined.
func (w Web) Validate() error {
	errs := w.validate()
	if len(errs) == 0 {
		return nil
	}
	var b strings.Builder
	for i, e := range errs {
		if i > 0 {
			b.WriteByte('\n')
		}
		b.WriteString(e.Error())
	}
	return fmt.Errorf("%s", b.String())
}

// Keys returns every configured API key with its name: "default"
// (WEBUI_API_KEY), "next" (WEBUI_API_KEY_NEXT), then the lines of
// APIKeysFile. It reads the file on each call.
func (w Web) Keys() ([]WebKey, error) {
	var keys []WebKey
	if w.APIKey.IsSet() {
		keys = append(keys, WebKey{Name: "default", Key: w.APIKey})
	}
	if w.APIKeyNext.IsSet() {
		keys = append(keys, WebKey{Name: "next", Key: w.APIKeyNext})
	}
	if w.APIKeysFile != "" {
		b, err := os.ReadFile(w.APIKeysFile)
		if err != nil {
			return nil, &FieldError{Field: "WEBUI_API_KEYS_FILE", Rule: fmt.Sprintf("reading %s: %v", w.APIKeysFile, err)}
		}
		named, err := ParseWebKeys(b)
		if err != nil {
			return nil, &FieldError{Field: "WEBUI_API_KEYS_FILE", Rule: err.Error()}
		}
		keys = append(keys, named...)
	}
	seen := map[string]bool{}
	for _, k := range keys {
		if seen[k.Name] {
			return nil, &FieldError{Field: "WEBUI_API_KEYS_FILE", Rule: fmt.Sprintf("key name %q is used twice", k.Name)}
		}
		seen[k.Name] = true
	}
	return keys, nil
}

// ParseWebKeys reads "name:key" lines; blank lines and lines starting with
// '#' are skipped. Names are 1 to 40 characters of letters, digits, '-',
// '_' and '.'; keys are at least 16 characters.
func ParseWebKeys(data []byte) ([]WebKey, error) {
	var keys []WebKey
	sc := bufio.NewScanner(bytes.NewReader(data))
	line := 0
	for sc.Scan() {
		line++
		s := strings.TrimSpace(sc.Text())
		if s == "" || strings.HasPrefix(s, "#") {
			continue
		}
		name, key, ok := strings.Cut(s, ":")
		name, key = strings.TrimSpace(name), strings.TrimSpace(key)
		if !ok || key == "" {
			return nil, fmt.Errorf("line %d: want name:key", line)
		}
		if !validKeyName(name) {
			return nil, fmt.Errorf("line %d: key name must be 1 to 40 letters, digits, '-', '_' or '.'", line)
		}
		if len(key) < MinAPIKeyLen {
			return nil, fmt.Errorf("line %d: key %q is shorter than %d characters", line, name, MinAPIKeyLen)
		}
		keys = append(keys, WebKey{Name: name, Key: secrets.New(key)})
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("reading keys: %w", err)
	}
	return keys, nil
}

func validKeyName(s string) bool {
	if s == "" || len(s) > 40 {
		return false
	}
	for _, r := range s {
		ok := r == '-' || r == '_' || r == '.' || (r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z') || (r >= '0' && r <= '9')
		if !ok {
			return false
		}
	}
	return true
}

// RequireWebKey reports an error when no web UI API key is configured and
// the development mode is off: the web UI refuses to run open or with a
// well-known key.
func (c *Config) RequireWebKey() error {
	if c.Web.Dev {
		return nil
	}
	keys, err := c.Web.Keys()
	if err != nil {
		return err
	}
	if len(keys) == 0 {
		return &FieldError{Field: "WEBUI_API_KEY", Rule: "is required to run the web UI (set it, WEBUI_API_KEY_FILE or WEBUI_API_KEYS_FILE, or pass --dev for a generated key)"}
	}
	return errors.Join(c.Web.webKeyErrors()...)
}
