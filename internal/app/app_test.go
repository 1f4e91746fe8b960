package app

import (
	"context"
	"io"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/mutt-go/mutt/internal/config"
	"github.com/mutt-go/mutt/internal/itest"
)

// alerterConfig is a configuration for the test's own key prefix and
// database, with the alerter's listeners on free loopback ports.
func alerterConfig(t *testing.T) config.Config {
	t.Helper()
	_, prefix := itest.Redis(t)
	cfg := config.Default()
	cfg.KeyPrefix = prefix
	cfg.Finish()
	cfg.Redis.URL = config.NewURL(itest.RedisURL())
	cfg.Postgres.URL = config.NewURL(itest.Database(t))
	cfg.Alerter.MetricsListen, cfg.Alerter.HealthListen = "127.0.0.1:0", "127.0.0.1:0"
	return cfg
}

// TestReloadDuringStart calls Reload, as the SIGHUP goroutine of `mutt
// serve` does, over and over while Run starts the alerter. Under -race
// this catches Run publishing the alerter while Reload reads it.
func TestReloadDuringStart(t *testing.T) {
	cfg := alerterConfig(t)

	ready := make(chan struct{})
	srv, err := NewServer(t.Context(), cfg, ServeOptions{
		Roles: []string{RoleAlerter}, Migrate: true,
		Ready: func(map[string]string) { close(ready) },
	}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()

	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	reloads := 0
	wg.Go(func() {
		for {
			srv.Reload()
			reloads++
			select {
			case <-ready:
				return
			default:
			}
		}
	})
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx) }()
	select {
	case <-ready:
	case <-time.After(30 * time.Second):
		t.Fatal("the alerter did not start")
	}
	wg.Wait()
	srv.Reload() // the alerter is running now: this one reaches it
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Run: %v", err)
	}
	if reloads == 0 {
		t.Fatal("no reload was attempted during start")
	}
}

// TestNewServerRefusesWebUIWithoutKeyBeforeConnecting checks that a web
// UI without an API key is refused before any connection is opened: with
// an unreachable Redis, the error must be about the key, not Redis (a
// client opened first would be left open by the refusal).
func TestNewServerRefusesWebUIWithoutKeyBeforeConnecting(t *testing.T) {
	cfg := config.Default()
	cfg.Finish()
	cfg.Redis.URL = config.NewURL("redis://127.0.0.1:1/0")
	cfg.Postgres.URL = config.NewURL("postgres://nobody@127.0.0.1:1/none?sslmode=disable")
	srv, err := NewServer(t.Context(), cfg, ServeOptions{Roles: []string{RoleWebUI}},
		slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err == nil {
		srv.Close()
		t.Fatal("NewServer started a web UI without an API key")
	}
	if !strings.Contains(err.Error(), "WEBUI_API_KEY") {
		t.Fatalf("error = %v; want the missing WEBUI_API_KEY named before any connection", err)
	}
}

// TestTLSDefaultErrorsSayHowToTurnItOff connects with the default settings
// (TLS on) to the plain local Redis: the error must say that TLS is on by
// default and which variable turns it off.
func TestTLSDefaultErrorsSayHowToTurnItOff(t *testing.T) {
	opts, err := redis.ParseURL(itest.RedisURL())
	if err != nil {
		t.Fatal(err)
	}
	host, port, _ := net.SplitHostPort(opts.Addr)
	cfg := config.Default().Redis
	cfg.Host = host
	cfg.Port, _ = strconv.Atoi(port)
	ctx, cancel := context.WithTimeout(t.Context(), time.Second)
	defer cancel()
	client, err := ConnectRedis(ctx, cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err == nil {
		client.Close()
		t.Fatal("a TLS connection to the plain local Redis succeeded")
	}
	if !strings.Contains(err.Error(), "REDIS_TLS_ENABLED=false") || !strings.Contains(err.Error(), "on by default") {
		t.Errorf("error = %v; want it to say TLS is on by default and REDIS_TLS_ENABLED=false turns it off", err)
	}
	// A server that is not there is not a TLS problem.
	cfg.Port = 1
	if _, err := ConnectRedis(t.Context(), cfg, slog.New(slog.NewTextHandler(io.Discard, nil))); err == nil || strings.Contains(err.Error(), "TLS") {
		t.Errorf("connection refused: error = %v; want no TLS hint", err)
	}
}
