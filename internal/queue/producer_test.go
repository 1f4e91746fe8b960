package queue_test

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/mutt-go/mutt/internal/itest"
	"github.com/mutt-go/mutt/internal/queue"
)

// payloads returns n payloads named tag-0 … tag-(n-1).
func payloads(tag string, n int) [][]byte {
	out := make([][]byte, n)
	for i := range out {
		out[i] = []byte(tag + "-" + strconv.Itoa(i))
	}
	return out
}

// streamPayloads returns the payloads of stream, oldest first.
func streamPayloads(t testing.TB, rdb *redis.Client, stream string) []string {
	t.Helper()
	msgs, err := rdb.XRange(context.Background(), stream, "-", "+").Result()
	if err != nil {
		t.Fatalf("XRANGE %s: %v", stream, err)
	}
	out := make([]string, len(msgs))
	for i, m := range msgs {
		s, ok := m.Values[queue.PayloadField].(string)
		if !ok || len(m.Values) != 1 {
			t.Fatalf("entry %s has fields %v, want only %q", m.ID, m.Values, queue.PayloadField)
		}
		out[i] = s
	}
	return out
}

func newProducer(t testing.TB, rdb redis.UniversalClient, stream string, opts queue.ProducerOptions) *queue.Producer {
	t.Helper()
	p := queue.NewProducer(rdb, stream, opts)
	t.Cleanup(func() { _ = p.Close() })
	return p
}

func TestProduceAppendsInOrder(t *testing.T) {
	ctx := context.Background()
	rdb, prefix := itest.Redis(t)
	stream := prefix + ":ingest_queue"
	p := newProducer(t, rdb, stream, queue.ProducerOptions{MetricsPrefix: prefix + ":metrics"})

	tests := []struct {
		name      string
		batch     [][]byte
		wantDepth int64
	}{
		{name: "one payload", batch: payloads("a", 1), wantDepth: 1},
		{name: "a batch", batch: payloads("b", 100), wantDepth: 101},
		{name: "binary and empty payloads", batch: [][]byte{{0, 1, 0xff}, {}, []byte(`{"x":"é"}`)}, wantDepth: 104},
		{name: "nothing", batch: nil, wantDepth: 0},
	}
	var want []string
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			depth, err := p.Produce(ctx, tt.batch)
			if err != nil {
				t.Fatalf("Produce: %v", err)
			}
			if depth != tt.wantDepth {
				t.Errorf("depth %d, want %d", depth, tt.wantDepth)
			}
			for _, pl := range tt.batch {
				want = append(want, string(pl))
			}
			got := streamPayloads(t, rdb, stream)
			if strings.Join(got, "\x00|") != strings.Join(want, "\x00|") {
				t.Errorf("stream holds %q, want %q", got, want)
			}
		})
	}
}

func TestProduceCounters(t *testing.T) {
	ctx := context.Background()
	rdb, prefix := itest.Redis(t)
	p := newProducer(t, rdb, prefix+":q", queue.ProducerOptions{MetricsPrefix: prefix + ":metrics"})
	for attempt := 1; ; attempt++ {
		before := time.Now().UTC()
		if _, err := p.Produce(ctx, payloads("x", 7)); err != nil {
			t.Fatalf("Produce: %v", err)
		}
		after := time.Now().UTC()
		if !before.Truncate(time.Minute).Equal(after.Truncate(time.Minute)) && attempt < 3 {
			// The counters are named after the minute of the flush; judge
			// a run that stays within one minute.
			if err := itest.DeleteKeys(ctx, rdb, prefix+":metrics:*"); err != nil {
				t.Fatal(err)
			}
			continue
		}
		tests := []struct {
			key string
			ttl time.Duration
		}{
			{key: prefix + ":metrics:1m:" + before.Format("2006-01-02T15:04"), ttl: 7200 * time.Second},
			{key: prefix + ":metrics:1h:" + before.Format("2006-01-02T15"), ttl: 172800 * time.Second},
			{key: prefix + ":metrics:24h:" + before.Format("2006-01-02"), ttl: 2592000 * time.Second},
		}
		for _, tt := range tests {
			n, err := rdb.Get(ctx, tt.key).Int64()
			if err != nil || n != 7 {
				t.Errorf("%s = %d (err %v), want 7", tt.key, n, err)
			}
			ttl, err := rdb.TTL(ctx, tt.key).Result()
			if err != nil || ttl > tt.ttl || ttl < tt.ttl-30*time.Second {
				t.Errorf("TTL of %s = %s (err %v), want about %s", tt.key, ttl, err, tt.ttl)
			}
		}
		return
	}
}

func TestQueueFullError(t *testing.T) {
	ctx := context.Background()
	rdb, prefix := itest.Redis(t)
	stream := prefix + ":ingest_queue"
	var limit atomic.Int64
	limit.Store(5)
	p := newProducer(t, rdb, stream, queue.ProducerOptions{
		Limit:         limit.Load,
		MetricsPrefix: prefix + ":metrics",
	})
	if _, err := p.Produce(ctx, payloads("a", 4)); err != nil {
		t.Fatalf("Produce under the cap: %v", err)
	}
	// A flush is admitted while the stream is below the cap, even when it
	// takes the stream past it.
	depth, err := p.Produce(ctx, payloads("b", 3))
	if err != nil || depth != 7 {
		t.Fatalf("Produce at 4 of 5 = %d, %v; want 7, nil", depth, err)
	}

	tests := []struct {
		name      string
		limit     int64
		wantErr   bool
		wantDepth int64
	}{
		{name: "over the cap", limit: 5, wantErr: true, wantDepth: 7},
		{name: "at the cap", limit: 7, wantErr: true, wantDepth: 7},
		{name: "cap raised at run time", limit: 8, wantDepth: 9},
		{name: "cap lowered at run time", limit: 1, wantErr: true, wantDepth: 9},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			limit.Store(tt.limit)
			depth, err := p.Produce(ctx, payloads(tt.name, 2))
			if depth != tt.wantDepth {
				t.Errorf("depth %d, want %d", depth, tt.wantDepth)
			}
			if got := int64(len(streamPayloads(t, rdb, stream))); got != tt.wantDepth {
				t.Errorf("stream length %d, want %d", got, tt.wantDepth)
			}
			if !tt.wantErr {
				if err != nil {
					t.Fatalf("Produce: %v", err)
				}
				return
			}
			var full *queue.QueueFullError
			if !errors.As(err, &full) {
				t.Fatalf("error %v (%T), want *QueueFullError", err, err)
			}
			if !errors.Is(err, queue.ErrQueueFull) {
				t.Errorf("errors.Is(%v, ErrQueueFull) is false", err)
			}
			if full.Depth != tt.wantDepth || full.Limit != tt.limit {
				t.Errorf("QueueFullError{Depth: %d, Limit: %d}, want {%d, %d}", full.Depth, full.Limit, tt.wantDepth, tt.limit)
			}
			if want := fmt.Sprintf("queue full: %d messages, limit %d", tt.wantDepth, tt.limit); err.Error() != want {
				t.Errorf("message %q, want %q", err.Error(), want)
			}
		})
	}
}

// TestProduceCapIsAtomic has many goroutines race to fill a capped stream.
// Each script call checks the length and appends in one step, so a flush is
// admitted only while the stream is below the cap: the stream can pass the
// cap by less than one flush, and a refused request appends nothing.
func TestProduceCapIsAtomic(t *testing.T) {
	const (
		limit      = 1000
		goroutines = 50
		batch      = 30
	)
	tests := []struct {
		name string
		opts queue.ProducerOptions
		// maxFlush is the most payloads one script call can carry: the
		// flusher collects requests while it holds fewer than MaxBatch.
		maxFlush int
	}{
		{name: "flushes of one request", opts: queue.ProducerOptions{MaxBatch: batch, Flushers: 8}, maxFlush: batch},
		{name: "flushes of up to three requests", opts: queue.ProducerOptions{MaxBatch: 3 * batch}, maxFlush: 3*batch - 1 + batch},
		{name: "default options", opts: queue.ProducerOptions{}, maxFlush: 2000 - 1 + batch},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			rdb, prefix := itest.Redis(t)
			stream := prefix + ":ingest_queue"
			opts := tt.opts
			opts.Limit = func() int64 { return limit }
			opts.MetricsPrefix = prefix + ":metrics"
			p := newProducer(t, rdb, stream, opts)

			accepted := make([][]string, goroutines)
			var refused atomic.Int64
			errs := make(chan error, goroutines)
			start := make(chan struct{})
			var wg sync.WaitGroup
			for g := range goroutines {
				wg.Go(func() {
					<-start
					for round := 0; ; round++ {
						pl := payloads(fmt.Sprintf("g%02d-r%03d", g, round), batch)
						_, err := p.Produce(ctx, pl)
						if errors.Is(err, queue.ErrQueueFull) {
							refused.Add(1)
							return
						}
						if err != nil {
							errs <- err
							return
						}
						for _, x := range pl {
							accepted[g] = append(accepted[g], string(x))
						}
					}
				})
			}
			close(start)
			wg.Wait()
			close(errs)
			for err := range errs {
				t.Fatalf("Produce: %v", err)
			}
			if refused.Load() != goroutines {
				t.Fatalf("%d goroutines saw the queue full, want all %d", refused.Load(), goroutines)
			}

			got := streamPayloads(t, rdb, stream)
			if n := len(got); n < limit || n > limit-1+tt.maxFlush {
				t.Errorf("stream length %d, want between %d and %d", n, limit, limit-1+tt.maxFlush)
			}
			// Exactly the accepted payloads are in the stream, each request's
			// contiguous and each goroutine's in the order it produced them.
			total := 0
			for _, a := range accepted {
				total += len(a)
			}
			if len(got) != total {
				t.Fatalf("stream holds %d payloads, accepted requests carried %d", len(got), total)
			}
			next := make([]int, goroutines)
			for i := 0; i < len(got); i += batch {
				var g, round int
				if _, err := fmt.Sscanf(got[i], "g%02d-r%03d-0", &g, &round); err != nil {
					t.Fatalf("entry %d is %q, want the first payload of a request", i, got[i])
				}
				for k := range batch {
					want := accepted[g][next[g]]
					if i+k >= len(got) || got[i+k] != want {
						t.Fatalf("entry %d is not %q: requests interleaved or reordered", i+k, want)
					}
					next[g]++
				}
			}
		})
	}
}

func TestProducerClose(t *testing.T) {
	ctx := context.Background()
	rdb, prefix := itest.Redis(t)
	stream := prefix + ":ingest_queue"
	p := queue.NewProducer(rdb, stream, queue.ProducerOptions{MetricsPrefix: prefix + ":metrics", Flushers: 2})

	// Requests racing with Close are either appended and answered with
	// success, or refused; none is left waiting.
	const callers = 200
	var ok atomic.Int64
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range callers {
		wg.Go(func() {
			<-start
			if _, err := p.Produce(ctx, payloads(fmt.Sprintf("c%03d", i), 1)); err == nil {
				ok.Add(1)
			}
		})
	}
	close(start)
	if err := p.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	waitOrFail(t, &wg, "Produce calls racing with Close did not all return")
	if got := int64(len(streamPayloads(t, rdb, stream))); got != ok.Load() {
		t.Errorf("stream holds %d payloads, %d Produce calls succeeded", got, ok.Load())
	}

	if err := p.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	// After Close every call is refused at once.
	for i := range 50 {
		wg.Go(func() {
			if _, err := p.Produce(ctx, payloads(fmt.Sprintf("late%02d", i), 1)); err == nil {
				t.Errorf("Produce after Close succeeded")
			}
		})
	}
	waitOrFail(t, &wg, "Produce after Close did not return")
}

func waitOrFail(t *testing.T, wg *sync.WaitGroup, msg string) {
	t.Helper()
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal(msg)
	}
}

func TestProduceRedisError(t *testing.T) {
	dead := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", MaxRetries: -1, DialerRetries: 1, DialTimeout: 200 * time.Millisecond})
	t.Cleanup(func() { _ = dead.Close() })
	p := newProducer(t, dead, "mutt_test_unreachable:q", queue.ProducerOptions{})
	_, err := p.Produce(context.Background(), payloads("x", 3))
	if err == nil || errors.Is(err, queue.ErrQueueFull) {
		t.Fatalf("Produce on a dead Redis = %v, want a Redis error", err)
	}
	if !strings.Contains(err.Error(), "appending to mutt_test_unreachable:q") {
		t.Errorf("error %q does not say what was being done", err)
	}
}

// scriptCalls returns how many EVALSHA and EVAL commands the server has run.
func scriptCalls(t testing.TB, rdb *redis.Client) int64 {
	t.Helper()
	info, err := rdb.Info(context.Background(), "commandstats").Result()
	if err != nil {
		t.Fatalf("INFO commandstats: %v", err)
	}
	var total int64
	for line := range strings.SplitSeq(info, "\n") {
		name, rest, ok := strings.Cut(strings.TrimSpace(line), ":")
		if !ok || (name != "cmdstat_evalsha" && name != "cmdstat_eval") {
			continue
		}
		for field := range strings.SplitSeq(rest, ",") {
			if v, ok := strings.CutPrefix(field, "calls="); ok {
				n, err := strconv.ParseInt(v, 10, 64)
				if err != nil {
					t.Fatalf("parsing %q: %v", line, err)
				}
				total += n
			}
		}
	}
	return total
}

// TestGroupCommit checks that concurrent one-payload requests share script
// calls. The command counters are server-wide, so other clients can only
// inflate them; the best of a few rounds is judged.
func TestGroupCommit(t *testing.T) {
	const producers, perProducer = 16, 50
	const payloadCount = producers * perProducer
	ctx := context.Background()
	rdb, prefix := itest.Redis(t)
	best := int64(-1)
	for round := range 5 {
		stream := fmt.Sprintf("%s:q%d", prefix, round)
		p := newProducer(t, rdb, stream, queue.ProducerOptions{MetricsPrefix: prefix + ":metrics"})
		// Load the script so that the count is of EVALSHA calls alone.
		if _, err := p.Produce(ctx, payloads("warm", 1)); err != nil {
			t.Fatalf("Produce: %v", err)
		}
		before := scriptCalls(t, rdb)
		var wg sync.WaitGroup
		start := make(chan struct{})
		for g := range producers {
			wg.Go(func() {
				<-start
				for i := range perProducer {
					if _, err := p.Produce(ctx, [][]byte{fmt.Appendf(nil, "p%02d-%03d", g, i)}); err != nil {
						t.Errorf("Produce: %v", err)
						return
					}
				}
			})
		}
		close(start)
		wg.Wait()
		calls := scriptCalls(t, rdb) - before
		if n := len(streamPayloads(t, rdb, stream)); n != payloadCount+1 {
			t.Fatalf("stream holds %d payloads, want %d", n, payloadCount+1)
		}
		t.Logf("round %d: %d payloads in %d script calls", round, payloadCount, calls)
		if best < 0 || calls < best {
			best = calls
		}
		if best < payloadCount/2 {
			return
		}
	}
	t.Errorf("%d one-payload requests from %d goroutines took %d script calls at best, want fewer than %d",
		payloadCount, producers, best, payloadCount/2)
}
