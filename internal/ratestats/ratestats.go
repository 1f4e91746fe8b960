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

// Compute builds the report: the minute buckets are found with SCAN (they
// expire after two hours, so there are at most about 120), the newest 60
// read with one MGET, and the 24 hour keys (now back to now-23 h) with
// another.
//
// The summary keeps the original's semantics: a minute without traffic has
// no bucket, so the windows are the newest existing buckets, not clock
// minutes. The current rate is the newest bucket (in a quiet minute, the
// last minute that had traffic), the 15-minute average the mean of the
// newest 15 buckets and the hourly average the mean of the newest 60;
// sparse traffic therefore inflates the averages. A bucket that holds
// something other than an integer counts as 0. Chart labels are "HH:00"
// (UTC) and each point is that hour's total divided by 60.
func Compute(ctx context.Context, rdb redis.UniversalClient, metricsPrefix string, now time.Time) (Report, error) {
	now = now.UTC()
	minuteKeys, err := newestMinuteKeys(ctx, rdb, metricsPrefix+":1m:", minutesRead)
	if err != nil {
		return Report{}, err
	}
	keys := make([]string, 0, len(minuteKeys)+hoursRead)
	keys = append(keys, minuteKeys...)
	hours := make([]time.Time, hoursRead)
	for i := range hoursRead {
		hours[i] = now.Add(-time.Duration(i) * time.Hour)
		keys = append(keys, metricsPrefix+":1h:"+hours[i].Format(hourLayout))
	}
	vals, err := rdb.MGet(ctx, keys...).Result()
	if err != nil {
		return Report{}, fmt.Errorf("reading ingest rate counters: %w", err)
	}
	if len(vals) != len(keys) {
		return Report{}, fmt.Errorf("reading ingest rate counters: got %d values for %d keys", len(vals), len(keys))
	}
	minutes := vals[:len(minuteKeys)]
	r := Report{
		Summary: Summary{
			CurrentRate1m: round2(meanExisting(minutes[:min(1, len(minutes))])),
			AvgRate15m:    round2(meanExisting(minutes[:min(avgShort, len(minutes))])),
			AvgRate1h:     round2(meanExisting(minutes)),
		},
		Chart24h: Chart{
			Labels: make([]string, hoursRead),
			Data:   make([]float64, hoursRead),
		},
	}
	// Oldest first: position 0 is the hour 23 hours ago.
	hourVals := vals[len(minuteKeys):]
	for i := range hoursRead {
		j := hoursRead - 1 - i
		r.Chart24h.Labels[i] = hours[j].Format("15") + ":00"
		total, _ := toCount(hourVals[j])
		r.Chart24h.Data[i] = round2(total / 60)
	}
	return r, nil
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

// meanExisting is the mean of the counters among vals whose key exists,
// 0 when none does.
func meanExisting(vals []any) float64 {
	sum, n := 0.0, 0
	for _, v := range vals {
		c, exists := toCount(v)
		if !exists {
			continue
		}
		sum += c
		n++
	}
	if n == 0 {
		return 0
	}
	return sum / float64(n)
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
