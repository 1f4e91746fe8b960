package ratestats

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/redis/go-redis/v9"
)

// Cache serves a computed Report for a TTL so that dashboards polling the
// rate do not each cost a Redis round trip. It is safe for concurrent use;
// concurrent misses wait for one computation instead of each running one.
type Cache struct {
	src Source
	ttl time.Duration
	now func() time.Time

	// sem is a one-slot lock, taken with a select so that a caller whose
	// context ends stops waiting; it guards report and computedAt.
	sem        chan struct{}
	report     Report
	computedAt time.Time
	valid      bool
}

// NewCache returns a cache of the report for the counters under
// metricsPrefix that recomputes it when it is older than ttl.
func NewCache(rdb redis.UniversalClient, metricsPrefix string, ttl time.Duration) *Cache {
	return NewCacheFrom(NewRedisSource(rdb, metricsPrefix), ttl)
}

// NewCacheFrom returns a cache of the report computed from src that
// recomputes it when it is older than ttl.
func NewCacheFrom(src Source, ttl time.Duration) *Cache {
	return &Cache{src: src, ttl: ttl, now: time.Now, sem: make(chan struct{}, 1)}
}

// Get returns the report, computing it when the cached one is missing or
// older than the TTL; cached says whether it came from the cache. A
// failed computation is not cached.
func (c *Cache) Get(ctx context.Context) (r Report, cached bool, err error) {
	select {
	case c.sem <- struct{}{}:
	case <-ctx.Done():
		return Report{}, false, fmt.Errorf("waiting for the ingest rate cache: %w", ctx.Err())
	}
	defer func() { <-c.sem }()
	now := c.now()
	if c.valid && now.Sub(c.computedAt) < c.ttl {
		return c.report.clone(), true, nil
	}
	r, err = ComputeFrom(ctx, c.src, now)
	if err != nil {
		return Report{}, false, err
	}
	c.report, c.computedAt, c.valid = r, now, true
	return r.clone(), false, nil
}

// clone copies r so that a caller changing its chart cannot change the
// cached one.
func (r Report) clone() Report {
	r.Chart24h.Labels = slices.Clone(r.Chart24h.Labels)
	r.Chart24h.Data = slices.Clone(r.Chart24h.Data)
	return r
}
