// Package secrets holds MUTT's credentials: a Secret type that never prints
// its value, a Pair of CURRENT/NEXT values for passwords rotated while
// connections run, and the provider that reads secrets from the
// environment or from files named by <NAME>_FILE (Vault is in the vault
// subpackage).
//
// It must not import any other MUTT package.
package secrets

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"log/slog"
)

// redacted is what every printing path shows instead of a secret's value.
const redacted = "[REDACTED]"

// Secret is a credential. Its String, GoString, MarshalJSON, MarshalText and
// LogValue methods never reveal the value, so a Secret can sit in a config
// struct that is printed, logged or encoded without leaking.
type Secret struct {
	value string
}

// New wraps value as a Secret.
func New(value string) Secret { return Secret{value: value} }

// Reveal returns the plain value. Call it only where the value is sent to
// the system that needs it.
func (s Secret) Reveal() string { return s.value }

// IsSet reports whether the secret has a non-empty value.
func (s Secret) IsSet() bool { return s.value != "" }

// Equal compares the secret with candidate in time that does not depend on
// where they differ. Hashing both sides first makes the time independent of
// the lengths too.
func (s Secret) Equal(candidate string) bool {
	if s.value == "" {
		return false
	}
	a := sha256.Sum256([]byte(s.value))
	b := sha256.Sum256([]byte(candidate))
	return subtle.ConstantTimeCompare(a[:], b[:]) == 1
}

// Fingerprint returns a short, non-reversible identifier of the secret (the
// first 12 hex digits of its SHA-256), for audit trails and logs that must
// say which key was used without saying what it is.
func (s Secret) Fingerprint() string {
	if s.value == "" {
		return ""
	}
	sum := sha256.Sum256([]byte(s.value))
	return hex.EncodeToString(sum[:6])
}

// String implements fmt.Stringer without revealing the value.
func (s Secret) String() string {
	if s.value == "" {
		return ""
	}
	return redacted
}

// GoString implements fmt.GoStringer without revealing the value.
func (s Secret) GoString() string { return "secrets.Secret(" + s.String() + ")" }

// MarshalText implements encoding.TextMarshaler without revealing the value.
func (s Secret) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// LogValue implements slog.LogValuer without revealing the value.
func (s Secret) LogValue() slog.Value { return slog.StringValue(s.String()) }
