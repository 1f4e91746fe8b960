package authguard

import (
	"math"
	"net/http"
	"net/netip"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Defaults: ten failures at once, then one every six seconds (ten a
// minute), for up to 10,000 clients.
const (
	DefaultBurst      = 10
	DefaultRefill     = 6 * time.Second
	DefaultMaxClients = 10000
)

// Options configure a Guard; zero values take the defaults.
type Options struct {
	// Burst is how many failures a client may make before it is refused.
	Burst int
	// Refill is how long it takes for one failure to be forgiven.
	Refill time.Duration
	// MaxClients bounds the clients tracked; when full, clients whose
	// bucket is full again are dropped first, then the longest quiet.
	MaxClients int
	// Failures, when not nil, counts every failure by its reason label.
	Failures *prometheus.CounterVec
	// Throttled, when not nil, counts the requests refused with 429.
	Throttled prometheus.Counter
	// Now is the clock (time.Now when nil).
	Now func() time.Time
}

// bucket is one client's failure allowance.
type bucket struct {
	tokens float64
	at     time.Time // when tokens was last brought up to date
}

// Guard is the per-client failure throttle. It is safe for concurrent use.
type Guard struct {
	burst   float64
	refill  time.Duration
	max     int
	fails   *prometheus.CounterVec
	refused prometheus.Counter
	now     func() time.Time

	mu      sync.Mutex
	clients map[netip.Addr]*bucket
}

// New returns a Guard.
func New(o Options) *Guard {
	if o.Burst <= 0 {
		o.Burst = DefaultBurst
	}
	if o.Refill <= 0 {
		o.Refill = DefaultRefill
	}
	if o.MaxClients <= 0 {
		o.MaxClients = DefaultMaxClients
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return &Guard{burst: float64(o.Burst), refill: o.Refill, max: o.MaxClients, fails: o.Failures,
		refused: o.Throttled, now: o.Now, clients: map[netip.Addr]*bucket{}}
}

// level brings b up to date at now and returns its tokens.
func (g *Guard) level(b *bucket, now time.Time) float64 {
	if d := now.Sub(b.at); d > 0 {
		b.tokens = math.Min(g.burst, b.tokens+float64(d)/float64(g.refill))
		b.at = now
	}
	return b.tokens
}

// Allow reports whether the request's client may try a credential now; when
// it may not, it counts the refusal and returns how long until it may.
// Call it before comparing a presented key, so that a refused client learns
// nothing about the key it sent.
func (g *Guard) Allow(r *http.Request) (wait time.Duration, ok bool) {
	client := clientOf(r.RemoteAddr)
	now := g.now()
	g.mu.Lock()
	b, found := g.clients[client]
	var tokens float64
	if found {
		tokens = g.level(b, now)
	}
	g.mu.Unlock()
	if !found || tokens >= 1 {
		return 0, true
	}
	if g.refused != nil {
		g.refused.Inc()
	}
	return time.Duration((1 - tokens) * float64(g.refill)), false
}

// Fail records a wrong credential from the request's client, counted under
// reason, and reports whether it used the client's last token (so that a
// caller can log the start of a block once rather than every failure).
func (g *Guard) Fail(r *http.Request, reason string) (blocked bool) {
	g.Count(reason)
	client := clientOf(r.RemoteAddr)
	now := g.now()
	g.mu.Lock()
	defer g.mu.Unlock()
	b, found := g.clients[client]
	if !found {
		g.makeRoom(now)
		b = &bucket{tokens: g.burst, at: now}
		g.clients[client] = b
	}
	before := g.level(b, now)
	b.tokens = math.Max(0, before-1)
	return before >= 1 && b.tokens < 1
}

// Count counts a failure that costs no token: one that guessing cannot
// profit from, such as a request with no credential at all.
func (g *Guard) Count(reason string) {
	if g.fails != nil {
		g.fails.WithLabelValues(reason).Inc()
	}
}

// Len is the number of clients tracked.
func (g *Guard) Len() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return len(g.clients)
}

// makeRoom keeps the map under its bound before an insert: clients whose
// bucket is full again go first (they are the same as unknown clients),
// then the one quiet the longest. g.mu is held.
func (g *Guard) makeRoom(now time.Time) {
	if len(g.clients) < g.max {
		return
	}
	var oldest netip.Addr
	var oldestAt time.Time
	found := false
	for c, b := range g.clients {
		if g.level(b, now) >= g.burst {
			delete(g.clients, c)
			continue
		}
		if !found || b.at.Before(oldestAt) {
			oldest, oldestAt, found = c, b.at, true
		}
	}
	if len(g.clients) >= g.max && found {
		delete(g.clients, oldest)
	}
}

// RetrySeconds is wait in whole seconds, rounded up, at least 1.
func RetrySeconds(wait time.Duration) int {
	return max(1, int(math.Ceil(wait.Seconds())))
}

// RetryAfter is the Retry-After header value for wait (RetrySeconds).
func RetryAfter(wait time.Duration) string { return strconv.Itoa(RetrySeconds(wait)) }

// clientOf is the client a remote address belongs to: the IP, or for IPv6
// its /64, since one host commonly holds a whole /64. Addresses that are
// not IP (a Unix socket) all count as one client, the zero Addr. It does
// not allocate.
func clientOf(remoteAddr string) netip.Addr {
	var ip netip.Addr
	if ap, err := netip.ParseAddrPort(remoteAddr); err == nil {
		ip = ap.Addr()
	} else if a, err := netip.ParseAddr(remoteAddr); err == nil {
		ip = a
	} else {
		return netip.Addr{}
	}
	ip = ip.Unmap().WithZone("")
	if ip.Is6() {
		p, _ := ip.Prefix(64)
		return p.Addr()
	}
	return ip
}
