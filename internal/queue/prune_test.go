package queue

import (
	"context"
	"testing"
	"time"

	"github.com/mutt-go/mutt/internal/itest"
)

func TestPruneConsumersKeepsThoseHoldingMessages(t *testing.T) {
	rdb, prefix := itest.Redis(t)
	ctx := context.Background()
	s := NewStream(rdb, prefix+":q", "g")
	if err := s.EnsureGroup(ctx); err != nil {
		t.Fatal(err)
	}
	p := NewProducer(rdb, s.Key(), ProducerOptions{MetricsPrefix: prefix + ":m"})
	defer p.Close()
	if _, err := p.Produce(ctx, [][]byte{[]byte("a"), []byte("b")}); err != nil {
		t.Fatal(err)
	}
	holding, err := s.Read(ctx, "holder", 1, -1)
	if err != nil || len(holding) != 1 {
		t.Fatalf("read = %v, %v", holding, err)
	}
	done, err := s.Read(ctx, "idle", 1, -1)
	if err != nil || len(done) != 1 {
		t.Fatalf("read = %v, %v", done, err)
	}
	if err := s.Ack(ctx, done[0].ID); err != nil {
		t.Fatal(err)
	}
	n, err := s.PruneConsumers(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	if n != 1 {
		t.Errorf("pruned %d consumers, want 1", n)
	}
	left, err := rdb.XInfoConsumers(ctx, s.Key(), "g").Result()
	if err != nil {
		t.Fatal(err)
	}
	if len(left) != 1 || left[0].Name != "holder" {
		t.Errorf("consumers left = %+v, want only holder", left)
	}
	if n, _ := s.PruneConsumers(ctx, time.Hour); n != 0 {
		t.Errorf("pruned %d consumers idle less than an hour", n)
	}
}
