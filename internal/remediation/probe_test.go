package remediation_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mutt-go/mutt/internal/fakemoog"
	"github.com/mutt-go/mutt/internal/remediation"
	"github.com/mutt-go/mutt/internal/secrets"
)

func TestProbe(t *testing.T) {
	tests := []struct {
		name       string
		status     int
		key        secrets.Secret
		hold       time.Duration // the server's delay before answering
		wantErr    string        // "" = healthy
		keyRefused bool
	}{
		{name: "200", status: 200, key: secrets.New("k")},
		{name: "204", status: 204, key: secrets.New("k")},
		{name: "405: endpoint wants POST", status: 405, key: secrets.New("k")},
		{name: "401", status: 401, key: secrets.New("k"), wantErr: "refused the API key", keyRefused: true},
		{name: "403", status: 403, key: secrets.New("k"), wantErr: "check MOOG_API_KEY", keyRefused: true},
		{name: "401 without a key", status: 401, wantErr: "no API key is configured", keyRefused: true},
		{name: "500", status: 500, key: secrets.New("k"), wantErr: "status 500"},
		{name: "503", status: 503, key: secrets.New("k"), wantErr: "status 503"},
		{name: "404", status: 404, key: secrets.New("k"), wantErr: "status 404"},
		{name: "redirect is not followed", status: 302, key: secrets.New("k"), wantErr: "status 302"},
		{name: "timeout", status: 200, key: secrets.New("k"), hold: time.Second, wantErr: "deadline exceeded"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var (
				mu                 sync.Mutex
				gotMethod, gotAuth string
				gotBody            int64
			)
			hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				mu.Lock()
				gotMethod, gotAuth, gotBody = r.Method, r.Header.Get("Authorization"), r.ContentLength
				mu.Unlock()
				if tt.hold > 0 {
					select {
					case <-time.After(tt.hold):
					case <-r.Context().Done():
						return
					}
				}
				if tt.status == 302 {
					w.Header().Set("Location", "/elsewhere")
				}
				w.WriteHeader(tt.status)
			}))
			defer hs.Close()
			err := remediation.NewProbe(hs.URL+"/api/v1/events", tt.key, 100*time.Millisecond, hs.Client())(context.Background())
			if tt.wantErr == "" && err != nil {
				t.Errorf("probe = %v, want healthy", err)
			}
			if tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)) {
				t.Errorf("probe = %v, want an error containing %q", err, tt.wantErr)
			}
			if errors.Is(err, remediation.ErrKeyRefused) != tt.keyRefused {
				t.Errorf("errors.Is(%v, ErrKeyRefused) = %v, want %v", err, !tt.keyRefused, tt.keyRefused)
			}
			if err != nil && strings.Contains(err.Error(), tt.key.Reveal()+"\"") {
				t.Errorf("error %q reveals the key", err)
			}
			mu.Lock()
			defer mu.Unlock()
			if gotMethod != http.MethodGet || gotBody > 0 {
				t.Errorf("probe sent %s with %d body bytes, want a GET without a body", gotMethod, gotBody)
			}
			wantAuth := ""
			if tt.key.IsSet() {
				wantAuth = "Bearer " + tt.key.Reveal()
			}
			if gotAuth != wantAuth {
				t.Errorf("Authorization %q, want %q", gotAuth, wantAuth)
			}
		})
	}
}

func TestProbeConnectionRefused(t *testing.T) {
	hs := httptest.NewServer(http.NotFoundHandler())
	url := hs.URL
	hs.Close()
	if err := remediation.NewProbe(url, secrets.New("k"), time.Second, nil)(context.Background()); err == nil {
		t.Error("probe of a closed port reported healthy")
	}
}

// TestProbeAgainstFakeMoog checks the probe against the test double the
// end-to-end tests use: accepted key, wrong key, outage, and that probing
// records no event.
func TestProbeAgainstFakeMoog(t *testing.T) {
	fake := fakemoog.New(fakemoog.Options{APIKey: "right"})
	hs := httptest.NewServer(fake)
	defer hs.Close()
	tests := []struct {
		name       string
		key        string
		mode       fakemoog.Mode
		wantErr    bool
		keyRefused bool
	}{
		{name: "healthy", key: "right"},
		{name: "wrong key", key: "wrong", wantErr: true, keyRefused: true},
		{name: "outage", key: "right", mode: fakemoog.Mode{Status: 503}, wantErr: true},
		{name: "dropped connections", key: "right", mode: fakemoog.Mode{Drop: true}, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fake.SetMode(tt.mode)
			err := remediation.NewProbe(hs.URL+"/api/v1/events", secrets.New(tt.key), time.Second, nil)(context.Background())
			if (err != nil) != tt.wantErr || errors.Is(err, remediation.ErrKeyRefused) != tt.keyRefused {
				t.Errorf("probe = %v, want error %v (key refused %v)", err, tt.wantErr, tt.keyRefused)
			}
		})
	}
	if n := fake.Count(); n != 0 {
		t.Errorf("probing created %d events in Moogsoft", n)
	}
}
