package alerter

import (
	"strconv"

	"github.com/mutt-go/mutt/internal/event"
	"github.com/mutt-go/mutt/internal/rules"
)

// alertSeverity is the Moogsoft severity every alert carries.
const alertSeverity = "Warning"

// metaAlertHost is the hostname of unhandled-message meta-alerts.
const metaAlertHost = "MUTT_Alerter"

// alertOverhead is about what an alert adds to its event's JSON: its keys,
// the message again, the team, handling and ids.
const alertOverhead = 320

// AppendAlert appends the alert for a handled event as it goes on the alert
// queue. The keys and their types are those the forwarder reads; the
// Moogsoft API key is not copied into the queue.
func AppendAlert(dst []byte, ev *event.Event, eventID string, d rules.Decision) []byte {
	dst = append(dst, `{"hostname":`...)
	dst = event.AppendString(dst, ev.Hostname)
	dst = append(dst, `,"team_assignment":`...)
	dst = event.AppendString(dst, d.Rule.Team)
	dst = append(dst, `,"severity":"`+alertSeverity+`","message_body":`...)
	dst = event.AppendString(dst, ev.Message)
	dst = append(dst, `,"raw_json":`...)
	dst = append(dst, ev.JSON...)
	dst = append(dst, `,"_correlation_id":`...)
	dst = event.AppendString(dst, correlationOrUnknown(ev.CorrelationID))
	dst = append(dst, `,"rule_id":`...)
	dst = strconv.AppendInt(dst, d.Rule.ID, 10)
	dst = append(dst, `,"handling_decision":`...)
	dst = event.AppendString(dst, d.Handling)
	dst = append(dst, `,"environment":`...)
	dst = event.AppendString(dst, d.Environment)
	dst = append(dst, `,"event_id":`...)
	dst = event.AppendString(dst, eventID)
	return append(dst, '}')
}

// appendMetaAlert appends the meta-alert raised when threshold identical
// unhandled messages from one host arrive within expirySeconds.
func appendMetaAlert(dst []byte, ev *event.Event, eventID, team string, threshold, expirySeconds int64) []byte {
	body := make([]byte, 0, 128+len(ev.Hostname)+200)
	body = append(body, "[MUTT] Detected "...)
	body = strconv.AppendInt(body, threshold, 10)
	body = append(body, " unhandled messages in "...)
	body = strconv.AppendInt(body, expirySeconds, 10)
	body = append(body, "s from '"...)
	body = append(body, ev.Hostname...)
	body = append(body, "'. Sample message: "...)
	body = append(body, firstRunes(ev.Message, 200)...)

	dst = append(dst, `{"hostname":"`+metaAlertHost+`","team_assignment":`...)
	dst = event.AppendString(dst, team)
	dst = append(dst, `,"severity":"`+alertSeverity+`","message_body":`...)
	dst = event.AppendString(dst, string(body))
	dst = append(dst, `,"raw_json":`...)
	dst = append(dst, ev.JSON...)
	dst = append(dst, `,"_correlation_id":`...)
	dst = event.AppendString(dst, correlationOrUnknown(ev.CorrelationID))
	dst = append(dst, `,"alert_type":"unhandled_meta","source_hostname":`...)
	dst = event.AppendString(dst, ev.Hostname)
	dst = append(dst, `,"event_id":`...)
	dst = event.AppendString(dst, eventID)
	return append(dst, '}')
}

func correlationOrUnknown(cid string) string {
	if cid == "" {
		return "unknown"
	}
	return cid
}

// firstRunes returns at most n code points of s, cut on a rune boundary.
func firstRunes(s string, n int) string {
	i := 0
	for j := range s {
		if i == n {
			return s[:j]
		}
		i++
	}
	return s
}
