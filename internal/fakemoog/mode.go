package fakemoog

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"time"
)

// maxDelay bounds Mode.Delay: a test double that holds requests for hours
// only hides mistakes.
const maxDelay = 5 * time.Minute

// Mode is how the server answers requests on its event paths. The zero Mode
// accepts everything with 200. The fields apply in this order: Delay, then
// Drop, then Status, then FailFraction.
type Mode struct {
	// Status, when non-zero, answers every event request with this status.
	// A 2xx status is an acceptance: the event is recorded as usual.
	Status int
	// RetryAfter is sent as a Retry-After header (whole seconds, rounded
	// up) with every non-2xx answer the mode produces.
	RetryAfter time.Duration
	// FailFraction of the requests (0 to 1) are answered with FailStatus.
	// The choice is deterministic: of any n consecutive requests since the
	// mode was set, floor(n × FailFraction) fail, spread evenly.
	FailFraction float64
	// FailStatus is the status of those failures (503 when zero).
	FailStatus int
	// Delay holds every answer this long (or until the client gives up).
	Delay time.Duration
	// Drop closes the connection after reading the request, without an
	// answer: the client sees a transport error.
	Drop bool
}

// Validate reports the first field out of range.
func (m Mode) Validate() error {
	switch {
	case m.Status != 0 && (m.Status < 200 || m.Status > 599):
		return fmt.Errorf("status must be 0 or 200 to 599, got %d", m.Status)
	case m.FailStatus != 0 && (m.FailStatus < 200 || m.FailStatus > 599):
		return fmt.Errorf("fail_status must be 0 or 200 to 599, got %d", m.FailStatus)
	case math.IsNaN(m.FailFraction) || m.FailFraction < 0 || m.FailFraction > 1:
		return fmt.Errorf("fail_fraction must be from 0 to 1, got %v", m.FailFraction)
	case m.Delay < 0 || m.Delay > maxDelay:
		return fmt.Errorf("delay must be from 0 to %s, got %s", maxDelay, m.Delay)
	case m.RetryAfter < 0:
		return errors.New("retry_after must not be negative")
	}
	return nil
}

// normalize brings every field into range, so SetMode never stores a mode
// the handler cannot act on.
func (m Mode) normalize() Mode {
	if m.Status != 0 && (m.Status < 200 || m.Status > 599) {
		m.Status = 0
	}
	if m.FailStatus < 200 || m.FailStatus > 599 {
		m.FailStatus = 503
	}
	if math.IsNaN(m.FailFraction) || m.FailFraction < 0 {
		m.FailFraction = 0
	}
	m.FailFraction = min(m.FailFraction, 1)
	m.Delay = min(max(m.Delay, 0), maxDelay)
	m.RetryAfter = max(m.RetryAfter, 0)
	return m
}

// retryAfterSeconds is the Retry-After header value, 0 for none.
func (m Mode) retryAfterSeconds() int64 {
	if m.RetryAfter <= 0 {
		return 0
	}
	return int64((m.RetryAfter + time.Second - 1) / time.Second)
}

// modeJSON is the wire form of a Mode, for POST /mode and GET /mode:
// durations travel as whole numbers so curl users need not spell Go
// duration strings.
type modeJSON struct {
	Status            int     `json:"status"`
	RetryAfterSeconds float64 `json:"retry_after_seconds"`
	FailFraction      float64 `json:"fail_fraction"`
	FailStatus        int     `json:"fail_status"`
	DelayMS           float64 `json:"delay_ms"`
	Drop              bool    `json:"drop"`
}

// MarshalJSON encodes the mode as {"status", "retry_after_seconds",
// "fail_fraction", "fail_status", "delay_ms", "drop"}.
func (m Mode) MarshalJSON() ([]byte, error) {
	return json.Marshal(modeJSON{
		Status:            m.Status,
		RetryAfterSeconds: m.RetryAfter.Seconds(),
		FailFraction:      m.FailFraction,
		FailStatus:        m.FailStatus,
		DelayMS:           float64(m.Delay) / float64(time.Millisecond),
		Drop:              m.Drop,
	})
}

// UnmarshalJSON decodes the form MarshalJSON writes; absent fields are zero.
func (m *Mode) UnmarshalJSON(b []byte) error {
	var w modeJSON
	if err := json.Unmarshal(b, &w); err != nil {
		return fmt.Errorf("decoding mode: %w", err)
	}
	if w.RetryAfterSeconds > maxDelay.Seconds()*1000 || w.DelayMS > float64(maxDelay/time.Millisecond)*1000 {
		return errors.New("decoding mode: duration out of range")
	}
	*m = Mode{
		Status:       w.Status,
		RetryAfter:   time.Duration(w.RetryAfterSeconds * float64(time.Second)),
		FailFraction: w.FailFraction,
		FailStatus:   w.FailStatus,
		Delay:        time.Duration(w.DelayMS * float64(time.Millisecond)),
		Drop:         w.Drop,
	}
	return nil
}
