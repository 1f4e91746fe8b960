package ratestats_test

import (
	"fmt"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/mutt-go/mutt/internal/itest"
	"github.com/mutt-go/mutt/internal/ratestats"
)

// fillMinutes sets every minute counter of the last 62 minutes to n, so
// that the rates are n whatever minute the cache computes in.
func fillMinutes(t *testing.T, rdb *redis.Client, prefix string, n int) {
	t.Helper()
	now := time.Now().UTC()
	for i := -1; i <= 61; i++ {
		k := fmt.Sprintf("%s:1m:%s", prefix, now.Add(-time.Duration(i)*time.Minute).Format("2006-01-02T15:04"))
		if err := rdb.Set(t.Context(), k, strconv.Itoa(n), time.Hour).Err(); err != nil {
			t.Fatal(err)
		}
	}
}

func TestCacheServesWithinTTL(t *testing.T) {
	rdb, prefix := itest.Redis(t)
	prefix += ":metrics"
	fillMinutes(t, rdb, prefix, 5)
	c := ratestats.NewCache(rdb, prefix, time.Hour)

	first, cached, err := c.Get(t.Context())
	if err != nil || cached {
		t.Fatalf("first Get: cached=%v err=%v, want a fresh report", cached, err)
	}
	if first.Summary.AvgRate1h != 5 {
		t.Fatalf("avg_rate_1h = %v, want 5", first.Summary.AvgRate1h)
	}
	first.Chart24h.Labels[0] = "changed by caller"

	fillMinutes(t, rdb, prefix, 7)
	second, cached, err := c.Get(t.Context())
	if err != nil || !cached {
		t.Fatalf("second Get: cached=%v err=%v, want the cached report", cached, err)
	}
	if second.Summary.AvgRate1h != 5 {
		t.Errorf("cached avg_rate_1h = %v, want 5 (the value before the change)", second.Summary.AvgRate1h)
	}
	if second.Chart24h.Labels[0] == "changed by caller" {
		t.Error("a caller's change reached the cached report")
	}
}

func TestCacheRecomputesAfterTTL(t *testing.T) {
	rdb, prefix := itest.Redis(t)
	prefix += ":metrics"
	fillMinutes(t, rdb, prefix, 5)
	c := ratestats.NewCache(rdb, prefix, 20*time.Millisecond)
	if _, _, err := c.Get(t.Context()); err != nil {
		t.Fatal(err)
	}
	fillMinutes(t, rdb, prefix, 7)
	itest.Eventually(t, 5*time.Second, "cache never recomputed", func() bool {
		r, cached, err := c.Get(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		return !cached && r.Summary.AvgRate1h == 7
	})
}

func TestCacheConcurrentGets(t *testing.T) {
	rdb, prefix := itest.Redis(t)
	prefix += ":metrics"
	fillMinutes(t, rdb, prefix, 3)
	c := ratestats.NewCache(rdb, prefix, time.Hour)
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		fresh int
	)
	for range 8 {
		wg.Go(func() {
			r, cached, err := c.Get(t.Context())
			if err != nil {
				t.Error(err)
				return
			}
			if r.Summary.AvgRate1h != 3 {
				t.Errorf("avg_rate_1h = %v, want 3", r.Summary.AvgRate1h)
			}
			mu.Lock()
			if !cached {
				fresh++
			}
			mu.Unlock()
		})
	}
	wg.Wait()
	if fresh != 1 {
		t.Errorf("%d of 8 concurrent Gets computed the report, want 1", fresh)
	}
}
