package obs

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestHealthHandler(t *testing.T) {
	tests := []struct {
		name       string
		err        error
		wantStatus int
		wantBody   string
	}{
		{"healthy", nil, http.StatusOK, `"status":"healthy"`},
		{"unhealthy names the failing check", errors.New("connection refused"), http.StatusServiceUnavailable, `"Redis: connection refused"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := HealthHandler(map[string]any{"service": "mutt-test"},
				Check{Name: "Redis", Check: func(context.Context) error { return tt.err }})
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/health", nil))
			if rec.Code != tt.wantStatus {
				t.Errorf("status = %d, want %d", rec.Code, tt.wantStatus)
			}
			body := rec.Body.String()
			if !strings.Contains(body, tt.wantBody) || !strings.Contains(body, `"service":"mutt-test"`) {
				t.Errorf("body = %s", body)
			}
			if rec.Header().Get("X-API-Version") != APIVersion || rec.Header().Get("X-API-Supported-Versions") != SupportedAPIVersions {
				t.Errorf("version headers = %v", rec.Header())
			}
			var v map[string]any
			if err := json.Unmarshal(rec.Body.Bytes(), &v); err != nil {
				t.Errorf("body is not JSON: %v", err)
			}
		})
	}
}

func TestNewLoggerLevelAndFormat(t *testing.T) {
	var buf bytes.Buffer
	log := NewLogger(&buf, "json", "warn")
	log.Info("hidden")
	log.Warn("shown", "event_id", "e1")
	out := buf.String()
	if strings.Contains(out, "hidden") || !strings.Contains(out, `"event_id":"e1"`) {
		t.Errorf("json warn logger wrote %q", out)
	}
	buf.Reset()
	NewLogger(&buf, "text", "debug").Debug("dbg")
	if !strings.Contains(buf.String(), "msg=dbg") {
		t.Errorf("text debug logger wrote %q", buf.String())
	}
}
