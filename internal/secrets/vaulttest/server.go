// Package vaulttest is a fake Vault for tests: an httptest server with the
// few endpoints MUTT uses (AppRole login, KV version 2 data read and write,
// metadata list, token lookup-self and renew-self), in-memory state, a
// settable clock for token lifetimes and per-endpoint request counters.
//
// It must only be imported from _test.go files.
package vaulttest

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mutt-go/mutt/internal/secrets/vault"
)

// Endpoint names for Count.
const (
	Login  = "login"
	Read   = "read"
	Write  = "write"
	List   = "list"
	Lookup = "lookup"
	Renew  = "renew"
)

// Server is a running fake Vault. Its methods are safe for concurrent use.
type Server struct {
	t        testing.TB
	srv      *httptest.Server
	roleID   string
	secretID string

	mu        sync.Mutex
	now       time.Time
	ttl       time.Duration
	maxTTL    time.Duration
	renewable bool
	kv        map[string]map[string]any // path under the mount → data
	tokens    map[string]*token
	counts    map[string]int
	paths     []string // API paths requested, in order
}

type token struct {
	issued   time.Time
	expires  time.Time
	creation time.Duration
}

// NewServer starts a fake Vault that is closed when the test ends. Tokens
// live 24 h, renewable up to 72 h, as MUTT's AppRole is set up.
func NewServer(t testing.TB) *Server {
	t.Helper()
	s := &Server{
		t:      t,
		roleID: "role-" + randomHex(), secretID: "secret-id-" + randomHex(),
		now: time.Now(), ttl: 24 * time.Hour, maxTTL: 72 * time.Hour, renewable: true,
		kv: map[string]map[string]any{}, tokens: map[string]*token{}, counts: map[string]int{},
	}
	s.srv = httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(s.srv.Close)
	return s
}

func randomHex() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// Addr is the server's base URL, for VAULT_ADDR.
func (s *Server) Addr() string { return s.srv.URL }

// RoleID is the only role id the server accepts.
func (s *Server) RoleID() string { return s.roleID }

// SecretID is the only secret id the server accepts.
func (s *Server) SecretID() string { return s.secretID }

// WriteSecretIDFile writes the secret id to a file in dir and returns its
// path, for VAULT_SECRET_ID_FILE.
func (s *Server) WriteSecretIDFile(dir string) string {
	s.t.Helper()
	path := filepath.Join(dir, "vault-secret-id")
	if err := os.WriteFile(path, []byte(s.secretID+"\n"), 0o600); err != nil {
		s.t.Fatalf("vaulttest: writing secret id file: %v", err)
	}
	return path
}

// Config returns a client configuration for this server reading
// "secret/mutt/prod", with the secret id file written to dir.
func (s *Server) Config(dir string) vault.Config {
	s.t.Helper()
	return vault.Config{
		Addr: s.Addr(), RoleID: s.roleID, SecretIDFile: s.WriteSecretIDFile(dir),
		SecretsPath: "secret/mutt/prod",
	}
}

// SetSecret stores data as the secret at path ("mutt/prod" or
// "secret/mutt/prod"), replacing what was there.
func (s *Server) SetSecret(path string, data map[string]any) {
	cp := make(map[string]any, len(data))
	for k, v := range data {
		cp[k] = v
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.kv[vault.KVPath(path)] = cp
}

// Secret returns the secret at path, if any.
func (s *Server) Secret(path string) (map[string]any, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	d, ok := s.kv[vault.KVPath(path)]
	return d, ok
}

// SetTokenPolicy sets the lifetime of tokens issued from now on, their
// maximum lifetime through renewals and whether they can be renewed.
func (s *Server) SetTokenPolicy(ttl, maxTTL time.Duration, renewable bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.ttl, s.maxTTL, s.renewable = ttl, maxTTL, renewable
}

// Advance moves the server's clock forward, ageing every token.
func (s *Server) Advance(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.now = s.now.Add(d)
}

// RevokeTokens makes every issued token invalid.
func (s *Server) RevokeTokens() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.tokens = map[string]*token{}
}

// Count returns how many requests an endpoint (Login, Read, …) received.
func (s *Server) Count(endpoint string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.counts[endpoint]
}

// Paths returns the API paths requested so far (with "/v1/"), in order.
func (s *Server) Paths() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.paths...)
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.paths = append(s.paths, r.URL.Path)
	p := strings.TrimPrefix(r.URL.Path, "/v1/")
	switch {
	case p == "auth/approle/login" && r.Method == http.MethodPost:
		s.counts[Login]++
		s.login(w, r)
	case p == "auth/token/lookup-self" && r.Method == http.MethodGet:
		s.counts[Lookup]++
		if t := s.auth(w, r); t != nil {
			writeJSON(w, http.StatusOK, map[string]any{"data": map[string]any{
				"ttl": int64(t.expires.Sub(s.now) / time.Second), "renewable": s.renewable,
				"creation_ttl": int64(t.creation / time.Second),
			}})
		}
	case p == "auth/token/renew-self" && (r.Method == http.MethodPost || r.Method == http.MethodPut):
		s.counts[Renew]++
		s.renew(w, r)
	case strings.HasPrefix(p, vault.Mount+"/data/"):
		s.data(w, r, strings.TrimPrefix(p, vault.Mount+"/data/"))
	case strings.HasPrefix(p, vault.Mount+"/metadata"):
		s.counts[List]++
		if r.Method != "LIST" && !(r.Method == http.MethodGet && r.URL.Query().Get("list") == "true") {
			writeErr(w, http.StatusMethodNotAllowed, "unsupported operation")
			return
		}
		if s.auth(w, r) != nil {
			s.list(w, strings.Trim(strings.TrimPrefix(p, vault.Mount+"/metadata"), "/"))
		}
	default:
		writeErr(w, http.StatusNotFound, "no handler for route")
	}
}

func (s *Server) login(w http.ResponseWriter, r *http.Request) {
	var body struct {
		RoleID   string `json:"role_id"`
		SecretID string `json:"secret_id"`
	}
	if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
		writeErr(w, http.StatusBadRequest, "failed to parse JSON input")
		return
	}
	if body.RoleID != s.roleID || body.SecretID != s.secretID {
		writeErr(w, http.StatusBadRequest, "invalid role or secret ID")
		return
	}
	id := "hvs." + randomHex()
	s.tokens[id] = &token{issued: s.now, expires: s.now.Add(s.ttl), creation: s.ttl}
	writeJSON(w, http.StatusOK, map[string]any{"auth": map[string]any{
		"client_token": id, "lease_duration": int64(s.ttl / time.Second), "renewable": s.renewable,
	}})
}

// auth returns the caller's valid token, or answers 403 and returns nil.
func (s *Server) auth(w http.ResponseWriter, r *http.Request) *token {
	t, ok := s.tokens[r.Header.Get("X-Vault-Token")]
	if !ok || !s.now.Before(t.expires) {
		writeErr(w, http.StatusForbidden, "permission denied")
		return nil
	}
	return t
}

func (s *Server) renew(w http.ResponseWriter, r *http.Request) {
	t := s.auth(w, r)
	if t == nil {
		return
	}
	if !s.renewable {
		writeErr(w, http.StatusBadRequest, "lease is not renewable")
		return
	}
	exp := s.now.Add(t.creation)
	if limit := t.issued.Add(s.maxTTL); exp.After(limit) {
		exp = limit
	}
	t.expires = exp
	writeJSON(w, http.StatusOK, map[string]any{"auth": map[string]any{
		"client_token": r.Header.Get("X-Vault-Token"), "lease_duration": int64(exp.Sub(s.now) / time.Second),
		"renewable": true,
	}})
}

func (s *Server) data(w http.ResponseWriter, r *http.Request, path string) {
	switch r.Method {
	case http.MethodGet:
		s.counts[Read]++
		if s.auth(w, r) == nil {
			return
		}
		d, ok := s.kv[path]
		if !ok {
			writeJSON(w, http.StatusNotFound, map[string]any{"errors": []string{}})
			return
		}
		writeJSON(w, http.StatusOK, map[string]any{"data": map[string]any{
			"data": d, "metadata": map[string]any{"version": 1},
		}})
	case http.MethodPost, http.MethodPut:
		s.counts[Write]++
		if s.auth(w, r) == nil {
			return
		}
		var body struct {
			Data map[string]any `json:"data"`
		}
		if err := json.NewDecoder(r.Body).Decode(&body); err != nil || body.Data == nil {
			writeErr(w, http.StatusBadRequest, "no data provided")
			return
		}
		s.kv[path] = body.Data
		writeJSON(w, http.StatusOK, map[string]any{"data": map[string]any{"version": 1}})
	default:
		writeErr(w, http.StatusMethodNotAllowed, "unsupported operation")
	}
}

// list answers with the keys directly under folder, folders ending in "/".
func (s *Server) list(w http.ResponseWriter, folder string) {
	prefix := ""
	if folder != "" {
		prefix = folder + "/"
	}
	seen := map[string]bool{}
	for p := range s.kv {
		rest, ok := strings.CutPrefix(p, prefix)
		if !ok || rest == "" {
			continue
		}
		if i := strings.Index(rest, "/"); i >= 0 {
			rest = rest[:i+1]
		}
		seen[rest] = true
	}
	if len(seen) == 0 {
		writeJSON(w, http.StatusNotFound, map[string]any{"errors": []string{}})
		return
	}
	keys := make([]string, 0, len(seen))
	for k := range seen {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	writeJSON(w, http.StatusOK, map[string]any{"data": map[string]any{"keys": keys}})
}

func writeErr(w http.ResponseWriter, code int, msg string) {
	writeJSON(w, code, map[string]any{"errors": []string{msg}})
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}
