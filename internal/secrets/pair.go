package secrets

import (
	"log/slog"
	"sync"
)

// Pair holds the CURRENT and NEXT values of a rotating credential (a Redis
// or PostgreSQL password) and remembers which of them the backing store
// last accepted. Connection dialers ask it for the candidates in order for
// every new connection; a secret provider replaces both values with Set
// while connections keep running.
//
// A Pair is safe for concurrent use. Its printing methods never reveal the
// values.
type Pair struct {
	mu        sync.Mutex
	current   Secret
	next      Secret
	preferred Secret        // the value last accepted; empty before any
	refresh   chan struct{} // capacity 1: requests coalesce
}

// NewPair returns a Pair holding current and next; either may be unset.
func NewPair(current, next Secret) *Pair {
	return &Pair{current: current, next: next, refresh: make(chan struct{}, 1)}
}

// Set replaces both values. The remembered preference survives when the
// accepted value is still one of the two (as after NEXT is promoted to
// CURRENT), and is dropped otherwise.
func (p *Pair) Set(current, next Secret) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.current, p.next = current, next
	if p.preferred != current && p.preferred != next {
		p.preferred = Secret{}
	}
}

// Current returns the CURRENT value.
func (p *Pair) Current() Secret {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.current
}

// Next returns the NEXT value.
func (p *Pair) Next() Secret {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.next
}

// IsSet reports whether at least one of the two values is set.
func (p *Pair) IsSet() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.current.IsSet() || p.next.IsSet()
}

// Candidates returns the set values to try, best first: the one last
// accepted, then CURRENT, then NEXT, without repeats.
func (p *Pair) Candidates() []Secret {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make([]Secret, 0, 2)
	for _, s := range []Secret{p.preferred, p.current, p.next} {
		if !s.IsSet() {
			continue
		}
		dup := false
		for _, o := range out {
			if o == s {
				dup = true
			}
		}
		if !dup {
			out = append(out, s)
		}
	}
	return out
}

// Accepted records that the store accepted s. It reports whether that
// changes the value tried first, so the caller can log a switch once
// rather than per connection.
func (p *Pair) Accepted(s Secret) (switched bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	first := p.preferred
	if !first.IsSet() {
		first = p.current
		if !first.IsSet() {
			first = p.next
		}
	}
	p.preferred = s
	return s != first
}

// IsNext reports whether s is the NEXT value (and not also CURRENT), for
// log messages that must say which one was used without showing it.
func (p *Pair) IsNext(s Secret) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return s.IsSet() && s == p.next && s != p.current
}

// RequestRefresh asks whoever provides the values to fetch them again,
// because the store refused both. It never blocks; requests made before
// the provider gets to them coalesce into one.
func (p *Pair) RequestRefresh() {
	select {
	case p.refresh <- struct{}{}:
	default:
	}
}

// RefreshRequests delivers the requests made with RequestRefresh.
func (p *Pair) RefreshRequests() <-chan struct{} { return p.refresh }

// String implements fmt.Stringer without revealing the values.
func (p *Pair) String() string { return "secrets.Pair(" + redacted + ")" }

// GoString implements fmt.GoStringer without revealing the values.
func (p *Pair) GoString() string { return p.String() }

// MarshalText implements encoding.TextMarshaler without revealing the values.
func (p *Pair) MarshalText() ([]byte, error) { return []byte(redacted), nil }

// LogValue implements slog.LogValuer without revealing the values.
func (p *Pair) LogValue() slog.Value { return slog.StringValue(redacted) }
