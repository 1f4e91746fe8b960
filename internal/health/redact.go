package health

import (
	"regexp"
	"strings"

	"github.com/mutt-go/mutt/internal/config"
	"github.com/mutt-go/mutt/internal/secrets"
)

// userinfoPattern matches the user information of a URL ("scheme://u:p@").
var userinfoPattern = regexp.MustCompile(`([a-zA-Z][a-zA-Z0-9+.-]*://)[^/@\s]*@`)

// passwordPattern matches a password in a keyword/value DSN or query.
var passwordPattern = regexp.MustCompile(`(?i)(password=)('[^']*'|[^\s&]+)`)

// redactor masks secrets in check details.
type redactor struct {
	values []string // secret values to mask, longest first
}

// newRedactor collects every secret of cfg a detail might repeat: the
// Redis and PostgreSQL passwords (static, live and in URLs) and API keys.
func newRedactor(cfg config.Config) redactor {
	var r redactor
	add := func(s secrets.Secret) {
		if v := s.Reveal(); v != "" {
			r.values = append(r.values, v)
		}
	}
	addPair := func(p *secrets.Pair) {
		if p != nil {
			add(p.Current())
			add(p.Next())
		}
	}
	addURL := func(u config.URL) {
		if p, ok := u.Password(); ok {
			add(secrets.New(p))
		}
	}
	add(cfg.Redis.Password)
	add(cfg.Redis.PasswordNext)
	addPair(cfg.Redis.Credentials)
	add(cfg.Redis.SentinelPassword)
	addURL(cfg.Redis.URL)
	add(cfg.Postgres.Password)
	add(cfg.Postgres.PasswordNext)
	addPair(cfg.Postgres.Credentials)
	addURL(cfg.Postgres.URL)
	add(cfg.Ingest.APIKey)
	add(cfg.Ingest.APIKeyNext)
	add(cfg.Web.APIKey)
	add(cfg.Web.APIKeyNext)
	add(cfg.Forwarder.APIKey)
	// Longest first, so that a secret containing another is masked whole.
	for i := 1; i < len(r.values); i++ {
		for j := i; j > 0 && len(r.values[j]) > len(r.values[j-1]); j-- {
			r.values[j], r.values[j-1] = r.values[j-1], r.values[j]
		}
	}
	return r
}

// redact removes user information from URLs, passwords from DSNs and every
// known secret value from s.
func (r redactor) redact(s string) string {
	s = userinfoPattern.ReplaceAllString(s, "${1}…@")
	s = passwordPattern.ReplaceAllString(s, "${1}…")
	for _, v := range r.values {
		s = strings.ReplaceAll(s, v, "…")
	}
	return s
}
