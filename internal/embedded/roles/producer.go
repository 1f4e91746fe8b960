package roles

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/mutt-go/mutt/internal/embedded/sqlstore"
)

// MinuteRecorder adds accepted-event counts to per-minute totals, the
// source of the ingest rate the dashboard shows.
type MinuteRecorder interface {
	// AddIngestMinutes adds counts (minute as Unix seconds → events).
	AddIngestMinutes(ctx context.Context, counts map[int64]int64) error
}

// Producer appends events to an embedded queue with a limit that may
// change at run time; it is what the ingest server and the receivers'
// feeder need. It counts accepted events per minute in memory and hands
// the totals to its MinuteRecorder every flushEvery, not in every batch's
// transaction.
type Producer struct {
	db      *sqlstore.DB
	queue   string
	limit   func() int64
	minutes MinuteRecorder
	logger  *slog.Logger

	mu      sync.Mutex
	counts  map[int64]int64
	stop    chan struct{}
	stopped chan struct{}
	once    sync.Once
}

// flushEvery is how often the per-minute counts are written.
const flushEvery = 10 * time.Second

// NewProducer returns a producer appending to queue; limit (nil: none)
// gives the queue's cap at each batch; minutes (nil: not counted) records
// the per-minute totals. Close stops it after a last flush.
func NewProducer(db *sqlstore.DB, queue string, limit func() int64, minutes MinuteRecorder, logger *slog.Logger) *Producer {
	p := &Producer{db: db, queue: queue, limit: limit, minutes: minutes, logger: logger,
		counts: make(map[int64]int64), stop: make(chan struct{}), stopped: make(chan struct{})}
	if minutes == nil {
		close(p.stopped)
		return p
	}
	go p.flushLoop()
	return p
}

// Produce appends payloads in one transaction and returns the queue's new
// depth: a *queue.QueueFullError over the cap, an error wrapping
// sqlstore.ErrStorageFull on a full disk (ingest answers both with 503).
func (p *Producer) Produce(ctx context.Context, payloads [][]byte) (int64, error) {
	var limit int64
	if p.limit != nil {
		limit = p.limit()
	}
	depth, err := p.db.AppendLimited(ctx, p.queue, payloads, limit)
	if err != nil || p.minutes == nil || len(payloads) == 0 {
		return depth, err
	}
	minute := time.Now().Unix() / 60 * 60
	p.mu.Lock()
	p.counts[minute] += int64(len(payloads))
	p.mu.Unlock()
	return depth, nil
}

func (p *Producer) flushLoop() {
	defer close(p.stopped)
	t := time.NewTicker(flushEvery)
	defer t.Stop()
	for {
		select {
		case <-p.stop:
			p.flush()
			return
		case <-t.C:
			p.flush()
		}
	}
}

// flush writes the counts gathered since the last flush; on failure they
// are kept for the next one.
func (p *Producer) flush() {
	p.mu.Lock()
	counts := p.counts
	if len(counts) == 0 {
		p.mu.Unlock()
		return
	}
	p.counts = make(map[int64]int64, len(counts))
	p.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := p.minutes.AddIngestMinutes(ctx, counts); err != nil {
		p.logger.Warn("recording ingest minute counts; keeping them for the next try", "error", err)
		p.mu.Lock()
		for m, n := range counts {
			p.counts[m] += n
		}
		p.mu.Unlock()
	}
}

// Close writes the last counts and stops the flushing. Safe to call twice.
func (p *Producer) Close() error {
	p.once.Do(func() { close(p.stop) })
	<-p.stopped
	return nil
}
