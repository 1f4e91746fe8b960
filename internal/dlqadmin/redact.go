package dlqadmin

import (
	"bytes"
	"encoding/json"
	"slices"
	"strings"

	"github.com/mutt-go/mutt/internal/secrets"
)

// sensitiveKeys are payload members whose values are never shown: old
// alerts carried the Moogsoft API key in every message.
var sensitiveKeys = []string{"api_key", "apikey", "password", "secret", "token", "authorization"}

// RedactPayload replaces the values of sensitive members of a JSON object
// payload, at any depth, with a fingerprint that tells keys apart without
// revealing them. Other payloads come back unchanged.
func RedactPayload(raw []byte) []byte {
	lower := bytes.ToLower(raw)
	if !slices.ContainsFunc(sensitiveKeys, func(k string) bool { return bytes.Contains(lower, []byte(k)) }) {
		return raw
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return raw
	}
	if !redact(v) {
		return raw
	}
	out, err := json.Marshal(v)
	if err != nil {
		return raw
	}
	return out
}

// redact walks v and reports whether it replaced anything.
func redact(v any) bool {
	changed := false
	switch t := v.(type) {
	case map[string]any:
		for k, val := range t {
			if slices.Contains(sensitiveKeys, strings.ToLower(k)) {
				s, _ := val.(string)
				if s == "" {
					continue
				}
				t[k] = "[REDACTED sha256:" + secrets.New(s).Fingerprint() + "]"
				changed = true
				continue
			}
			changed = redact(val) || changed
		}
	case []any:
		for _, val := range t {
			changed = redact(val) || changed
		}
	}
	return changed
}
