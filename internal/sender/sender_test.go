package sender

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

const testKey = "test-key-s3cr3t"

// received is one request as the stand-in ingestor saw it.
type received struct {
	path        string
	apiKey      string
	contentType string
	body        []byte
	events      []map[string]any
	status      int // what the ingestor answered
}

// reply is what the stand-in answers to request number n (1-based); a zero
// status means the default behaviour of the real ingestor.
type reply struct {
	status     int
	retryAfter string
	body       string
}

// ingestor is an HTTP stand-in for MUTT's ingest API: it checks the key,
// parses JSON / NDJSON bodies, validates required fields like the real one,
// and records everything it receives.
type ingestor struct {
	t       *testing.T
	srv     *httptest.Server
	respond func(n int, r received) reply

	mu   sync.Mutex
	reqs []received
}

func newIngestor(t *testing.T, respond func(n int, r received) reply) *ingestor {
	t.Helper()
	in := &ingestor{t: t, respond: respond}
	in.srv = httptest.NewServer(http.HandlerFunc(in.serve))
	t.Cleanup(in.srv.Close)
	return in
}

func (in *ingestor) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	rec := received{
		path:        r.URL.Path,
		apiKey:      r.Header.Get("X-API-KEY"),
		contentType: r.Header.Get("Content-Type"),
		body:        body,
	}
	status, answer, retryAfter := in.handle(&rec)

	in.mu.Lock()
	in.reqs = append(in.reqs, rec)
	n := len(in.reqs)
	in.mu.Unlock()

	if in.respond != nil {
		if rp := in.respond(n, rec); rp.status != 0 {
			status, answer, retryAfter = rp.status, rp.body, rp.retryAfter
		}
	}
	in.mu.Lock()
	in.reqs[n-1].status = status
	in.mu.Unlock()

	w.Header().Set("Content-Type", "application/json")
	if retryAfter != "" {
		w.Header().Set("Retry-After", retryAfter)
	}
	w.WriteHeader(status)
	_, _ = io.WriteString(w, answer)
}

// handle applies the real ingestor's rules: key, body shape, required fields.
func (in *ingestor) handle(rec *received) (status int, body, retryAfter string) {
	if rec.apiKey != testKey {
		return http.StatusUnauthorized, `{"status":"error","message":"Unauthorized"}`, ""
	}
	var items []json.RawMessage
	if strings.HasPrefix(rec.contentType, "application/x-ndjson") {
		sc := bufio.NewScanner(bytes.NewReader(rec.body))
		sc.Buffer(make([]byte, 1<<20), 1<<24)
		for sc.Scan() {
			if line := bytes.TrimSpace(sc.Bytes()); len(line) > 0 {
				items = append(items, append(json.RawMessage(nil), line...))
			}
		}
	} else {
		items = []json.RawMessage{rec.body}
	}
	type itemErr struct {
		Index int    `json:"index"`
		Field string `json:"field"`
		Error string `json:"error"`
	}
	var errs []itemErr
	for i, it := range items {
		var m map[string]any
		if err := json.Unmarshal(it, &m); err != nil || m == nil {
			errs = append(errs, itemErr{i, "", "not a JSON object"})
			continue
		}
		for _, f := range []string{"hostname", "message", "timestamp"} {
			if s, _ := m[f].(string); s == "" {
				errs = append(errs, itemErr{i, f, "required"})
			}
		}
		rec.events = append(rec.events, m)
	}
	if len(errs) > 0 {
		b, _ := json.Marshal(map[string]any{"status": "error", "message": "Invalid events", "errors": errs})
		return http.StatusBadRequest, string(b), ""
	}
	return http.StatusOK, fmt.Sprintf(`{"status":"queued","correlation_id":"c","queue_depth":%d,"accepted":%d}`, len(items), len(items)), ""
}

func (in *ingestor) requests() []received {
	in.mu.Lock()
	defer in.mu.Unlock()
	return slices.Clone(in.reqs)
}

// acceptedSeqs counts, per "seq" field, the events in requests answered 200.
func (in *ingestor) acceptedSeqs() map[int]int {
	seen := map[int]int{}
	for _, r := range in.requests() {
		if r.status != http.StatusOK {
			continue
		}
		for _, ev := range r.events {
			if f, ok := ev["seq"].(float64); ok {
				seen[int(f)]++
			}
		}
	}
	return seen
}

// seqEvents makes n valid events numbered by a "seq" field.
func seqEvents(n int) [][]byte {
	evs := make([][]byte, n)
	for i := range evs {
		evs[i] = fmt.Appendf(nil, `{"hostname":"host-%d.example.com","message":"%%LINK-3-UPDOWN: Interface Gi0/%d, changed state to down","timestamp":"2025-01-15T14:30:22Z","seq":%d}`, i%7, i, i)
	}
	return evs
}

func testOptions(url string, events [][]byte) Options {
	return Options{URL: url, APIKey: testKey, Events: events, RetryBackoffCap: time.Millisecond}
}

func TestRunBatching(t *testing.T) {
	tests := []struct {
		name         string
		events       int
		batchSize    int
		repeat       int
		concurrency  int
		urlSuffix    string
		wantSizes    []int // sorted
		wantCT       string
		wantPath     string
		wantEachSeen int
	}{
		{name: "ndjson batches", events: 250, batchSize: 100, concurrency: 2, wantSizes: []int{50, 100, 100},
			wantCT: "application/x-ndjson", wantPath: "/api/v2/ingest", wantEachSeen: 1},
		{name: "default batch size", events: 250, wantSizes: []int{50, 100, 100},
			wantCT: "application/x-ndjson", wantPath: "/api/v2/ingest", wantEachSeen: 1},
		{name: "one object per request", events: 5, batchSize: 1, concurrency: 3, wantSizes: []int{1, 1, 1, 1, 1},
			wantCT: "application/json", wantPath: "/api/v2/ingest", wantEachSeen: 1},
		{name: "repeat runs across passes", events: 30, batchSize: 7, repeat: 3, wantSizes: []int{6, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7},
			wantCT: "application/x-ndjson", wantPath: "/api/v2/ingest", wantEachSeen: 3},
		{name: "explicit ingest path kept", events: 3, batchSize: 10, urlSuffix: "/ingest", wantSizes: []int{3},
			wantCT: "application/x-ndjson", wantPath: "/ingest", wantEachSeen: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := newIngestor(t, nil)
			opts := testOptions(in.srv.URL+tt.urlSuffix, seqEvents(tt.events))
			opts.BatchSize, opts.Repeat, opts.Concurrency = tt.batchSize, tt.repeat, tt.concurrency
			s, err := Run(context.Background(), opts)
			if err != nil {
				t.Fatalf("Run: %v", err)
			}
			reqs := in.requests()
			var sizes []int
			for i, r := range reqs {
				sizes = append(sizes, len(r.events))
				if r.apiKey != testKey {
					t.Errorf("request %d X-API-KEY = %q", i, r.apiKey)
				}
				if r.contentType != tt.wantCT {
					t.Errorf("request %d Content-Type = %q, want %q", i, r.contentType, tt.wantCT)
				}
				if r.path != tt.wantPath {
					t.Errorf("request %d path = %q, want %q", i, r.path, tt.wantPath)
				}
				if tt.wantCT == "application/json" {
					var m map[string]any
					if err := json.Unmarshal(r.body, &m); err != nil {
						t.Errorf("request %d body is not one JSON object: %v", i, err)
					}
				}
			}
			slices.Sort(sizes)
			if !slices.Equal(sizes, tt.wantSizes) {
				t.Errorf("batch sizes = %v, want %v", sizes, tt.wantSizes)
			}
			seen := in.acceptedSeqs()
			if len(seen) != tt.events {
				t.Errorf("server saw %d distinct events, want %d", len(seen), tt.events)
			}
			for seq, c := range seen {
				if c != tt.wantEachSeen {
					t.Errorf("event %d received %d times, want %d", seq, c, tt.wantEachSeen)
				}
			}
			total := tt.events * max(tt.repeat, 1)
			if s.Events != total || s.Accepted != total || s.Rejected != 0 || s.Failed != 0 {
				t.Errorf("summary events/accepted/rejected/failed = %d/%d/%d/%d, want %d/%d/0/0",
					s.Events, s.Accepted, s.Rejected, s.Failed, total, total)
			}
			if s.Requests != len(tt.wantSizes) || s.Retries != 0 || s.Status[http.StatusOK] != len(tt.wantSizes) {
				t.Errorf("summary requests %d retries %d status %v, want %d requests all 200", s.Requests, s.Retries, s.Status, len(tt.wantSizes))
			}
			if s.Elapsed <= 0 || s.EventsPerSecond() <= 0 {
				t.Errorf("elapsed %s, rate %f: want positive", s.Elapsed, s.EventsPerSecond())
			}
		})
	}
}

func TestRunRetimestamp(t *testing.T) {
	events := [][]byte{
		[]byte(`{"hostname":"a","message":"m0","timestamp":"2020-01-01T00:00:00Z","seq":0}`),
		[]byte(`{"timestamp": "2020-01-01T00:00:00Z", "hostname": "b", "message": "m1", "seq": 1}`),
		[]byte("{\n  \"hostname\": \"c\",\n  \"message\": \"m2\",\n  \"seq\": 2\n}"),
		[]byte(`{"hostname":"d","timestamp":"old","message":"m3","timestamp":"2020-01-01T00:00:00Z","seq":3}`),
	}
	tests := []struct {
		name      string
		batchSize int
	}{
		{name: "ndjson", batchSize: 10},
		{name: "single objects", batchSize: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := newIngestor(t, nil)
			opts := testOptions(in.srv.URL, events)
			opts.BatchSize, opts.Retimestamp = tt.batchSize, true
			before := time.Now().Add(-time.Second)
			s, err := Run(context.Background(), opts)
			after := time.Now().Add(time.Second)
			if err != nil {
				t.Fatalf("Run: %v", err)
			}
			if s.Accepted != len(events) {
				t.Fatalf("accepted %d, want %d; errors %v", s.Accepted, len(events), s.Errors)
			}
			got := 0
			for _, r := range in.requests() {
				for _, ev := range r.events {
					got++
					seq := int(ev["seq"].(float64))
					ts, err := time.Parse(time.RFC3339, ev["timestamp"].(string))
					if err != nil {
						t.Errorf("event %d timestamp %q is not RFC 3339: %v", seq, ev["timestamp"], err)
						continue
					}
					if ts.Before(before) || ts.After(after) || ts.Location() != time.UTC {
						t.Errorf("event %d timestamp %s is not the UTC send time", seq, ts)
					}
					if want := fmt.Sprintf("m%d", seq); ev["message"] != want {
						t.Errorf("event %d message = %v, want %s", seq, ev["message"], want)
					}
				}
			}
			if got != len(events) {
				t.Errorf("server saw %d events, want %d", got, len(events))
			}
		})
	}
}

func TestRunRetries(t *testing.T) {
	tests := []struct {
		name        string
		first       reply
		wantRetries int
	}{
		{name: "503 queue full with Retry-After", first: reply{status: 503, retryAfter: "0", body: `{"status":"error","message":"Service Unavailable - queue full"}`}, wantRetries: 1},
		{name: "429 rate limited with Retry-After", first: reply{status: 429, retryAfter: "0", body: `{"status":"error","message":"Too Many Requests - rate limit exceeded"}`}, wantRetries: 1},
		{name: "502 without Retry-After backs off", first: reply{status: 502, body: "bad gateway"}, wantRetries: 1},
		{name: "500", first: reply{status: 500, body: `{"status":"error","message":"Internal server error"}`}, wantRetries: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := newIngestor(t, func(n int, _ received) reply {
				if n == 1 {
					return tt.first
				}
				return reply{}
			})
			opts := testOptions(in.srv.URL, seqEvents(20))
			opts.BatchSize, opts.Concurrency = 10, 1
			s, err := Run(context.Background(), opts)
			if err != nil {
				t.Fatalf("Run: %v", err)
			}
			if s.Accepted != 20 || s.Failed != 0 || s.Rejected != 0 {
				t.Errorf("accepted/rejected/failed = %d/%d/%d, want 20/0/0", s.Accepted, s.Rejected, s.Failed)
			}
			if s.Retries != tt.wantRetries || s.Requests != 2+tt.wantRetries {
				t.Errorf("requests %d retries %d, want %d and %d", s.Requests, s.Retries, 2+tt.wantRetries, tt.wantRetries)
			}
			if !maps.Equal(s.Status, map[int]int{200: 2}) {
				t.Errorf("status = %v, want only the final 200s", s.Status)
			}
			for seq, c := range in.acceptedSeqs() {
				if c != 1 {
					t.Errorf("event %d accepted %d times", seq, c)
				}
			}
			if got := len(in.acceptedSeqs()); got != 20 {
				t.Errorf("server accepted %d distinct events, want 20", got)
			}
		})
	}
}

func TestRunGivesUpAfterRetries(t *testing.T) {
	in := newIngestor(t, func(int, received) reply {
		return reply{status: 503, retryAfter: "0", body: `{"status":"error","message":"Service Unavailable - queue full"}`}
	})
	opts := testOptions(in.srv.URL, seqEvents(15))
	opts.BatchSize, opts.MaxRetries = 10, 3
	s, err := Run(context.Background(), opts)
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	if s.Failed != 15 || s.Accepted != 0 {
		t.Errorf("failed %d accepted %d, want 15 and 0", s.Failed, s.Accepted)
	}
	if s.Requests != 8 || s.Retries != 6 || len(in.requests()) != 8 {
		t.Errorf("requests %d (server %d) retries %d, want 8 and 6", s.Requests, len(in.requests()), s.Retries)
	}
	if !maps.Equal(s.Status, map[int]int{503: 2}) {
		t.Errorf("status = %v, want 503×2", s.Status)
	}
	if len(s.Errors) != 1 || !strings.Contains(s.Errors[0], "queue full") {
		t.Errorf("errors = %q, want the server's queue-full message once", s.Errors)
	}
}

func TestRunRejected(t *testing.T) {
	bad := seqEvents(10)
	bad[3] = []byte(`{"message":"no host","timestamp":"2025-01-15T14:30:22Z","seq":3}`)
	tests := []struct {
		name       string
		key        string
		events     [][]byte
		respond    func(int, received) reply
		wantStatus int
		wantError  []string
	}{
		{name: "invalid event names the item", key: testKey, events: bad, wantStatus: 400,
			wantError: []string{"HTTP 400", "Invalid events", "event 3 hostname: required"}},
		{name: "bad key", key: "wrong", events: seqEvents(10), wantStatus: 401,
			wantError: []string{"HTTP 401", "Unauthorized"}},
		{name: "body too large", key: testKey, events: seqEvents(10), wantStatus: 413,
			respond: func(int, received) reply {
				return reply{status: 413, body: `{"status":"error","message":"Request body too large"}`}
			},
			wantError: []string{"HTTP 413", "too large", "batch size"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := newIngestor(t, tt.respond)
			opts := testOptions(in.srv.URL, tt.events)
			opts.APIKey = tt.key
			s, err := Run(context.Background(), opts)
			if err != nil {
				t.Fatalf("Run: %v", err)
			}
			if s.Rejected != 10 || s.Accepted != 0 || s.Failed != 0 {
				t.Errorf("accepted/rejected/failed = %d/%d/%d, want 0/10/0", s.Accepted, s.Rejected, s.Failed)
			}
			if s.Requests != 1 || s.Retries != 0 || len(in.requests()) != 1 {
				t.Errorf("requests %d retries %d, want 1 request and no retry", s.Requests, s.Retries)
			}
			if s.Status[tt.wantStatus] != 1 {
				t.Errorf("status = %v, want %d×1", s.Status, tt.wantStatus)
			}
			if len(s.Errors) != 1 {
				t.Fatalf("errors = %q, want one", s.Errors)
			}
			for _, w := range tt.wantError {
				if !strings.Contains(s.Errors[0], w) {
					t.Errorf("error %q does not contain %q", s.Errors[0], w)
				}
			}
		})
	}
}

func TestRunConnectionRefused(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL
	srv.Close()

	opts := testOptions(url, seqEvents(25))
	opts.BatchSize, opts.MaxRetries, opts.Concurrency = 10, 2, 2
	s, err := Run(context.Background(), opts)
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	if s.Failed != 25 || s.Accepted != 0 || s.Rejected != 0 {
		t.Errorf("accepted/rejected/failed = %d/%d/%d, want 0/0/25", s.Accepted, s.Rejected, s.Failed)
	}
	if s.Requests != 9 || s.Retries != 6 {
		t.Errorf("requests %d retries %d, want 3 batches × 3 attempts = 9 and 6", s.Requests, s.Retries)
	}
	if len(s.Status) != 0 {
		t.Errorf("status = %v, want no HTTP answers", s.Status)
	}
	if len(s.Errors) == 0 || !strings.Contains(s.Errors[0], "refused") {
		t.Errorf("errors = %q, want a connection-refused error", s.Errors)
	}
}

func TestRunCancelStopsEarly(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	in := newIngestor(t, func(n int, _ received) reply {
		if n == 3 {
			cancel()
		}
		return reply{}
	})
	opts := testOptions(in.srv.URL, seqEvents(1000))
	opts.BatchSize, opts.Concurrency = 10, 1
	s, err := Run(ctx, opts)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Run error = %v, want context.Canceled", err)
	}
	if s.Events != 1000 {
		t.Errorf("events = %d, want the planned 1000", s.Events)
	}
	if s.Accepted < 20 || s.Accepted >= 1000 {
		t.Errorf("accepted %d, want the batches before the cancel and not all", s.Accepted)
	}
	if n := len(in.requests()); n >= 100 {
		t.Errorf("server saw %d requests, want the run to stop early", n)
	}
	if !strings.Contains(s.String(), "not sent") {
		t.Errorf("summary does not report unsent events:\n%s", s)
	}

	s, err = Run(ctx, opts)
	if !errors.Is(err, context.Canceled) || s.Requests != 0 {
		t.Errorf("Run with an ended context: err %v, requests %d; want context.Canceled and none", err, s.Requests)
	}
}

func TestRunRate(t *testing.T) {
	tests := []struct {
		name        string
		events      int
		batchSize   int
		concurrency int
		rate        float64
	}{
		{name: "batches", events: 60, batchSize: 6, concurrency: 4, rate: 200},
		{name: "single events", events: 30, batchSize: 1, concurrency: 2, rate: 100},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := newIngestor(t, nil)
			opts := testOptions(in.srv.URL, seqEvents(tt.events))
			opts.BatchSize, opts.Concurrency, opts.Rate = tt.batchSize, tt.concurrency, tt.rate
			start := time.Now()
			s, err := Run(context.Background(), opts)
			wall := time.Since(start)
			if err != nil {
				t.Fatalf("Run: %v", err)
			}
			if s.Accepted != tt.events {
				t.Fatalf("accepted %d, want %d", s.Accepted, tt.events)
			}
			// The last batch may leave at (events − batch)/rate; allow 20 %
			// for timer granularity.
			floor := time.Duration(float64(tt.events-tt.batchSize) / tt.rate * 0.8 * float64(time.Second))
			if s.Elapsed < floor || wall < floor {
				t.Errorf("elapsed %s (wall %s), want at least %s at %v events/s", s.Elapsed, wall, floor, tt.rate)
			}
			if got := s.EventsPerSecond(); got > tt.rate*1.5 {
				t.Errorf("achieved %.1f events/s, want about %v", got, tt.rate)
			}
		})
	}
}

func TestRunProgressAndSummaryText(t *testing.T) {
	in := newIngestor(t, nil)
	var bar bytes.Buffer
	opts := testOptions(in.srv.URL, seqEvents(40))
	opts.BatchSize, opts.Progress = 10, &bar
	s, err := Run(context.Background(), opts)
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	if !strings.Contains(bar.String(), "sending") || !strings.Contains(bar.String(), "40/40") {
		t.Errorf("progress output %q lacks the description or the final count", bar.String())
	}
	text := s.String()
	for _, w := range []string{"events    40: accepted 40, rejected 0, failed 0", "requests  4 (retries 0), status 200×4", "accepted events/s"} {
		if !strings.Contains(text, w) {
			t.Errorf("summary lacks %q:\n%s", w, text)
		}
	}
	for _, out := range []string{text, fmt.Sprintf("%+v", s), bar.String()} {
		if strings.Contains(out, testKey) {
			t.Errorf("output leaks the API key: %s", out)
		}
	}
}

func TestRunInvalidOptions(t *testing.T) {
	in := newIngestor(t, nil)
	good := seqEvents(3)
	tests := []struct {
		name    string
		mutate  func(*Options)
		wantErr string
	}{
		{name: "missing url", mutate: func(o *Options) { o.URL = "" }, wantErr: "url"},
		{name: "wrong scheme", mutate: func(o *Options) { o.URL = "ftp://host:21" }, wantErr: "http://host"},
		{name: "no host", mutate: func(o *Options) { o.URL = "http://" }, wantErr: "http://host"},
		{name: "negative batch", mutate: func(o *Options) { o.BatchSize = -1 }, wantErr: "batch size"},
		{name: "negative concurrency", mutate: func(o *Options) { o.Concurrency = -2 }, wantErr: "concurrency"},
		{name: "negative repeat", mutate: func(o *Options) { o.Repeat = -1 }, wantErr: "repeat"},
		{name: "negative rate", mutate: func(o *Options) { o.Rate = -5 }, wantErr: "rate"},
		{name: "array event", mutate: func(o *Options) { o.Events = [][]byte{good[0], []byte(`[1,2]`)} }, wantErr: "event 1: not a JSON object"},
		{name: "broken event", mutate: func(o *Options) { o.Events = [][]byte{[]byte(`{"hostname":`)} }, wantErr: "event 0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			opts := testOptions(in.srv.URL, good)
			tt.mutate(&opts)
			s, err := Run(context.Background(), opts)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("Run error = %v, want one mentioning %q", err, tt.wantErr)
			}
			if s.Status == nil || s.Requests != 0 {
				t.Errorf("summary %+v: want an empty summary with a status map", s)
			}
		})
	}
	if n := len(in.requests()); n != 0 {
		t.Errorf("server saw %d requests, want none", n)
	}
}

func TestRunNoEvents(t *testing.T) {
	in := newIngestor(t, nil)
	s, err := Run(context.Background(), testOptions(in.srv.URL, nil))
	if err != nil || s.Events != 0 || s.Requests != 0 || len(in.requests()) != 0 {
		t.Errorf("Run without events: %+v, %v; want nothing sent and no error", s, err)
	}
}

func TestEndpoint(t *testing.T) {
	tests := []struct {
		base string
		want string
	}{
		{base: "http://127.0.0.1:8080", want: "http://127.0.0.1:8080/api/v2/ingest"},
		{base: "http://127.0.0.1:8080/", want: "http://127.0.0.1:8080/api/v2/ingest"},
		{base: "https://mutt.example.com/proxy", want: "https://mutt.example.com/proxy/api/v2/ingest"},
		{base: "http://localhost:8080/ingest", want: "http://localhost:8080/ingest"},
		{base: "http://localhost:8080/api/v2/ingest/", want: "http://localhost:8080/api/v2/ingest/"},
	}
	for _, tt := range tests {
		t.Run(tt.base, func(t *testing.T) {
			got, err := endpoint(tt.base)
			if err != nil || got != tt.want {
				t.Errorf("endpoint(%q) = %q, %v; want %q", tt.base, got, err, tt.want)
			}
		})
	}
}

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2025, 11, 11, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		name  string
		value string
		want  time.Duration
	}{
		{name: "absent", value: "", want: -1},
		{name: "zero", value: "0", want: 0},
		{name: "seconds", value: "3", want: 3 * time.Second},
		{name: "capped", value: "86400", want: time.Minute},
		{name: "negative", value: "-4", want: -1},
		{name: "garbage", value: "soon", want: -1},
		{name: "http date", value: "Tue, 11 Nov 2025 12:00:05 GMT", want: 5 * time.Second},
		{name: "past date", value: "Tue, 11 Nov 2025 11:00:00 GMT", want: 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := parseRetryAfter(tt.value, now); got != tt.want {
				t.Errorf("parseRetryAfter(%q) = %s, want %s", tt.value, got, tt.want)
			}
		})
	}
}

func TestTimestampSpan(t *testing.T) {
	tests := []struct {
		name string
		ev   string
		want string // the value the span covers, "" for none
	}{
		{name: "compact", ev: `{"a":1,"timestamp":"x","b":2}`, want: `"x"`},
		{name: "spaced", ev: `{"a": 1, "timestamp" :  "x" , "b": 2}`, want: `"x"`},
		{name: "nested ignored", ev: `{"inner":{"timestamp":"no"},"timestamp":123}`, want: `123`},
		{name: "last duplicate wins", ev: `{"timestamp":"a","timestamp":"b"}`, want: `"b"`},
		{name: "escaped key", ev: `{"timest\u0061mp":"e"}`, want: `"e"`},
		{name: "absent", ev: `{"a":1}`, want: ""},
		{name: "empty object", ev: `{ }`, want: ""},
		{name: "value with brackets in strings", ev: `{"m":"a}b]c,\"d","timestamp":[1,{"x":"]"}],"z":null}`, want: `[1,{"x":"]"}]`},
		{name: "literal last", ev: `{"timestamp":true}`, want: `true`},
		{name: "number then space", ev: `{"timestamp":-1.5e3 ,"a":0}`, want: `-1.5e3`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sp := timestampSpan([]byte(tt.ev))
			if want := decoderTimestampSpan(t, []byte(tt.ev)); sp != want {
				t.Errorf("span %+v, decoder says %+v", sp, want)
			}
			got := ""
			if sp.start >= 0 {
				got = tt.ev[sp.start:sp.end]
			}
			if got != tt.want {
				t.Errorf("span covers %q, want %q", got, tt.want)
			}
		})
	}
}

// decoderTimestampSpan is the obvious, slow way to find the span, used as
// the oracle for timestampSpan.
func decoderTimestampSpan(t *testing.T, ev []byte) span {
	t.Helper()
	sp := span{start: -1}
	dec := json.NewDecoder(bytes.NewReader(ev))
	if _, err := dec.Token(); err != nil {
		t.Fatalf("oracle: %v", err)
	}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			t.Fatalf("oracle: %v", err)
		}
		var val json.RawMessage
		if err := dec.Decode(&val); err != nil {
			t.Fatalf("oracle: %v", err)
		}
		if key, _ := tok.(string); key == "timestamp" {
			end := int(dec.InputOffset())
			sp = span{start: end - len(val), end: end}
		}
	}
	return sp
}

func FuzzTimestampSpan(f *testing.F) {
	for _, ev := range seqEvents(2) {
		f.Add(ev)
	}
	f.Add([]byte(`{"a": [1, {"timestamp": 2}], "timestamp" : "x" }`))
	f.Add([]byte(`{"timest\u0061mp":"e","b":"\"}"}`))
	f.Fuzz(func(t *testing.T, ev []byte) {
		sp := timestampSpan(ev) // must not panic on anything
		if sp.start > sp.end || sp.end > len(ev) {
			t.Fatalf("span %+v outside %d bytes", sp, len(ev))
		}
		c, err := compactObject(ev)
		if err != nil {
			return
		}
		if got, want := timestampSpan(c), decoderTimestampSpan(t, c); got != want {
			t.Errorf("timestampSpan(%s) = %+v, want %+v", c, got, want)
		}
	})
}
