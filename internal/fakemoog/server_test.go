package fakemoog_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mutt-go/mutt/internal/fakemoog"
)

// start serves a new fake on a real loopback listener.
func start(t testing.TB, opts fakemoog.Options) (*fakemoog.Server, *httptest.Server) {
	t.Helper()
	srv := fakemoog.New(opts)
	hs := httptest.NewServer(srv)
	t.Cleanup(hs.Close)
	return srv, hs
}

func event(id string) string {
	return fmt.Sprintf(`{"signature":"router-01","source_id":"router-01","external_id":%q,"manager":"MUTT",`+
		`"source":"MUTT Alerter","class":"NetOps","agent":"MUTT v2.3","agent_location":"Alerter Service",`+
		`"type":"Alert","severity":3,"description":"LINK-DOWN: Interface eth0","agent_time":1736680200}`, id)
}

// post sends one event and returns the status and headers, or the transport
// error.
func post(client *http.Client, url, key, body string) (int, http.Header, error) {
	req, err := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	resp, err := client.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	return resp.StatusCode, resp.Header, nil
}

func stats(t *testing.T, url string) fakemoog.Stats {
	t.Helper()
	resp, err := http.Get(url + "/stats")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var st fakemoog.Stats
	if err := json.NewDecoder(resp.Body).Decode(&st); err != nil {
		t.Fatalf("decoding /stats: %v", err)
	}
	return st
}

func TestRecordsAndCountsDuplicates(t *testing.T) {
	srv, hs := start(t, fakemoog.Options{})
	sends := []struct {
		path string
		body string
	}{
		{"/events", event("a")},
		{"/api/v1/events", event("b")},
		{"/events", event("a")},
		{"/events", event("c")},
		{"/events", event("a")},
		{"/events", `not json at all`},
	}
	before := time.Now()
	for _, s := range sends {
		status, _, err := post(hs.Client(), hs.URL+s.path, "", s.body)
		if err != nil || status != http.StatusOK {
			t.Fatalf("POST %s = %d, %v", s.path, status, err)
		}
	}
	after := time.Now()

	tests := []struct {
		name string
		got  any
		want any
	}{
		{"count", srv.Count(), 6},
		{"distinct", srv.Distinct(), 3},
		{"duplicates", srv.Duplicates(), 2},
		{"received a", srv.Received("a"), 3},
		{"received b", srv.Received("b"), 1},
		{"received unknown", srv.Received("zzz"), 0},
		{"ids in order of first receipt", fmt.Sprint(srv.IDs()), "[a b c]"},
		{"times kept", len(srv.Times()), 6},
		{"bodies kept", len(srv.Bodies()), 6},
		{"last body", string(srv.Bodies()[5]), "not json at all"},
		{"decoded bodies skip invalid JSON", len(srv.Last()), 5},
		{"decoded body", srv.Last()[4]["external_id"], "a"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.got != tt.want {
				t.Errorf("got %v, want %v", tt.got, tt.want)
			}
		})
	}
	r, ok := srv.Receipt("a")
	if !ok || r.Count != 3 || r.First.Before(before) || r.Last.After(after) || !r.First.Before(r.Last) {
		t.Errorf("receipt of a = %+v, %v", r, ok)
	}
	times := srv.Times()
	for i := 1; i < len(times); i++ {
		if times[i].Before(times[i-1]) {
			t.Errorf("times out of order: %v", times)
		}
	}

	st := stats(t, hs.URL)
	if st.Count != 6 || st.Distinct != 3 || st.Duplicates != 2 || st.NoID != 1 || st.ByStatus["200"] != 6 {
		t.Errorf("/stats = %+v", st)
	}
	if string(st.Last) != `"not json at all"` {
		t.Errorf("/stats last = %s, want the invalid body as a JSON string", st.Last)
	}
	if _, _, err := post(hs.Client(), hs.URL+"/events", "", event("d")); err != nil {
		t.Fatal(err)
	}
	var last map[string]any
	if err := json.Unmarshal(stats(t, hs.URL).Last, &last); err != nil || last["external_id"] != "d" {
		t.Errorf("/stats last = %v (%v), want the event with external_id d", last, err)
	}

	srv.Reset()
	if srv.Count() != 0 || srv.Distinct() != 0 || len(srv.Times()) != 0 || len(srv.Bodies()) != 0 || len(stats(t, hs.URL).ByStatus) != 0 {
		t.Errorf("after Reset: %+v", srv.Stats())
	}
}

func TestBoundedMemory(t *testing.T) {
	srv, hs := start(t, fakemoog.Options{KeepBodies: 2, KeepTimes: 3, MaxIDs: 4})
	for i := range 6 {
		if status, _, err := post(hs.Client(), hs.URL+"/events", "", event(fmt.Sprint("id-", i))); err != nil || status != 200 {
			t.Fatalf("POST = %d, %v", status, err)
		}
	}
	st := srv.Stats()
	if st.Count != 6 || st.Distinct != 4 || st.Untracked != 2 {
		t.Errorf("stats = %+v, want 6 accepted, 4 tracked, 2 untracked", st)
	}
	if n := len(srv.Times()); n != 3 {
		t.Errorf("kept %d times, want 3", n)
	}
	bodies := srv.Bodies()
	if len(bodies) != 2 || !bytes.Contains(bodies[0], []byte(`"id-4"`)) || !bytes.Contains(bodies[1], []byte(`"id-5"`)) {
		t.Errorf("kept bodies %q, want the last two", bodies)
	}
}

func TestAPIKey(t *testing.T) {
	srv, hs := start(t, fakemoog.Options{APIKey: "s3cret"})
	tests := []struct {
		name   string
		header string
		want   int
	}{
		{name: "right key", header: "Bearer s3cret", want: http.StatusOK},
		{name: "missing", header: "", want: http.StatusUnauthorized},
		{name: "wrong key", header: "Bearer nope", want: http.StatusUnauthorized},
		{name: "not bearer", header: "Basic s3cret", want: http.StatusUnauthorized},
		{name: "key without scheme", header: "s3cret", want: http.StatusUnauthorized},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, _ := http.NewRequest(http.MethodPost, hs.URL+"/events", strings.NewReader(event(tt.name)))
			if tt.header != "" {
				req.Header.Set("Authorization", tt.header)
			}
			resp, err := hs.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != tt.want {
				t.Errorf("status %d, want %d", resp.StatusCode, tt.want)
			}
			if got, want := srv.Received(tt.name), map[bool]int{true: 1, false: 0}[tt.want == 200]; got != want {
				t.Errorf("recorded %d times, want %d", got, want)
			}
		})
	}
	if st := srv.Stats(); st.ByStatus["401"] != 4 || st.ByStatus["200"] != 1 {
		t.Errorf("by_status = %v", st.ByStatus)
	}
}

func TestModes(t *testing.T) {
	tests := []struct {
		name       string
		mode       fakemoog.Mode
		requests   int
		wantStatus map[int]int // status → how many
		wantDrops  int
		retryAfter string
		minElapsed time.Duration
		recorded   int
	}{
		{name: "normal", mode: fakemoog.Mode{}, requests: 3, wantStatus: map[int]int{200: 3}, recorded: 3},
		{name: "outage", mode: fakemoog.Mode{Status: 503}, requests: 3, wantStatus: map[int]int{503: 3}},
		{name: "rate limited with Retry-After", mode: fakemoog.Mode{Status: 429, RetryAfter: 1500 * time.Millisecond},
			requests: 2, wantStatus: map[int]int{429: 2}, retryAfter: "2"},
		{name: "accepted with 202", mode: fakemoog.Mode{Status: 202}, requests: 2, wantStatus: map[int]int{202: 2}, recorded: 2},
		{name: "half fail", mode: fakemoog.Mode{FailFraction: 0.5}, requests: 10, wantStatus: map[int]int{200: 5, 503: 5}, recorded: 5},
		{name: "a tenth fail with 500", mode: fakemoog.Mode{FailFraction: 0.1, FailStatus: 500}, requests: 20,
			wantStatus: map[int]int{200: 18, 500: 2}, recorded: 18},
		{name: "all fail", mode: fakemoog.Mode{FailFraction: 1}, requests: 4, wantStatus: map[int]int{503: 4}},
		{name: "delay", mode: fakemoog.Mode{Delay: 60 * time.Millisecond}, requests: 2, wantStatus: map[int]int{200: 2},
			minElapsed: 120 * time.Millisecond, recorded: 2},
		{name: "dropped connection", mode: fakemoog.Mode{Drop: true}, requests: 3, wantStatus: map[int]int{}, wantDrops: 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv, hs := start(t, fakemoog.Options{})
			srv.SetMode(tt.mode)
			got := map[int]int{}
			drops := 0
			began := time.Now()
			for i := range tt.requests {
				status, hdr, err := post(hs.Client(), hs.URL+"/events", "", event(fmt.Sprint(tt.name, i)))
				if err != nil {
					drops++
					continue
				}
				got[status]++
				if status >= 300 && hdr.Get("Retry-After") != tt.retryAfter {
					t.Errorf("Retry-After %q, want %q", hdr.Get("Retry-After"), tt.retryAfter)
				}
			}
			elapsed := time.Since(began)
			if fmt.Sprint(got) != fmt.Sprint(tt.wantStatus) {
				t.Errorf("statuses %v, want %v", got, tt.wantStatus)
			}
			if drops != tt.wantDrops {
				t.Errorf("%d transport errors, want %d", drops, tt.wantDrops)
			}
			if elapsed < tt.minElapsed {
				t.Errorf("took %s, want at least %s", elapsed, tt.minElapsed)
			}
			st := srv.Stats()
			if int(st.Count) != tt.recorded || int(st.Dropped) != tt.wantDrops {
				t.Errorf("recorded %d and dropped %d, want %d and %d", st.Count, st.Dropped, tt.recorded, tt.wantDrops)
			}
			for status, n := range tt.wantStatus {
				if st.ByStatus[fmt.Sprint(status)] != int64(n) {
					t.Errorf("by_status = %v, want %v", st.ByStatus, tt.wantStatus)
				}
			}
		})
	}
}

func TestDelayEndsWhenTheClientGivesUp(t *testing.T) {
	srv, hs := start(t, fakemoog.Options{Mode: fakemoog.Mode{Delay: time.Minute}})
	client := &http.Client{Timeout: 50 * time.Millisecond}
	began := time.Now()
	if _, _, err := post(client, hs.URL+"/events", "", event("slow")); err == nil {
		t.Fatal("a request held for a minute succeeded within 50ms")
	}
	if time.Since(began) > 5*time.Second {
		t.Errorf("client waited %s", time.Since(began))
	}
	if srv.Count() != 0 {
		t.Errorf("an abandoned request was recorded")
	}
	// httptest.Server.Close waits for handlers, so the test would hang for
	// a minute if the handler ignored the client's departure.
	done := make(chan struct{})
	go func() { hs.Close(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("handler still holding the abandoned request")
	}
}

func TestModeEndpoint(t *testing.T) {
	srv, hs := start(t, fakemoog.Options{})
	tests := []struct {
		name       string
		body       string
		wantStatus int
		wantMode   fakemoog.Mode
	}{
		{name: "outage", body: `{"status":503,"retry_after_seconds":5}`, wantStatus: 200,
			wantMode: fakemoog.Mode{Status: 503, RetryAfter: 5 * time.Second, FailStatus: 503}},
		{name: "flaky and slow", body: `{"fail_fraction":0.25,"fail_status":502,"delay_ms":1.5}`, wantStatus: 200,
			wantMode: fakemoog.Mode{FailFraction: 0.25, FailStatus: 502, Delay: 1500 * time.Microsecond}},
		{name: "drop", body: `{"drop":true}`, wantStatus: 200, wantMode: fakemoog.Mode{Drop: true, FailStatus: 503}},
		{name: "back to normal", body: `{}`, wantStatus: 200, wantMode: fakemoog.Mode{FailStatus: 503}},
		{name: "fraction above one", body: `{"fail_fraction":2}`, wantStatus: 400, wantMode: fakemoog.Mode{FailStatus: 503}},
		{name: "informational status", body: `{"status":101}`, wantStatus: 400, wantMode: fakemoog.Mode{FailStatus: 503}},
		{name: "negative delay", body: `{"delay_ms":-1}`, wantStatus: 400, wantMode: fakemoog.Mode{FailStatus: 503}},
		{name: "not JSON", body: `status=503`, wantStatus: 400, wantMode: fakemoog.Mode{FailStatus: 503}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, err := http.Post(hs.URL+"/mode", "application/json", strings.NewReader(tt.body))
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != tt.wantStatus {
				t.Errorf("POST /mode status %d, want %d", resp.StatusCode, tt.wantStatus)
			}
			if got := srv.Mode(); got != tt.wantMode {
				t.Errorf("mode %+v, want %+v", got, tt.wantMode)
			}
			resp, err = http.Get(hs.URL + "/mode")
			if err != nil {
				t.Fatal(err)
			}
			var m fakemoog.Mode
			err = json.NewDecoder(resp.Body).Decode(&m)
			resp.Body.Close()
			if err != nil || m != tt.wantMode {
				t.Errorf("GET /mode = %+v (%v), want %+v", m, err, tt.wantMode)
			}
		})
	}
}

func TestOtherEndpoints(t *testing.T) {
	_, hs := start(t, fakemoog.Options{APIKey: "k"})
	tests := []struct {
		name, method, path, auth string
		want                     int
		wantBody                 string
	}{
		{name: "health", method: "GET", path: "/health", want: 200, wantBody: `"status":"healthy"`},
		{name: "probe without key", method: "GET", path: "/api/v1/events", want: 401},
		{name: "probe with key", method: "GET", path: "/api/v1/events", auth: "Bearer k", want: 405},
		{name: "unknown path", method: "GET", path: "/nope", want: 404},
		{name: "reset needs POST", method: "GET", path: "/reset", want: 405},
		{name: "reset", method: "POST", path: "/reset", want: 200, wantBody: `"ok":true`},
		{name: "mode with DELETE", method: "DELETE", path: "/mode", want: 405},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, _ := http.NewRequest(tt.method, hs.URL+tt.path, nil)
			if tt.auth != "" {
				req.Header.Set("Authorization", tt.auth)
			}
			resp, err := hs.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tt.want || !strings.Contains(string(body), tt.wantBody) {
				t.Errorf("%s %s = %d %s, want %d containing %q", tt.method, tt.path, resp.StatusCode, body, tt.want, tt.wantBody)
			}
		})
	}
}

func TestBodyLimit(t *testing.T) {
	srv, hs := start(t, fakemoog.Options{MaxBodyBytes: 100})
	status, _, err := post(hs.Client(), hs.URL+"/events", "", `{"external_id":"`+strings.Repeat("x", 200)+`"}`)
	if err != nil || status != http.StatusRequestEntityTooLarge {
		t.Errorf("oversized body answered %d, %v; want 413", status, err)
	}
	if srv.Count() != 0 {
		t.Errorf("oversized body recorded")
	}
}

func TestConcurrentCountsAreExact(t *testing.T) {
	srv, hs := start(t, fakemoog.Options{})
	const goroutines, perG, ids = 32, 100, 400
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: goroutines}}
	var wg sync.WaitGroup
	errs := make(chan error, goroutines)
	for g := range goroutines {
		wg.Go(func() {
			for i := range perG {
				id := fmt.Sprint("id-", (g*perG+i)%ids)
				if status, _, err := post(client, hs.URL+"/events", "", event(id)); err != nil || status != 200 {
					errs <- fmt.Errorf("POST = %d, %v", status, err)
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	total := goroutines * perG
	if srv.Count() != total || srv.Distinct() != ids || srv.Duplicates() != total-ids {
		t.Errorf("count %d distinct %d duplicates %d; want %d, %d, %d", srv.Count(), srv.Distinct(), srv.Duplicates(), total, ids, total-ids)
	}
	for _, id := range []string{"id-0", "id-399"} {
		if n := srv.Received(id); n != total/ids {
			t.Errorf("%s received %d times, want %d", id, n, total/ids)
		}
	}
}

// BenchmarkServeHTTP measures the handler alone: one accepted event per
// operation, from many goroutines at once.
func BenchmarkServeHTTP(b *testing.B) {
	srv := fakemoog.New(fakemoog.Options{APIKey: "key"})
	body := []byte(event("0193a5b0-7c1e-7d2a-9f00-3b1c2d4e5f61"))
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			i++
			req := httptest.NewRequest(http.MethodPost, "/events", bytes.NewReader(body))
			req.Header.Set("Authorization", "Bearer key")
			w := httptest.NewRecorder()
			srv.ServeHTTP(w, req)
			if w.Code != http.StatusOK {
				b.Errorf("status %d", w.Code)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "req/s")
}

// BenchmarkLoopbackHTTP measures whole requests over keep-alive loopback
// connections, the way a forwarder would send them.
func BenchmarkLoopbackHTTP(b *testing.B) {
	srv, hs := start(b, fakemoog.Options{})
	body := event("0193a5b0-7c1e-7d2a-9f00-3b1c2d4e5f61")
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 256}}
	b.SetParallelism(8)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if status, _, err := post(client, hs.URL+"/events", "", body); err != nil || status != 200 {
				b.Errorf("POST = %d, %v", status, err)
				return
			}
		}
	})
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "req/s")
	if srv.Count() < b.N {
		b.Errorf("recorded %d of %d", srv.Count(), b.N)
	}
}
