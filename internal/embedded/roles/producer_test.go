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

// TestProducerGroupCommit produces from many goroutines at once: every
// batch is queued exactly once, whatever group its commit shared, and a
// Produce after Close is refused.
func TestProducerGroupCommit(t *testing.T) {
	db := openDB(t)
	rec := &minuteTotals{totals: map[int64]int64{}}
	p := NewProducer(db, "mutt:ingest_queue", nil, rec, slog.New(slog.NewTextHandler(io.Discard, nil)))
	const writers, batches, size = 8, 40, 10
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			for range batches {
				batch := make([][]byte, size)
				for i := range batch {
					batch[i] = []byte(`{"w":` + string(rune('0'+w)) + `}`)
				}
				if _, err := p.Produce(t.Context(), batch); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	const want = writers * batches * size
	if n, err := db.Len(t.Context(), "mutt:ingest_queue"); err != nil || n != want {
		t.Fatalf("queue depth %d (err %v), want %d", n, err, want)
	}
	var total int64
	for _, n := range rec.totals {
		total += n
	}
	if total != want {
		t.Errorf("minute totals add up to %d, want %d", total, want)
	}
	if _, err := p.Produce(t.Context(), [][]byte{[]byte(`{}`)}); !errors.Is(err, ErrProducerClosed) {
		t.Errorf("Produce after Close: err %v, want ErrProducerClosed", err)
	}
}
