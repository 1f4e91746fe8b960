package ui

import (
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// browserFrom is a browser whose connections come from the loopback
// address ip (127.0.0.0/8 all reach the test server), so that tests can be
// several clients.
func (e *env) browserFrom(ip string) *browser {
	b := e.browser()
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}, Timeout: 5 * time.Second}
	b.c.Transport = &http.Transport{DialContext: d.DialContext}
	jar, _ := cookiejar.New(nil)
	b.c.Jar = jar
	return b
}

// api makes an API call with key (none when empty) and returns the status,
// the Retry-After header and the JSON body.
func (b *browser) api(path, key string) (int, string, map[string]any) {
	b.e.t.Helper()
	req, err := http.NewRequest("GET", b.e.ts.URL+path, nil)
	if err != nil {
		b.e.t.Fatal(err)
	}
	if key != "" {
		req.Header.Set("X-API-KEY", key)
	}
	resp, err := b.c.Do(req)
	if err != nil {
		b.e.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var body map[string]any
	_ = json.Unmarshal(raw, &body)
	return resp.StatusCode, resp.Header.Get("Retry-After"), body
}

// metricValue reads one series from the server's /metrics.
func (e *env) metricValue(series string) float64 {
	e.t.Helper()
	resp, err := http.Get(e.ts.URL + "/metrics")
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	m := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(series) + ` (\S+)$`).FindStringSubmatch(string(raw))
	if m == nil {
		e.t.Fatalf("no series %s in /metrics", series)
	}
	v, _ := strconv.ParseFloat(m[1], 64)
	return v
}

func TestFailedAuthenticationIsThrottled(t *testing.T) {
	e := newEnv(t)
	sender, attacker, operator := e.browserFrom("127.0.0.1"), e.browserFrom("127.0.0.2"), e.browserFrom("127.0.0.3")

	// A busy sender with the right key is never slowed down.
	for i := range 150 {
		if st, _, _ := sender.api("/api/v1/rules", testKey); st != http.StatusOK {
			t.Fatalf("request %d with the right key: %d", i, st)
		}
	}
	// Nor does a client without any key use up its allowance.
	for range 30 {
		if st, _, _ := attacker.api("/api/v1/rules", ""); st != http.StatusUnauthorized {
			t.Fatalf("no key: %d", st)
		}
	}
	// Guessing keys is stopped after a few tries.
	for i := range 10 {
		if st, _, _ := attacker.api("/api/v1/rules", "guess-"+strconv.Itoa(i)+"-0123456789abcdef"); st != http.StatusUnauthorized {
			t.Fatalf("guess %d: %d", i, st)
		}
	}
	st, retry, body := attacker.api("/api/v1/rules", "guess-10-0123456789abcdef")
	if st != http.StatusTooManyRequests || retry == "" || !strings.Contains(body["error"].(string), "failed authentication") || body["correlation_id"] == "" {
		t.Fatalf("11th guess: %d Retry-After %q %v", st, retry, body)
	}
	if n, err := strconv.Atoi(retry); err != nil || n < 1 || n > 10 {
		t.Errorf("Retry-After %q", retry)
	}
	// A throttled client learns nothing, even when it sends the right key.
	if st, _, _ := attacker.api("/api/v1/rules", testKey); st != http.StatusTooManyRequests {
		t.Errorf("right key from the throttled client: %d", st)
	}
	// The sign-in form shares the throttle.
	attacker.get("/login")
	if p := attacker.post("/login", url.Values{"api_key": {testKey}}); p.Status != http.StatusTooManyRequests || p.Header.Get("Retry-After") == "" {
		t.Errorf("sign-in from the throttled client: %d %v", p.Status, p.Header)
	}
	// Other clients are not affected.
	if st, _, _ := sender.api("/api/v1/rules", "wrong-key-0123456789abcdef"); st != http.StatusUnauthorized {
		t.Errorf("one wrong key from the sender: %d", st)
	}
	if st, _, _ := sender.api("/api/v1/rules", testKey); st != http.StatusOK {
		t.Errorf("the sender after the attack: %d", st)
	}

	// The sign-in form alone throttles too, and a session opened before
	// keeps working for its operator.
	operator.login()
	typist := e.browserFrom("127.0.0.3") // another tab, no session
	typist.get("/login")
	for i := range 10 {
		if p := typist.post("/login", url.Values{"api_key": {"typo-" + strconv.Itoa(i)}}); p.Status != http.StatusUnauthorized {
			t.Fatalf("wrong sign-in %d: %d", i, p.Status)
		}
	}
	if p := typist.post("/login", url.Values{"api_key": {testKey}}); p.Status != http.StatusTooManyRequests {
		t.Errorf("11th sign-in: %d", p.Status)
	}
	if p := operator.get("/teams"); p.Status != http.StatusOK {
		t.Errorf("the open session of a throttled client: %d", p.Status)
	}

	for series, want := range map[string]float64{
		`mutt_webui_auth_failures_total{reason="bad_key"}`:   11,
		`mutt_webui_auth_failures_total{reason="missing"}`:   30,
		`mutt_webui_auth_failures_total{reason="bad_login"}`: 10,
		`mutt_webui_auth_throttled_total`:                    4,
	} {
		if got := e.metricValue(series); got != want {
			t.Errorf("%s = %v, want %v", series, got, want)
		}
	}
}
