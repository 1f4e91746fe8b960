package ui

import (
	"math"
	"strconv"
	"strings"

	"github.com/mutt-go/mutt/internal/ratestats"
)

// Geometry of the ingest chart, in SVG user units.
const (
	chartW, chartH                = 720.0, 240.0
	chartLeft, chartRight         = 56.0, 12.0
	chartTop, chartBottom         = 16.0, 40.0
	chartPlotW                    = chartW - chartLeft - chartRight
	chartPlotH                    = chartH - chartTop - chartBottom
	chartYTicks                   = 4
	chartXLabelEvery              = 3
	chartDotRadius        float64 = 3
)

// chart is the 24-hour ingest series laid out as SVG: the line, the filled
// area under it, and the axis ticks. Everything is computed here so that
// the template only places numbers.
type chart struct {
	Width, Height float64
	Left, Bottom  float64 // x of the y axis, y of the x axis
	Right, Top    float64
	Line, Area    string // polyline and polygon points
	Dots          []chartPoint
	XTicks        []chartTick
	YTicks        []chartTick
	Empty         bool
}

// chartPoint is one hourly value.
type chartPoint struct {
	X, Y, R float64
	Label   string
}

// chartTick is an axis label at a position.
type chartTick struct {
	X, Y  float64
	Label string
}

func newChart(c ratestats.Chart) chart {
	out := chart{Width: chartW, Height: chartH, Left: chartLeft, Bottom: chartH - chartBottom,
		Right: chartW - chartRight, Top: chartTop}
	n := len(c.Data)
	if n == 0 {
		out.Empty = true
		return out
	}
	top := niceCeil(maxOf(c.Data))
	step := chartPlotW
	if n > 1 {
		step = chartPlotW / float64(n-1)
	}
	var line []string
	for i, v := range c.Data {
		x := chartLeft + float64(i)*step
		if n == 1 {
			x = chartLeft + chartPlotW/2
		}
		y := out.Bottom - v/top*chartPlotH
		line = append(line, num(x)+","+num(y))
		label := ""
		if i < len(c.Labels) {
			label = c.Labels[i]
		}
		out.Dots = append(out.Dots, chartPoint{X: round1(x), Y: round1(y), R: chartDotRadius,
			Label: label + ": " + strconv.FormatFloat(v, 'f', 2, 64) + " events/min"})
		if i%chartXLabelEvery == 0 || i == n-1 {
			out.XTicks = append(out.XTicks, chartTick{X: round1(x), Y: out.Bottom + 18, Label: label})
		}
	}
	out.Line = strings.Join(line, " ")
	firstX, lastX := out.Dots[0].X, out.Dots[n-1].X
	out.Area = num(firstX) + "," + num(out.Bottom) + " " + out.Line + " " + num(lastX) + "," + num(out.Bottom)
	for i := 0; i <= chartYTicks; i++ {
		v := top * float64(i) / chartYTicks
		out.YTicks = append(out.YTicks, chartTick{X: chartLeft - 8, Y: round1(out.Bottom - float64(i)/chartYTicks*chartPlotH),
			Label: strconv.FormatFloat(v, 'f', -1, 64)})
	}
	return out
}

func maxOf(vs []float64) float64 {
	m := 0.0
	for _, v := range vs {
		if v > m && !math.IsInf(v, 0) && !math.IsNaN(v) {
			m = v
		}
	}
	return m
}

// niceCeil rounds m up to 1, 2 or 5 times a power of ten (at least 1), so
// the y axis has round labels.
func niceCeil(m float64) float64 {
	if m <= 1 {
		return 1
	}
	p := math.Pow(10, math.Floor(math.Log10(m)))
	for _, f := range []float64{1, 2, 5, 10} {
		if f*p >= m {
			return f * p
		}
	}
	return 10 * p
}

func round1(f float64) float64 { return math.Round(f*10) / 10 }

func num(f float64) string { return strconv.FormatFloat(round1(f), 'f', -1, 64) }
