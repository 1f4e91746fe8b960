package heartbeat_test

import (
	"io"
	"log/slog"
	"os"
	"testing"

	"github.com/mutt-go/mutt/internal/heartbeat"
	"github.com/mutt-go/mutt/internal/itest"
	"github.com/mutt-go/mutt/internal/version"
)

func TestBeatLiveClear(t *testing.T) {
	rdb, prefix := itest.Redis(t)
	ctx := t.Context()
	w := heartbeat.New(heartbeat.Options{Prefix: prefix, Instance: "pod-1", Roles: []string{"forwarder", "alerter"}},
		rdb, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err := w.Beat(ctx); err != nil {
		t.Fatal(err)
	}
	// A heartbeat of another deployment (prefix) is not this one's.
	other := heartbeat.New(heartbeat.Options{Prefix: prefix + "x", Instance: "pod-9", Roles: []string{"alerter"}},
		rdb, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err := other.Beat(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = other.Clear(ctx) })

	beats, err := heartbeat.Live(ctx, rdb, prefix)
	if err != nil {
		t.Fatal(err)
	}
	host, _ := os.Hostname()
	if len(beats) != 2 || beats[0].Role != "alerter" || beats[1].Role != "forwarder" {
		t.Fatalf("Live = %+v, want alerter and forwarder of pod-1", beats)
	}
	for _, b := range beats {
		if b.Instance != "pod-1" || b.Host != host || b.PID != os.Getpid() || b.Version != version.Version() || b.StartedAt.IsZero() {
			t.Errorf("beat %+v", b)
		}
	}
	ttl, err := rdb.TTL(ctx, heartbeat.Key(prefix, "alerter", "pod-1")).Result()
	if err != nil || ttl <= 0 || ttl > heartbeat.DefaultTTL {
		t.Errorf("TTL = %s, %v; want at most %s", ttl, err, heartbeat.DefaultTTL)
	}
	if err := w.Clear(ctx); err != nil {
		t.Fatal(err)
	}
	if beats, err := heartbeat.Live(ctx, rdb, prefix); err != nil || len(beats) != 0 {
		t.Errorf("Live after Clear = %+v, %v", beats, err)
	}
}
