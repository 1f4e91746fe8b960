package ratestatstest

import (
	"slices"
	"testing"
	"time"

	"github.com/mutt-go/mutt/internal/ratestats"
)

// Target is one empty source and the way the ingest producer counts into
// it.
type Target struct {
	Source ratestats.Source
	// Add counts events in the minute of at, as the ingest producer does.
	Add func(t *testing.T, at time.Time, events int64)
}

// Run runs the suite; open returns an empty target of its own for each
// subtest and arranges its cleanup.
func Run(t *testing.T, open func(t *testing.T) Target) {
	tests := []struct {
		name string
		fn   func(t *testing.T, tg Target)
	}{
		{"Empty", testEmpty},
		{"MinutesAndHours", testMinutesAndHours},
		{"NewestMinutesOnly", testNewestMinutesOnly},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { tt.fn(t, open(t)) })
	}
}

// hours are the 24 clock hours from now's back, as ComputeFrom asks.
func hours(now time.Time) []time.Time {
	out := make([]time.Time, 24)
	for i := range out {
		out[i] = now.Add(-time.Duration(i) * time.Hour).Truncate(time.Hour)
	}
	return out
}

func testEmpty(t *testing.T, tg Target) {
	mins, totals, err := tg.Source.Counts(t.Context(), 60, hours(time.Now().UTC()))
	if err != nil {
		t.Fatal(err)
	}
	if len(mins) != 0 || len(totals) != 24 || slices.ContainsFunc(totals, func(v float64) bool { return v != 0 }) {
		t.Errorf("Counts of nothing = %v, %v", mins, totals)
	}
}

func testMinutesAndHours(t *testing.T, tg Target) {
	// Thirty minutes past the hour, so that the minutes below stay in it.
	now := time.Now().UTC().Truncate(time.Hour).Add(30 * time.Minute)
	tg.Add(t, now, 10)
	tg.Add(t, now.Add(20*time.Second), 5) // the same minute: 15
	tg.Add(t, now.Add(-time.Minute), 30)
	tg.Add(t, now.Add(-5*time.Minute), 60) // a quiet gap before it
	tg.Add(t, now.Add(-2*time.Hour), 120)
	mins, totals, err := tg.Source.Counts(t.Context(), 60, hours(now))
	if err != nil {
		t.Fatal(err)
	}
	if want := []float64{15, 30, 60, 120}; !slices.Equal(mins, want) {
		t.Errorf("minutes %v, want %v (newest existing first)", mins, want)
	}
	if len(totals) != 24 || totals[0] != 105 || totals[1] != 0 || totals[2] != 120 {
		t.Errorf("hour totals %v, want 105, 0, 120, …", totals)
	}
	r, err := ratestats.ComputeFrom(t.Context(), tg.Source, now)
	if err != nil {
		t.Fatal(err)
	}
	if r.Summary.CurrentRate1m != 15 || r.Summary.AvgRate1h != 56.25 || r.Chart24h.Data[23] != 1.75 {
		t.Errorf("report %+v", r)
	}
}

func testNewestMinutesOnly(t *testing.T, tg Target) {
	now := time.Now().UTC().Truncate(time.Minute)
	for i := range 70 {
		tg.Add(t, now.Add(-time.Duration(i)*time.Minute), int64(i+1))
	}
	mins, _, err := tg.Source.Counts(t.Context(), 60, hours(now))
	if err != nil {
		t.Fatal(err)
	}
	if len(mins) != 60 || mins[0] != 1 || mins[59] != 60 {
		t.Errorf("%d minutes from %v, want the newest 60 (1 … 60)", len(mins), mins[:min(3, len(mins))])
	}
}
