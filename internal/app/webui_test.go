package app

import (
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/mutt-go/mutt/internal/itest"
	"github.com/mutt-go/mutt/internal/secrets"
)

// TestConfigChangeThroughAPIReachesRunningAlerter changes a dynamic value
// through the REST API of a running web UI and checks that the alerter
// running beside it reads the new value within a second.
func TestConfigChangeThroughAPIReachesRunningAlerter(t *testing.T) {
	cfg := alerterConfig(t)
	cfg.DynamicConfigEnabled = true
	cfg.Web.Listen = "127.0.0.1:0"
	cfg.Web.APIKey = secrets.New("webui-test-key-0123456789")

	ready := make(chan map[string]string, 1)
	srv, err := NewServer(t.Context(), cfg, ServeOptions{
		Roles: []string{RoleAlerter, RoleWebUI}, Migrate: true,
		Ready: func(a map[string]string) { ready <- a },
	}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Close)
	addrs := serve(t, srv, ready)

	before := srv.dyn.Int("unhandled_threshold", 100)
	req, err := http.NewRequest(http.MethodPut, "http://"+addrs["webui"]+"/api/v2/config/unhandled_threshold",
		strings.NewReader(`{"value": 7, "reason": "test"}`))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("X-API-KEY", "webui-test-key-0123456789")
	req.Header.Set("Content-Type", "application/json")
	start := time.Now()
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != http.StatusOK {
		t.Fatalf("PUT config: %d %s", res.StatusCode, body)
	}
	itest.Eventually(t, time.Second, "the alerter reads the new unhandled_threshold", func() bool {
		return srv.dyn.Int("unhandled_threshold", before) == 7
	})
	t.Logf("change visible to the alerter after %s", time.Since(start).Round(time.Millisecond))
}
