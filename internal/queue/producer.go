package queue

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// ErrQueueFull is returned when the queue is at or above its cap; the caller
// should ask its client to retry later.
var ErrQueueFull = errors.New("queue full")

// errProducerClosed answers Produce calls made after Close.
var errProducerClosed = errors.New("producer closed")

// ErrStorageFull is wrapped by a producer's error when the storage under
// the queue has no room left (a full disk): the batch was not queued, and
// nothing already queued was damaged.
var ErrStorageFull = errors.New("storage full")

// QueueFullError carries the depth and limit seen when ErrQueueFull occurred.
type QueueFullError struct {
	Depth, Limit int64
}

func (e *QueueFullError) Error() string {
	return fmt.Sprintf("queue full: %d messages, limit %d", e.Depth, e.Limit)
}

// Is makes errors.Is(err, ErrQueueFull) true.
func (e *QueueFullError) Is(target error) bool { return target == ErrQueueFull }

// produceScript appends payloads to a stream unless it is at its cap, and
// counts them in the per-minute, per-hour and per-day ingest counters, in
// one atomic step (no check-then-push race).
//
// KEYS: stream, minute counter, hour counter, day counter
// ARGV: cap, minute TTL, hour TTL, day TTL, payload…
var produceScript = redis.NewScript(`
local len = redis.call('XLEN', KEYS[1])
if len >= tonumber(ARGV[1]) then
  return {0, len}
end
local n = #ARGV - 4
for i = 5, #ARGV do
  redis.call('XADD', KEYS[1], '*', 'e', ARGV[i])
end
for k = 2, 4 do
  redis.call('INCRBY', KEYS[k], n)
  if redis.call('TTL', KEYS[k]) < 0 then
    redis.call('EXPIRE', KEYS[k], ARGV[k])
  end
end
return {1, len + n}
`)

// ProducerOptions tune a Producer.
type ProducerOptions struct {
	// Limit returns the current queue cap; it is consulted per flush so a
	// runtime change applies at once.
	Limit func() int64
	// MetricsPrefix is the prefix of the ingest counters
	// (<prefix>:1m:<minute>, <prefix>:1h:<hour>, <prefix>:24h:<day>).
	MetricsPrefix string
	// Flushers is how many Redis calls may be in flight at once (default 4).
	Flushers int
	// MaxBatch bounds the payloads sent in one call (default 2000).
	MaxBatch int
}

// Producer appends payloads to a stream. Concurrent Produce calls are
// grouped into one script call per flush, so a busy ingestor makes far
// fewer Redis round trips than it receives requests, and a request returns
// only after its payloads are in Redis.
type Producer struct {
	rdb    redis.UniversalClient
	stream string
	opts   ProducerOptions
	reqs   chan *produceRequest
	wg     sync.WaitGroup
	stop   chan struct{}
	once   sync.Once
	// mu makes "not closed, so enqueue" one step: Produce holds it shared
	// while it enqueues, Close exclusively while it marks the producer
	// closed, so no request can enter reqs after the flushers' final drain.
	mu     sync.RWMutex
	closed bool
}

type produceRequest struct {
	payloads [][]byte
	done     chan produceResult
}

type produceResult struct {
	depth int64
	err   error
}

// NewProducer starts a producer for stream. Call Close to stop it.
func NewProducer(rdb redis.UniversalClient, stream string, opts ProducerOptions) *Producer {
	if opts.Flushers <= 0 {
		opts.Flushers = 4
	}
	if opts.MaxBatch <= 0 {
		opts.MaxBatch = 2000
	}
	if opts.Limit == nil {
		opts.Limit = func() int64 { return 1 << 62 }
	}
	p := &Producer{
		rdb: rdb, stream: stream, opts: opts,
		reqs: make(chan *produceRequest, 1024),
		stop: make(chan struct{}),
	}
	for range opts.Flushers {
		p.wg.Add(1)
		go p.flushLoop()
	}
	return p
}

// Produce appends payloads and returns the stream length after the append.
// It fails with a *QueueFullError when the stream is at its cap (nothing is
// appended then), with the Redis error, or, after Close, at once.
func (p *Producer) Produce(ctx context.Context, payloads [][]byte) (int64, error) {
	if len(payloads) == 0 {
		return 0, nil
	}
	req := &produceRequest{payloads: payloads, done: make(chan produceResult, 1)}
	p.mu.RLock()
	if p.closed {
		p.mu.RUnlock()
		return 0, errProducerClosed
	}
	select {
	case p.reqs <- req:
	case <-ctx.Done():
		p.mu.RUnlock()
		return 0, ctx.Err()
	}
	p.mu.RUnlock()
	// Once queued the request is always answered; waiting on ctx here
	// would let a caller report failure for payloads that were appended.
	res := <-req.done
	return res.depth, res.err
}

// Close stops the flushers after answering every queued request. It is safe
// to call more than once.
func (p *Producer) Close() error {
	p.once.Do(func() {
		p.mu.Lock()
		p.closed = true
		close(p.stop)
		p.mu.Unlock()
	})
	p.wg.Wait()
	return nil
}

func (p *Producer) flushLoop() {
	defer p.wg.Done()
	batch := make([]*produceRequest, 0, 64)
	for {
		var first *produceRequest
		select {
		case first = <-p.reqs:
		case <-p.stop:
			// Answer what is still queued, then exit.
			for {
				select {
				case r := <-p.reqs:
					p.flush([]*produceRequest{r})
				default:
					return
				}
			}
		}
		batch = append(batch[:0], first)
		n := len(first.payloads)
	collect:
		for n < p.opts.MaxBatch {
			select {
			case r := <-p.reqs:
				batch = append(batch, r)
				n += len(r.payloads)
			default:
				break collect
			}
		}
		p.flush(batch)
	}
}

func (p *Producer) flush(batch []*produceRequest) {
	now := time.Now().UTC()
	keys := []string{
		p.stream,
		p.opts.MetricsPrefix + ":1m:" + now.Format("2006-01-02T15:04"),
		p.opts.MetricsPrefix + ":1h:" + now.Format("2006-01-02T15"),
		p.opts.MetricsPrefix + ":24h:" + now.Format("2006-01-02"),
	}
	n := 0
	for _, r := range batch {
		n += len(r.payloads)
	}
	// One reading of the cap serves the check and the error report, so a
	// concurrent change cannot make them disagree.
	limit := p.opts.Limit()
	args := make([]any, 0, 4+n)
	args = append(args, strconv.FormatInt(limit, 10), "7200", "172800", "2592000")
	for _, r := range batch {
		for _, pl := range r.payloads {
			args = append(args, pl)
		}
	}
	// The flush must finish even if the requesting contexts end: each
	// request is answered with what really happened.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	res, err := produceScript.Run(ctx, p.rdb, keys, args...).Int64Slice()
	var result produceResult
	switch {
	case err != nil:
		result.err = fmt.Errorf("appending to %s: %w", p.stream, err)
	case len(res) != 2:
		result.err = fmt.Errorf("appending to %s: unexpected script reply %v", p.stream, res)
	case res[0] == 0:
		result.err = &QueueFullError{Depth: res[1], Limit: limit}
		result.depth = res[1]
	default:
		result.depth = res[1]
	}
	for _, r := range batch {
		r.done <- result
	}
}
