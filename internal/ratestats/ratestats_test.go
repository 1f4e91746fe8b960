package ratestats_test

import (
	"context"
	"encoding/json"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/mutt-go/mutt/internal/itest"
	"github.com/mutt-go/mutt/internal/ratestats"
)

// setKeys writes counters (value as stored) under prefix.
func setKeys(t *testing.T, rdb *redis.Client, prefix string, kv map[string]string) {
	t.Helper()
	for k, v := range kv {
		if err := rdb.Set(t.Context(), prefix+k, v, time.Hour).Err(); err != nil {
			t.Fatalf("setting %s: %v", k, err)
		}
	}
}

func TestCompute(t *testing.T) {
	now := time.Date(2025, 11, 10, 10, 30, 20, 0, time.UTC)
	wantLabels := []string{
		"11:00", "12:00", "13:00", "14:00", "15:00", "16:00", "17:00", "18:00", "19:00", "20:00", "21:00", "22:00",
		"23:00", "00:00", "01:00", "02:00", "03:00", "04:00", "05:00", "06:00", "07:00", "08:00", "09:00", "10:00",
	}
	tests := []struct {
		name        string
		keys        map[string]string
		now         time.Time
		wantSummary ratestats.Summary
		wantData    map[int]float64 // chart points that are not 0, by position
	}{
		{
			name: "known counters",
			keys: map[string]string{
				":1m:2025-11-10T10:30":   "12",      // in progress: the newest bucket
				":1m:2025-11-10T10:25":   "8",       // the windows are buckets, not minutes:
				":1m:2025-11-10T10:20":   "garbage", // exists, counts as 0
				":1m:2025-11-10T10:10":   "30",      // so all five are among the newest 15
				":1m:2025-11-10T09:31":   "10",
				":1m:2025-11-10Tgarbage": "1000", // not a minute: ignored
				":1h:2025-11-10T10":      "600",
				":1h:2025-11-10T09":      "90",
				":1h:2025-11-09T11":      "61",  // the oldest hour read
				":1h:2025-11-09T10":      "999", // 24 hours ago: outside
				":1h:2025-11-10T03":      "x",
			},
			now:         now,
			wantSummary: ratestats.Summary{CurrentRate1m: 12, AvgRate15m: 12, AvgRate1h: 12},
			wantData:    map[int]float64{0: 1.02, 22: 1.5, 23: 10},
		},
		{
			name:        "no keys",
			now:         now,
			wantSummary: ratestats.Summary{},
		},
		{
			name: "quiet current minute",
			keys: map[string]string{
				":1m:2025-11-10T10:29": "3",
				":1m:2025-11-10T10:00": "7",
			},
			now: now,
			// The current rate is the newest bucket, not 0 for the quiet minute.
			wantSummary: ratestats.Summary{CurrentRate1m: 3, AvgRate15m: 5, AvgRate1h: 5},
		},
		{
			name: "garbage everywhere",
			keys: map[string]string{
				":1m:2025-11-10T10:30": "1.5",
				":1m:2025-11-10T10:29": "",
				":1h:2025-11-10T10":    "lots",
			},
			now:         now,
			wantSummary: ratestats.Summary{},
		},
		{
			name: "local clock is read as UTC",
			keys: map[string]string{
				":1m:2025-11-10T10:30": "4",
				":1h:2025-11-10T10":    "120",
			},
			now:         now.In(time.FixedZone("UTC+5", 5*3600)),
			wantSummary: ratestats.Summary{CurrentRate1m: 4, AvgRate15m: 4, AvgRate1h: 4},
			wantData:    map[int]float64{23: 2},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rdb, prefix := itest.Redis(t)
			prefix += ":metrics"
			setKeys(t, rdb, prefix, tt.keys)
			got, err := ratestats.Compute(t.Context(), rdb, prefix, tt.now)
			if err != nil {
				t.Fatalf("Compute: %v", err)
			}
			if got.Summary != tt.wantSummary {
				t.Errorf("summary = %+v, want %+v", got.Summary, tt.wantSummary)
			}
			if !slices.Equal(got.Chart24h.Labels, wantLabels) {
				t.Errorf("labels = %v, want %v", got.Chart24h.Labels, wantLabels)
			}
			wantData := make([]float64, 24)
			for i, v := range tt.wantData {
				wantData[i] = v
			}
			if !slices.Equal(got.Chart24h.Data, wantData) {
				t.Errorf("data = %v, want %v", got.Chart24h.Data, wantData)
			}
		})
	}
}

// TestComputeSparseMinutes writes 70 buckets, one every other minute and
// none in the last three, holding 1 (newest) to 70 (oldest): the current
// rate is the newest bucket, the averages are over the newest 15 and 60
// buckets, and the ten oldest are outside every window.
func TestComputeSparseMinutes(t *testing.T) {
	rdb, prefix := itest.Redis(t)
	prefix += ":metrics"
	now := time.Date(2025, 11, 10, 10, 30, 20, 0, time.UTC)
	keys := map[string]string{}
	for i := range 70 {
		m := now.Add(-time.Duration(3+2*i) * time.Minute)
		keys[":1m:"+m.Format("2006-01-02T15:04")] = strconv.Itoa(i + 1)
	}
	setKeys(t, rdb, prefix, keys)
	got, err := ratestats.Compute(t.Context(), rdb, prefix, now)
	if err != nil {
		t.Fatalf("Compute: %v", err)
	}
	want := ratestats.Summary{CurrentRate1m: 1, AvgRate15m: 8, AvgRate1h: 30.5}
	if got.Summary != want {
		t.Errorf("summary = %+v, want %+v", got.Summary, want)
	}
}

func TestReportJSON(t *testing.T) {
	rdb, prefix := itest.Redis(t)
	got, err := ratestats.Compute(t.Context(), rdb, prefix+":metrics", time.Date(2025, 11, 10, 10, 0, 0, 0, time.UTC))
	if err != nil {
		t.Fatalf("Compute: %v", err)
	}
	b, err := json.Marshal(got)
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Summary  map[string]float64 `json:"summary"`
		Chart24h map[string][]any   `json:"chart_24h"`
	}
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"current_rate_1m", "avg_rate_15m", "avg_rate_1h"} {
		if _, ok := doc.Summary[k]; !ok {
			t.Errorf("summary lacks %s: %s", k, b)
		}
	}
	if len(doc.Chart24h["labels"]) != 24 || len(doc.Chart24h["data"]) != 24 {
		t.Errorf("chart_24h should hold 24 labels and 24 points: %s", b)
	}
}

func TestComputeRedisDown(t *testing.T) {
	rdb := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", MaxRetries: -1})
	t.Cleanup(func() { _ = rdb.Close() })
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	if _, err := ratestats.Compute(ctx, rdb, "m", time.Now()); err == nil {
		t.Fatal("Compute succeeded without Redis")
	}
}
