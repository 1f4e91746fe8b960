package auth

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"
)

// Session cookie and CSRF names.
const (
	// CookieName is the dashboard's session cookie.
	CookieName = "mutt_session"
	// CSRFHeader carries the CSRF token on script-made requests.
	CSRFHeader = "X-CSRF-Token"
	// CSRFField carries the CSRF token in HTML forms.
	CSRFField = "csrf_token"
	// DefaultSessionTTL is how long a dashboard session lasts.
	DefaultSessionTTL = 8 * time.Hour
)

// String is the identity in the form sessions store: name/fingerprint.
func (id Identity) String() string { return id.Name + "/" + id.Fingerprint }

// ParseIdentity reads the form Identity.String writes.
func ParseIdentity(s string) (Identity, bool) {
	name, fp, ok := strings.Cut(s, "/")
	if !ok || name == "" || fp == "" {
		return Identity{}, false
	}
	return Identity{Name: name, Fingerprint: fp}, true
}

// Sessions issues and checks HMAC-SHA256 signed session cookies. The cookie
// holds the identity and the expiry, nothing secret; the server keeps no
// session state. Safe for concurrent use.
type Sessions struct {
	key []byte
	ttl time.Duration
	now func() time.Time
}

// NewSessions returns a cookie signer with key (a random key when empty) and
// session lifetime ttl (DefaultSessionTTL when not positive).
func NewSessions(key []byte, ttl time.Duration) *Sessions {
	if len(key) == 0 {
		key = RandomKey()
	}
	if ttl <= 0 {
		ttl = DefaultSessionTTL
	}
	return &Sessions{key: append([]byte(nil), key...), ttl: ttl, now: time.Now}
}

// RandomKey returns 32 random bytes, for a session key that lives as long as
// the process.
func RandomKey() []byte {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		// crypto/rand does not fail on supported platforms.
		panic(fmt.Sprintf("reading random bytes: %v", err))
	}
	return b
}

// LoadSessionKey reads the session signing key from path (surrounding white
// space trimmed, at least 32 bytes), or returns a random key when path is
// empty.
func LoadSessionKey(path string) ([]byte, error) {
	if path == "" {
		return RandomKey(), nil
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading session key: %w", err)
	}
	b = []byte(strings.TrimSpace(string(b)))
	if len(b) < 32 {
		return nil, fmt.Errorf("session key in %s is shorter than 32 bytes", path)
	}
	return b, nil
}

func (s *Sessions) sign(parts ...string) string {
	m := hmac.New(sha256.New, s.key)
	for _, p := range parts {
		m.Write([]byte(p))
		m.Write([]byte{0})
	}
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// Issue sets a session cookie for identity (use Identity.String) that
// expires after the session lifetime. The cookie is HttpOnly,
// SameSite=Strict, Path=/, and Secure when the request came over TLS.
func (s *Sessions) Issue(w http.ResponseWriter, r *http.Request, identity string) {
	exp := s.now().Add(s.ttl).Unix()
	id := base64.RawURLEncoding.EncodeToString([]byte(identity))
	e := strconv.FormatInt(exp, 10)
	value := id + "." + e + "." + s.sign("session", id, e)
	http.SetCookie(w, &http.Cookie{
		Name: CookieName, Value: value, Path: "/", Expires: time.Unix(exp, 0), MaxAge: int(s.ttl / time.Second),
		HttpOnly: true, SameSite: http.SameSiteStrictMode, Secure: r != nil && r.TLS != nil,
	})
}

// Clear removes the session cookie.
func (s *Sessions) Clear(w http.ResponseWriter) {
	http.SetCookie(w, &http.Cookie{
		Name: CookieName, Value: "", Path: "/", MaxAge: -1, Expires: time.Unix(1, 0),
		HttpOnly: true, SameSite: http.SameSiteStrictMode,
	})
}

// verify returns the identity of a well-signed, unexpired cookie value.
func (s *Sessions) verify(value string) (string, bool) {
	parts := strings.Split(value, ".")
	if len(parts) != 3 {
		return "", false
	}
	if !hmac.Equal([]byte(parts[2]), []byte(s.sign("session", parts[0], parts[1]))) {
		return "", false
	}
	exp, err := strconv.ParseInt(parts[1], 10, 64)
	if err != nil || s.now().Unix() >= exp {
		return "", false
	}
	id, err := base64.RawURLEncoding.DecodeString(parts[0])
	if err != nil || len(id) == 0 {
		return "", false
	}
	return string(id), true
}

// cookie returns the session cookie's value when it is valid.
func (s *Sessions) cookie(r *http.Request) (string, bool) {
	c, err := r.Cookie(CookieName)
	if err != nil {
		return "", false
	}
	if _, ok := s.verify(c.Value); !ok {
		return "", false
	}
	return c.Value, true
}

// Identity returns the identity of the request's valid, unexpired session.
func (s *Sessions) Identity(r *http.Request) (string, bool) {
	if s == nil {
		return "", false
	}
	c, err := r.Cookie(CookieName)
	if err != nil {
		return "", false
	}
	return s.verify(c.Value)
}

// CSRFToken returns the CSRF token bound to the request's session (an HMAC
// of the session cookie), or "" when the request has no valid session.
func (s *Sessions) CSRFToken(r *http.Request) string {
	if s == nil {
		return ""
	}
	v, ok := s.cookie(r)
	if !ok {
		return ""
	}
	return s.sign("csrf", v)
}

// CheckCSRF reports whether the request carries the CSRF token of its
// session, in the X-CSRF-Token header or the csrf_token form field.
func (s *Sessions) CheckCSRF(r *http.Request) bool {
	want := s.CSRFToken(r)
	if want == "" {
		return false
	}
	got := r.Header.Get(CSRFHeader)
	if got == "" {
		got = r.PostFormValue(CSRFField)
	}
	return got != "" && hmac.Equal([]byte(got), []byte(want))
}

// CheckCSRFHeader is CheckCSRF for script-made API calls: only the
// X-CSRF-Token header counts, and the body is never read.
func (s *Sessions) CheckCSRFHeader(r *http.Request) bool {
	want := s.CSRFToken(r)
	got := r.Header.Get(CSRFHeader)
	return want != "" && got != "" && hmac.Equal([]byte(got), []byte(want))
}
