package config

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"net/url"
	"strings"

	"gopkg.in/yaml.v3"
)

// redactedURL is shown for a URL that cannot be parsed: it may hold a
// password anywhere, so none of it is shown.
const redactedURL = "[REDACTED URL]"

// passwordParams are query parameters that carry a password (libpq's
// password and sslpassword); their values are redacted like userinfo.
var passwordParams = []string{"password", "sslpassword"}

// URL is a connection URL (REDIS_URL, DATABASE_URL) that may carry a
// password. Like secrets.Secret, every printing path — String, GoString,
// MarshalJSON, MarshalText, MarshalYAML and LogValue — shows it with the
// password replaced by "xxxxx", so a URL can sit in a config struct that is
// printed, logged or served by /admin/config without leaking. Reveal
// returns the URL as configured, for dialing.
type URL struct {
	raw string
}

// NewURL wraps raw as a URL.
func NewURL(raw string) URL { return URL{raw: raw} }

// Reveal returns the URL with its password. Call it only to dial.
func (u URL) Reveal() string { return u.raw }

// IsSet reports whether a URL was configured.
func (u URL) IsSet() bool { return u.raw != "" }

// Password returns the password the URL carries in its user information
// (or password query parameter), and whether it has one.
func (u URL) Password() (string, bool) {
	p, err := url.Parse(u.raw)
	if err != nil {
		return "", false
	}
	if p.User != nil {
		if pw, ok := p.User.Password(); ok {
			return pw, true
		}
	}
	q := p.Query()
	for _, name := range passwordParams {
		if v := q.Get(name); v != "" {
			return v, true
		}
	}
	return "", false
}

// String returns the URL with its password replaced by "xxxxx"; a URL
// that does not parse is hidden whole.
func (u URL) String() string {
	if u.raw == "" {
		return ""
	}
	p, err := url.Parse(u.raw)
	if err != nil {
		return redactedURL
	}
	if p.RawQuery != "" {
		q := p.Query()
		changed := false
		for name := range q {
			for _, secret := range passwordParams {
				if strings.EqualFold(name, secret) {
					q[name] = []string{"xxxxx"}
					changed = true
				}
			}
		}
		if changed {
			p.RawQuery = q.Encode()
		}
	}
	return p.Redacted()
}

// GoString implements fmt.GoStringer without revealing the password.
func (u URL) GoString() string { return "config.URL(" + u.String() + ")" }

// Format implements fmt.Formatter so that every verb (%s, %v, %q, %x, %#v)
// prints the redacted form.
func (u URL) Format(f fmt.State, verb rune) {
	switch {
	case verb == 'v' && f.Flag('#'):
		_, _ = fmt.Fprint(f, u.GoString())
	case verb == 'q':
		_, _ = fmt.Fprintf(f, "%q", u.String())
	default:
		_, _ = fmt.Fprint(f, u.String())
	}
}

// MarshalText implements encoding.TextMarshaler without revealing the
// password.
func (u URL) MarshalText() ([]byte, error) { return []byte(u.String()), nil }

// MarshalJSON encodes the redacted form as a JSON string.
func (u URL) MarshalJSON() ([]byte, error) { return json.Marshal(u.String()) }

// MarshalYAML encodes the redacted form.
func (u URL) MarshalYAML() (any, error) { return u.String(), nil }

// UnmarshalYAML reads the URL from a YAML scalar.
func (u *URL) UnmarshalYAML(n *yaml.Node) error {
	var s string
	if err := n.Decode(&s); err != nil {
		return err
	}
	u.raw = s
	return nil
}

// LogValue implements slog.LogValuer without revealing the password.
func (u URL) LogValue() slog.Value { return slog.StringValue(u.String()) }
