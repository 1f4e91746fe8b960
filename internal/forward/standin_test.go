package forward

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/mutt-go/mutt/internal/itest"
)

// standIn is the Sender under a decorator in tests: it answers each alert
// with result (Delivered when nil) and records what it was given and when.
type standIn struct {
	result func(Alert) Result
	gate   chan struct{} // when non-nil, Send waits until it is closed

	mu     sync.Mutex
	calls  int
	alerts []Alert
	times  []time.Time
}

func (s *standIn) Send(_ context.Context, alerts []Alert) []Result {
	now := time.Now()
	s.mu.Lock()
	s.calls++
	s.alerts = append(s.alerts, alerts...)
	for range alerts {
		s.times = append(s.times, now)
	}
	s.mu.Unlock()
	if s.gate != nil {
		<-s.gate
	}
	res := make([]Result, len(alerts))
	for i, a := range alerts {
		if s.result != nil {
			res[i] = s.result(a)
		} else {
			res[i] = Result{Outcome: Delivered, Status: 200}
		}
	}
	return res
}

func (s *standIn) counts() (calls, alerts int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls, len(s.alerts)
}

// always answers every alert with r.
func always(r Result) func(Alert) Result { return func(Alert) Result { return r } }

// newRedisClient opens another connection pool to the test Redis, standing
// for another forwarder process.
func newRedisClient(t testing.TB) *redis.Client {
	t.Helper()
	opts, err := redis.ParseURL(itest.RedisURL())
	if err != nil {
		t.Fatal(err)
	}
	c := redis.NewClient(opts)
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// deadRedis is a client for an address where nothing listens.
func deadRedis(t testing.TB) *redis.Client {
	t.Helper()
	c := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", DialTimeout: 200 * time.Millisecond, MaxRetries: -1, DialerRetries: 1})
	t.Cleanup(func() { _ = c.Close() })
	return c
}

func constInt(v int64) func() int64                      { return func() int64 { return v } }
func constDuration(d time.Duration) func() time.Duration { return func() time.Duration { return d } }
