package health

import (
	"encoding/json"
	"fmt"
	"math"
	"time"
)

// Status is the outcome of one check or of a whole report.
type Status string

// The statuses, from best to worst; a skipped check counts as ok.
const (
	StatusOK      Status = "ok"
	StatusSkipped Status = "skipped"
	StatusWarn    Status = "warn"
	StatusFail    Status = "fail"
)

// rank orders statuses for Worst; skipped weighs as much as ok.
func (s Status) rank() int {
	switch s {
	case StatusWarn:
		return 1
	case StatusFail:
		return 2
	}
	return 0
}

// Worst returns the more serious of a and b; a wins a tie.
func Worst(a, b Status) Status {
	if b.rank() > a.rank() {
		return b
	}
	return a
}

// Check is the result of one probe.
type Check struct {
	Name    string        `json:"name"`
	Status  Status        `json:"status"`
	Detail  string        `json:"detail"`
	Latency time.Duration `json:"latency_ms"`
}

// checkJSON is Check on the wire: the latency in milliseconds.
type checkJSON struct {
	Name      string  `json:"name"`
	Status    Status  `json:"status"`
	Detail    string  `json:"detail"`
	LatencyMS float64 `json:"latency_ms"`
}

// MarshalJSON encodes the latency as milliseconds, to the microsecond.
func (c Check) MarshalJSON() ([]byte, error) {
	ms := math.Round(float64(c.Latency)/float64(time.Microsecond)) / 1000
	return json.Marshal(checkJSON{Name: c.Name, Status: c.Status, Detail: c.Detail, LatencyMS: ms})
}

// UnmarshalJSON reads what MarshalJSON writes.
func (c *Check) UnmarshalJSON(b []byte) error {
	var w checkJSON
	if err := json.Unmarshal(b, &w); err != nil {
		return fmt.Errorf("decoding health check: %w", err)
	}
	*c = Check{Name: w.Name, Status: w.Status, Detail: w.Detail,
		Latency: time.Duration(math.Round(w.LatencyMS * float64(time.Millisecond)))}
	return nil
}

// Report is the outcome of Run: every check, in a stable order, and the
// worst of their statuses.
type Report struct {
	Status Status  `json:"status"`
	Checks []Check `json:"checks"`
}

// Failed returns the checks whose status is fail.
func (r Report) Failed() []Check {
	var out []Check
	for _, c := range r.Checks {
		if c.Status == StatusFail {
			out = append(out, c)
		}
	}
	return out
}

// newReport sets the overall status from checks.
func newReport(checks []Check) Report {
	overall := StatusOK
	for _, c := range checks {
		overall = Worst(overall, c.Status)
	}
	return Report{Status: overall, Checks: checks}
}
