package forward

import (
	"github.com/mutt-go/mutt/internal/version"

	"bytes"
	"encoding/json"
	"errors"
	"strconv"
	"unicode/utf8"
)

// alertFields holds the JSON values (raw bytes, exactly as queued) of the
// alert members the Moogsoft body is built from. A nil slice means the key is
// absent, which is the only case where a default applies: a key present
// with null or "" is passed through.
type alertFields struct {
	hostname      []byte
	team          []byte
	severity      []byte
	message       []byte
	rawJSON       []byte
	correlationID []byte
	eventID       []byte
}

var (
	errNotUTF8   = errors.New("alert is not valid UTF-8")
	errNotJSON   = errors.New("alert is not valid JSON")
	errNotObject = errors.New("alert is not a JSON object")
)

// parseAlert fills f from the alert JSON p. The values point into p. When a
// key occurs twice the last one wins, as with common JSON decoders.
func parseAlert(p []byte, f *alertFields) error {
	if !utf8.Valid(p) {
		return errNotUTF8
	}
	if !json.Valid(p) {
		return errNotJSON
	}
	// From here on p is known to be valid JSON, so the walk below can index
	// without bounds worries and skip values without validating them.
	i := skipSpace(p, 0)
	if p[i] != '{' {
		return errNotObject
	}
	i = skipSpace(p, i+1)
	if p[i] == '}' {
		return nil
	}
	for {
		kEnd := skipString(p, i)
		key := p[i+1 : kEnd-1]
		if bytes.IndexByte(key, '\\') >= 0 {
			var s string
			if err := json.Unmarshal(p[i:kEnd], &s); err != nil {
				return errNotJSON
			}
			key = []byte(s)
		}
		i = skipSpace(p, skipSpace(p, kEnd)+1) // past the colon
		vEnd := skipValue(p, i)
		f.set(key, p[i:vEnd])
		i = skipSpace(p, vEnd)
		if p[i] == '}' {
			return nil
		}
		i = skipSpace(p, i+1) // past the comma
	}
}

func (f *alertFields) set(key, v []byte) {
	switch string(key) {
	case "hostname":
		f.hostname = v
	case "team_assignment":
		f.team = v
	case "severity":
		f.severity = v
	case "message_body":
		f.message = v
	case "raw_json":
		f.rawJSON = v
	case "_correlation_id":
		f.correlationID = v
	case "event_id":
		f.eventID = v
	}
}

func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}

// skipString returns the offset just past the string literal starting at i:
// the first quote not escaped by an odd run of backslashes.
func skipString(b []byte, i int) int {
	for j := i + 1; ; j++ {
		j += bytes.IndexByte(b[j:], '"')
		n := 0
		for p := j - 1; p > i && b[p] == '\\'; p-- {
			n++
		}
		if n%2 == 0 {
			return j + 1
		}
	}
}

// skipValue returns the offset just past the valid JSON value starting at i.
func skipValue(b []byte, i int) int {
	switch b[i] {
	case '"':
		return skipString(b, i)
	case '{', '[':
		depth := 0
		for j := i; ; {
			switch b[j] {
			case '"':
				j = skipString(b, j)
				continue
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return j + 1
				}
			}
			j++
		}
	default:
		j := i
		for j < len(b) {
			switch b[j] {
			case ',', '}', ']', ' ', '\t', '\n', '\r':
				return j
			}
			j++
		}
		return j
	}
}

// moogSeverity maps the alert severity to Moogsoft's scale by exact,
// case-sensitive match; anything else, including an absent key, null or a
// different case, is 3 (Warning).
func moogSeverity(v []byte) byte {
	if len(v) < 2 || v[0] != '"' {
		return '3'
	}
	s := v[1 : len(v)-1]
	if bytes.IndexByte(s, '\\') >= 0 {
		var d string
		if json.Unmarshal(v, &d) != nil {
			return '3'
		}
		s = []byte(d)
	}
	switch string(s) {
	case "Critical":
		return '5'
	case "Major":
		return '4'
	case "Minor":
		return '2'
	case "Info":
		return '1'
	case "Clear":
		return '0'
	}
	return '3'
}

// appendExternalID appends Moogsoft's de-duplication key for the alert. The
// event ID is preferred because it is the same for every attempt and every
// redelivery of the alert, including after a replay from a dead-letter queue.
func appendExternalID(dst []byte, f *alertFields) []byte {
	switch {
	case len(f.eventID) > 2 && f.eventID[0] == '"':
		return append(dst, f.eventID...)
	case f.correlationID != nil:
		return append(dst, f.correlationID...)
	}
	return append(dst, `"unknown"`...)
}

// appendOr appends the JSON value v, or def when the key was absent.
func appendOr(dst, v []byte, def string) []byte {
	if v == nil {
		return append(dst, def...)
	}
	return append(dst, v...)
}

// appendBody appends the Moogsoft event for the alert to dst. Values are
// copied as the JSON text they had in the alert, which keeps the original's
// pass-through of null and non-string values and costs no decoding.
func appendBody(dst []byte, f *alertFields, agentTime int64) []byte {
	dst = append(dst, `{"signature":`...)
	dst = appendOr(dst, f.hostname, `"unknown"`)
	dst = append(dst, `,"source_id":`...)
	dst = appendOr(dst, f.hostname, `"unknown"`)
	dst = append(dst, `,"external_id":`...)
	dst = appendExternalID(dst, f)
	dst = append(dst, `,"manager":"MUTT","source":"MUTT Alerter","class":`...)
	dst = appendOr(dst, f.team, `"Unknown"`)
	dst = append(dst, `,"agent":`...)
	dst = strconv.AppendQuote(dst, version.Agent())
	dst = append(dst, `,"agent_location":"Alerter Service","type":"Alert","severity":`...)
	dst = append(dst, moogSeverity(f.severity))
	dst = append(dst, `,"description":`...)
	dst = appendOr(dst, f.message, `""`)
	dst = append(dst, `,"agent_time":`...)
	dst = strconv.AppendInt(dst, agentTime, 10)
	if f.rawJSON != nil {
		dst = append(dst, `,"custom_info":`...)
		dst = append(dst, f.rawJSON...)
	}
	return append(dst, '}')
}
