package slo

import (
	"fmt"
	"math"
)

// Status is the verdict on one SLO.
type Status string

// Statuses, from best to worst.
const (
	StatusOK        Status = "ok"
	StatusBreaching Status = "breaching" // off target, budget burning slowly
	StatusWarning   Status = "warning"
	StatusCritical  Status = "critical"
)

// Result is the evaluation of one SLO, one entry of the "slos" list.
// Target (ratio SLOs) or TargetSeconds (latency SLOs) is present only
// when Prometheus returned a value; the other pointers are null when it
// did not or when they do not apply to the SLO's kind.
type Result struct {
	Name                 string   `json:"slo_name"`
	Description          string   `json:"description"`
	WindowHours          int      `json:"window_hours"`
	ActualValue          *float64 `json:"actual_value"`
	Target               *float64 `json:"target,omitempty"`
	TargetSeconds        *float64 `json:"target_seconds,omitempty"`
	Status               Status   `json:"status"`
	ErrorBudgetRemaining *float64 `json:"error_budget_remaining"`
	BurnRate             *float64 `json:"burn_rate"`
	Message              string   `json:"message"`
}

// judge evaluates d, whose settings are already resolved, against v, the
// value Prometheus returned (nil: no data).
func judge(d Definition, v *float64) Result {
	r := Result{
		Name:        d.Name,
		Description: d.Description,
		WindowHours: d.WindowHours,
		ActualValue: v,
	}
	if v == nil {
		r.Status, r.Message = StatusCritical, "No data from Prometheus"
		return r
	}
	switch d.Kind {
	case Ratio:
		judgeRatio(d, *v, &r)
	case Latency:
		judgeLatency(d, *v, &r)
	default:
		r.Status, r.Message = StatusCritical, fmt.Sprintf("Unknown SLO kind %q", d.Kind)
	}
	return r
}

// judgeRatio applies the burn-rate rules: the error rate over the error
// budget, compared with the critical then the warning threshold.
func judgeRatio(d Definition, v float64, r *Result) {
	t := d.Target
	budget := math.Max(0, 1-t)
	burn := 0.0
	if budget > 0 {
		burn = tidy(math.Max(0, 1-v) / budget)
	}
	remaining := 1.0
	if t < 1 {
		remaining = tidy((v - t) / (1 - t))
	}
	r.Target, r.BurnRate, r.ErrorBudgetRemaining = &t, &burn, &remaining
	switch {
	case burn >= d.BurnCritical:
		r.Status, r.Message = StatusCritical, fmt.Sprintf("Critical burn rate (%.2fx target)", burn)
	case burn >= d.BurnWarning:
		r.Status, r.Message = StatusWarning, fmt.Sprintf("Warning burn rate (%.2fx target)", burn)
	case v < t:
		r.Status, r.Message = StatusBreaching, "Below target"
	default:
		r.Status, r.Message = StatusOK, "Within target"
	}
}

// judgeLatency compares a latency with the critical then the warning
// upper bound, then with the target.
func judgeLatency(d Definition, v float64, r *Result) {
	s := d.Target
	r.TargetSeconds = &s
	switch {
	case v >= d.UpperCritical:
		r.Status, r.Message = StatusCritical, fmt.Sprintf("Critical latency (%.3fs > %.3fs)", v, d.UpperCritical)
	case v >= d.UpperWarning:
		r.Status, r.Message = StatusWarning, fmt.Sprintf("Warning latency (%.3fs > %.3fs)", v, d.UpperWarning)
	case v > s:
		r.Status, r.Message = StatusBreaching, "Above target latency"
	default:
		r.Status, r.Message = StatusOK, "Within target latency"
	}
}

// tidy rounds x to nine decimal places. Ratios such as (1-0.995)/(1-0.999)
// come out of floating point a hair off the intended value; without this
// a burn rate of exactly the warning threshold could fall just short of it.
func tidy(x float64) float64 {
	return math.Round(x*1e9) / 1e9
}
