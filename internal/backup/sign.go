package backup

import (
	"bufio"
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"
)

// SignaturePrefix starts every manifest signature and public key line.
const SignaturePrefix = "ed25519:"

// signingDomain separates manifest signatures from any other use of the key.
const signingDomain = "mutt-backup-manifest-signature/1\n"

// Signature states reported by SignatureStatus.
const (
	// SigUnsigned is a manifest without a signature.
	SigUnsigned = "unsigned"
	// SigTrusted is a signature that verifies against a trusted key.
	SigTrusted = "trusted"
	// SigUntrusted is a signature by a key that is not trusted (or no
	// trusted keys are configured to check it against).
	SigUntrusted = "untrusted"
	// SigInvalid is a signature by a trusted key that does not verify: the
	// signed part of the manifest was changed after signing.
	SigInvalid = "invalid"
)

// ErrSignature marks a manifest refused because of its signature.
var ErrSignature = errors.New("manifest signature check failed")

// KeyID returns the short id of pub: the first 8 hex digits of its SHA-256.
func KeyID(pub ed25519.PublicKey) string {
	sum := sha256.Sum256(pub)
	return hex.EncodeToString(sum[:4])
}

// PublicKeyLine returns pub as a line of the trusted keys file.
func PublicKeyLine(pub ed25519.PublicKey) string {
	return SignaturePrefix + base64.StdEncoding.EncodeToString(pub)
}

// LoadSigningKey reads a PEM PKCS#8 Ed25519 private key (as written by
// GenerateSigningKey or `openssl genpkey -algorithm ed25519`); the file must
// be mode 0600 or 0400.
func LoadSigningKey(path string) (ed25519.PrivateKey, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("loading signing key: %w", err)
	}
	if p := fi.Mode().Perm(); p != 0o600 && p != 0o400 {
		return nil, fmt.Errorf("loading signing key: %s has mode %04o, want 0600 or 0400; run `chmod 0400 %s`", path, p, path)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("loading signing key: %w", err)
	}
	block, _ := pem.Decode(data)
	if block == nil || block.Type != "PRIVATE KEY" {
		return nil, fmt.Errorf("loading signing key: %s holds no PEM \"PRIVATE KEY\" block", path)
	}
	k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("loading signing key %s: %w", path, err)
	}
	priv, ok := k.(ed25519.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("loading signing key: %s is a %T, want an ed25519 key", path, k)
	}
	return priv, nil
}

// GenerateSigningKey writes a new Ed25519 private key to path (PEM PKCS#8,
// mode 0600; an existing file is never overwritten) and returns its public
// key.
func GenerateSigningKey(path string) (ed25519.PublicKey, error) {
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("generating signing key: %w", err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return nil, fmt.Errorf("generating signing key: %w", err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		if errors.Is(err, fs.ErrExist) {
			return nil, fmt.Errorf("generating signing key: %s already exists; a key is never overwritten, choose another path", path)
		}
		return nil, fmt.Errorf("generating signing key: %w", err)
	}
	werr := pem.Encode(f, &pem.Block{Type: "PRIVATE KEY", Bytes: der})
	if werr == nil {
		werr = f.Sync()
	}
	if cerr := f.Close(); werr == nil {
		werr = cerr
	}
	if werr != nil {
		os.Remove(path)
		return nil, fmt.Errorf("generating signing key %s: %w", path, werr)
	}
	return pub, nil
}

// TrustedKeys is the set of public keys whose manifest signatures are
// accepted, by key id.
type TrustedKeys struct {
	keys map[string]ed25519.PublicKey
}

// ParseTrustedKeys parses a trusted keys file: one `ed25519:<base64>` per
// line, optionally followed by a comment; blank lines and lines starting
// with # are ignored. At least one key is required.
func ParseTrustedKeys(data []byte) (*TrustedKeys, error) {
	t := &TrustedKeys{keys: map[string]ed25519.PublicKey{}}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for n := 1; sc.Scan(); n++ {
		fields := strings.Fields(sc.Text())
		if len(fields) == 0 || strings.HasPrefix(fields[0], "#") {
			continue
		}
		b64, ok := strings.CutPrefix(fields[0], SignaturePrefix)
		raw, err := base64.StdEncoding.DecodeString(b64)
		if !ok || err != nil || len(raw) != ed25519.PublicKeySize {
			return nil, fmt.Errorf("line %d: want %s<base64 of a %d-byte public key> [comment]", n, SignaturePrefix, ed25519.PublicKeySize)
		}
		pub := ed25519.PublicKey(raw)
		t.keys[KeyID(pub)] = pub
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if len(t.keys) == 0 {
		return nil, errors.New("no public key in the file")
	}
	return t, nil
}

// LoadTrustedKeys reads a trusted keys file (see ParseTrustedKeys).
func LoadTrustedKeys(path string) (*TrustedKeys, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("loading trusted keys: %w", err)
	}
	t, err := ParseTrustedKeys(data)
	if err != nil {
		return nil, fmt.Errorf("loading trusted keys %s: %w", path, err)
	}
	return t, nil
}

// signedBytes returns the canonical form of m that a signature covers.
//
// Excluded, because they legitimately change after the run that signed the
// set: "signature" itself, "remotes" (rewritten by sync and pull) and each
// component's "verify" (rewritten by backup verify). Everything else —
// identity, time, status, encryption recipients, counts and every
// artifact's path, size and SHA-256 — is covered, so the signature covers
// the data through the hashes.
//
// The form is m marshalled, decoded generically (numbers kept as written)
// and marshalled again, which sorts every object's keys. That makes it the
// same for the manifest as built by Run (Source values of Go struct types)
// and as read back from JSON (Source values as maps), provided Source holds
// only strings, booleans, integers below 2^53 and lists or objects of them.
func signedBytes(m *Manifest) ([]byte, error) {
	c := *m
	c.Signature = ""
	c.Remotes = nil
	c.Components = make([]Component, len(m.Components))
	for i, comp := range m.Components {
		comp.Verify = nil
		c.Components[i] = comp
	}
	data, err := json.Marshal(&c)
	if err != nil {
		return nil, err
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	out, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	return append([]byte(signingDomain), out...), nil
}

// SignManifest sets m.Signature to `ed25519:<key id>:<base64 signature>`
// over the signed part of m (see signedBytes).
func SignManifest(m *Manifest, key ed25519.PrivateKey) error {
	msg, err := signedBytes(m)
	if err != nil {
		return fmt.Errorf("signing manifest %s: %w", m.SetID, err)
	}
	pub, ok := key.Public().(ed25519.PublicKey)
	if !ok {
		return fmt.Errorf("signing manifest %s: not an ed25519 key", m.SetID)
	}
	m.Signature = SignaturePrefix + KeyID(pub) + ":" + base64.StdEncoding.EncodeToString(ed25519.Sign(key, msg))
	return nil
}

// SignatureState is what SignatureStatus found about a manifest.
type SignatureState struct {
	// State is SigUnsigned, SigTrusted, SigUntrusted or SigInvalid.
	State string `json:"state"`
	// KeyID is the id of the signing key named by the signature, if any.
	KeyID string `json:"key_id,omitempty"`
	// Detail says why a signature is invalid or untrusted.
	Detail string `json:"detail,omitempty"`
}

// SignatureStatus checks m's signature against t (nil: no trusted keys,
// so a signature is at best untrusted).
func SignatureStatus(m *Manifest, t *TrustedKeys) SignatureState {
	if m.Signature == "" {
		return SignatureState{State: SigUnsigned}
	}
	rest, ok := strings.CutPrefix(m.Signature, SignaturePrefix)
	id, b64, ok2 := strings.Cut(rest, ":")
	sig, err := base64.StdEncoding.DecodeString(b64)
	if !ok || !ok2 || err != nil || len(sig) != ed25519.SignatureSize {
		return SignatureState{State: SigInvalid, KeyID: id, Detail: "malformed signature"}
	}
	if t == nil {
		return SignatureState{State: SigUntrusted, KeyID: id, Detail: "no trusted keys configured"}
	}
	pub, ok := t.keys[id]
	if !ok {
		return SignatureState{State: SigUntrusted, KeyID: id, Detail: "key " + id + " is not in the trusted keys"}
	}
	msg, err := signedBytes(m)
	if err != nil {
		return SignatureState{State: SigInvalid, KeyID: id, Detail: err.Error()}
	}
	if !ed25519.Verify(pub, msg, sig) {
		return SignatureState{State: SigInvalid, KeyID: id, Detail: "signature does not match the manifest (changed after signing)"}
	}
	return SignatureState{State: SigTrusted, KeyID: id}
}

// CheckSignature returns nil when m is signed by a key in t, and otherwise
// an error wrapping ErrSignature that names the set and what is wrong.
func (t *TrustedKeys) CheckSignature(m *Manifest) error {
	st := SignatureStatus(m, t)
	switch st.State {
	case SigTrusted:
		return nil
	case SigUnsigned:
		return fmt.Errorf("set %s: %w: the manifest is unsigned and MUTT_BACKUP_TRUSTED_KEYS_FILE requires a signature; the set may be planted", m.SetID, ErrSignature)
	}
	return fmt.Errorf("set %s: %w: %s signature by key %s: %s; the set may have been altered", m.SetID, ErrSignature, st.State, st.KeyID, st.Detail)
}
