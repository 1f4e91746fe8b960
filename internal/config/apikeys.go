package config

import (
	"fmt"

	"github.com/mutt-go/mutt/internal/secrets"
)

// MinAPIKeyLen is the shortest API key MUTT accepts for its own APIs (the
// ingest API and the web UI), wherever the key comes from: a variable, a
// *_FILE, the keys file or Vault.
const MinAPIKeyLen = 16

// checkAPIKey refuses a set key shorter than MinAPIKeyLen; the error names
// the variable, never the key.
func checkAPIKey(field string, key secrets.Secret) error {
	if key.IsSet() && len(key.Reveal()) < MinAPIKeyLen {
		return &FieldError{Field: field, Rule: fmt.Sprintf("must be at least %d characters (generate one with: head -c 24 /dev/urandom | base64)", MinAPIKeyLen)}
	}
	return nil
}

// ingestKeyErrors checks the lengths of the ingest API keys.
func (c *Config) ingestKeyErrors() []error {
	var errs []error
	for _, k := range []struct {
		field string
		key   secrets.Secret
	}{{"INGEST_API_KEY", c.Ingest.APIKey}, {"INGEST_API_KEY_NEXT", c.Ingest.APIKeyNext}} {
		if err := checkAPIKey(k.field, k.key); err != nil {
			errs = append(errs, err)
		}
	}
	return errs
}

// webKeyErrors checks the lengths of the web UI's API keys (the keys file
// checks its own lines).
func (w Web) webKeyErrors() []error {
	var errs []error
	for _, k := range []struct {
		field string
		key   secrets.Secret
	}{{"WEBUI_API_KEY", w.APIKey}, {"WEBUI_API_KEY_NEXT", w.APIKeyNext}} {
		if err := checkAPIKey(k.field, k.key); err != nil {
			errs = append(errs, err)
		}
	}
	return errs
}
