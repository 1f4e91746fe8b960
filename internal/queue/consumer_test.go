package queue_test

import (
	"context"
	"errors"
	"slices"
	"testing"

	"github.com/mutt-go/mutt/internal/queue"
)

// TestRecoverPending reads five messages as consumer c and "crashes"
// (acknowledges nothing), deletes one of them from the stream, and checks
// that a restart of c takes back exactly the four left, in order, with
// their second delivery counted, while another consumer gets none.
func TestRecoverPending(t *testing.T) {
	ctx := context.Background()
	s, rdb := newStream(t)
	ids := fill(t, rdb, s.Key(), "e", 5)
	fill(t, rdb, s.Key(), "new", 2) // not yet delivered: not pending
	if got, err := s.Read(ctx, "c", 5, -1); err != nil || len(got) != 5 {
		t.Fatalf("Read = %d messages, %v", len(got), err)
	}
	if err := rdb.XDel(ctx, s.Key(), ids[2]).Err(); err != nil {
		t.Fatal(err)
	}

	if n, err := s.RecoverPending(ctx, "other", 10, func(context.Context, []queue.Message) error {
		t.Error("another consumer was handed c's messages")
		return nil
	}); err != nil || n != 0 {
		t.Fatalf("RecoverPending(other) = %d, %v", n, err)
	}

	var got []string
	n, err := s.RecoverPending(ctx, "c", 2, func(ctx context.Context, msgs []queue.Message) error {
		if len(msgs) > 2 {
			t.Errorf("batch of %d, want at most 2", len(msgs))
		}
		for _, m := range msgs {
			if m.Deliveries != 2 {
				t.Errorf("%s: deliveries = %d, want 2", m.ID, m.Deliveries)
			}
			got = append(got, string(m.Payload))
			if err := s.Ack(ctx, m.ID); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil || n != 4 {
		t.Fatalf("RecoverPending(c) = %d, %v; want 4", n, err)
	}
	if want := []string{"e-0", "e-1", "e-3", "e-4"}; !slices.Equal(got, want) {
		t.Errorf("recovered %v, want %v", got, want)
	}
	if p, err := s.PendingCount(ctx); err != nil || p != 0 {
		t.Errorf("pending after recovery = %d, %v; want 0 (the deleted entry acknowledged too)", p, err)
	}

	// A failing batch stays pending and the error says so.
	if _, err := s.Read(ctx, "c", 1, -1); err != nil {
		t.Fatal(err)
	}
	boom := errors.New("boom")
	if _, err := s.RecoverPending(ctx, "c", 10, func(context.Context, []queue.Message) error { return boom }); !errors.Is(err, boom) {
		t.Fatalf("RecoverPending error = %v, want boom", err)
	}
	if p, _ := s.PendingCount(ctx); p != 1 {
		t.Errorf("pending after a failed batch = %d, want 1", p)
	}
}
