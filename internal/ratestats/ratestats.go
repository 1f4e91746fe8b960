package ratestats

import (
	"context"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// Key layouts of the ingest counters; they must match the ingestor's.
const (
	minuteLayout = "2006-01-02T15:04"
	hourLayout   = "2006-01-02T15"
)

// Sizes of the windows the report covers.
const (
	minutesRead = 60 // minute keys read: the in-progress minute and the 59 before it
	avgShort    = 15 // minutes in the short average
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

// Compute builds the report for now with one MGET of the 60 minute keys
// (now back to now-59 min) and the 24 hour keys (now back to now-23 h).
//
// The averages keep the original semantics: each is the mean over the
// minute keys of its window that exist (a minute without traffic has no
// key, so sparse traffic inflates them), and the current rate is the count
// of the in-progress minute. A key that holds something other than an
// integer counts as 0. Chart labels are "HH:00" (UTC) and each point is
// that hour's total divided by 60.
func Compute(ctx context.Context, rdb redis.UniversalClient, metricsPrefix string, now time.Time) (Report, error) {
	now = now.UTC()
	keys := make([]string, 0, minutesRead+hoursRead)
	for i := range minutesRead {
		keys = append(keys, metricsPrefix+":1m:"+now.Add(-time.Duration(i)*time.Minute).Format(minuteLayout))
	}
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
	minutes := vals[:minutesRead]
	r := Report{
		Summary: Summary{
			CurrentRate1m: round2(meanExisting(minutes[:1])),
			AvgRate15m:    round2(meanExisting(minutes[:avgShort])),
			AvgRate1h:     round2(meanExisting(minutes)),
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
		total, _ := toCount(vals[minutesRead+j])
		r.Chart24h.Data[i] = round2(total / 60)
	}
	return r, nil
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
