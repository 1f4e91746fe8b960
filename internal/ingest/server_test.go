package ingest_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/mutt-go/mutt/internal/ingest"
	"github.com/mutt-go/mutt/internal/itest"
	"github.com/mutt-go/mutt/internal/secrets"
)

func TestIngestQueuesEvent(t *testing.T) {
	tests := []struct {
		name       string
		path       string
		deprecated string
	}{
		{name: "legacy path", path: "/ingest", deprecated: "false"},
		{name: "v2 path", path: "/api/v2/ingest", deprecated: "false"},
		{name: "v1 alias", path: "/api/v1/ingest", deprecated: "true"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t)
			r := h.post(tt.path, validEvent)
			if r.status != http.StatusOK {
				t.Fatalf("status %d, want 200: %s", r.status, r.raw)
			}
			if r.body["status"] != "queued" || r.body["accepted"] != 1.0 || r.body["queue_depth"] != 1.0 {
				t.Errorf("body %s, want status queued, accepted 1, queue_depth 1", r.raw)
			}
			cid, _ := r.body["correlation_id"].(string)
			if _, err := uuid.Parse(cid); err != nil {
				t.Errorf("correlation_id %q is not a UUID: %v", cid, err)
			}
			if got := r.header.Get("X-Correlation-ID"); got != cid {
				t.Errorf("X-Correlation-ID header %q, body says %q", got, cid)
			}
			if got := r.header.Get("X-API-Version"); got != "v2.5" {
				t.Errorf("X-API-Version %q, want v2.5", got)
			}
			if got := r.header.Get("X-API-Deprecated"); got != tt.deprecated {
				t.Errorf("X-API-Deprecated %q, want %q", got, tt.deprecated)
			}

			entries := h.entries()
			if len(entries) != 1 {
				t.Fatalf("stream holds %d entries, want 1: %q", len(entries), entries)
			}
			stored := decodeObject(t, entries[0])
			eid, _ := stored["_event_id"].(string)
			if _, err := uuid.Parse(eid); err != nil {
				t.Fatalf("_event_id %q is not a UUID: %v", eid, err)
			}
			// The normalised text keeps the client's members in order and
			// appends the two identifiers.
			want := `{"hostname":"h","message":"m","timestamp":"2025-01-01T00:00:00Z","_event_id":"` + eid + `","_correlation_id":"` + cid + `"}`
			if entries[0] != want {
				t.Errorf("stored\n%s\nwant\n%s", entries[0], want)
			}
			if got := h.successes(); got != 1 {
				t.Errorf("success counter %v, want 1", got)
			}
			if got := h.metric("mutt_ingest_events_total", map[string]string{"status": "queued"}); got != 1 {
				t.Errorf("queued events counter %v, want 1", got)
			}
			if got := h.metric("mutt_ingest_queue_depth", nil); got != 1 {
				t.Errorf("queue depth gauge %v, want 1", got)
			}
		})
	}
}

// counterKeys names the three ingest counters the producer writes at time at.
func counterKeys(prefix string, at time.Time) map[string]time.Duration {
	at = at.UTC()
	return map[string]time.Duration{
		prefix + ":metrics:1m:" + at.Format("2006-01-02T15:04"): 7200 * time.Second,
		prefix + ":metrics:1h:" + at.Format("2006-01-02T15"):    172800 * time.Second,
		prefix + ":metrics:24h:" + at.Format("2006-01-02"):      2592000 * time.Second,
	}
}

func TestIngestCounters(t *testing.T) {
	// The counter keys are named after the minute of the flush; a run that
	// straddles a minute boundary is repeated rather than judged.
	for attempt := 1; ; attempt++ {
		if checkCounters(t, attempt == 3) {
			return
		}
	}
}

// checkCounters runs the counter scenario once and returns false when the
// clock crossed a minute boundary in between (unless final).
func checkCounters(t *testing.T, final bool) bool {
	t.Helper()
	ctx := context.Background()
	h := newHarness(t)
	before := time.Now().UTC().Truncate(time.Minute)
	keys := counterKeys(h.prefix, before)

	if r := h.post("/ingest", validEvent); r.status != http.StatusOK {
		t.Fatalf("first request: status %d: %s", r.status, r.raw)
	}
	batch := "[" + validEvent + "," + validEvent + "]"
	if r := h.post("/api/v2/ingest", batch); r.status != http.StatusOK {
		t.Fatalf("batch request: status %d: %s", r.status, r.raw)
	}
	if !final && !time.Now().UTC().Truncate(time.Minute).Equal(before) {
		return false
	}
	for key, ttl := range keys {
		n, err := h.rdb.Get(ctx, key).Int64()
		if err != nil {
			t.Fatalf("GET %s: %v", key, err)
		}
		if n != 3 {
			t.Errorf("%s = %d, want 3 (one per event)", key, n)
		}
		got, err := h.rdb.TTL(ctx, key).Result()
		if err != nil {
			t.Fatalf("TTL %s: %v", key, err)
		}
		if got > ttl || got < ttl-30*time.Second {
			t.Errorf("TTL of %s is %s, want about %s", key, got, ttl)
		}
		// Shorten the TTL: a later increment must not refresh it.
		if err := h.rdb.Expire(ctx, key, 100*time.Second).Err(); err != nil {
			t.Fatalf("EXPIRE %s: %v", key, err)
		}
	}

	if r := h.post("/ingest", validEvent); r.status != http.StatusOK {
		t.Fatalf("third request: status %d: %s", r.status, r.raw)
	}
	if !final && !time.Now().UTC().Truncate(time.Minute).Equal(before) {
		return false
	}
	for key := range keys {
		n, err := h.rdb.Get(ctx, key).Int64()
		if err != nil {
			t.Fatalf("GET %s: %v", key, err)
		}
		if n != 4 {
			t.Errorf("%s = %d after the third request, want 4", key, n)
		}
		got, err := h.rdb.TTL(ctx, key).Result()
		if err != nil {
			t.Fatalf("TTL %s: %v", key, err)
		}
		if got > 100*time.Second || got <= 0 {
			t.Errorf("TTL of %s is %s after an increment, want the shortened 100s kept", key, got)
		}
	}
	return true
}

func TestAuth(t *testing.T) {
	tests := []struct {
		name    string
		method  string
		path    string
		headers map[string]string
		status  int
		// authFail says the request must count as an auth failure.
		authFail bool
	}{
		{name: "ingest without key", method: "POST", path: "/ingest", headers: map[string]string{}, status: 401, authFail: true},
		{name: "ingest with empty key", method: "POST", path: "/ingest", headers: map[string]string{"X-API-KEY": ""}, status: 401, authFail: true},
		{name: "ingest with wrong key", method: "POST", path: "/ingest", headers: map[string]string{"X-API-KEY": "wrong"}, status: 401, authFail: true},
		{name: "ingest with key prefix", method: "POST", path: "/ingest", headers: map[string]string{"X-API-KEY": testKey[:10]}, status: 401, authFail: true},
		{name: "ingest with non-ASCII key", method: "POST", path: "/ingest", headers: map[string]string{"X-API-KEY": "ключ-" + testKey}, status: 401, authFail: true},
		{name: "v2 ingest without key", method: "POST", path: "/api/v2/ingest", headers: map[string]string{}, status: 401, authFail: true},
		{name: "v2 ingest with wrong key", method: "POST", path: "/api/v2/ingest", headers: map[string]string{"X-API-KEY": testKeyNext + "x"}, status: 401, authFail: true},
		{name: "ingest with current key", method: "POST", path: "/ingest", headers: map[string]string{"X-API-KEY": testKey}, status: 200},
		{name: "ingest with next key", method: "POST", path: "/ingest", headers: map[string]string{"X-API-KEY": testKeyNext}, status: 200},
		{name: "header name is case-insensitive", method: "POST", path: "/api/v2/ingest", headers: map[string]string{"x-api-key": testKeyNext}, status: 200},
		{name: "health without key", method: "GET", path: "/health", headers: map[string]string{}, status: 200},
		{name: "metrics without key", method: "GET", path: "/metrics", headers: map[string]string{}, status: 200},
		{name: "info without key", method: "GET", path: "/", headers: map[string]string{}, status: 200},
		{name: "admin config without key", method: "GET", path: "/admin/config", headers: map[string]string{}, status: 401, authFail: true},
		{name: "admin config with wrong key", method: "GET", path: "/admin/config", headers: map[string]string{"X-API-KEY": "nope"}, status: 401, authFail: true},
		{name: "admin config with key", method: "GET", path: "/admin/config", headers: map[string]string{"X-API-KEY": testKey}, status: 200},
		{name: "unknown path without key", method: "GET", path: "/no/such/thing", headers: map[string]string{}, status: 401, authFail: true},
		{name: "unknown path with key", method: "GET", path: "/no/such/thing", headers: map[string]string{"X-API-KEY": testKey}, status: 404},
		{name: "wrong method with key", method: "GET", path: "/ingest", headers: map[string]string{"X-API-KEY": testKey}, status: 404},
		{name: "health path variant needs key", method: "GET", path: "/health/", headers: map[string]string{}, status: 401, authFail: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, func(h *harness, s *setup) {
				s.opts.Settings = func() any {
					return map[string]any{
						"dynamic_config_enabled": false,
						"static":                 map[string]any{"ingest_api_key": s.opts.APIKey, "ingest_api_key_next": s.opts.APIKeyNext, "max_body_bytes": s.opts.MaxBodyBytes},
					}
				}
			})
			var body []byte
			if tt.method == "POST" {
				body = []byte(validEvent)
			}
			r := h.request(tt.method, tt.path, "application/json", body, tt.headers)
			if r.status != tt.status {
				t.Fatalf("status %d, want %d: %s", r.status, tt.status, r.raw)
			}
			if ct := r.header.Get("Content-Type"); tt.path != "/metrics" && !strings.HasPrefix(ct, "application/json") {
				t.Errorf("Content-Type %q, want JSON", ct)
			}
			if strings.Contains(string(r.raw), testKey) || strings.Contains(string(r.raw), testKeyNext) {
				t.Errorf("response reveals an API key: %s", r.raw)
			}
			switch tt.status {
			case 401:
				if r.body["status"] != "error" || r.body["message"] != "Unauthorized" || r.body["correlation_id"] == "" {
					t.Errorf("401 body %s, want status error, message Unauthorized and a correlation_id", r.raw)
				}
			case 404:
				if r.body["status"] != "error" {
					t.Errorf("404 body %s, want status error", r.raw)
				}
			}
			wantAuth := 0.0
			if tt.authFail {
				wantAuth = 1
			}
			if got := h.failures("auth"); got != wantAuth {
				t.Errorf("auth failures %v, want %v", got, wantAuth)
			}
			wantLen := int64(0)
			if tt.method == "POST" && tt.status == 200 {
				wantLen = 1
			}
			if got := h.xlen(); got != wantLen {
				t.Errorf("stream length %d, want %d", got, wantLen)
			}
		})
	}
}

func TestAdminConfigHidesSecrets(t *testing.T) {
	h := newHarness(t, func(h *harness, s *setup) {
		s.opts.Settings = func() any {
			return map[string]any{
				"dynamic_config_enabled": true,
				"static":                 struct{ APIKey, APIKeyNext secrets.Secret }{s.opts.APIKey, s.opts.APIKeyNext},
				"dynamic":                map[string]string{"max_ingest_queue_size": "5000"},
			}
		}
	})
	r := h.request("GET", "/admin/config", "", nil, nil)
	if r.status != http.StatusOK {
		t.Fatalf("status %d: %s", r.status, r.raw)
	}
	for _, secret := range []string{testKey, testKeyNext} {
		if strings.Contains(string(r.raw), secret) {
			t.Errorf("/admin/config reveals a key: %s", r.raw)
		}
	}
	static, _ := r.body["static"].(map[string]any)
	if v, _ := static["APIKey"].(string); v == "" {
		t.Errorf("static.APIKey is %v, want a redacted marker", static["APIKey"])
	}
	if r.body["dynamic_config_enabled"] != true {
		t.Errorf("body %s lacks dynamic_config_enabled", r.raw)
	}
}

func TestInfoAndHealth(t *testing.T) {
	h := newHarness(t)
	r := h.request("GET", "/", "", nil, map[string]string{})
	if r.status != 200 || r.body["service"] != "mutt-ingestor" {
		t.Fatalf("GET / = %d %s", r.status, r.raw)
	}
	endpoints, _ := r.body["endpoints"].(map[string]any)
	for _, k := range []string{"ingest", "health", "metrics", "info"} {
		if _, ok := endpoints[k]; !ok {
			t.Errorf("GET / endpoints lack %q: %s", k, r.raw)
		}
	}
	r = h.request("GET", "/health", "", nil, map[string]string{})
	if r.status != 200 || r.body["status"] != "healthy" {
		t.Errorf("GET /health = %d %s, want 200 healthy", r.status, r.raw)
	}
	h.post("/ingest", validEvent)
	r = h.request("GET", "/metrics", "", nil, map[string]string{})
	for _, name := range []string{
		"mutt_ingest_requests_total", "mutt_ingest_events_total", "mutt_ingest_queue_depth",
		"mutt_ingest_latency_seconds", "mutt_ingest_rate_limit_hits_total",
	} {
		if !strings.Contains(string(r.raw), name) {
			t.Errorf("/metrics lacks %s", name)
		}
	}
	if got := h.metric("mutt_ingest_latency_seconds", nil); got != 1 {
		t.Errorf("latency histogram holds %v observations, want 1", got)
	}
}

func TestCorrelationID(t *testing.T) {
	tests := []struct {
		name   string
		header string
		// want is the expected correlation ID; "" means a fresh UUID.
		want string
	}{
		{name: "caller's id is kept", header: "abc", want: "abc"},
		{name: "caller's uuid is kept", header: "2b8f3d4e-8b1a-4c2e-9d7f-0a1b2c3d4e5f", want: "2b8f3d4e-8b1a-4c2e-9d7f-0a1b2c3d4e5f"},
		{name: "none given", header: ""},
		{name: "overlong id is replaced", header: strings.Repeat("a", 129)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t)
			headers := map[string]string{"X-API-KEY": testKey}
			if tt.header != "" {
				headers["X-Correlation-ID"] = tt.header
			}
			body := `{"hostname":"h","message":"m","timestamp":"2025-01-01T00:00:00Z","_correlation_id":"client-supplied","_retry_count":3}`
			r := h.request("POST", "/ingest", "application/json", []byte(body), headers)
			if r.status != http.StatusOK {
				t.Fatalf("status %d: %s", r.status, r.raw)
			}
			cid, _ := r.body["correlation_id"].(string)
			if tt.want != "" {
				if cid != tt.want {
					t.Errorf("correlation_id %q, want %q", cid, tt.want)
				}
			} else if _, err := uuid.Parse(cid); err != nil {
				t.Errorf("correlation_id %q is not a fresh UUID", cid)
			}
			if got := r.header.Get("X-Correlation-ID"); got != cid {
				t.Errorf("X-Correlation-ID header %q, body %q", got, cid)
			}
			entries := h.entries()
			if len(entries) != 1 {
				t.Fatalf("stream holds %d entries, want 1", len(entries))
			}
			stored := decodeObject(t, entries[0])
			if stored["_correlation_id"] != cid {
				t.Errorf("stored _correlation_id %v, want %q", stored["_correlation_id"], cid)
			}
			if _, ok := stored["_retry_count"]; ok {
				t.Errorf("client _retry_count kept: %s", entries[0])
			}
			if n := strings.Count(entries[0], `"_correlation_id"`); n != 1 {
				t.Errorf("stored event has %d _correlation_id members: %s", n, entries[0])
			}
		})
	}
}

func TestValidation(t *testing.T) {
	tests := []struct {
		name        string
		contentType string
		body        string
		reason      string // metric reason: json or validation
		// message must match; for validation rows it names field and rule.
		message string
		// field and index describe errors[0]; index -1 means no errors[].
		field string
		index int
	}{
		{name: "null", body: `null`, reason: "json", message: `^Invalid JSON: payload is null`, index: -1},
		{name: "empty array", body: `[]`, reason: "json", message: `^Invalid JSON: empty batch`, index: -1},
		{name: "string", body: `"x"`, reason: "json", message: `^Invalid JSON: payload must be a JSON object`, index: -1},
		{name: "number", body: `42`, reason: "json", message: `^Invalid JSON: payload must be a JSON object`, index: -1},
		{name: "empty body", body: ``, reason: "json", message: `^Invalid JSON: empty body`, index: -1},
		{name: "malformed", body: `{"hostname":"h","message":`, reason: "json", message: `^Invalid JSON: `, index: -1},
		{name: "trailing garbage", body: validEvent + `x`, reason: "json", message: `^Invalid JSON: `, index: -1},
		{name: "wrong content type", contentType: "application/xml", body: validEvent, reason: "json", message: `^Invalid JSON: unsupported content type "application/xml"`, index: -1},
		{name: "form content type", contentType: "application/x-www-form-urlencoded", body: validEvent, reason: "json", message: `^Invalid JSON: unsupported content type`, index: -1},
		{name: "array of scalars", body: `[1]`, reason: "json", message: `must be a JSON object`, index: 0},
		{name: "missing timestamp", body: `{"hostname":"h","message":"m"}`, reason: "validation",
			message: `timestamp.*is required`, field: "timestamp", index: 0},
		{name: "missing all", body: `{"other":1}`, reason: "validation",
			message: `hostname.*is required`, field: "hostname", index: 0},
		{name: "empty hostname", body: `{"hostname":"","message":"m","timestamp":"2025-01-01T00:00:00Z"}`, reason: "validation",
			message: `hostname.*must not be empty`, field: "hostname", index: 0},
		{name: "null message", body: `{"hostname":"h","message":null,"timestamp":"2025-01-01T00:00:00Z"}`, reason: "validation",
			message: `message`, field: "message", index: 0},
		{name: "message is a number", body: `{"hostname":"h","message":42,"timestamp":"2025-01-01T00:00:00Z"}`, reason: "validation",
			message: `message.*must be a string`, field: "message", index: 0},
		{name: "unparseable timestamp", body: `{"hostname":"h","message":"m","timestamp":"yesterday"}`, reason: "validation",
			message: `timestamp.*RFC 3339`, field: "timestamp", index: 0},
		{name: "hostname of 256 characters", body: `{"hostname":"` + strings.Repeat("h", 256) + `","message":"m","timestamp":"2025-01-01T00:00:00Z"}`, reason: "validation",
			message: `hostname.*at most 255 characters`, field: "hostname", index: 0},
		{name: "syslog_severity out of range", body: `{"hostname":"h","message":"m","timestamp":"2025-01-01T00:00:00Z","syslog_severity":9}`, reason: "validation",
			message: `syslog_severity.*integer from 0 to 7`, field: "syslog_severity", index: 0},
		{name: "syslog_severity unknown name", body: `{"hostname":"h","message":"m","timestamp":"2025-01-01T00:00:00Z","syslog_severity":"loud"}`, reason: "validation",
			message: `syslog_severity.*integer from 0 to 7`, field: "syslog_severity", index: 0},
		{name: "duplicate key", body: `{"hostname":"a","hostname":"b","message":"m","timestamp":"2025-01-01T00:00:00Z"}`, reason: "validation",
			message: `hostname.*more than once`, field: "hostname", index: 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t)
			ct := tt.contentType
			if ct == "" {
				ct = "application/json"
			}
			r := h.request("POST", "/api/v2/ingest", ct, []byte(tt.body), nil)
			if r.status != http.StatusBadRequest {
				t.Fatalf("status %d, want 400: %s", r.status, r.raw)
			}
			if r.body["status"] != "error" {
				t.Errorf("status member %v, want error", r.body["status"])
			}
			msg, _ := r.body["message"].(string)
			if !regexp.MustCompile(tt.message).MatchString(msg) {
				t.Errorf("message %q does not match %q", msg, tt.message)
			}
			if r.body["correlation_id"] == "" || r.body["correlation_id"] == nil {
				t.Errorf("no correlation_id in %s", r.raw)
			}
			errs, _ := r.body["errors"].([]any)
			if tt.index < 0 {
				if len(errs) != 0 {
					t.Errorf("errors %v, want none for a body problem", errs)
				}
			} else {
				if len(errs) != 1 {
					t.Fatalf("errors %v, want one item", r.body["errors"])
				}
				e, _ := errs[0].(map[string]any)
				if e["index"] != float64(tt.index) || (tt.field != "" && e["field"] != tt.field) || e["error"] == "" {
					t.Errorf("errors[0] = %v, want index %d field %q", e, tt.index, tt.field)
				}
			}
			for _, reason := range []string{"json", "validation"} {
				want := 0.0
				if reason == tt.reason {
					want = 1
				}
				if got := h.failures(reason); got != want {
					t.Errorf("fail/%s = %v, want %v", reason, got, want)
				}
			}
			if got := h.successes(); got != 0 {
				t.Errorf("success counter %v, want 0", got)
			}
			if got := h.xlen(); got != 0 {
				t.Errorf("stream length %d after a rejected request, want 0", got)
			}
		})
	}
}

// TestAcceptedVariants covers inputs the new rules accept and how they are
// normalised.
func TestAcceptedVariants(t *testing.T) {
	tests := []struct {
		name        string
		contentType string
		body        string
		// want holds expected members of the stored event.
		want map[string]any
		// absent are members that must not be stored.
		absent []string
	}{
		{name: "no content type", body: validEvent, want: map[string]any{"hostname": "h"}},
		{name: "charset parameter", contentType: "application/json; charset=utf-8", body: validEvent, want: map[string]any{"message": "m"}},
		{name: "vendor json type", contentType: "application/vnd.mutt+json", body: validEvent, want: map[string]any{"message": "m"}},
		{name: "retry count stripped", body: `{"hostname":"h","message":"m","timestamp":"2025-01-01T00:00:00Z","_retry_count":4}`,
			want: map[string]any{"hostname": "h"}, absent: []string{"_retry_count"}},
		{name: "client event id replaced", body: `{"hostname":"h","message":"m","timestamp":"2025-01-01T00:00:00Z","_event_id":"mine"}`,
			want: map[string]any{"hostname": "h"}},
		{name: "severity name normalised", body: `{"hostname":"h","message":"m","timestamp":"2025-01-01T00:00:00Z","syslog_severity":"err"}`,
			want: map[string]any{"syslog_severity": 3.0}},
		{name: "extra fields kept", body: `{"hostname":"h","message":"m","timestamp":"2025-01-01T00:00:00Z","trap_oid":".1.3.6.1.6.3.1.1.5.3","site":{"dc":"east"}}`,
			want: map[string]any{"trap_oid": ".1.3.6.1.6.3.1.1.5.3", "site": map[string]any{"dc": "east"}}},
		{name: "hostname of 255 characters", body: `{"hostname":"` + strings.Repeat("h", 255) + `","message":"m","timestamp":"2025-01-01T00:00:00Z"}`,
			want: map[string]any{"hostname": strings.Repeat("h", 255)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t)
			r := h.request("POST", "/ingest", tt.contentType, []byte(tt.body), nil)
			if r.status != http.StatusOK {
				t.Fatalf("status %d: %s", r.status, r.raw)
			}
			entries := h.entries()
			if len(entries) != 1 {
				t.Fatalf("stream holds %d entries, want 1", len(entries))
			}
			stored := decodeObject(t, entries[0])
			for k, v := range tt.want {
				got, _ := json.Marshal(stored[k])
				want, _ := json.Marshal(v)
				if string(got) != string(want) {
					t.Errorf("stored %s = %s, want %s", k, got, want)
				}
			}
			for _, k := range tt.absent {
				if _, ok := stored[k]; ok {
					t.Errorf("stored event keeps %s: %s", k, entries[0])
				}
			}
			if eid, _ := stored["_event_id"].(string); eid == "mine" || uuid.Validate(eid) != nil {
				t.Errorf("_event_id %q, want a UUID assigned at ingest", eid)
			}
		})
	}
}

// numberedEvent returns a valid event whose message is "m<i>".
func numberedEvent(i int) string {
	return fmt.Sprintf(`{"hostname":"h%d","message":"m%d","timestamp":"2025-01-01T00:00:00Z"}`, i, i)
}

func TestBatches(t *testing.T) {
	join := func(n int, sep string, bad map[int]string) string {
		items := make([]string, n)
		for i := range items {
			items[i] = numberedEvent(i)
			if b, ok := bad[i]; ok {
				items[i] = b
			}
		}
		return strings.Join(items, sep)
	}
	badEvent := `{"hostname":"h","message":"m"}`
	tests := []struct {
		name        string
		path        string
		contentType string
		body        string
		headers     map[string]string
		status      int
		// queued lists the indexes of the events expected in the stream.
		queued []int
		// rejected lists the indexes reported as rejected (partial) or in
		// errors[] (400).
		rejected []int
		message  string
	}{
		{name: "JSON array of 100", path: "/ingest", contentType: "application/json",
			body: "[" + join(100, ",", nil) + "]", status: 200, queued: seq(0, 100)},
		{name: "NDJSON as text/plain", path: "/api/v2/ingest", contentType: "text/plain",
			body: join(50, "\n", nil) + "\n", status: 200, queued: seq(0, 50)},
		{name: "NDJSON as application/x-ndjson with CRLF and blank lines", path: "/ingest", contentType: "application/x-ndjson",
			body: join(3, "\r\n\r\n", nil), status: 200, queued: seq(0, 3)},
		{name: "one bad item in an array", path: "/ingest", contentType: "application/json",
			body: "[" + join(10, ",", map[int]string{7: badEvent}) + "]", status: 400, rejected: []int{7},
			message: `^1 of 10 events invalid; nothing was queued: item 7: field "timestamp": is required`},
		{name: "one bad item in NDJSON", path: "/ingest", contentType: "text/plain",
			body: join(5, "\n", map[int]string{2: badEvent}), status: 400, rejected: []int{2}, message: `item 2`},
		{name: "malformed line in NDJSON", path: "/ingest", contentType: "text/plain",
			body: join(5, "\n", map[int]string{3: `{"hostname":`}), status: 400, rejected: []int{3}, message: `item 3`},
		{name: "partial accept by query", path: "/ingest?partial=true", contentType: "application/json",
			body:   "[" + join(10, ",", map[int]string{1: badEvent, 8: `{"hostname":"h","message":5,"timestamp":"2025-01-01T00:00:00Z"}`}) + "]",
			status: 200, queued: []int{0, 2, 3, 4, 5, 6, 7, 9}, rejected: []int{1, 8}},
		{name: "partial accept by header", path: "/api/v2/ingest", contentType: "text/plain",
			headers: map[string]string{"X-API-KEY": testKey, "X-Partial-Accept": "true"},
			body:    join(4, "\n", map[int]string{0: badEvent}), status: 200, queued: []int{1, 2, 3}, rejected: []int{0}},
		{name: "partial accept with nothing valid", path: "/ingest?partial=true", contentType: "application/json",
			body: "[" + badEvent + "," + badEvent + "]", status: 400, rejected: []int{0, 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t)
			r := h.request("POST", tt.path, tt.contentType, []byte(tt.body), tt.headers)
			if r.status != tt.status {
				t.Fatalf("status %d, want %d: %s", r.status, tt.status, r.raw)
			}
			entries := h.entries()
			if len(entries) != len(tt.queued) {
				t.Fatalf("stream holds %d entries, want %d", len(entries), len(tt.queued))
			}
			for k, i := range tt.queued {
				stored := decodeObject(t, entries[k])
				if want := fmt.Sprintf("m%d", i); stored["message"] != want {
					t.Errorf("entry %d has message %v, want %s (order kept)", k, stored["message"], want)
				}
			}
			if tt.status == 200 {
				if r.body["status"] != "queued" || r.body["accepted"] != float64(len(tt.queued)) {
					t.Errorf("body %s, want queued with accepted %d", r.raw, len(tt.queued))
				}
				if got := h.metric("mutt_ingest_events_total", map[string]string{"status": "queued"}); got != float64(len(tt.queued)) {
					t.Errorf("queued events counter %v, want %d", got, len(tt.queued))
				}
			}
			key := "errors"
			if tt.status == 200 {
				key = "rejected"
			}
			problems, _ := r.body[key].([]any)
			if len(problems) != len(tt.rejected) {
				t.Fatalf("%s = %v, want indexes %v", key, r.body[key], tt.rejected)
			}
			for k, i := range tt.rejected {
				p, _ := problems[k].(map[string]any)
				if p["index"] != float64(i) {
					t.Errorf("%s[%d] = %v, want index %d", key, k, p, i)
				}
			}
			if tt.message != "" {
				msg, _ := r.body["message"].(string)
				if !regexp.MustCompile(tt.message).MatchString(msg) {
					t.Errorf("message %q does not match %q", msg, tt.message)
				}
			}
		})
	}
}

func seq(from, to int) []int {
	out := make([]int, 0, to-from)
	for i := from; i < to; i++ {
		out = append(out, i)
	}
	return out
}

func TestBodyTooLarge(t *testing.T) {
	tests := []struct {
		name   string
		size   int
		status int
	}{
		{name: "just under the limit", size: 4096, status: 200},
		{name: "one byte over", size: 4097, status: 413},
		{name: "far over", size: 1 << 20, status: 413},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, func(h *harness, s *setup) { s.opts.MaxBodyBytes = 4096 })
			head := `{"hostname":"h","message":"m","timestamp":"2025-01-01T00:00:00Z","pad":"`
			body := head + strings.Repeat("x", tt.size-len(head)-2) + `"}`
			if len(body) != tt.size {
				t.Fatalf("built a body of %d bytes, want %d", len(body), tt.size)
			}
			r := h.post("/ingest", body)
			if r.status != tt.status {
				t.Fatalf("status %d, want %d: %s", r.status, tt.status, r.raw)
			}
			if tt.status != 413 {
				return
			}
			if r.body["status"] != "error" || !strings.Contains(r.body["message"].(string), "4096") {
				t.Errorf("413 body %s, want status error and the limit named", r.raw)
			}
			if got := h.failures("too_large"); got != 1 {
				t.Errorf("fail/too_large = %v, want 1", got)
			}
			if got := h.xlen(); got != 0 {
				t.Errorf("stream length %d, want 0", got)
			}
		})
	}
}

func TestQueueFull(t *testing.T) {
	h := newHarness(t, func(h *harness, s *setup) {
		s.popts.Limit = func() int64 { return 5 }
	})
	for i := range 5 {
		if r := h.post("/ingest", numberedEvent(i)); r.status != 200 {
			t.Fatalf("request %d: status %d: %s", i, r.status, r.raw)
		}
	}
	for _, path := range []string{"/ingest", "/api/v2/ingest"} {
		r := h.post(path, "["+numberedEvent(5)+","+numberedEvent(6)+"]")
		if r.status != http.StatusServiceUnavailable {
			t.Fatalf("%s: status %d, want 503: %s", path, r.status, r.raw)
		}
		if r.header.Get("Retry-After") == "" {
			t.Errorf("%s: no Retry-After header", path)
		}
		if r.body["status"] != "error" || r.body["message"] != "Service Unavailable - queue full" ||
			r.body["queue_depth"] != 5.0 || r.body["queue_limit"] != 5.0 {
			t.Errorf("%s: body %s, want queue full with queue_depth 5 and queue_limit 5", path, r.raw)
		}
	}
	if got := h.failures("queue_full"); got != 2 {
		t.Errorf("fail/queue_full = %v, want 2", got)
	}
	if got := h.metric("mutt_ingest_events_total", map[string]string{"status": "refused"}); got != 4 {
		t.Errorf("refused events counter %v, want 4", got)
	}
	if got := h.metric("mutt_ingest_queue_depth", nil); got != 5 {
		t.Errorf("queue depth gauge %v, want 5", got)
	}
	if got := h.xlen(); got != 5 {
		t.Errorf("stream length %d, want 5 (nothing appended when full)", got)
	}
}

func TestRedisDown(t *testing.T) {
	h := newHarness(t, func(h *harness, s *setup) {
		dead := deadRedis(t)
		s.producerRedis = dead
		s.opts.Ping = func(ctx context.Context) error { return dead.Ping(ctx).Err() }
	})
	r := h.post("/ingest", validEvent)
	if r.status != http.StatusServiceUnavailable {
		t.Fatalf("status %d, want 503: %s", r.status, r.raw)
	}
	if r.header.Get("Retry-After") == "" {
		t.Error("no Retry-After header")
	}
	if r.body["status"] != "error" || r.body["message"] != "Service Unavailable - Redis error" {
		t.Errorf("body %s, want the Redis error body", r.raw)
	}
	if strings.Contains(string(r.raw), "127.0.0.1:1") {
		t.Errorf("body reveals internal detail: %s", r.raw)
	}
	if got := h.failures("redis"); got != 1 {
		t.Errorf("fail/redis = %v, want 1", got)
	}
	r = h.request("GET", "/health", "", nil, map[string]string{})
	if r.status != http.StatusServiceUnavailable || r.body["status"] != "unhealthy" {
		t.Errorf("GET /health = %d %s, want 503 unhealthy", r.status, r.raw)
	}
}

func TestRateLimit(t *testing.T) {
	h := newHarness(t, func(h *harness, s *setup) {
		s.opts.RateLimit = &ingest.RateLimitOptions{
			Redis: h.rdb, Key: h.prefix + ":rate_limit:ingestor",
			Max:    func() int64 { return 3 },
			Window: func() time.Duration { return 60 * time.Second },
		}
	})
	for i := range 3 {
		if r := h.post("/ingest", validEvent); r.status != 200 {
			t.Fatalf("request %d: status %d: %s", i+1, r.status, r.raw)
		}
	}
	r := h.post("/ingest", validEvent)
	if r.status != http.StatusTooManyRequests {
		t.Fatalf("4th request: status %d, want 429: %s", r.status, r.raw)
	}
	if got := r.header.Get("Retry-After"); got != "60" {
		t.Errorf("Retry-After %q, want 60", got)
	}
	if r.body["retry_after"] != 60.0 || r.body["message"] != "Too Many Requests - rate limit exceeded" {
		t.Errorf("body %s, want retry_after 60", r.raw)
	}
	if got := h.metric("mutt_ingest_rate_limit_hits_total", nil); got != 1 {
		t.Errorf("rate limit hits %v, want 1", got)
	}
	if got := h.failures("rate_limit"); got != 1 {
		t.Errorf("fail/rate_limit = %v, want 1", got)
	}
	// A request without a valid key is refused before it can use up the
	// limit, and a refused request is not recorded in the window.
	n, err := h.rdb.ZCard(context.Background(), h.prefix+":rate_limit:ingestor").Result()
	if err != nil || n != 3 {
		t.Errorf("limiter set holds %d members (err %v), want 3", n, err)
	}
	if got := h.xlen(); got != 3 {
		t.Errorf("stream length %d, want 3", got)
	}
}

func TestRateLimiterFailsOpen(t *testing.T) {
	h := newHarness(t, func(h *harness, s *setup) {
		s.opts.RateLimit = &ingest.RateLimitOptions{
			Redis: deadRedis(t), Key: h.prefix + ":rate_limit:ingestor",
			Max:    func() int64 { return 1 },
			Window: func() time.Duration { return 60 * time.Second },
		}
	})
	for i := range 3 {
		if r := h.post("/ingest", validEvent); r.status != 200 {
			t.Fatalf("request %d: status %d, want 200 with the limiter down: %s", i+1, r.status, r.raw)
		}
	}
	if got := h.metric("mutt_ingest_rate_limit_hits_total", nil); got != 0 {
		t.Errorf("rate limit hits %v, want 0", got)
	}
	if got := h.xlen(); got != 3 {
		t.Errorf("stream length %d, want 3", got)
	}
}

func TestConcurrentIngest(t *testing.T) {
	const workers, perWorker = 16, 100
	h := newHarness(t)
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for w := range workers {
		wg.Go(func() {
			for i := range perWorker {
				body := numberedEvent(w*perWorker + i)
				req, err := http.NewRequest("POST", h.srv.URL+"/ingest", strings.NewReader(body))
				if err != nil {
					errs <- err
					return
				}
				req.Header.Set("X-API-KEY", testKey)
				req.Header.Set("Content-Type", "application/json")
				resp, err := h.client.Do(req)
				if err != nil {
					errs <- err
					return
				}
				var rb map[string]any
				derr := json.NewDecoder(resp.Body).Decode(&rb)
				resp.Body.Close()
				if resp.StatusCode != 200 || derr != nil || rb["accepted"] != 1.0 {
					errs <- fmt.Errorf("worker %d request %d: status %d body %v (%v)", w, i, resp.StatusCode, rb, derr)
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
	entries := h.entries()
	if len(entries) != workers*perWorker {
		t.Fatalf("stream holds %d entries, want %d", len(entries), workers*perWorker)
	}
	ids := make(map[string]bool, len(entries))
	messages := make(map[string]bool, len(entries))
	for _, e := range entries {
		m := decodeObject(t, e)
		id, _ := m["_event_id"].(string)
		if ids[id] {
			t.Fatalf("_event_id %q appears twice", id)
		}
		ids[id] = true
		messages[m["message"].(string)] = true
	}
	if len(messages) != workers*perWorker {
		t.Errorf("%d distinct messages stored, want %d", len(messages), workers*perWorker)
	}
	if got := h.successes(); got != workers*perWorker {
		t.Errorf("success counter %v, want %d", got, workers*perWorker)
	}
}

// TestKeysCleanedUp checks the harness leaves nothing behind, which the
// other tests rely on to share one Redis.
func TestKeysCleanedUp(t *testing.T) {
	var prefix string
	t.Run("ingest", func(t *testing.T) {
		h := newHarness(t)
		prefix = h.prefix
		h.post("/ingest", validEvent)
	})
	rdb, _ := itest.Redis(t)
	keys, err := rdb.Keys(context.Background(), prefix+":*").Result()
	if err != nil || len(keys) != 0 {
		t.Errorf("keys left under %s: %v (err %v)", prefix, keys, err)
	}
}

// TestDemoEvents posts the demo syslog events, as a JSON array and as the
// NDJSON rsyslog would send, and checks that the stored events are the
// normalised golden texts of the event package with our identifiers.
func TestDemoEvents(t *testing.T) {
	demo, err := os.ReadFile(filepath.Join("..", "event", "testdata", "demo_syslog_events.json"))
	if err != nil {
		t.Fatal(err)
	}
	golden, err := os.ReadFile(filepath.Join("..", "event", "testdata", "demo_syslog_events.normalized.ndjson"))
	if err != nil {
		t.Fatal(err)
	}
	want := strings.Split(strings.TrimSuffix(string(golden), "\n"), "\n")
	tests := []struct {
		name        string
		contentType string
		body        []byte
	}{
		{name: "JSON array", contentType: "application/json; charset=utf-8", body: demo},
		{name: "NDJSON", contentType: "text/plain", body: golden},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t)
			const cid = "demo-batch"
			r := h.request("POST", "/api/v2/ingest", tt.contentType, tt.body,
				map[string]string{"X-API-KEY": testKey, "X-Correlation-ID": cid})
			if r.status != http.StatusOK || r.body["accepted"] != float64(len(want)) {
				t.Fatalf("status %d, body %.300s; want 200 with %d accepted", r.status, r.raw, len(want))
			}
			entries := h.entries()
			if len(entries) != len(want) {
				t.Fatalf("stream holds %d entries, want %d", len(entries), len(want))
			}
			for k, e := range entries {
				eid, _ := decodeObject(t, e)["_event_id"].(string)
				w := strings.Replace(want[k],
					fmt.Sprintf(`"_event_id":"demo-%03d","_correlation_id":"corr-%03d"`, k, k),
					`"_event_id":"`+eid+`","_correlation_id":"`+cid+`"`, 1)
				if e != w {
					t.Fatalf("entry %d:\n%s\nwant\n%s", k, e, w)
				}
			}
		})
	}
}
