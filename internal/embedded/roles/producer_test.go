package roles

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/mutt-go/mutt/internal/queue"
)

// minuteTotals records what a Producer flushes.
type minuteTotals struct {
	mu     sync.Mutex
	totals map[int64]int64
}

func (m *minuteTotals) AddIngestMinutes(_ context.Context, counts map[int64]int64) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	for k, v := range counts {
		m.totals[k] += v
	}
	return nil
}

func TestProducerLimitAndMinutes(t *testing.T) {
	db := openDB(t)
	var limit atomic.Int64
	limit.Store(5)
	rec := &minuteTotals{totals: map[int64]int64{}}
	p := NewProducer(db, "mutt:ingest_queue", limit.Load, rec, slog.New(slog.NewTextHandler(io.Discard, nil)))
	batch := [][]byte{[]byte(`{"a":1}`), []byte(`{"a":2}`), []byte(`{"a":3}`)}
	if depth, err := p.Produce(t.Context(), batch); err != nil || depth != 3 {
		t.Fatalf("first batch: depth %d, err %v; want 3, nil", depth, err)
	}
	var full *queue.QueueFullError
	if _, err := p.Produce(t.Context(), batch); !errors.As(err, &full) || full.Limit != 5 {
		t.Fatalf("batch over the cap of 5: err %v, want a QueueFullError naming the limit", err)
	}
	limit.Store(10) // raised at run time, as dynamic config does
	if depth, err := p.Produce(t.Context(), batch); err != nil || depth != 6 {
		t.Fatalf("batch under the raised cap: depth %d, err %v; want 6, nil", depth, err)
	}
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	var total int64
	for _, n := range rec.totals {
		total += n
	}
	if total != 6 {
		t.Errorf("minute totals %v add up to %d accepted events, want 6 (the refused batch not counted)", rec.totals, total)
	}
}
