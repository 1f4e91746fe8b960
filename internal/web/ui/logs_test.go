package ui

import (
	"net/url"
	"strings"
	"testing"

	"github.com/mutt-go/mutt/internal/config"
	"github.com/mutt-go/mutt/internal/secrets"
)

// TestKeysNeverLogged makes the requests an operator's browser, a script
// or an attacker makes with a key in the URL, and searches everything the
// server logged for the key in any spelling.
func TestKeysNeverLogged(t *testing.T) {
	const key = "leak-canary-Zq81Xw93Pt56Lm20"
	e := newEnvWith(t, envOptions{keys: []config.WebKey{{Name: "default", Key: secrets.New(key)}},
		web: func(c *config.Web) { c.AllowQueryKey = true }})
	esc := url.QueryEscape
	paths := []string{
		"/api/v1/rules?api_key=" + key,
		"/api/v1/rules?API_KEY=" + key,
		"/api/v2/rules?Api_Key=" + key + "&page=2",
		"/api/v1/rules?apikey=" + key,
		"/api/v1/rules?x-api-key=" + key,
		"/api/v1/rules?key=" + key,
		"/api/v1/rules?token=" + key,
		"/api/v1/rules?access_token=" + key,
		"/api/v1/rules?Password=" + key,
		"/login?next=/x%3Fapi_key%3D" + key,
		"/login?next=" + esc("/x?API_KEY="+key),
		"/login?next=" + esc("/x?a=1&next="+esc("/y?token="+key)),
		"/login?next=" + esc(esc("/x?api_key="+key)),
		"/login?next=" + esc(esc(esc(esc(esc(esc("/x?api_key="+key)))))),
		"/teams?api_key=" + key,
		"/teams?q=" + esc("/r?password="+key),
		"/rules?api_key=" + key + "%",
	}
	b := e.browser()
	for _, p := range paths {
		if got := b.get(p); got.Status >= 500 {
			t.Errorf("GET %s: %d", p, got.Status)
		}
	}
	b.get("/login")
	b.post("/login?next="+esc("/x?api_key="+key), url.Values{"api_key": {key + "x"}, "next": {"/x?api_key=" + key}})

	logs := e.logs.String()
	if n := strings.Count(logs, `"msg":"GET `); n < len(paths) {
		t.Fatalf("only %d request lines logged for %d requests:\n%s", n, len(paths), logs)
	}
	if !strings.Contains(logs, "REDACTED") {
		t.Errorf("no redaction marker in the logs:\n%s", logs)
	}
	if !strings.Contains(logs, "page=2") {
		t.Errorf("other query parameters are lost:\n%s", logs)
	}
	for _, needle := range []string{key, "Zq81Xw93Pt56Lm20", esc(key), esc(esc(key))} {
		if strings.Contains(logs, needle) {
			t.Errorf("the logs hold the key as %q:\n%s", needle, logs)
		}
	}
}
