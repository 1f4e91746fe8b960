package dynconfig

import (
	"context"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/mutt-go/mutt/internal/itest"
)

func TestValidate(t *testing.T) {
	tests := []struct {
		name, key, value, wantErr string
	}{
		{"ok int", "unhandled_threshold", "50", ""},
		{"below min", "max_ingest_queue_size", "10", "from 1000"},
		{"not int", "cache_reload_interval", "soon", "integer"},
		{"enum ok", "alerter_shed_mode", "dlq", ""},
		{"enum bad", "alerter_shed_mode", "DLQ", "one of"},
		{"unknown", "no_such_key", "1", "unknown"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := Validate(tt.key, tt.value)
			if tt.wantErr == "" && err != nil || tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr) || !strings.Contains(err.Error(), tt.key)) {
				t.Errorf("Validate(%s, %s) = %v, want %q", tt.key, tt.value, err, tt.wantErr)
			}
		})
	}
}

func TestNilStoreReturnsFallback(t *testing.T) {
	var s *Store
	if s.Int("unhandled_threshold", 7) != 7 || s.String("alerter_shed_mode", "off") != "off" || s.Changed() != nil {
		t.Error("nil store must return fallbacks")
	}
}

func TestChangeReachesAnotherProcessWithinASecond(t *testing.T) {
	rdb, prefix := itest.Redis(t)
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	writer := New(rdb, prefix+":config", logger)
	reader := New(rdb, prefix+":config", logger)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if err := rdb.Set(ctx, prefix+":config:alerter_defer_sleep_ms", "300", 0).Err(); err != nil {
		t.Fatal(err)
	}
	go func() { _ = reader.Run(ctx) }()
	itest.Eventually(t, 5*time.Second, "initial load", func() bool { return reader.Int("alerter_defer_sleep_ms", 0) == 300 })

	changed := reader.Changed()
	start := time.Now()
	if err := writer.Set(ctx, "unhandled_threshold", "42"); err != nil {
		t.Fatal(err)
	}
	itest.Eventually(t, time.Second, "change visible within 1 s", func() bool { return reader.Int("unhandled_threshold", 100) == 42 })
	select {
	case <-changed:
	case <-time.After(time.Second):
		t.Error("Changed() channel not closed")
	}
	t.Logf("propagated in %s", time.Since(start))

	if err := writer.Set(ctx, "alerter_shed_mode", "sometimes"); err == nil {
		t.Error("invalid value accepted")
	}
	// A bad value written behind the registry's back is ignored.
	if err := rdb.Set(ctx, prefix+":config:unhandled_threshold", "lots", 0).Err(); err != nil {
		t.Fatal(err)
	}
	if err := rdb.Publish(ctx, prefix+":config:updates", "unhandled_threshold").Err(); err != nil {
		t.Fatal(err)
	}
	itest.Eventually(t, time.Second, "invalid value falls back", func() bool { return reader.Int("unhandled_threshold", 100) == 100 })
}
