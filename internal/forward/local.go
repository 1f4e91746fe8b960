package forward

import (
	"context"
	"math"
	"sync"
	"time"
)

// LocalBucket is a TokenBucket held in process, for a site with one
// forwarder process (embedded mode): the same GCRA as the Redis bucket, on
// this process's monotonic clock. It is safe for concurrent use.
type LocalBucket struct {
	now func() time.Time

	mu  sync.Mutex
	tat time.Time // the theoretical arrival time; zero or past: a full bucket
}

var _ TokenBucket = (*LocalBucket)(nil)

// NewLocalBucket returns a full in-process bucket.
func NewLocalBucket() *LocalBucket { return &LocalBucket{now: time.Now} }

// Take grants up to n tokens, issued one every Period/Limit with at most
// Burst piled up.
func (b *LocalBucket) Take(_ context.Context, n int, r Rate) (int, time.Duration, error) {
	interval := float64(r.Period) / float64(r.Limit)
	b.mu.Lock()
	defer b.mu.Unlock()
	now := b.now()
	tat := b.tat
	if tat.Before(now) {
		tat = now
	}
	avail := int(max(0, math.Floor(float64(now.Sub(tat))/interval+float64(r.Burst)+1e-9)))
	granted := min(n, avail)
	if granted > 0 {
		tat = tat.Add(time.Duration(float64(granted) * interval))
		b.tat = tat
	}
	var wait time.Duration
	if granted < n {
		wait = max(time.Duration(math.Ceil(float64(tat.Sub(now))-float64(r.Burst-1)*interval)), time.Microsecond)
	}
	return granted, wait, nil
}

// LocalBreakerStore is a BreakerStore held in process, for a site with one
// forwarder process (embedded mode): the state machine of the Redis store
// under a mutex. It is safe for concurrent use.
type LocalBreakerStore struct {
	now func() time.Time

	mu          sync.Mutex
	state       string
	opened      time.Time
	failures    int64
	probe       string // token of the probe in flight, "" when none
	probeExpiry time.Time
}

var _ BreakerStore = (*LocalBreakerStore)(nil)

// NewLocalBreakerStore returns a CLOSED in-process breaker state.
func NewLocalBreakerStore() *LocalBreakerStore {
	return &LocalBreakerStore{now: time.Now, state: StateClosed}
}

// Before turns an OPEN state past openFor into HALF_OPEN and, in
// HALF_OPEN, lets token take the probe when nobody holds it.
func (s *LocalBreakerStore) Before(_ context.Context, openFor, probeTTL time.Duration, token string) (BreakerCheck, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	c := BreakerCheck{State: s.state, Failures: s.failures}
	if s.state == StateOpen {
		if left := s.opened.Add(openFor).Sub(now); left > 0 {
			c.Left = left
			return c, nil
		}
		s.state, c.State, c.From = StateHalfOpen, StateHalfOpen, StateOpen
	}
	if s.state == StateHalfOpen && (s.probe == "" || !now.Before(s.probeExpiry)) {
		s.probe, s.probeExpiry = token, now.Add(probeTTL)
		c.Probe = true
	}
	return c, nil
}

// After records a batch's results, as the Redis store's script does.
func (s *LocalBreakerStore) After(_ context.Context, delivered bool, failures int, threshold int64, token string) (BreakerChange, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	ch := BreakerChange{From: s.state}
	probe := token != "" && s.probe == token && now.Before(s.probeExpiry)
	if probe {
		s.probe = ""
	}
	switch {
	case delivered:
		s.failures = 0
		if s.state == StateHalfOpen {
			s.state, s.opened = StateClosed, time.Time{}
		}
	case failures > 0 && s.state == StateClosed:
		s.failures += int64(failures)
		if s.failures >= threshold {
			s.state, s.opened = StateOpen, now
		}
	case failures > 0 && s.state == StateHalfOpen && probe:
		s.state, s.opened = StateOpen, now
	}
	ch.To, ch.Failures = s.state, s.failures
	return ch, nil
}

// State reports the state as the next Before would see it, changing
// nothing.
func (s *LocalBreakerStore) State(_ context.Context, openFor time.Duration) (string, int64, error) {
	st := s.status(openFor)
	return st.State, st.Failures, nil
}

// status is State with the time the breaker opened, read under one lock.
func (s *LocalBreakerStore) status(openFor time.Duration) BreakerStatus {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := BreakerStatus{State: s.state, Failures: s.failures}
	if s.state == StateOpen && !s.now().Before(s.opened.Add(openFor)) {
		st.State = StateHalfOpen
	}
	if st.State != StateClosed {
		st.OpenedAt = s.opened
	}
	return st
}
