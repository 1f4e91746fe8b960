package ui

import (
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mutt-go/mutt/internal/config"
	"github.com/mutt-go/mutt/internal/secrets"
	"github.com/mutt-go/mutt/internal/web/auth"
)

// sessionOf returns the session cookie the browser holds for the dashboard.
func (b *browser) sessionOf() *http.Cookie {
	b.e.t.Helper()
	u, _ := url.Parse(b.e.ts.URL)
	for _, c := range b.c.Jar.Cookies(u) {
		if c.Name == auth.CookieName {
			return c
		}
	}
	b.e.t.Fatal("no session cookie in the browser")
	return nil
}

// replay sends a request with only the given session cookie, as an attacker
// who copied it would.
func (e *env) replay(method, path string, ck *http.Cookie, form url.Values, header map[string]string) *http.Response {
	e.t.Helper()
	var body *strings.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	} else {
		body = strings.NewReader("")
	}
	req, err := http.NewRequest(method, e.ts.URL+path, body)
	if err != nil {
		e.t.Fatal(err)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	req.AddCookie(&http.Cookie{Name: ck.Name, Value: ck.Value})
	c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := c.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	resp.Body.Close()
	return resp
}

func TestLogoutRevokesTheSession(t *testing.T) {
	e := newEnv(t)
	b := e.browser()
	b.login()
	b.get("/rules/new")
	csrf := b.csrf
	stolen := b.sessionOf()
	if strings.Contains(stolen.Value, testKey) {
		t.Fatal("the cookie holds the key")
	}
	// The copied cookie works while the session lasts.
	if resp := e.replay("GET", "/teams", stolen, nil, nil); resp.StatusCode != http.StatusOK {
		t.Fatalf("copied cookie before logout: %d", resp.StatusCode)
	}
	// The session lives in Redis under the deployment's prefix, with a
	// lifetime, and its key does not spell the cookie.
	keys, err := e.rdb.Keys(t.Context(), e.prefix+":webui:session:*").Result()
	if err != nil || len(keys) != 1 {
		t.Fatalf("session records %v %v", keys, err)
	}
	if strings.Contains(keys[0], stolen.Value) {
		t.Errorf("the Redis key spells the session id: %s", keys[0])
	}
	if ttl := e.rdb.TTL(t.Context(), keys[0]).Val(); ttl <= 0 || ttl > auth.DefaultSessionTTL {
		t.Errorf("session TTL %v", ttl)
	}

	if p := b.post("/logout", nil); p.Status != http.StatusSeeOther {
		t.Fatalf("logout: %d", p.Status)
	}
	if n := e.rdb.Exists(t.Context(), keys[0]).Val(); n != 0 {
		t.Error("the session record outlives the logout")
	}
	// After logout the copied cookie reads nothing and writes nothing,
	// neither through the dashboard nor through the API.
	for _, path := range []string{"/", "/teams", "/rules", "/audit"} {
		if resp := e.replay("GET", path, stolen, nil, nil); resp.StatusCode != http.StatusSeeOther ||
			!strings.HasPrefix(resp.Header.Get("Location"), "/login") {
			t.Errorf("GET %s with the old cookie: %d %q", path, resp.StatusCode, resp.Header.Get("Location"))
		}
	}
	form := url.Values{"match_string": {"after-logout"}, "match_type": {"contains"}, "priority": {"1"},
		"prod_handling": {"Ignore"}, "dev_handling": {"Ignore"}, "team_assignment": {"T"}, auth.CSRFField: {csrf}}
	if resp := e.replay("POST", "/rules", stolen, form, nil); resp.StatusCode != http.StatusSeeOther ||
		resp.Header.Get("Location") != "/login" {
		t.Errorf("POST /rules with the old cookie: %d %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	if resp := e.replay("GET", "/api/v2/rules", stolen, nil, nil); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("API read with the old cookie: %d", resp.StatusCode)
	}
	if resp := e.replay("POST", "/api/v2/dev-hosts", stolen, nil,
		map[string]string{"X-CSRF-Token": csrf, "Content-Type": "application/json"}); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("API write with the old cookie: %d", resp.StatusCode)
	}
	if n := e.count(`SELECT count(*) FROM alert_rules`) + e.count(`SELECT count(*) FROM development_hosts`); n != 0 {
		t.Errorf("the revoked session changed %d rows", n)
	}
}

func TestSigningInAgainEndsTheOldSession(t *testing.T) {
	e := newEnv(t)
	b := e.browser()
	b.login()
	old := b.sessionOf()
	// The form is still reachable with a session by posting it directly.
	other := e.browser()
	other.get("/login")
	for _, c := range other.c.Jar.Cookies(mustURL(t, e.ts.URL+"/login")) {
		b.c.Jar.SetCookies(mustURL(t, e.ts.URL+"/login"), []*http.Cookie{c})
	}
	b.csrf = other.csrf
	if p := b.post("/login", url.Values{"api_key": {testKey}}); p.Status != http.StatusSeeOther {
		t.Fatalf("second sign-in: %d", p.Status)
	}
	if b.sessionOf().Value == old.Value {
		t.Fatal("signing in again kept the session id")
	}
	if resp := e.replay("GET", "/teams", old, nil, nil); resp.StatusCode != http.StatusSeeOther {
		t.Errorf("the replaced session still works: %d", resp.StatusCode)
	}
	if n := len(e.rdb.Keys(t.Context(), e.prefix+":webui:session:*").Val()); n != 1 {
		t.Errorf("%d session records after signing in twice", n)
	}
}

func mustURL(t *testing.T, s string) *url.URL {
	t.Helper()
	u, err := url.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

func TestRotatedOutKeyEndsItsSessions(t *testing.T) {
	keyFile := filepath.Join(t.TempDir(), "session.key")
	if err := os.WriteFile(keyFile, []byte(strings.Repeat("s", 40)), 0o600); err != nil {
		t.Fatal(err)
	}
	oldKey, newKey := "rotated-out-key-0123456789", "kept-key-0123456789abcdef"
	withFile := func(c *config.Web) { c.SessionKeyFile = keyFile }
	before := newEnvWith(t, envOptions{web: withFile, keys: []config.WebKey{
		{Name: "alice", Key: secrets.New(oldKey)}, {Name: "bob", Key: secrets.New(newKey)}}})
	alice, bob := before.browser(), before.browser()
	for _, s := range []struct {
		b   *browser
		key string
	}{{alice, oldKey}, {bob, newKey}} {
		s.b.get("/login")
		if p := s.b.post("/login", url.Values{"api_key": {s.key}}); p.Status != http.StatusSeeOther {
			t.Fatalf("login: %d", p.Status)
		}
	}
	aliceCk, bobCk := alice.sessionOf(), bob.sessionOf()
	// The same deployment restarted with alice's key removed.
	after := newEnvWith(t, envOptions{share: before, web: withFile, keys: []config.WebKey{
		{Name: "bob", Key: secrets.New(newKey)}}})
	if resp := after.replay("GET", "/teams", bobCk, nil, nil); resp.StatusCode != http.StatusOK {
		t.Errorf("a session of a kept key: %d", resp.StatusCode)
	}
	if resp := after.replay("GET", "/teams", aliceCk, nil, nil); resp.StatusCode != http.StatusSeeOther {
		t.Errorf("a session of a removed key: %d", resp.StatusCode)
	}
	if resp := after.replay("GET", "/api/v1/rules", aliceCk, nil, nil); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("a session of a removed key on the API: %d", resp.StatusCode)
	}
	// A key of the same name with another value is another key.
	renamed := newEnvWith(t, envOptions{share: before, web: withFile, keys: []config.WebKey{
		{Name: "bob", Key: secrets.New("replaced-key-0123456789abc")}}})
	if resp := renamed.replay("GET", "/teams", bobCk, nil, nil); resp.StatusCode != http.StatusSeeOther {
		t.Errorf("a session of a replaced key: %d", resp.StatusCode)
	}
	if n := len(before.rdb.Keys(t.Context(), before.prefix+":webui:session:*").Val()); n != 0 {
		t.Errorf("%d session records of rotated-out keys remain", n)
	}
}

// count runs a count(*) query.
func (e *env) count(query string) int64 {
	e.t.Helper()
	var n int64
	if err := e.pool.QueryRow(e.t.Context(), query).Scan(&n); err != nil {
		e.t.Fatalf("%s: %v", query, err)
	}
	return n
}
