package backup

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// webhook is a Slack stand-in answering with the given statuses in turn
// (the last one repeats) and recording every message text.
type webhook struct {
	mu       sync.Mutex
	statuses []int
	texts    []string
}

func (w *webhook) ServeHTTP(rw http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	var msg map[string]string
	w.mu.Lock()
	defer w.mu.Unlock()
	if r.Method != http.MethodPost || r.Header.Get("Content-Type") != "application/json" || json.Unmarshal(body, &msg) != nil {
		rw.WriteHeader(http.StatusBadRequest)
		return
	}
	w.texts = append(w.texts, msg["text"])
	status := w.statuses[min(len(w.texts), len(w.statuses))-1]
	rw.WriteHeader(status)
}

func (w *webhook) received() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]string(nil), w.texts...)
}

func failedSet() *Manifest {
	return &Manifest{
		SetID: "20251110T020000Z-mutt-prod-01-daily-3fa1", Profile: "daily", Host: "mutt-prod-01", Status: SetPartial,
		Components: []Component{
			{Name: ComponentPostgres, Status: StatusFailed, Reason: "running pg_dump: connection refused (password hunter2)"},
			{Name: ComponentRedis, Status: StatusOK, Verify: &Verify{Level: VerifyQuick, Status: StatusFailed, Detail: "sha256 mismatch"}},
			{Name: ComponentConfig, Status: StatusOK},
		},
	}
}

func TestNotifierSend(t *testing.T) {
	tests := []struct {
		name     string
		statuses []int
		wantErr  string
		wantHits int
	}{
		{name: "first attempt", statuses: []int{200}, wantHits: 1},
		{name: "retries 5xx and 429", statuses: []int{503, 429, 200}, wantHits: 3},
		{name: "gives up after three attempts", statuses: []int{500}, wantErr: "500", wantHits: 3},
		{name: "no retry on 4xx", statuses: []int{404}, wantErr: "404", wantHits: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			hook := &webhook{statuses: tt.statuses}
			srv := httptest.NewServer(hook)
			defer srv.Close()
			token := "/services/T000/B000/tokenNeverLogged"
			n := &Notifier{URL: srv.URL + token, Backoff: time.Millisecond, Redact: []string{"hunter2", ""}}
			err := n.Send(t.Context(), NotifyText(failedSet()))
			if tt.wantErr == "" && err != nil {
				t.Fatalf("Send: %v", err)
			}
			if tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)) {
				t.Fatalf("Send error %v, want one naming %s", err, tt.wantErr)
			}
			if err != nil && strings.Contains(err.Error(), "tokenNeverLogged") {
				t.Errorf("error carries the webhook token: %v", err)
			}
			got := hook.received()
			if len(got) != tt.wantHits {
				t.Fatalf("webhook got %d requests, want %d", len(got), tt.wantHits)
			}
			text := got[0]
			for _, want := range []string{"20251110T020000Z-mutt-prod-01-daily-3fa1", "mutt-prod-01", "postgres: running pg_dump: connection refused",
				"redis: verification failed: sha256 mismatch", "[redacted]"} {
				if !strings.Contains(text, want) {
					t.Errorf("message lacks %q:\n%s", want, text)
				}
			}
			if strings.Contains(text, "hunter2") || strings.Contains(text, "config") {
				t.Errorf("message holds a secret or a healthy component:\n%s", text)
			}
		})
	}
}

func TestNotifierTimeoutAndUnreachable(t *testing.T) {
	release := make(chan struct{})
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer slow.Close()
	defer close(release)
	n := &Notifier{URL: slow.URL + "/hook?token=abc", Client: &http.Client{Timeout: 50 * time.Millisecond}, Backoff: time.Millisecond}
	start := time.Now()
	err := n.Send(t.Context(), "x")
	var ne *NotifyError
	if err == nil || !errors.As(err, &ne) || !ne.Retryable || strings.Contains(err.Error(), "token=abc") {
		t.Errorf("Send to a hanging webhook = %v, want a retryable error without the URL", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("three timed-out attempts took %s", d)
	}

	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if err := (&Notifier{URL: "http://127.0.0.1:1/hook"}).Send(ctx, "x"); err == nil {
		t.Error("Send with a cancelled context succeeded")
	}
	for _, bad := range []string{"", "ftp://example.com/x", "not a url"} {
		if err := (&Notifier{URL: bad}).Send(t.Context(), "x"); err == nil {
			t.Errorf("Send to %q succeeded", bad)
		}
	}
}

func TestShouldNotify(t *testing.T) {
	ok := &Manifest{SetID: "s", Host: "h", Status: SetComplete, Components: []Component{{Name: ComponentRedis, Status: StatusOK}}}
	tests := []struct {
		name      string
		m         *Manifest
		onSuccess bool
		want      bool
	}{
		{name: "failure", m: failedSet(), want: true},
		{name: "success, quiet", m: ok, want: false},
		{name: "success, asked for", m: ok, onSuccess: true, want: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := ShouldNotify(tt.m, tt.onSuccess); got != tt.want {
				t.Errorf("ShouldNotify = %t, want %t", got, tt.want)
			}
		})
	}
	if text := NotifyText(ok); !strings.Contains(text, "ok on h") || !strings.Contains(text, "redis") {
		t.Errorf("success text = %q", text)
	}
}
