package ingest_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/mutt-go/mutt/internal/ingest"
	"github.com/mutt-go/mutt/internal/itest"
	"github.com/mutt-go/mutt/internal/queue"
	"github.com/mutt-go/mutt/internal/secrets"
)

// FuzzIngestHandler posts arbitrary bodies with arbitrary content types and
// query strings through the whole handler onto the real Redis. Whatever the
// input, the answer is 200, 400 or 413 with a JSON body (5xx only if Redis
// itself fails), the stream grows by exactly the number of events reported
// accepted, and every stored entry is a JSON object with an _event_id.
//
// Run it with: go test ./internal/ingest -run '^$' -fuzz FuzzIngestHandler -fuzztime 30s
func FuzzIngestHandler(f *testing.F) {
	seeds := []struct {
		body, contentType string
		partial           bool
	}{
		{validEvent, "application/json", false},
		{"[" + validEvent + "," + validEvent + "]", "application/json", false},
		{validEvent + "\n" + validEvent + "\n", "text/plain", false},
		{validEvent + "\r\n\r\n" + `{"hostname":"h"}`, "application/x-ndjson", true},
		{"[" + validEvent + `,{"message":1}]`, "application/json; charset=utf-8", true},
		{`{"hostname":"h","message":"m","timestamp":"2025-01-01T00:00:00Z","syslog_severity":"err","_retry_count":9}`, "", false},
		{`{"hostname":"` + strings.Repeat("é", 256) + `","message":"m","timestamp":"2025-01-01T00:00:00Z"}`, "application/vnd.x+json", false},
		{`null`, "application/json", false},
		{`[]`, "application/json", false},
		{`"x"`, "application/json", false},
		{`{"a":NaN}`, "application/json", false},
		{"\xef\xbb\xbf" + validEvent, "text/plain", false},
		{strings.Repeat("[", 100), "application/json", false},
		{validEvent, "application/xml", false},
		{validEvent, "text/plain; charset=\"\xff\"", false},
		{strings.Repeat(validEvent+"\n", 200), "text/plain", false},
	}
	for _, s := range seeds {
		f.Add([]byte(s.body), s.contentType, s.partial)
	}
	if demo, err := os.ReadFile("../event/testdata/demo_syslog_events.json"); err == nil {
		f.Add(demo, "application/json", false)
	}

	rdb, prefix := itest.Redis(f)
	stream := prefix + ":ingest_queue"
	metricsPrefix := prefix + ":metrics"
	producer := queue.NewProducer(rdb, stream, queue.ProducerOptions{MetricsPrefix: metricsPrefix})
	f.Cleanup(func() { _ = producer.Close() })
	const maxBody = 16 << 10
	srv := ingest.NewServer(ingest.Options{
		APIKey:       secrets.New(testKey),
		MaxBodyBytes: maxBody,
		Ping:         func(ctx context.Context) error { return rdb.Ping(ctx).Err() },
	}, producer, prometheus.NewRegistry(), slog.New(slog.NewTextHandler(io.Discard, nil)))
	ctx := context.Background()

	f.Fuzz(func(t *testing.T, body []byte, contentType string, partial bool) {
		path := "/api/v2/ingest"
		if partial {
			path += "?partial=true"
		}
		req := httptest.NewRequest(http.MethodPost, path, bytes.NewReader(body))
		req.Header.Set("X-API-KEY", testKey)
		if contentType != "" {
			req.Header.Set("Content-Type", contentType)
		}
		w := httptest.NewRecorder()
		srv.ServeHTTP(w, req)

		raw := w.Body.Bytes()
		var resp struct {
			Status   string `json:"status"`
			Accepted int    `json:"accepted"`
			Rejected []struct {
				Index *int `json:"index"`
			} `json:"rejected"`
		}
		if err := json.Unmarshal(raw, &resp); err != nil {
			t.Fatalf("status %d with a body that is not a JSON object (%v): %q", w.Code, err, raw)
		}
		if ct := w.Header().Get("Content-Type"); ct != "application/json" {
			t.Errorf("Content-Type %q", ct)
		}
		entries, err := rdb.XRange(ctx, stream, "-", "+").Result()
		if err != nil {
			t.Fatalf("XRANGE: %v", err)
		}
		// Leave an empty stream for the next input, and no counters behind.
		now := time.Now().UTC()
		var keys []string
		keys = append(keys, stream)
		for _, at := range []time.Time{now, now.Add(-time.Minute)} {
			for k := range counterKeysAt(metricsPrefix, at) {
				keys = append(keys, k)
			}
		}
		if err := rdb.Unlink(ctx, keys...).Err(); err != nil {
			t.Fatalf("UNLINK: %v", err)
		}

		switch w.Code {
		case http.StatusOK:
			if resp.Status != "queued" || resp.Accepted < 1 || resp.Accepted != len(entries) {
				t.Fatalf("200 with %d entries appended: %s", len(entries), raw)
			}
			if !partial && len(resp.Rejected) > 0 {
				t.Fatalf("200 with rejected items without partial accept: %s", raw)
			}
		case http.StatusBadRequest, http.StatusRequestEntityTooLarge:
			if resp.Status != "error" || len(entries) != 0 {
				t.Fatalf("%d with %d entries appended: %s", w.Code, len(entries), raw)
			}
			if w.Code == http.StatusRequestEntityTooLarge && len(body) <= maxBody {
				t.Fatalf("413 for a body of %d bytes", len(body))
			}
		default:
			t.Fatalf("status %d: %s", w.Code, raw)
		}
		for _, e := range entries {
			s, _ := e.Values[queue.PayloadField].(string)
			var m map[string]any
			if err := json.Unmarshal([]byte(s), &m); err != nil {
				t.Fatalf("stored entry is not a JSON object (%v): %q", err, s)
			}
			if id, _ := m["_event_id"].(string); id == "" {
				t.Fatalf("stored entry has no _event_id: %q", s)
			}
		}
	})
}

// counterKeysAt names the ingest counters written at time at.
func counterKeysAt(metricsPrefix string, at time.Time) map[string]bool {
	return map[string]bool{
		metricsPrefix + ":1m:" + at.Format("2006-01-02T15:04"): true,
		metricsPrefix + ":1h:" + at.Format("2006-01-02T15"):    true,
		metricsPrefix + ":24h:" + at.Format("2006-01-02"):      true,
	}
}
