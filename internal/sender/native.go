package sender

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/mutt-go/mutt/internal/event"
)

// NativeSummary is what SendSyslog or SendTraps did.
type NativeSummary struct {
	// Messages is how many the run set out to send; Sent how many left
	// (for informs: were acknowledged); Failed how many could not be sent.
	Messages, Sent, Failed int
	Elapsed                time.Duration
	// Errors holds the first distinct error messages, at most 10.
	Errors []string
}

// String renders a short human summary.
func (s NativeSummary) String() string {
	rate := 0.0
	if s.Elapsed > 0 {
		rate = float64(s.Sent) / s.Elapsed.Seconds()
	}
	out := fmt.Sprintf("messages  %d: sent %d, failed %d\nelapsed   %s, %.1f messages/s",
		s.Messages, s.Sent, s.Failed, s.Elapsed.Round(time.Millisecond), rate)
	if len(s.Errors) > 0 {
		out += "\nerrors:\n  " + strings.Join(s.Errors, "\n  ")
	}
	return out
}

func (s *NativeSummary) fail(err error) {
	s.Failed++
	msg := err.Error()
	for _, e := range s.Errors {
		if e == msg {
			return
		}
	}
	if len(s.Errors) < 10 {
		s.Errors = append(s.Errors, msg)
	}
}

// pacer spaces sends at rate per second on an absolute schedule; rate 0
// does not wait.
type pacer struct {
	start time.Time
	rate  float64
}

func (p pacer) wait(ctx context.Context, i int) error {
	if p.rate <= 0 {
		return ctx.Err()
	}
	d := time.Until(p.start.Add(time.Duration(float64(i) / p.rate * float64(time.Second))))
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// nativeEvent is what the native senders read of an event object.
type nativeEvent struct {
	Hostname  string          `json:"hostname"`
	Message   string          `json:"message"`
	TrapOID   string          `json:"trap_oid"`
	Severity  json.RawMessage `json:"syslog_severity"`
	SeverityT string          `json:"severity"`
	SourceIP  string          `json:"source_ip"`
}

func readEvent(raw []byte) (nativeEvent, error) {
	var ev nativeEvent
	if err := json.Unmarshal(raw, &ev); err != nil {
		return ev, fmt.Errorf("reading event: %w", err)
	}
	return ev, nil
}

// severity is the event's syslog severity, notice (5) when it has none.
func (ev nativeEvent) severity() int {
	s := strings.Trim(string(ev.Severity), `"`)
	if n, ok := event.ParseSeverity(s); ok {
		return n
	}
	if n, ok := event.ParseSeverity(ev.SeverityT); ok {
		return n
	}
	return 5
}
