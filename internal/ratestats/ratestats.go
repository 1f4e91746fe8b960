package ratestats

import (
	"context"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/mutt-go/mutt/internal/rediskeys"
)

// Key layouts of the ingest counters; they must match the ingestor's.
const (
	minuteLayout = "2006-01-02T15:04"
	hourLayout   = "2006-01-02T15"
)

// Sizes of the windows the report covers.
const (
	minutesRead = 60 // newest minute buckets read
	avgShort    = 15 // newest minute buckets in the short average
	hoursRead   = 24 // hour keys read for the chart
)

// Summary holds the ingest rates, in events per minute, rounded to two
// decimal places.
type Summary struct {
	CurrentRate1m float64 `json:"current_rate_1m"`
	AvgRate15m    float64 `json:"avg_rate_15m"`
	AvgRate1h     float64 `json:"avg_rate_1h"`
}

// Chart is a labelled series, oldest point first.
type Chart struct {
	Labels []string  `json:"labels"`
	Data   []float64 `json:"data"`
}

// Report is the body of GET /api/v1/metrics.
type Report struct {
	Summary  Summary `json:"summary"`
	Chart24h Chart   `json:"chart_24h"`
}

// Source reads the ingest counters: Redis (RedisSource), or the embedded
// database. Implementations are safe for concurrent use.
type Source interface {
	// Counts returns the counts of the newest minutes that have a count,
	// newest first and at most minutes of them, and the totals of the
	// hours = len(hourStarts) clock hours that start at hourStarts (UTC),
	// 0 for an hour without traffic.
	Counts(ctx context.Context, minutes int, hourStarts []time.Time) (minuteCounts, hourTotals []float64, err error)
}

// Compute builds the report from the Redis counters under metricsPrefix
// (ComputeFrom a RedisSource).
func Compute(ctx context.Context, rdb redis.UniversalClient, metricsPrefix string, now time.Time) (Report, error) {
	return ComputeFrom(ctx, NewRedisSource(rdb, metricsPrefix), now)
}

// ComputeFrom builds the report from src: the newest 60 minute counts and
// the 24 clock hours from now back to now-23 h.
//
// The summary keeps the original's semantics: a minute without traffic has
// no bucket, so the windows are the newest existing buckets, not clock
// minutes. The current rate is the newest bucket (in a quiet minute, the
// last minute that had traffic), the 15-minute average the mean of the
// newest 15 buckets and the hourly average the mean of the newest 60;
// sparse traffic therefore inflates the averages. Chart labels are "HH:00"
// (UTC) and each point is that hour's total divided by 60.
func ComputeFrom(ctx context.Context, src Source, now time.Time) (Report, error) {
	now = now.UTC()
	hours := make([]time.Time, hoursRead)
	for i := range hoursRead {
		hours[i] = now.Add(-time.Duration(i) * time.Hour).Truncate(time.Hour)
	}
	minutes, hourTotals, err := src.Counts(ctx, minutesRead, hours)
	if err != nil {
		return Report{}, err
	}
	if len(hourTotals) != hoursRead || len(minutes) > minutesRead {
		return Report{}, fmt.Errorf("reading ingest rate counters: got %d minutes and %d hours for %d and %d",
			len(minutes), len(hourTotals), minutesRead, hoursRead)
	}
	r := Report{
		Summary: Summary{
			CurrentRate1m: round2(mean(minutes[:min(1, len(minutes))])),
			AvgRate15m:    round2(mean(minutes[:min(avgShort, len(minutes))])),
			AvgRate1h:     round2(mean(minutes)),
		},
		Chart24h: Chart{
			Labels: make([]string, hoursRead),
			Data:   make([]float64, hoursRead),
		},
	}
	// Oldest first: position 0 is the hour 23 hours ago.
	for i := range hoursRead {
		j := hoursRead - 1 - i
		r.Chart24h.Labels[i] = hours[j].Format("15") + ":00"
		r.Chart24h.Data[i] = round2(hourTotals[j] / 60)
	}
	return r, nil
}

// mean is the mean of vals, 0 when there are none.
func mean(vals []float64) float64 {
	if len(vals) == 0 {
		return 0
	}
	sum := 0.0
	for _, v := range vals {
		sum += v
	}
	return sum / float64(len(vals))
}

// RedisSource reads the counters the ingestor increments in Redis: the
// minute buckets are found with SCAN (they expire after two hours, so
// there are at most about 120), and the newest 60 and the hour keys read
// with one MGET. A bucket that holds something other than an integer
// counts as 0.
type RedisSource struct {
	rdb    redis.UniversalClient
	prefix string
}

var _ Source = (*RedisSource)(nil)

// NewRedisSource returns the counters under metricsPrefix.
func NewRedisSource(rdb redis.UniversalClient, metricsPrefix string) *RedisSource {
	return &RedisSource{rdb: rdb, prefix: metricsPrefix}
}

// Counts reads the counters with one SCAN and one MGET.
func (s *RedisSource) Counts(ctx context.Context, minutes int, hourStarts []time.Time) ([]float64, []float64, error) {
	minuteKeys, err := newestMinuteKeys(ctx, s.rdb, s.prefix+":1m:", minutes)
	if err != nil {
		return nil, nil, err
	}
	keys := make([]string, 0, len(minuteKeys)+len(hourStarts))
	keys = append(keys, minuteKeys...)
	for _, h := range hourStarts {
		keys = append(keys, s.prefix+":1h:"+h.UTC().Format(hourLayout))
	}
	vals, err := s.rdb.MGet(ctx, keys...).Result()
	if err != nil {
		return nil, nil, fmt.Errorf("reading ingest rate counters: %w", err)
	}
	if len(vals) != len(keys) {
		return nil, nil, fmt.Errorf("reading ingest rate counters: got %d values for %d keys", len(vals), len(keys))
	}
	counts := make([]float64, 0, len(minuteKeys))
	for _, v := range vals[:len(minuteKeys)] {
		if c, exists := toCount(v); exists { // gone since the SCAN: no bucket
			counts = append(counts, c)
		}
	}
	totals := make([]float64, len(hourStarts))
	for i, v := range vals[len(minuteKeys):] {
		totals[i], _ = toCount(v)
	}
	return counts, totals, nil
}

// newestMinuteKeys returns the newest n minute buckets under prefix,
// newest first. Names whose suffix is not a minute are ignored; the fixed
// layout makes lexical order chronological.
func newestMinuteKeys(ctx context.Context, rdb redis.UniversalClient, prefix string, n int) ([]string, error) {
	all, err := rediskeys.WithPrefix(ctx, rdb, prefix)
	if err != nil {
		return nil, fmt.Errorf("listing ingest rate counters: %w", err)
	}
	keys := make([]string, 0, min(len(all), 2*n))
	for i := len(all) - 1; i >= 0 && len(keys) < n; i-- {
		if _, err := time.Parse(minuteLayout, strings.TrimPrefix(all[i], prefix)); err == nil {
			keys = append(keys, all[i])
		}
	}
	return keys, nil
}

// toCount converts one MGET value to a count. exists is false for a
// missing key; a value that is not an integer counts as 0.
func toCount(v any) (count float64, exists bool) {
	s, ok := v.(string)
	if !ok {
		return 0, v != nil
	}
	n, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
	if err != nil {
		return 0, true
	}
	return float64(n), true
}

// round2 rounds x to two decimal places.
func round2(x float64) float64 {
	return math.Round(x*100) / 100
}
