package ingest_test

import (
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"
)

// from returns a copy of the harness whose requests come from the loopback
// address ip, so that a test can be several clients.
func (h *harness) from(ip string) *harness {
	c := *h
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}, Timeout: 5 * time.Second}
	c.client = &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{DialContext: d.DialContext}}
	h.t.Cleanup(c.client.CloseIdleConnections)
	return &c
}

func TestFailedAuthenticationIsThrottled(t *testing.T) {
	h := newHarness(t)
	sender, attacker, keyless := h.from("127.0.0.1"), h.from("127.0.0.2"), h.from("127.0.0.3")
	ingest := func(c *harness, key string) response {
		t.Helper()
		hdr := map[string]string{}
		if key != "" {
			hdr["X-API-KEY"] = key
		}
		return c.request(http.MethodPost, "/ingest", "application/json", []byte(validEvent), hdr)
	}
	// A busy sender with the right key is never throttled.
	for i := range 200 {
		if r := ingest(sender, testKey); r.status != http.StatusOK {
			t.Fatalf("event %d with the right key: %d %s", i, r.status, r.raw)
		}
	}
	// A sender without a key is refused, but not throttled.
	for range 30 {
		if r := ingest(keyless, ""); r.status != http.StatusUnauthorized {
			t.Fatalf("no key: %d", r.status)
		}
	}
	for i := range 10 {
		if r := ingest(attacker, "guess-"+strconv.Itoa(i)+"-0123456789abcdef"); r.status != http.StatusUnauthorized {
			t.Fatalf("guess %d: %d", i, r.status)
		}
	}
	r := ingest(attacker, "guess-10-0123456789abcdef")
	if r.status != http.StatusTooManyRequests || r.header.Get("Retry-After") == "" || r.body["status"] != "error" ||
		!strings.Contains(r.body["message"].(string), "failed authentication") || r.body["retry_after"] == nil {
		t.Fatalf("11th guess: %d %v %s", r.status, r.header, r.raw)
	}
	if r := ingest(attacker, testKey); r.status != http.StatusTooManyRequests {
		t.Errorf("right key from the throttled client: %d", r.status)
	}
	if r := ingest(sender, testKey); r.status != http.StatusOK {
		t.Errorf("the sender during the attack: %d", r.status)
	}
	if got := h.xlen(); got != 201 {
		t.Errorf("%d events queued, want 201", got)
	}
	for _, c := range []struct {
		name   string
		labels map[string]string
		want   float64
	}{
		{"mutt_ingest_auth_failures_total", map[string]string{"reason": "bad_key"}, 10},
		{"mutt_ingest_auth_failures_total", map[string]string{"reason": "missing"}, 30},
		{"mutt_ingest_auth_throttled_total", nil, 2},
		{"mutt_ingest_requests_total", map[string]string{"status": "fail", "reason": "auth"}, 40},
		{"mutt_ingest_requests_total", map[string]string{"status": "fail", "reason": "auth_throttled"}, 2},
	} {
		if got := h.metric(c.name, c.labels); got != c.want {
			t.Errorf("%s%v = %v, want %v", c.name, c.labels, got, c.want)
		}
	}
}

// TestKeysNeverLogged sends keys where senders misplace them and searches
// the server's logs for them.
func TestKeysNeverLogged(t *testing.T) {
	h := newHarness(t)
	esc := url.QueryEscape
	for _, path := range []string{
		"/ingest?api_key=" + testKey,
		"/ingest?API_KEY=" + testKey,
		"/api/v2/ingest?partial=true&Token=" + testKeyNext,
		"/api/v1/ingest?next=" + esc("/x?apikey="+testKey),
		"/admin/config?password=" + testKey,
	} {
		r := h.request(http.MethodPost, path, "application/json", []byte(validEvent), map[string]string{})
		if r.status != http.StatusUnauthorized {
			t.Errorf("%s: %d", path, r.status)
		}
	}
	for i := range 11 {
		h.request(http.MethodPost, "/ingest?key="+testKey, "application/json", []byte(validEvent),
			map[string]string{"X-API-KEY": "wrong-" + strconv.Itoa(i)})
	}
	logs := h.logs.String()
	if strings.Count(logs, "authentication failed") < 5 || !strings.Contains(logs, "REDACTED") || !strings.Contains(logs, "partial=true") {
		t.Fatalf("the refused requests are not logged with their redacted query:\n%s", logs)
	}
	if !strings.Contains(logs, "throttling authentication") {
		t.Errorf("the start of the block is not logged:\n%s", logs)
	}
	for _, k := range []string{testKey, testKeyNext} {
		if strings.Contains(logs, k) || strings.Contains(logs, esc(k)) {
			t.Errorf("the logs hold a key:\n%s", logs)
		}
	}
}
