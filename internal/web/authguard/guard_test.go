package authguard

import (
	"net/http/httptest"
	"strconv"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

type clock struct{ t time.Time }

func (c *clock) now() time.Time      { return c.t }
func (c *clock) add(d time.Duration) { c.t = c.t.Add(d) }

func TestGuard(t *testing.T) {
	c := &clock{t: time.Unix(1_700_000_000, 0)}
	failures := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "f"}, []string{"reason"})
	throttled := prometheus.NewCounter(prometheus.CounterOpts{Name: "t"})
	g := New(Options{Burst: 3, Refill: 10 * time.Second, MaxClients: 4, Failures: failures, Throttled: throttled, Now: c.now})
	r := httptest.NewRequest("GET", "/", nil)
	r.RemoteAddr = "192.0.2.1:5000"

	for i := range 3 {
		if _, ok := g.Allow(r); !ok {
			t.Fatalf("blocked after %d failures", i)
		}
		first := g.Fail(r, "bad_key")
		if first != (i == 2) {
			t.Errorf("failure %d: first block %v", i+1, first)
		}
	}
	wait, ok := g.Allow(r)
	if ok || wait != 10*time.Second {
		t.Fatalf("after the burst: %v %v", wait, ok)
	}
	if RetryAfter(wait) != "10" || RetryAfter(1500*time.Millisecond) != "2" || RetryAfter(0) != "1" {
		t.Errorf("RetryAfter %q", RetryAfter(wait))
	}
	// Another client is not affected, nor is the same host on another port.
	other := httptest.NewRequest("GET", "/", nil)
	other.RemoteAddr = "192.0.2.2:5000"
	if _, ok := g.Allow(other); !ok {
		t.Error("another client is blocked")
	}
	r.RemoteAddr = "192.0.2.1:6000"
	if _, ok := g.Allow(r); ok {
		t.Error("a new port escapes the block")
	}
	// Counting without a token (a missing key) never blocks.
	for range 100 {
		g.Count("missing")
	}
	if _, ok := g.Allow(other); !ok {
		t.Error("counted failures blocked a client")
	}
	c.add(4 * time.Second)
	if wait, ok := g.Allow(r); ok || wait != 6*time.Second {
		t.Errorf("partly refilled: %v %v", wait, ok)
	}
	c.add(6 * time.Second)
	if _, ok := g.Allow(r); !ok {
		t.Error("still blocked after a refill")
	}
	if got := testutil.ToFloat64(failures.WithLabelValues("bad_key")); got != 3 {
		t.Errorf("bad_key failures %v", got)
	}
	if got := testutil.ToFloat64(failures.WithLabelValues("missing")); got != 100 {
		t.Errorf("missing failures %v", got)
	}
	if got := testutil.ToFloat64(throttled); got != 3 {
		t.Errorf("throttled %v", got)
	}
}

func TestGuardIsBounded(t *testing.T) {
	c := &clock{t: time.Unix(1_700_000_000, 0)}
	g := New(Options{Burst: 1, Refill: time.Minute, MaxClients: 100, Now: c.now})
	r := httptest.NewRequest("GET", "/", nil)
	for i := range 1000 {
		r.RemoteAddr = "10.0." + strconv.Itoa(i/250) + "." + strconv.Itoa(i%250) + ":1"
		g.Fail(r, "bad_key")
		c.add(time.Millisecond)
	}
	if n := g.Len(); n > 100 {
		t.Errorf("%d clients tracked, bound 100", n)
	}
	// The newest offenders are still blocked.
	r.RemoteAddr = "10.0.3.249:1"
	if _, ok := g.Allow(r); ok {
		t.Error("the newest offender was evicted")
	}
}

func TestClientOf(t *testing.T) {
	tests := []struct{ addr, want string }{
		{"192.0.2.1:80", "192.0.2.1"},
		{"[2001:db8:1:2:3:4:5:6]:80", "2001:db8:1:2::"},
		{"[2001:db8:1:2:ffff::1]:443", "2001:db8:1:2::"},
		{"[::ffff:192.0.2.1]:80", "192.0.2.1"},
		{"[fe80::1%eth0]:80", "fe80::"},
		{"192.0.2.7", "192.0.2.7"},
		{"@", "invalid IP"},
	}
	for _, tt := range tests {
		if got := clientOf(tt.addr).String(); got != tt.want {
			t.Errorf("clientOf(%q) = %q, want %q", tt.addr, got, tt.want)
		}
	}
}

func BenchmarkAllowCorrectKey(b *testing.B) {
	g := New(Options{})
	bad := httptest.NewRequest("GET", "/", nil)
	for i := range 1000 {
		bad.RemoteAddr = "10.0." + strconv.Itoa(i/250) + "." + strconv.Itoa(i%250) + ":1"
		g.Fail(bad, "bad_key")
	}
	r := httptest.NewRequest("GET", "/", nil)
	r.RemoteAddr = "192.0.2.1:40000"
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, ok := g.Allow(r); !ok {
				b.Fatal("refused")
			}
		}
	})
}
