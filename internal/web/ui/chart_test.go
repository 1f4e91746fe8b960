package ui

import (
	"strings"
	"testing"

	"github.com/mutt-go/mutt/internal/ratestats"
)

func TestNiceCeil(t *testing.T) {
	tests := []struct{ in, want float64 }{{0, 1}, {0.4, 1}, {1.5, 2}, {3, 5}, {7, 10}, {12, 20}, {480, 500}, {501, 1000}}
	for _, tt := range tests {
		if got := niceCeil(tt.in); got != tt.want {
			t.Errorf("niceCeil(%v) = %v, want %v", tt.in, got, tt.want)
		}
	}
}

func TestNewChart(t *testing.T) {
	c := newChart(ratestats.Chart{Labels: []string{"00:00", "01:00", "02:00"}, Data: []float64{0, 5, 10}})
	if c.Empty || len(c.Dots) != 3 || len(c.YTicks) != chartYTicks+1 {
		t.Fatalf("chart = %+v", c)
	}
	if c.Dots[0].Y != c.Bottom || c.Dots[2].Y != c.Top {
		t.Errorf("0 should sit on the x axis and the maximum at the top: %+v", c.Dots)
	}
	if got := strings.Count(c.Line, ","); got != 3 {
		t.Errorf("line %q has %d points, want 3", c.Line, got)
	}
	if !strings.HasPrefix(c.Area, "56,200 ") || !strings.HasSuffix(c.Area, " 708,200") {
		t.Errorf("area %q does not close on the x axis", c.Area)
	}
	if c.YTicks[chartYTicks].Label != "10" || c.XTicks[0].Label != "00:00" {
		t.Errorf("ticks %+v %+v", c.YTicks, c.XTicks)
	}
	if e := newChart(ratestats.Chart{}); !e.Empty {
		t.Errorf("no data should give an empty chart")
	}
}
