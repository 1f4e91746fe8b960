package ingest_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"

	"github.com/mutt-go/mutt/internal/ingest"
	"github.com/mutt-go/mutt/internal/itest"
	"github.com/mutt-go/mutt/internal/queue"
	"github.com/mutt-go/mutt/internal/secrets"
)

// The API keys every harness accepts. They are long and distinctive so that a
// leak into a response body is found by a plain substring search.
const (
	testKey     = "ingest-test-key-current-5b1e9c"
	testKeyNext = "ingest-test-key-next-a07d42"
)

// validEvent is the event of spec §12 item 1.
const validEvent = `{"hostname":"h","message":"m","timestamp":"2025-01-01T00:00:00Z"}`

// harness is one ingest server on the real Redis, with its own key prefix
// and metrics registry.
type harness struct {
	t      testing.TB
	srv    *httptest.Server
	client *http.Client
	rdb    *redis.Client
	prefix string
	stream string
	reg    *prometheus.Registry
	logs   *itest.Buffer // every log line of the server
}

// setup is what a test may change before the server is built.
type setup struct {
	opts  ingest.Options
	popts queue.ProducerOptions
	// producerRedis, when set, is the client the producer writes with
	// instead of the test's own.
	producerRedis redis.UniversalClient
}

// deadRedis returns a client for an address where nothing listens, so every
// command fails at once with "connection refused".
func deadRedis(t testing.TB) *redis.Client {
	t.Helper()
	c := redis.NewClient(&redis.Options{
		Addr:          "127.0.0.1:1",
		DialTimeout:   200 * time.Millisecond,
		MaxRetries:    -1,
		DialerRetries: 1,
	})
	t.Cleanup(func() { _ = c.Close() })
	return c
}

func newHarness(t testing.TB, configure ...func(h *harness, s *setup)) *harness {
	t.Helper()
	rdb, prefix := itest.Redis(t)
	h := &harness{
		t: t, rdb: rdb, prefix: prefix,
		stream: prefix + ":ingest_queue",
		reg:    prometheus.NewRegistry(),
		logs:   &itest.Buffer{},
	}
	s := &setup{
		opts: ingest.Options{
			APIKey:         secrets.New(testKey),
			APIKeyNext:     secrets.New(testKeyNext),
			MaxBodyBytes:   1 << 20,
			RequiredFields: []string{"hostname", "message", "timestamp"},
			Ping:           func(ctx context.Context) error { return rdb.Ping(ctx).Err() },
		},
		popts: queue.ProducerOptions{MetricsPrefix: prefix + ":metrics"},
	}
	for _, c := range configure {
		c(h, s)
	}
	prdb := redis.UniversalClient(rdb)
	if s.producerRedis != nil {
		prdb = s.producerRedis
	}
	producer := queue.NewProducer(prdb, h.stream, s.popts)
	t.Cleanup(func() { _ = producer.Close() })
	logger := slog.New(slog.NewJSONHandler(h.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	h.srv = httptest.NewServer(ingest.NewServer(s.opts, producer, h.reg, logger))
	t.Cleanup(h.srv.Close)
	h.client = &http.Client{
		Timeout:   30 * time.Second,
		Transport: &http.Transport{MaxIdleConnsPerHost: 32},
	}
	t.Cleanup(h.client.CloseIdleConnections)
	return h
}

// response is an answer read in full.
type response struct {
	status int
	header http.Header
	raw    []byte
	body   map[string]any
}

// request sends one request; headers may set X-API-KEY among others. A nil
// headers map sends the current key; pass an empty map to send none.
func (h *harness) request(method, path, contentType string, body []byte, headers map[string]string) response {
	h.t.Helper()
	req, err := http.NewRequest(method, h.srv.URL+path, bytes.NewReader(body))
	if err != nil {
		h.t.Fatalf("building request: %v", err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	if headers == nil {
		headers = map[string]string{"X-API-KEY": testKey}
	}
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	resp, err := h.client.Do(req)
	if err != nil {
		h.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		h.t.Fatalf("reading response of %s %s: %v", method, path, err)
	}
	r := response{status: resp.StatusCode, header: resp.Header, raw: raw}
	if strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
		if err := json.Unmarshal(raw, &r.body); err != nil {
			h.t.Fatalf("%s %s: response is not a JSON object: %v\n%s", method, path, err, raw)
		}
	}
	return r
}

// post sends an authenticated JSON ingest request to path.
func (h *harness) post(path, body string) response {
	h.t.Helper()
	return h.request(http.MethodPost, path, "application/json", []byte(body), nil)
}

// entries returns the payloads in the ingest stream, oldest first.
func (h *harness) entries() []string {
	h.t.Helper()
	msgs, err := h.rdb.XRange(context.Background(), h.stream, "-", "+").Result()
	if err != nil {
		h.t.Fatalf("XRANGE %s: %v", h.stream, err)
	}
	out := make([]string, 0, len(msgs))
	for _, m := range msgs {
		v, ok := m.Values[queue.PayloadField].(string)
		if !ok {
			h.t.Fatalf("entry %s has no %q field: %v", m.ID, queue.PayloadField, m.Values)
		}
		out = append(out, v)
	}
	return out
}

// xlen returns the length of the ingest stream.
func (h *harness) xlen() int64 {
	h.t.Helper()
	n, err := h.rdb.XLen(context.Background(), h.stream).Result()
	if err != nil {
		h.t.Fatalf("XLEN %s: %v", h.stream, err)
	}
	return n
}

// metric returns the value of the counter or gauge name with exactly the
// given labels, or -1 when the series does not exist.
func (h *harness) metric(name string, labels map[string]string) float64 {
	h.t.Helper()
	families, err := h.reg.Gather()
	if err != nil {
		h.t.Fatalf("gathering metrics: %v", err)
	}
	for _, f := range families {
		if f.GetName() != name {
			continue
		}
		for _, m := range f.GetMetric() {
			if len(m.GetLabel()) != len(labels) {
				continue
			}
			match := true
			for _, l := range m.GetLabel() {
				if v, ok := labels[l.GetName()]; !ok || v != l.GetValue() {
					match = false
				}
			}
			if !match {
				continue
			}
			switch {
			case m.Counter != nil:
				return m.GetCounter().GetValue()
			case m.Gauge != nil:
				return m.GetGauge().GetValue()
			case m.Histogram != nil:
				return float64(m.GetHistogram().GetSampleCount())
			}
		}
	}
	return -1
}

// failures returns mutt_ingest_requests_total{status="fail",reason=reason}.
func (h *harness) failures(reason string) float64 {
	h.t.Helper()
	return h.metric("mutt_ingest_requests_total", map[string]string{"status": "fail", "reason": reason})
}

// successes returns mutt_ingest_requests_total{status="success",reason=""}.
func (h *harness) successes() float64 {
	h.t.Helper()
	return h.metric("mutt_ingest_requests_total", map[string]string{"status": "success", "reason": ""})
}

// decodeObject parses a stored event into a map.
func decodeObject(t testing.TB, s string) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(s), &m); err != nil {
		t.Fatalf("stored entry is not a JSON object: %v\n%s", err, s)
	}
	return m
}
