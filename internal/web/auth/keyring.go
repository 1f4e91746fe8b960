package auth

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"

	"github.com/mutt-go/mutt/internal/config"
	"github.com/mutt-go/mutt/internal/secrets"
)

// Identity is who presented a valid key: the key's name and fingerprint.
type Identity struct {
	Name        string // "default", "next", or a name from the keys file
	Fingerprint string // Fingerprint of the key
}

// ChangedBy is the identity as config_audit_log records it:
// "webui_api:" followed by the key's fingerprint.
func (id Identity) ChangedBy() string { return "webui_api:" + id.Fingerprint }

// Fingerprint returns the first 8 hex digits of the SHA-256 of key: enough
// to tell keys apart in audit rows and logs, useless for guessing the key.
func Fingerprint(key string) string {
	sum := sha256.Sum256([]byte(key))
	return hex.EncodeToString(sum[:4])
}

// entry is one key of the ring, kept as its SHA-256 so every comparison has
// the same length.
type entry struct {
	id   Identity
	hash [sha256.Size]byte
}

// Keyring holds the accepted API keys. It is immutable and safe for
// concurrent use.
type Keyring struct {
	entries []entry
}

// NewKeyring returns a keyring of keys. Names must be unique and keys
// non-empty; at least one key is required.
func NewKeyring(keys []config.WebKey) (*Keyring, error) {
	if len(keys) == 0 {
		return nil, errors.New("no API key configured")
	}
	k := &Keyring{}
	seen := map[string]bool{}
	for _, wk := range keys {
		if wk.Name == "" || seen[wk.Name] {
			return nil, fmt.Errorf("API key name %q is empty or used twice", wk.Name)
		}
		if !wk.Key.IsSet() {
			return nil, fmt.Errorf("API key %q is empty", wk.Name)
		}
		seen[wk.Name] = true
		v := wk.Key.Reveal()
		k.entries = append(k.entries, entry{
			id:   Identity{Name: wk.Name, Fingerprint: Fingerprint(v)},
			hash: sha256.Sum256([]byte(v)),
		})
	}
	return k, nil
}

// Single returns a keyring holding one key named "default"; for tests and
// the development mode.
func Single(key string) *Keyring {
	k, err := NewKeyring([]config.WebKey{{Name: "default", Key: secrets.New(key)}})
	if err != nil {
		return &Keyring{}
	}
	return k
}

// Match compares candidate with every key of the ring, always all of them,
// byte-wise and in constant time, so neither the time taken nor an error
// tells which key was close. An empty candidate never matches.
func (k *Keyring) Match(candidate string) (Identity, bool) {
	if k == nil || candidate == "" {
		return Identity{}, false
	}
	h := sha256.Sum256([]byte(candidate))
	found := -1
	for i := range k.entries {
		eq := subtle.ConstantTimeCompare(h[:], k.entries[i].hash[:])
		// Select without branching on the result.
		found = subtle.ConstantTimeSelect(eq, i, found)
	}
	if found < 0 {
		return Identity{}, false
	}
	return k.entries[found].id, true
}

// ByName returns the identity of the key called name, if it is still in the
// ring; sessions use it so that a key removed from the ring ends the
// sessions opened with it.
func (k *Keyring) ByName(name string) (Identity, bool) {
	if k == nil {
		return Identity{}, false
	}
	for _, e := range k.entries {
		if e.id.Name == name {
			return e.id, true
		}
	}
	return Identity{}, false
}

// Names lists the key names in ring order.
func (k *Keyring) Names() []string {
	if k == nil {
		return nil
	}
	out := make([]string, len(k.entries))
	for i, e := range k.entries {
		out[i] = e.id.Name
	}
	return out
}
