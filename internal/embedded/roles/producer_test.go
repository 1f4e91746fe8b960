package roles

import (
	"errors"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/mutt-go/mutt/internal/embedded/sqlstore"
	"github.com/mutt-go/mutt/internal/queue"
)

// minuteTotal adds up the ingest minutes recorded in db.
func minuteTotal(t *testing.T, db *sqlstore.DB) int64 {
	t.Helper()
	counts, err := db.IngestMinutes(t.Context(), 60)
	if err != nil {
		t.Fatal(err)
	}
	var total int64
	for _, c := range counts {
		total += c.Events
	}
	return total
}

func TestProducerLimitAndMinutes(t *testing.T) {
	db := openDB(t)
	var limit atomic.Int64
	limit.Store(5)
	p := NewProducer(db, "mutt:ingest_queue", limit.Load, true, slog.New(slog.NewTextHandler(io.Discard, nil)))
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
	if total := minuteTotal(t, db); total != 6 {
		t.Errorf("ingest minutes add up to %d accepted events, want 6 (the refused batch not counted)", total)
	}
}

// TestProducerGroupCommit produces from many goroutines at once: every
// batch is queued exactly once, whatever group its commit shared, and a
// Produce after Close is refused.
func TestProducerGroupCommit(t *testing.T) {
	db := openDB(t)
	p := NewProducer(db, "mutt:ingest_queue", nil, true, slog.New(slog.NewTextHandler(io.Discard, nil)))
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
	if total := minuteTotal(t, db); total != want {
		t.Errorf("ingest minutes add up to %d, want %d", total, want)
	}
	if _, err := p.Produce(t.Context(), [][]byte{[]byte(`{}`)}); !errors.Is(err, ErrProducerClosed) {
		t.Errorf("Produce after Close: err %v, want ErrProducerClosed", err)
	}
}
