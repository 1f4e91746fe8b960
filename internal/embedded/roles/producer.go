package roles

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/mutt-go/mutt/internal/embedded/sqlstore"
)

// Producer appends events to an embedded queue with a limit that may
// change at run time; it is what the ingest server and the receivers'
// feeder need. It counts accepted events per minute in memory and adds
// the totals to the database's ingest minutes (the dashboard's ingest
// rate) every flushEvery, not in every batch's transaction.
type Producer struct {
	db      *sqlstore.DB
	queue   string
	limit   func() int64
	minutes bool
	logger  *slog.Logger

	mu      sync.Mutex
	counts  map[int64]int64
	stop    chan struct{}
	stopped chan struct{}
	once    sync.Once

	// requests feed the committer, which writes every request waiting
	// when it starts a transaction in that one transaction.
	requests  chan *appendRequest
	committed chan struct{} // closed when the committer has stopped
}

// appendRequest is one Produce call waiting for its group's commit.
type appendRequest struct {
	payloads [][]byte
	depth    int64
	err      error
	done     chan struct{}
}

// maxGroupRows caps the events of one group commit.
const maxGroupRows = 5000

// ErrProducerClosed is returned by Produce after Close.
var ErrProducerClosed = errors.New("the embedded ingest producer is closed")

// flushEvery is how often the per-minute counts are written.
const flushEvery = 10 * time.Second

// NewProducer returns a producer appending to queue; limit (nil: none)
// gives the queue's cap at each batch; minutes says whether accepted
// events are counted per minute. Close stops it after a last flush.
func NewProducer(db *sqlstore.DB, queue string, limit func() int64, minutes bool, logger *slog.Logger) *Producer {
	p := &Producer{db: db, queue: queue, limit: limit, minutes: minutes, logger: logger,
		counts: make(map[int64]int64), stop: make(chan struct{}), stopped: make(chan struct{}),
		requests: make(chan *appendRequest, 64), committed: make(chan struct{})}
	go p.commitLoop()
	if !minutes {
		close(p.stopped)
		return p
	}
	go p.flushLoop()
	return p
}

// commitLoop writes the waiting requests, as many as are there (up to
// maxGroupRows events), in one transaction at a time, until Close.
func (p *Producer) commitLoop() {
	defer close(p.committed)
	var group []*appendRequest
	for {
		var first *appendRequest
		select {
		case first = <-p.requests:
		case <-p.stop:
			// Answer what was queued before the stop, then end.
			for {
				select {
				case r := <-p.requests:
					p.commitGroup(append(group[:0], r))
				default:
					return
				}
			}
		}
		group = append(group[:0], first)
		rows := len(first.payloads)
	gather:
		for rows < maxGroupRows {
			select {
			case r := <-p.requests:
				group = append(group, r)
				rows += len(r.payloads)
			default:
				break gather
			}
		}
		p.commitGroup(group)
	}
}

// commitGroup appends group in one transaction and answers each request.
func (p *Producer) commitGroup(group []*appendRequest) {
	var limit int64
	if p.limit != nil {
		limit = p.limit()
	}
	batches := make([][][]byte, len(group))
	for i, r := range group {
		batches[i] = r.payloads
	}
	// The requests' own contexts may end while the group commits; the
	// commit itself is bounded so a stuck disk cannot hold them forever.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	depths, refused, err := p.db.AppendGroup(ctx, p.queue, batches, limit)
	cancel()
	now := time.Now().Unix() / 60 * 60
	var accepted int64
	for i, r := range group {
		switch {
		case err != nil:
			r.err = err
		case refused[i] != nil:
			r.err, r.depth = refused[i], depths[i]
		default:
			r.depth = depths[i]
			accepted += int64(len(r.payloads))
		}
		close(r.done)
	}
	if accepted > 0 && p.minutes {
		p.mu.Lock()
		p.counts[now] += accepted
		p.mu.Unlock()
	}
}

// Produce appends payloads in one transaction and returns the queue's new
// depth: a *queue.QueueFullError over the cap, an error wrapping
// sqlstore.ErrStorageFull on a full disk (ingest answers both with 503).
//
// Concurrent calls share one transaction: a call waits for the commit that
// the calls before it started, and then commits together with every call
// that arrived meanwhile (group commit). When ctx ends first the call
// returns its error, and its events may still be queued by that commit.
func (p *Producer) Produce(ctx context.Context, payloads [][]byte) (int64, error) {
	r := &appendRequest{payloads: payloads, done: make(chan struct{})}
	select {
	case p.requests <- r:
	case <-p.committed:
		return 0, ErrProducerClosed
	case <-ctx.Done():
		return 0, ctx.Err()
	}
	select {
	case <-r.done:
		return r.depth, r.err
	case <-p.committed:
		// The committer may have answered r on its way out.
		select {
		case <-r.done:
			return r.depth, r.err
		default:
			return 0, ErrProducerClosed
		}
	case <-ctx.Done():
		return 0, ctx.Err()
	}
}

func (p *Producer) flushLoop() {
	defer close(p.stopped)
	t := time.NewTicker(flushEvery)
	defer t.Stop()
	for {
		select {
		case <-p.stop:
			<-p.committed // the last groups are counted
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
	rows := make([]sqlstore.MinuteCount, 0, len(counts))
	for m, n := range counts {
		rows = append(rows, sqlstore.MinuteCount{Minute: time.Unix(m, 0), Events: n})
	}
	if err := p.db.AddIngestCounts(ctx, rows); err != nil {
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
	<-p.committed
	<-p.stopped
	return nil
}
