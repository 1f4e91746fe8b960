package auth

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
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

// sessionIDLen is the length of a session id: 32 random bytes, base64url.
const sessionIDLen = 43

// ErrNoSessionStore is returned when sessions are used without a store.
var ErrNoSessionStore = errors.New("dashboard sessions need Redis, and none is configured")

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

// SessionStore keeps the session records, each named by an id the
// Sessions derive (never the cookie's value), holding an identity, and
// gone once its lifetime is over. Implementations are safe for concurrent
// use.
type SessionStore interface {
	// Create stores identity under id for ttl; created is false, and
	// nothing changes, when a record with id is alive.
	Create(ctx context.Context, id, identity string, ttl time.Duration) (created bool, err error)
	// Get returns the identity of the live record id; found is false when
	// there is none.
	Get(ctx context.Context, id string) (identity string, found bool, err error)
	// Delete removes the record id; a missing record is no error.
	Delete(ctx context.Context, id string) error
}

// RedisSessions keeps each record in the Redis string <prefix>:<id>, its
// lifetime the key's TTL (ADR 0007).
type RedisSessions struct {
	rdb    redis.UniversalClient
	prefix string
}

var _ SessionStore = (*RedisSessions)(nil)

// NewRedisSessions returns the session records under the Redis key prefix
// prefix.
func NewRedisSessions(rdb redis.UniversalClient, prefix string) *RedisSessions {
	return &RedisSessions{rdb: rdb, prefix: strings.TrimSuffix(prefix, ":")}
}

func (r *RedisSessions) key(id string) string { return r.prefix + ":" + id }

// Create stores the record with SET NX and the TTL.
func (r *RedisSessions) Create(ctx context.Context, id, identity string, ttl time.Duration) (bool, error) {
	return r.rdb.SetNX(ctx, r.key(id), identity, ttl).Result()
}

// Get reads the record.
func (r *RedisSessions) Get(ctx context.Context, id string) (string, bool, error) {
	v, err := r.rdb.Get(ctx, r.key(id)).Result()
	if errors.Is(err, redis.Nil) {
		return "", false, nil
	}
	if err != nil {
		return "", false, err
	}
	return v, true, nil
}

// Delete deletes the record.
func (r *RedisSessions) Delete(ctx context.Context, id string) error {
	return r.rdb.Del(ctx, r.key(id)).Err()
}

// Sessions keeps dashboard sessions in a SessionStore (Redis, or the
// embedded database). The cookie holds only a random session id; the
// record, named by an HMAC of the id (so that whoever reads the store or a
// backup of it cannot present a session), holds the identity of the key
// that signed in and expires with the session. A session is good only
// while its record exists and its key is still in the keyring with the
// same fingerprint: logging out deletes the record, and rotating a key out
// of the configuration ends every session opened with it. Safe for
// concurrent use.
type Sessions struct {
	store SessionStore
	key   []byte
	ttl   time.Duration
}

// NewSessions returns the session store on rdb with Redis key prefix
// prefix, HMAC key key (a random key when empty, so that sessions end when
// the process does) and session lifetime ttl (DefaultSessionTTL when not
// positive). A nil rdb makes every sign-in fail with ErrNoSessionStore.
func NewSessions(rdb redis.UniversalClient, prefix string, key []byte, ttl time.Duration) *Sessions {
	var st SessionStore
	if rdb != nil {
		st = NewRedisSessions(rdb, prefix)
	}
	return NewSessionsFrom(st, key, ttl)
}

// NewSessionsFrom is NewSessions over any record store; a nil st makes
// every sign-in fail with ErrNoSessionStore.
func NewSessionsFrom(st SessionStore, key []byte, ttl time.Duration) *Sessions {
	if len(key) == 0 {
		key = RandomKey()
	}
	if ttl <= 0 {
		ttl = DefaultSessionTTL
	}
	return &Sessions{store: st, key: append([]byte(nil), key...), ttl: ttl}
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

// LoadSessionKey reads the session HMAC key from path (surrounding white
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

func (s *Sessions) mac(parts ...string) string {
	m := hmac.New(sha256.New, s.key)
	for _, p := range parts {
		m.Write([]byte(p))
		m.Write([]byte{0})
	}
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// recordID is the record name of session id.
func (s *Sessions) recordID(id string) string { return s.mac("session", id) }

// Session is the valid session of one request.
type Session struct {
	// Identity is the key that signed in, as it is in the keyring now.
	Identity Identity
	// CSRF is the token that state-changing requests of this session carry.
	CSRF string
}

// Issue starts a session for identity: it stores the record with the
// session lifetime and sets the cookie, HttpOnly, SameSite=Strict, Path=/,
// and Secure when the request came over TLS.
func (s *Sessions) Issue(ctx context.Context, w http.ResponseWriter, r *http.Request, identity Identity) error {
	if s.store == nil {
		return ErrNoSessionStore
	}
	id := base64.RawURLEncoding.EncodeToString(RandomKey())
	ok, err := s.store.Create(ctx, s.recordID(id), identity.String(), s.ttl)
	if err != nil {
		return fmt.Errorf("storing the session: %w", err)
	}
	if !ok {
		return errors.New("storing the session: a session with that id exists")
	}
	http.SetCookie(w, &http.Cookie{
		Name: CookieName, Value: id, Path: "/", Expires: time.Now().Add(s.ttl), MaxAge: int(s.ttl / time.Second),
		HttpOnly: true, SameSite: http.SameSiteStrictMode, Secure: r != nil && r.TLS != nil,
	})
	return nil
}

// Clear removes the session cookie from the browser.
func (s *Sessions) Clear(w http.ResponseWriter) {
	http.SetCookie(w, &http.Cookie{
		Name: CookieName, Value: "", Path: "/", MaxAge: -1, Expires: time.Unix(1, 0),
		HttpOnly: true, SameSite: http.SameSiteStrictMode,
	})
}

// cookieID returns the well-formed session id of the request's cookie.
func cookieID(r *http.Request) (string, bool) {
	c, err := r.Cookie(CookieName)
	if err != nil || len(c.Value) != sessionIDLen {
		return "", false
	}
	if _, err := base64.RawURLEncoding.DecodeString(c.Value); err != nil {
		return "", false
	}
	return c.Value, true
}

// Lookup returns the request's session when its cookie names a stored,
// unexpired session whose key is still in ring with the same fingerprint;
// nil and no error when there is none. A session whose key left the ring
// is deleted. Errors are failures of the session store.
func (s *Sessions) Lookup(ctx context.Context, r *http.Request, ring *Keyring) (*Session, error) {
	if s == nil {
		return nil, nil
	}
	id, ok := cookieID(r)
	if !ok {
		return nil, nil
	}
	if s.store == nil {
		return nil, ErrNoSessionStore
	}
	rk := s.recordID(id)
	v, found, err := s.store.Get(ctx, rk)
	if err != nil {
		return nil, fmt.Errorf("reading the session: %w", err)
	}
	if !found {
		return nil, nil
	}
	stored, ok := ParseIdentity(v)
	cur, found := ring.ByName(stored.Name)
	if !ok || !found || cur.Fingerprint != stored.Fingerprint {
		if err := s.store.Delete(ctx, rk); err != nil {
			return nil, fmt.Errorf("deleting the session of a removed key: %w", err)
		}
		return nil, nil
	}
	return &Session{Identity: cur, CSRF: s.mac("csrf", id)}, nil
}

// Revoke deletes the request's session record, so that its cookie is no
// session anywhere any more, even when a copy of it was kept.
func (s *Sessions) Revoke(ctx context.Context, r *http.Request) error {
	id, ok := cookieID(r)
	if !ok {
		return nil
	}
	if s.store == nil {
		return ErrNoSessionStore
	}
	if err := s.store.Delete(ctx, s.recordID(id)); err != nil {
		return fmt.Errorf("deleting the session: %w", err)
	}
	return nil
}

// CheckCSRF reports whether the request carries the session's CSRF token,
// in the X-CSRF-Token header or the csrf_token form field.
func (s *Session) CheckCSRF(r *http.Request) bool {
	got := r.Header.Get(CSRFHeader)
	if got == "" {
		got = r.PostFormValue(CSRFField)
	}
	return s != nil && got != "" && hmac.Equal([]byte(got), []byte(s.CSRF))
}

// CheckCSRFHeader is CheckCSRF for script-made API calls: only the
// X-CSRF-Token header counts, and the body is never read.
func (s *Session) CheckCSRFHeader(r *http.Request) bool {
	got := r.Header.Get(CSRFHeader)
	return s != nil && got != "" && hmac.Equal([]byte(got), []byte(s.CSRF))
}
