package event

import (
	"strconv"
	"time"
)

// NoSeverity is the Severity of an event that carries no usable syslog
// severity.
const NoSeverity = -1

// DefaultMaxDepth is the nesting limit used when Options.MaxDepth is not
// positive. The top-level object counts as depth 1.
const DefaultMaxDepth = 64

// Limits on field lengths; both columns they end up in are VARCHAR(255).
const (
	maxHostnameChars = 255 // Unicode code points
	maxTrapOIDBytes  = 255
)

// defaultRequired backs DefaultRequired; it is an array so that nobody can
// change the package default through a shared slice.
var defaultRequired = [...]string{"hostname", "message", "timestamp"}

// DefaultRequired returns a fresh copy of the fields every event must carry as
// non-empty strings unless Options say otherwise: hostname, message and
// timestamp.
func DefaultRequired() []string {
	return append([]string(nil), defaultRequired[:]...)
}

// Options tune validation. The zero value (and a nil *Options) means the
// DefaultRequired fields and a nesting limit of DefaultMaxDepth.
type Options struct {
	// RequiredFields are the keys that must be present as non-empty JSON
	// strings, checked in this order. nil means DefaultRequired(); an empty
	// non-nil slice means no field is required; empty names are ignored.
	RequiredFields []string
	// MaxDepth is the maximum nesting depth of objects and arrays in an
	// event, the event object itself being depth 1. Values below 1 mean
	// DefaultMaxDepth.
	MaxDepth int
}

func (o *Options) required() []string {
	if o == nil || o.RequiredFields == nil {
		return defaultRequired[:]
	}
	return o.RequiredFields
}

func (o *Options) maxDepth() int {
	if o == nil || o.MaxDepth < 1 {
		return DefaultMaxDepth
	}
	return o.MaxDepth
}

// Event is one validated event.
type Event struct {
	// ID is the value of _event_id, assigned once at ingest.
	ID string
	// CorrelationID is the value of _correlation_id.
	CorrelationID string
	// Hostname, Message and TrapOID are the unescaped string values of the
	// event's hostname, message and trap_oid; "" when absent.
	Hostname string
	Message  string
	TrapOID  string
	// Timestamp is the event's parsed timestamp in UTC; the zero Time when
	// the event has none (possible only when timestamp is not required).
	// Store this rather than the text: a timestamp without a zone is UTC
	// here, but PostgreSQL would read it in its session time zone.
	Timestamp time.Time
	// Severity is the syslog severity 0-7, or NoSeverity.
	Severity int
	// JSON is the event object as it goes on the queue and into the audit
	// log.
	JSON []byte
}

// Stamp holds the identifiers the ingestor assigns to an event.
type Stamp struct {
	EventID       string
	CorrelationID string
}

// FieldError says which field of an event broke which rule. Field is "" when
// the rule concerns the event as a whole (not an object, nested too deeply).
// Normalize and Decode return it as a *FieldError.
type FieldError struct {
	Field string
	Rule  string
}

// Error implements error, e.g. `field "timestamp": must be an RFC 3339
// date-time, e.g. 2025-01-15T14:30:22Z`.
func (e *FieldError) Error() string {
	if e.Field == "" {
		return "event " + e.Rule
	}
	return "field " + strconv.Quote(e.Field) + ": " + e.Rule
}

// ItemError locates an error inside a batch. Split returns it as an
// *ItemError wrapping a *FieldError (an element that is not an object) or a
// *BodyError (a line of a newline-delimited body that is not valid JSON);
// callers normalising the items of a batch wrap Normalize's errors in it.
type ItemError struct {
	// Index is the 0-based index of the item in Split's result; blank lines
	// do not count.
	Index int
	// Line is the 1-based line of the body on which the item starts, or 0
	// when the body is a single line (see Line).
	Line int
	Err  error
}

// Error implements error, e.g. `item 3 (line 5): field "hostname": is
// required`.
func (e *ItemError) Error() string {
	s := "item " + strconv.Itoa(e.Index)
	if e.Line > 0 {
		s += " (line " + strconv.Itoa(e.Line) + ")"
	}
	return s + ": " + e.Err.Error()
}

// Unwrap returns the error about the item itself.
func (e *ItemError) Unwrap() error { return e.Err }

// BodyError is an error about a request body or stored event as a whole:
// wrong content type, empty, not JSON, not an object or array. Split, Normalize
// and Decode return it as a *BodyError.
type BodyError struct {
	Reason string
}

// Error implements error; it is the Reason, e.g. `invalid JSON: unexpected end
// of input at byte 17`.
func (e *BodyError) Error() string { return e.Reason }
