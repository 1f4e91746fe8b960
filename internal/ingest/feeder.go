package ingest

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mutt-go/mutt/internal/event"
)

// Acker learns what became of one event given to Feeder.Submit: nil once
// it is in the ingest queue, or the error that made it be given up (only
// at shutdown; a full queue or an unreachable Redis is retried).
type Acker interface {
	Ack(err error)
}

// FeederOptions tune a Feeder.
type FeederOptions struct {
	// RequiredFields are checked as for HTTP events (nil: the defaults).
	RequiredFields []string
	// Buffer is how many validated events may wait in memory for a batch
	// (default 16384); Submit blocks beyond it.
	Buffer int
	// MaxBatch bounds the events of one Produce call (default 1000).
	MaxBatch int
	// Flushers is how many batches may be in flight at once (default 4).
	Flushers int
	// Logger receives stall warnings (default: discard).
	Logger *slog.Logger
}

// ErrFeederClosed answers Submit after the feeder stopped.
var ErrFeederClosed = errors.New("ingest feeder stopped")

type feedItem struct {
	payload []byte
	ack     Acker
}

// Feeder is the way into the ingest queue for MUTT's native receivers
// (syslog, SNMP traps): each event gets the same validation, normalisation
// and _event_id as an HTTP event, and events are appended in batches with
// the ingest Producer. When the queue is over its cap or Redis is
// unreachable, the feeder retries the batch in hand and Submit blocks once
// its buffer is full: that is the back-pressure a TCP receiver passes on to
// its senders by not reading.
type Feeder struct {
	producer Producer
	opts     FeederOptions
	eventOpt event.Options
	items    chan feedItem
	stalled  atomic.Bool
	mu       sync.RWMutex
	closed   bool
	running  sync.WaitGroup
}

// NewFeeder makes a feeder over producer. Run moves its events.
func NewFeeder(producer Producer, opts FeederOptions) *Feeder {
	if opts.Buffer <= 0 {
		opts.Buffer = 16384
	}
	if opts.MaxBatch <= 0 {
		opts.MaxBatch = 1000
	}
	if opts.Flushers <= 0 {
		opts.Flushers = 4
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	return &Feeder{producer: producer, opts: opts, eventOpt: event.Options{RequiredFields: opts.RequiredFields},
		items: make(chan feedItem, opts.Buffer)}
}

// Submit validates raw, one event object, and queues it for the next
// batch; ack, when not nil, is told the outcome. It returns the validation
// error (a *event.FieldError or *event.BodyError; nothing is queued then),
// ctx's error, or ErrFeederClosed. It blocks while the buffer is full.
func (f *Feeder) Submit(ctx context.Context, raw []byte, ack Acker) error {
	id := newEventID()
	ev, err := event.Normalize(raw, event.Stamp{EventID: id, CorrelationID: id}, &f.eventOpt)
	if err != nil {
		return err
	}
	it := feedItem{payload: ev.JSON, ack: ack}
	f.mu.RLock()
	defer f.mu.RUnlock()
	if f.closed {
		return ErrFeederClosed
	}
	select {
	case f.items <- it:
		return nil
	default:
	}
	select {
	case f.items <- it:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Stalled reports whether the last batch was refused (queue over its cap
// or Redis unreachable) and is being retried.
func (f *Feeder) Stalled() bool { return f.stalled.Load() }

// Pending is the number of events waiting in memory.
func (f *Feeder) Pending() int { return len(f.items) }

// Run appends submitted events until ctx ends, then makes one last attempt
// for those still buffered and stops accepting new ones.
func (f *Feeder) Run(ctx context.Context) error {
	for range f.opts.Flushers {
		f.running.Add(1)
		go func() {
			defer f.running.Done()
			f.flushLoop(ctx)
		}()
	}
	f.running.Wait()
	f.mu.Lock()
	f.closed = true
	f.mu.Unlock()
	// Nothing enters items now; give what is left one try.
	batch := make([]feedItem, 0, f.opts.MaxBatch)
	for {
		batch = batch[:0]
	drain:
		for len(batch) < f.opts.MaxBatch {
			select {
			case it := <-f.items:
				batch = append(batch, it)
			default:
				break drain
			}
		}
		if len(batch) == 0 {
			return nil
		}
		f.finish(batch, f.produce(context.WithoutCancel(ctx), batch))
	}
}

func (f *Feeder) flushLoop(ctx context.Context) {
	batch := make([]feedItem, 0, f.opts.MaxBatch)
	payloads := make([][]byte, 0, f.opts.MaxBatch)
	backoff := 50 * time.Millisecond
	for {
		batch = batch[:0]
		select {
		case it := <-f.items:
			batch = append(batch, it)
		case <-ctx.Done():
			return
		}
	collect:
		for len(batch) < f.opts.MaxBatch {
			select {
			case it := <-f.items:
				batch = append(batch, it)
			default:
				break collect
			}
		}
		for {
			payloads = payloads[:0]
			for _, it := range batch {
				payloads = append(payloads, it.payload)
			}
			_, err := f.producer.Produce(ctx, payloads)
			if err == nil {
				if f.stalled.Swap(false) {
					f.opts.Logger.Info("ingest queue accepts events again")
				}
				backoff = 50 * time.Millisecond
				f.finish(batch, nil)
				break
			}
			if !f.stalled.Swap(true) {
				f.opts.Logger.Warn("ingest queue refuses events; holding them and slowing senders", "error", err)
			}
			t := time.NewTimer(backoff)
			select {
			case <-ctx.Done():
				t.Stop()
				// The outer Run makes the last attempt for what is buffered;
				// this batch gets its own.
				f.finish(batch, f.produce(context.WithoutCancel(ctx), batch))
				return
			case <-t.C:
			}
			backoff = min(backoff*2, time.Second)
		}
	}
}

func (f *Feeder) produce(ctx context.Context, batch []feedItem) error {
	payloads := make([][]byte, len(batch))
	for i, it := range batch {
		payloads[i] = it.payload
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	_, err := f.producer.Produce(ctx, payloads)
	return err
}

func (f *Feeder) finish(batch []feedItem, err error) {
	for _, it := range batch {
		if it.ack != nil {
			it.ack.Ack(err)
		}
	}
}

// IsInvalid reports whether a Submit error is the event's own fault (it
// broke a validation rule) rather than the feeder's state.
func IsInvalid(err error) bool {
	var fe *event.FieldError
	var be *event.BodyError
	return errors.As(err, &fe) || errors.As(err, &be)
}
