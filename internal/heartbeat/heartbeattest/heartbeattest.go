package heartbeattest

import (
	"io"
	"log/slog"
	"os"
	"testing"
	"time"

	"github.com/mutt-go/mutt/internal/heartbeat"
	"github.com/mutt-go/mutt/internal/itest"
	"github.com/mutt-go/mutt/internal/version"
)

// Run runs the suite; open returns an empty backend of its own for each
// subtest and arranges its cleanup.
func Run(t *testing.T, open func(t *testing.T) heartbeat.Backend) {
	tests := []struct {
		name string
		fn   func(t *testing.T, b heartbeat.Backend)
	}{
		{"BeatLiveClear", testBeatLiveClear},
		{"UnrenewedBeatExpires", testExpires},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { tt.fn(t, open(t)) })
	}
}

func writer(b heartbeat.Backend, instance string, ttl time.Duration, roles ...string) *heartbeat.Writer {
	return heartbeat.NewFrom(heartbeat.Options{Instance: instance, Roles: roles, TTL: ttl}, b,
		slog.New(slog.NewTextHandler(io.Discard, nil)))
}

func testBeatLiveClear(t *testing.T, b heartbeat.Backend) {
	ctx := t.Context()
	w := writer(b, "pod-1", 0, "forwarder", "alerter")
	other := writer(b, "pod-2", 0, "alerter")
	for range 2 { // a second beat replaces the first
		if err := w.Beat(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if err := other.Beat(ctx); err != nil {
		t.Fatal(err)
	}
	beats, err := heartbeat.LiveFrom(ctx, b)
	if err != nil {
		t.Fatal(err)
	}
	host, _ := os.Hostname()
	if len(beats) != 3 || beats[0].Role != "alerter" || beats[0].Instance != "pod-1" || beats[1].Instance != "pod-2" ||
		beats[2].Role != "forwarder" {
		t.Fatalf("Live = %+v, want alerter of pod-1 and pod-2, forwarder of pod-1", beats)
	}
	for _, bt := range beats {
		if bt.Host != host || bt.PID != os.Getpid() || bt.Version != version.Version() || bt.StartedAt.IsZero() {
			t.Errorf("beat %+v", bt)
		}
	}
	if err := w.Clear(ctx); err != nil {
		t.Fatal(err)
	}
	if beats, err := heartbeat.LiveFrom(ctx, b); err != nil || len(beats) != 1 || beats[0].Instance != "pod-2" {
		t.Errorf("Live after Clear = %+v, %v; want pod-2's only", beats, err)
	}
}

// testExpires checks that a heartbeat nobody renews disappears after its
// TTL: a SIGKILLed process does not block restores for ever.
func testExpires(t *testing.T, b heartbeat.Backend) {
	w := writer(b, "gone", 300*time.Millisecond, "alerter")
	if err := w.Beat(t.Context()); err != nil {
		t.Fatal(err)
	}
	if beats, err := b.Live(t.Context()); err != nil || len(beats) != 1 {
		t.Fatalf("Live = %+v, %v; want the fresh beat", beats, err)
	}
	itest.Eventually(t, 3*time.Second, "the unrenewed heartbeat expires", func() bool {
		beats, err := b.Live(t.Context())
		return err == nil && len(beats) == 0
	})
}
