package main

import (
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/mutt-go/mutt/internal/itest"
)

// TestAttackOnTheBinary runs `mutt serve --only ingestor,webui` as an
// operator would and attacks it over HTTP: a cookie kept after logout,
// keys in URLs, guessed keys, ids past INTEGER and NUL characters. Then it
// searches everything the process logged for the keys.
func TestAttackOnTheBinary(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	const webKey, ingestKey = "web-canary-Hq83Lz01Vb72Kd", "ingest-canary-Pw45Rt19Xn66"
	e := newEnv(t)
	var logs itest.Buffer
	cmd := exec.Command(muttBinary(t), "serve", "--only", "ingestor,webui")
	cmd.Env = append(os.Environ(), e.vars("WEBUI_API_KEY="+webKey, "INGEST_API_KEY="+ingestKey,
		"WEBUI_LISTEN=127.0.0.1:0", "WEBUI_ALLOW_QUERY_KEY=true", "LOG_FORMAT=json", "LOG_LEVEL=debug")...)
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	var web, ingest string
	itest.Eventually(t, 30*time.Second, "mutt serve is listening", func() bool {
		m := regexp.MustCompile(`"addresses":\{[^}]*\}`).FindString(logs.String())
		if m == "" {
			return false
		}
		var a struct{ Addresses map[string]string }
		if json.Unmarshal([]byte("{"+m+"}"), &a) != nil {
			return false
		}
		web, ingest = "http://"+a.Addresses["webui"], "http://"+a.Addresses["ingestor"]
		return a.Addresses["webui"] != "" && a.Addresses["ingestor"] != ""
	})

	// A client with a cookie jar that sees every redirect, from a loopback
	// address of its own.
	client := func(ip string) *http.Client {
		jar, _ := cookiejar.New(nil)
		d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}, Timeout: 5 * time.Second}
		return &http.Client{Jar: jar, Timeout: 10 * time.Second, Transport: &http.Transport{DialContext: d.DialContext},
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	}
	call := func(c *http.Client, method, u, body string, hdr map[string]string) (int, http.Header, string) {
		t.Helper()
		req, err := http.NewRequest(method, u, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		for k, v := range hdr {
			req.Header.Set(k, v)
		}
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, resp.Header, string(b)
	}
	form := map[string]string{"Content-Type": "application/x-www-form-urlencoded"}
	csrfOf := regexp.MustCompile(`name="csrf_token" value="([^"]+)"`)

	// 1. Logout ends the session for every copy of its cookie.
	op := client("127.0.0.1")
	_, _, page := call(op, "GET", web+"/login", "", nil)
	token := csrfOf.FindStringSubmatch(page)[1]
	st, _, _ := call(op, "POST", web+"/login", url.Values{"csrf_token": {token}, "api_key": {webKey}}.Encode(), form)
	if st != http.StatusSeeOther {
		t.Fatalf("sign-in: %d", st)
	}
	u, _ := url.Parse(web)
	var stolen string
	for _, c := range op.Jar.Cookies(u) {
		if c.Name == "mutt_session" {
			stolen = c.Name + "=" + c.Value
		}
	}
	_, _, page = call(op, "GET", web+"/teams", "", nil)
	token = csrfOf.FindStringSubmatch(page)[1]
	if st, _, _ := call(op, "POST", web+"/logout", url.Values{"csrf_token": {token}}.Encode(), form); st != http.StatusSeeOther {
		t.Fatalf("logout: %d", st)
	}
	anon := client("127.0.0.1")
	if st, _, _ := call(anon, "GET", web+"/teams", "", map[string]string{"Cookie": stolen}); st != http.StatusSeeOther {
		t.Errorf("dashboard with the cookie after logout: %d", st)
	}
	if st, _, _ := call(anon, "POST", web+"/api/v2/dev-hosts", `{"hostname":"after-logout"}`,
		map[string]string{"Cookie": stolen, "X-CSRF-Token": token, "Content-Type": "application/json"}); st != http.StatusUnauthorized {
		t.Errorf("API write with the cookie after logout: %d", st)
	}

	// 2. Keys in URLs, where scripts and browsers put them.
	esc := url.QueryEscape
	for _, p := range []string{"/api/v1/rules?API_KEY=" + webKey, "/api/v1/rules?api_key=" + webKey,
		"/login?next=/x%3Fapi_key%3D" + webKey, "/login?next=" + esc(esc("/x?Token="+webKey)), "/teams?password=" + webKey} {
		call(anon, "GET", web+p, "", nil)
	}
	for _, p := range []string{"/ingest?api_key=" + ingestKey, "/api/v2/ingest?API_KEY=" + ingestKey, "/admin/config?token=" + ingestKey} {
		call(anon, "POST", ingest+p, `{"hostname":"h","message":"m"}`, map[string]string{"Content-Type": "application/json"})
	}

	// 3. Guessed keys are throttled; the right key from elsewhere is not.
	attacker := client("127.0.0.2")
	for _, target := range []string{web + "/api/v1/rules", ingest + "/ingest"} {
		var last int
		var hdr http.Header
		var body string
		for i := range 11 {
			last, hdr, body = call(attacker, "POST", target, `{}`, map[string]string{"X-API-KEY": "guess-" + strconv.Itoa(i) + "-0123456789"})
		}
		if last != http.StatusTooManyRequests || hdr.Get("Retry-After") == "" || !json.Valid([]byte(body)) {
			t.Errorf("%s after 11 guesses: %d %v %s", target, last, hdr, body)
		}
	}
	if st, _, _ := call(anon, "GET", web+"/api/v1/rules", "", map[string]string{"X-API-KEY": webKey}); st != http.StatusOK {
		t.Errorf("the right key from another client: %d", st)
	}
	if st, _, _ := call(anon, "POST", ingest+"/ingest", `{"hostname":"h","message":"m","timestamp":"2025-01-01T00:00:00Z"}`,
		map[string]string{"X-API-KEY": ingestKey, "Content-Type": "application/json"}); st != http.StatusOK {
		t.Errorf("an event with the right key from another client: %d", st)
	}

	// 4. Input that once gave 500.
	key := map[string]string{"X-API-KEY": webKey, "Content-Type": "application/json"}
	for _, c := range []struct {
		method, path, body string
		status             int
	}{
		{"GET", "/api/v1/rules/2147483648", "", 404},
		{"DELETE", "/api/v2/rules/9223372036854775807", "", 404},
		{"GET", "/api/v1/audit-logs?rule_id=4294967296", "", 400},
		{"POST", "/api/v1/dev-hosts", `{"hostname":"a\u0000b"}`, 400},
		{"POST", "/api/v1/dev-hosts", `{"hostname":"a","hostname":"b"}`, 400},
		{"DELETE", "/api/v1/dev-hosts/a%00b", "", 400},
	} {
		if st, _, body := call(anon, c.method, web+c.path, c.body, key); st != c.status || !strings.Contains(body, `"error"`) {
			t.Errorf("%s %s: %d %s", c.method, c.path, st, body)
		}
	}

	out := logs.String()
	if !strings.Contains(out, "REDACTED") || !strings.Contains(out, "ingest authentication failed") {
		t.Fatalf("the attack requests are not in the log:\n%s", out)
	}
	for _, k := range []string{webKey, ingestKey, "Hq83Lz01Vb72Kd", "Pw45Rt19Xn66"} {
		if strings.Contains(out, k) {
			t.Errorf("the log holds a key (%s):\n%s", k, out)
		}
	}
	if n := e.count(`SELECT count(*) FROM development_hosts WHERE hostname <> 'core-router-01.dc1.example.com'`); n != 0 {
		t.Errorf("the attack added %d development hosts", n)
	}
}
