package forward

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/mutt-go/mutt/internal/secrets"
)

var fixedNow = func() time.Time { return time.Unix(testAgentTime, 0) }

// testAlert is a valid alert with the given event ID.
func testAlert(id string) Alert {
	return Alert{ID: id, Attempt: 1, Payload: []byte(`{"hostname":"router-01","team_assignment":"NetOps","severity":"Major",` +
		`"message_body":"LINK-DOWN","raw_json":{"hostname":"router-01"},"_correlation_id":"cid-` + id + `","event_id":"` + id + `"}`)}
}

func testAlerts(n int) []Alert {
	a := make([]Alert, n)
	for i := range a {
		a[i] = testAlert("e" + strconv.Itoa(i))
	}
	return a
}

func newTestWebhook(t testing.TB, url string, mod func(*WebhookOptions)) (*Webhook, *Metrics, *prometheus.Registry) {
	t.Helper()
	reg := prometheus.NewRegistry()
	m := NewMetrics(reg)
	opts := WebhookOptions{URL: url, APIKey: secrets.New("s3cr3t-key"), Metrics: m, Now: fixedNow, Timeout: 5 * time.Second}
	if mod != nil {
		mod(&opts)
	}
	w, err := NewWebhook(opts)
	if err != nil {
		t.Fatalf("NewWebhook: %v", err)
	}
	t.Cleanup(func() { _ = w.Close() })
	return w, m, reg
}

// histogramCount returns the number of observations of the histogram name.
func histogramCount(t *testing.T, reg *prometheus.Registry, name string) uint64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == name {
			return mf.GetMetric()[0].GetHistogram().GetSampleCount()
		}
	}
	t.Fatalf("metric %s not registered", name)
	return 0
}

func TestWebhookRequest(t *testing.T) {
	type captured struct {
		method, path string
		header       http.Header
		body         []byte
	}
	got := make(chan captured, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		got <- captured{r.Method, r.URL.Path, r.Header.Clone(), b}
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write([]byte(`{"ok": true}`))
	}))
	defer srv.Close()
	w, _, _ := newTestWebhook(t, srv.URL+"/events", nil)

	alert, err := os.ReadFile(filepath.Join("testdata", "handled.alert.json"))
	if err != nil {
		t.Fatal(err)
	}
	res := w.Send(context.Background(), []Alert{{ID: "1-0", Payload: alert, Attempt: 1}})
	if len(res) != 1 || res[0].Outcome != Delivered || res[0].Status != 200 {
		t.Fatalf("result %+v, want Delivered 200", res)
	}
	c := <-got
	want, err := os.ReadFile(filepath.Join("testdata", "handled.body.golden"))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, got, want string
	}{
		{"method", c.method, "POST"},
		{"path", c.path, "/events"},
		{"Content-Type", c.header.Get("Content-Type"), "application/json"},
		{"Authorization", c.header.Get("Authorization"), "Bearer s3cr3t-key"},
		{"User-Agent prefix", c.header.Get("User-Agent")[:5], "mutt/"},
		{"body", string(c.body), strings.TrimSuffix(string(want), "\n")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.got != tt.want {
				t.Errorf("got %q, want %q", tt.got, tt.want)
			}
		})
	}
}

func TestWebhookOutcomes(t *testing.T) {
	retryDate := fixedNow().Add(90 * time.Second).UTC().Format(http.TimeFormat)
	tests := []struct {
		name        string
		status      int
		header      map[string]string
		wantOutcome Outcome
		wantReason  string
		wantAfter   time.Duration
		wantMetric  [2]string // status, reason label of mutt_moog_requests_total
	}{
		{"200", 200, nil, Delivered, "", 0, [2]string{"success", ""}},
		{"201", 201, nil, Delivered, "", 0, [2]string{"success", ""}},
		{"202", 202, nil, Delivered, "", 0, [2]string{"success", ""}},
		{"204", 204, nil, Delivered, "", 0, [2]string{"success", ""}},
		{"400", 400, nil, Failed, "http_4xx", 0, [2]string{"fail", "http_4xx"}},
		{"401", 401, nil, Failed, "http_4xx", 0, [2]string{"fail", "http_4xx"}},
		{"404", 404, nil, Failed, "http_4xx", 0, [2]string{"fail", "http_4xx"}},
		{"408", 408, nil, Retry, "http_4xx", 0, [2]string{"fail", "http_4xx"}},
		{"425", 425, nil, Retry, "http_4xx", 0, [2]string{"fail", "http_4xx"}},
		{"429 Retry-After seconds", 429, map[string]string{"Retry-After": "7"}, Retry, "rate_limited", 7 * time.Second, [2]string{"fail", "rate_limit"}},
		{"429 Retry-After date", 429, map[string]string{"Retry-After": retryDate}, Retry, "rate_limited", 90 * time.Second, [2]string{"fail", "rate_limit"}},
		{"429 Retry-After capped", 429, map[string]string{"Retry-After": "86400"}, Retry, "rate_limited", 5 * time.Minute, [2]string{"fail", "rate_limit"}},
		{"429 Retry-After garbage", 429, map[string]string{"Retry-After": "soon"}, Retry, "rate_limited", 0, [2]string{"fail", "rate_limit"}},
		{"429 no Retry-After", 429, nil, Retry, "rate_limited", 0, [2]string{"fail", "rate_limit"}},
		{"500", 500, nil, Retry, "http_5xx", 0, [2]string{"fail", "http_5xx"}},
		{"502 ignores Retry-After", 502, map[string]string{"Retry-After": "9"}, Retry, "http_5xx", 0, [2]string{"fail", "http_5xx"}},
		{"503", 503, nil, Retry, "http_5xx", 0, [2]string{"fail", "http_5xx"}},
		{"503 Retry-After", 503, map[string]string{"Retry-After": "3"}, Retry, "http_5xx", 3 * time.Second, [2]string{"fail", "http_5xx"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				_, _ = io.Copy(io.Discard, r.Body)
				for k, v := range tt.header {
					w.Header().Set(k, v)
				}
				w.WriteHeader(tt.status)
				if tt.status != 204 {
					_, _ = w.Write([]byte(`{"ok": false, "error": "as configured"}`))
				}
			}))
			defer srv.Close()
			w, m, reg := newTestWebhook(t, srv.URL, nil)
			res := w.Send(context.Background(), []Alert{testAlert("a")})
			r := res[0]
			if r.Outcome != tt.wantOutcome || r.Reason != tt.wantReason || r.Status != tt.status || r.RetryAfter != tt.wantAfter {
				t.Errorf("got %v %q status %d after %v (err %v); want %v %q status %d after %v",
					r.Outcome, r.Reason, r.Status, r.RetryAfter, r.Err, tt.wantOutcome, tt.wantReason, tt.status, tt.wantAfter)
			}
			if (r.Err == nil) != (tt.wantOutcome == Delivered) {
				t.Errorf("err = %v for outcome %v", r.Err, r.Outcome)
			}
			if r.Err != nil && tt.status != 204 && !strings.Contains(r.Err.Error(), "as configured") {
				t.Errorf("err %q does not quote the response body", r.Err)
			}
			if got := testutil.ToFloat64(m.requests.WithLabelValues(tt.wantMetric[0], tt.wantMetric[1])); got != 1 {
				t.Errorf("mutt_moog_requests_total%v = %v, want 1", tt.wantMetric, got)
			}
			if got := histogramCount(t, reg, "mutt_moog_request_latency_seconds"); got != 1 {
				t.Errorf("latency observations = %d, want 1", got)
			}
		})
	}
}

func TestWebhookRedirectNotFollowed(t *testing.T) {
	tests := []struct {
		name   string
		status int
	}{
		{"301", http.StatusMovedPermanently},
		{"302", http.StatusFound},
		{"307", http.StatusTemporaryRedirect},
		{"308", http.StatusPermanentRedirect},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var targetHits atomic.Int64
			mux := http.NewServeMux()
			mux.HandleFunc("/events", func(w http.ResponseWriter, r *http.Request) {
				http.Redirect(w, r, "/moved", tt.status)
			})
			mux.HandleFunc("/moved", func(w http.ResponseWriter, r *http.Request) { targetHits.Add(1) })
			srv := httptest.NewServer(mux)
			defer srv.Close()
			// A caller's client that would follow redirects is overridden.
			w, _, _ := newTestWebhook(t, srv.URL+"/events", func(o *WebhookOptions) { o.Client = &http.Client{} })
			r := w.Send(context.Background(), []Alert{testAlert("a")})[0]
			if r.Outcome != Failed || r.Reason != "redirect" || r.Status != tt.status {
				t.Errorf("got %v %q %d, want Failed redirect %d", r.Outcome, r.Reason, r.Status, tt.status)
			}
			if r.Err == nil || !strings.Contains(r.Err.Error(), "/moved") {
				t.Errorf("err %v does not name the redirect target", r.Err)
			}
			if n := targetHits.Load(); n != 0 {
				t.Errorf("redirect target requested %d times", n)
			}
		})
	}
}

func TestWebhookTransportFailures(t *testing.T) {
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// Reading the body lets the server notice the client hanging up.
		_, _ = io.Copy(io.Discard, r.Body)
		select {
		case <-r.Context().Done():
		case <-time.After(5 * time.Second):
		}
	}))
	defer slow.Close()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closedURL := "http://" + ln.Addr().String() + "/events"
	_ = ln.Close()

	tests := []struct {
		name       string
		url        string
		wantReason string
	}{
		{"timeout", slow.URL, "timeout"},
		{"connection refused", closedURL, "connection"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w, m, reg := newTestWebhook(t, tt.url, func(o *WebhookOptions) { o.Timeout = 100 * time.Millisecond })
			start := time.Now()
			r := w.Send(context.Background(), []Alert{testAlert("a")})[0]
			if r.Outcome != Retry || r.Reason != tt.wantReason || r.Status != 0 || r.Err == nil {
				t.Errorf("got %v %q status %d err %v, want Retry %q", r.Outcome, r.Reason, r.Status, r.Err, tt.wantReason)
			}
			if d := time.Since(start); d > 3*time.Second {
				t.Errorf("took %v with a 100ms timeout", d)
			}
			if got := testutil.ToFloat64(m.requests.WithLabelValues("fail", tt.wantReason)); got != 1 {
				t.Errorf("mutt_moog_requests_total{fail,%s} = %v, want 1", tt.wantReason, got)
			}
			if got := histogramCount(t, reg, "mutt_moog_request_latency_seconds"); got != 0 {
				t.Errorf("latency observed %d times without a response", got)
			}
		})
	}
}

func TestWebhookCancelledParks(t *testing.T) {
	started := make(chan struct{}, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		select {
		case started <- struct{}{}:
		default:
		}
		<-r.Context().Done()
	}))
	defer srv.Close()
	w, m, _ := newTestWebhook(t, srv.URL, nil)
	ctx, cancel := context.WithCancel(context.Background())
	go func() { <-started; cancel() }()
	res := w.Send(ctx, []Alert{testAlert("a"), testAlert("b")})
	for i, r := range res {
		if r.Outcome != Park || r.Err == nil {
			t.Errorf("alert %d: got %v err %v, want Park with an error", i, r.Outcome, r.Err)
		}
	}
	if got := testutil.ToFloat64(m.requests.WithLabelValues("fail", "connection")); got != 0 {
		t.Errorf("an interrupted request counted as a connection failure")
	}
}

func TestWebhookMalformedAlerts(t *testing.T) {
	var requests atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { requests.Add(1) }))
	defer srv.Close()
	w, _, _ := newTestWebhook(t, srv.URL, nil)
	tests := []struct {
		name    string
		payload string
	}{
		{"not json", `not json`},
		{"array", `[1]`},
		{"string", `"x"`},
		{"empty", ``},
		{"truncated object", `{"hostname":`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := w.Send(context.Background(), []Alert{{ID: "1", Payload: []byte(tt.payload), Attempt: 1}})[0]
			if r.Outcome != Failed || r.Reason != "malformed_alert" || r.Err == nil {
				t.Errorf("got %v %q err %v, want Failed malformed_alert", r.Outcome, r.Reason, r.Err)
			}
		})
	}
	if n := requests.Load(); n != 0 {
		t.Errorf("%d requests made for malformed alerts", n)
	}
}

func TestWebhookConcurrencyBound(t *testing.T) {
	tests := []struct {
		name        string
		concurrency int
		alerts      int
	}{
		{"bound 4", 4, 40},
		{"bound 1", 1, 6},
		{"fewer alerts than the bound", 16, 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var inflight, peak, total atomic.Int64
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				n := inflight.Add(1)
				defer inflight.Add(-1)
				for p := peak.Load(); n > p && !peak.CompareAndSwap(p, n); p = peak.Load() {
				}
				total.Add(1)
				time.Sleep(5 * time.Millisecond) // a Moogsoft that takes a moment to answer
			}))
			defer srv.Close()
			w, _, _ := newTestWebhook(t, srv.URL, func(o *WebhookOptions) { o.Concurrency = tt.concurrency })
			res := w.Send(context.Background(), testAlerts(tt.alerts))
			for i, r := range res {
				if r.Outcome != Delivered {
					t.Fatalf("alert %d: %v %v", i, r.Outcome, r.Err)
				}
			}
			if total.Load() != int64(tt.alerts) {
				t.Errorf("%d requests, want %d", total.Load(), tt.alerts)
			}
			limit := int64(min(tt.concurrency, tt.alerts))
			if p := peak.Load(); p > limit || (limit > 1 && p < 2) {
				t.Errorf("peak in flight %d, want between 2 and %d", p, limit)
			}
		})
	}
}

func TestWebhookKeepAlive(t *testing.T) {
	var newConns atomic.Int64
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		_, _ = w.Write([]byte(`{"ok": true}`))
	}))
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			newConns.Add(1)
		}
	}
	srv.Start()
	defer srv.Close()
	const concurrency, batches = 8, 5
	w, _, _ := newTestWebhook(t, srv.URL, func(o *WebhookOptions) { o.Concurrency = concurrency })
	for range batches {
		for i, r := range w.Send(context.Background(), testAlerts(4*concurrency)) {
			if r.Outcome != Delivered {
				t.Fatalf("alert %d: %v %v", i, r.Outcome, r.Err)
			}
		}
	}
	// One connection per worker, give or take the few the transport dials
	// when a finished request's connection is not back in the pool yet;
	// without keep-alive it would be one per request.
	if n := newConns.Load(); n > 2*concurrency {
		t.Errorf("%d connections for %d requests, want about %d", n, batches*4*concurrency, concurrency)
	}
}

func TestNewWebhookRejects(t *testing.T) {
	tests := []struct {
		name string
		opts WebhookOptions
	}{
		{"empty URL", WebhookOptions{}},
		{"relative URL", WebhookOptions{URL: "/events"}},
		{"other scheme", WebhookOptions{URL: "ftp://moog/events"}},
		{"unparsable", WebhookOptions{URL: "http://[::1"}},
		{"key with newline", WebhookOptions{URL: "http://moog/events", APIKey: secrets.New("k\r\nX-Evil: 1")}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := NewWebhook(tt.opts); err == nil {
				t.Error("accepted")
			} else if strings.Contains(err.Error(), "X-Evil") {
				t.Errorf("error reveals the key: %v", err)
			}
		})
	}
}

func TestWebhookNoKeyNoAuthorization(t *testing.T) {
	var mu sync.Mutex
	var auth []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		auth = r.Header.Values("Authorization")
		mu.Unlock()
	}))
	defer srv.Close()
	w, _, _ := newTestWebhook(t, srv.URL, func(o *WebhookOptions) { o.APIKey = secrets.Secret{} })
	if r := w.Send(context.Background(), []Alert{testAlert("a")})[0]; r.Outcome != Delivered {
		t.Fatalf("%v %v", r.Outcome, r.Err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(auth) != 0 {
		t.Errorf("Authorization sent without a key: %q", auth)
	}
}
