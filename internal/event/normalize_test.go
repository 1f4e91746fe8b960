package event

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"
)

// ev builds an event object from the required fields plus extra members
// (raw JSON text, appended in order).
func ev(extra ...string) string {
	return obj(append([]string{`"hostname":"h"`, `"message":"m"`, `"timestamp":"2025-01-15T14:30:22Z"`}, extra...)...)
}

func obj(members ...string) string { return "{" + strings.Join(members, ",") + "}" }

var testStamp = Stamp{EventID: "e1", CorrelationID: "c1"}

const testIDs = `"_event_id":"e1","_correlation_id":"c1"`

var t20250115 = time.Date(2025, 1, 15, 14, 30, 22, 0, time.UTC)

func TestNormalizeAccepts(t *testing.T) {
	tests := []struct {
		name     string
		in       string
		opts     *Options
		stamp    *Stamp // testStamp when nil
		wantJSON string
		want     Event // ID, CorrelationID and JSON are not compared here
	}{
		{
			name:     "minimal event gets the stamp appended",
			in:       ev(),
			wantJSON: ev(testIDs),
			want:     Event{Hostname: "h", Message: "m", Timestamp: t20250115, Severity: NoSeverity},
		},
		{
			name:     "member order and nested bytes are kept, white space between members is dropped",
			in:       "\n {\r\n \"z\" : {\"b\" :  [1, 2.50e1, \"x\\u00e9\"]},\t\"hostname\":\"h\", \"message\" : \"m\",\"timestamp\":\"2025-01-15T14:30:22Z\",\"a\":[ ] } \n",
			wantJSON: `{"z":{"b" :  [1, 2.50e1, "x\u00e9"]},"hostname":"h","message":"m","timestamp":"2025-01-15T14:30:22Z","a":[ ],` + testIDs + `}`,
			want:     Event{Hostname: "h", Message: "m", Timestamp: t20250115, Severity: NoSeverity},
		},
		{
			name:     "syslog_severity name becomes its number in place",
			in:       ev(`"syslog_severity":"Warning"`, `"x":1`),
			wantJSON: ev(`"syslog_severity":4`, `"x":1`, testIDs),
			want:     Event{Hostname: "h", Message: "m", Timestamp: t20250115, Severity: 4},
		},
		{
			name:     "syslog_severity integer is kept",
			in:       ev(`"syslog_severity":3`),
			wantJSON: ev(`"syslog_severity":3`, testIDs),
			want:     Event{Hostname: "h", Message: "m", Timestamp: t20250115, Severity: 3},
		},
		{
			name:     "syslog_severity integral float becomes an integer",
			in:       ev(`"syslog_severity":3.0`),
			wantJSON: ev(`"syslog_severity":3`, testIDs),
			want:     Event{Hostname: "h", Message: "m", Timestamp: t20250115, Severity: 3},
		},
		{
			name:     "syslog_severity in exponent form",
			in:       ev(`"syslog_severity":7e0`),
			wantJSON: ev(`"syslog_severity":7`, testIDs),
			want:     Event{Hostname: "h", Message: "m", Timestamp: t20250115, Severity: 7},
		},
		{
			name:     "syslog_severity digit string",
			in:       ev(`"syslog_severity":"0"`),
			wantJSON: ev(`"syslog_severity":0`, testIDs),
			want:     Event{Hostname: "h", Message: "m", Timestamp: t20250115, Severity: 0},
		},
		{
			name:     "syslog_severity name with spaces, case and escapes",
			in:       ev(`"syslog_severity":" \u0045rr\t"`),
			wantJSON: ev(`"syslog_severity":3`, testIDs),
			want:     Event{Hostname: "h", Message: "m", Timestamp: t20250115, Severity: 3},
		},
		{
			name:     "syslog_severity null counts as absent and is kept",
			in:       ev(`"syslog_severity":null`),
			wantJSON: ev(`"syslog_severity":null`, testIDs),
			want:     Event{Hostname: "h", Message: "m", Timestamp: t20250115, Severity: NoSeverity},
		},
		{
			name:     "rsyslog severity text adds syslog_severity after the last client member",
			in:       ev(`"severity":"warning"`, `"facility":"local0"`, `"source":"syslog"`),
			wantJSON: ev(`"severity":"warning"`, `"facility":"local0"`, `"source":"syslog"`, `"syslog_severity":4`, testIDs),
			want:     Event{Hostname: "h", Message: "m", Timestamp: t20250115, Severity: 4},
		},
		{
			name:     "severity text replaces a null syslog_severity in place",
			in:       ev(`"syslog_severity":null`, `"severity":"err"`),
			wantJSON: ev(`"syslog_severity":3`, `"severity":"err"`, testIDs),
			want:     Event{Hostname: "h", Message: "m", Timestamp: t20250115, Severity: 3},
		},
		{
			name:     "syslog_severity wins over severity",
			in:       ev(`"severity":"debug"`, `"syslog_severity":2`),
			wantJSON: ev(`"severity":"debug"`, `"syslog_severity":2`, testIDs),
			want:     Event{Hostname: "h", Message: "m", Timestamp: t20250115, Severity: 2},
		},
		{
			name:     "unknown severity text such as SNMP Minor is left alone",
			in:       ev(`"severity":"Minor"`),
			wantJSON: ev(`"severity":"Minor"`, testIDs),
			want:     Event{Hostname: "h", Message: "m", Timestamp: t20250115, Severity: NoSeverity},
		},
		{
			name:     "severity of any other type is not validated",
			in:       ev(`"severity":{"level":[3]}`),
			wantJSON: ev(`"severity":{"level":[3]}`, testIDs),
			want:     Event{Hostname: "h", Message: "m", Timestamp: t20250115, Severity: NoSeverity},
		},
		{
			name:     "client _retry_count, _correlation_id, _event_id and escaped _ keys are stripped",
			in:       ev(`"_retry_count":99`, `"_correlation_id":"mine"`, `"_event_id":"mine"`, `"\u005fshedding":"x"`, `"shedding_reason":"kept"`),
			wantJSON: ev(`"shedding_reason":"kept"`, testIDs),
			want:     Event{Hostname: "h", Message: "m", Timestamp: t20250115, Severity: NoSeverity},
		},
		{
			name:     "trap_oid",
			in:       ev(`"trap_oid":"1.3.6.1.6.3.1.1.5.3"`),
			wantJSON: ev(`"trap_oid":"1.3.6.1.6.3.1.1.5.3"`, testIDs),
			want:     Event{Hostname: "h", Message: "m", TrapOID: "1.3.6.1.6.3.1.1.5.3", Timestamp: t20250115, Severity: NoSeverity},
		},
		{
			name:     "trap_oid null counts as absent",
			in:       ev(`"trap_oid":null`),
			wantJSON: ev(`"trap_oid":null`, testIDs),
			want:     Event{Hostname: "h", Message: "m", Timestamp: t20250115, Severity: NoSeverity},
		},
		{
			name:     "trap_oid of 255 bytes",
			in:       ev(`"trap_oid":"` + strings.Repeat("1.", 127) + `1"`),
			wantJSON: ev(`"trap_oid":"`+strings.Repeat("1.", 127)+`1"`, testIDs),
			want:     Event{Hostname: "h", Message: "m", TrapOID: strings.Repeat("1.", 127) + "1", Timestamp: t20250115, Severity: NoSeverity},
		},
		{
			name:     "escapes are decoded for the Event but kept in the text",
			in:       obj(`"hostname":"r\u00e9\"1\\\/"`, `"message":"a\nb\t\ud83d\ude00 \u2028"`, `"timestamp":"2025-01-15T14:30:22Z"`),
			wantJSON: obj(`"hostname":"r\u00e9\"1\\\/"`, `"message":"a\nb\t\ud83d\ude00 \u2028"`, `"timestamp":"2025-01-15T14:30:22Z"`, testIDs),
			want:     Event{Hostname: "ré\"1\\/", Message: "a\nb\t😀 \u2028", Timestamp: t20250115, Severity: NoSeverity},
		},
		{
			name:     "raw UTF-8 text",
			in:       obj(`"hostname":"路由器-1"`, `"message":"Überlast 😀"`, `"timestamp":"2025-01-15T14:30:22Z"`),
			wantJSON: obj(`"hostname":"路由器-1"`, `"message":"Überlast 😀"`, `"timestamp":"2025-01-15T14:30:22Z"`, testIDs),
			want:     Event{Hostname: "路由器-1", Message: "Überlast 😀", Timestamp: t20250115, Severity: NoSeverity},
		},
		{
			name:     "hostname of 255 two-byte characters",
			in:       obj(`"hostname":"`+strings.Repeat("é", 255)+`"`, `"message":"m"`, `"timestamp":"2025-01-15T14:30:22Z"`),
			wantJSON: obj(`"hostname":"`+strings.Repeat("é", 255)+`"`, `"message":"m"`, `"timestamp":"2025-01-15T14:30:22Z"`, testIDs),
			want:     Event{Hostname: strings.Repeat("é", 255), Message: "m", Timestamp: t20250115, Severity: NoSeverity},
		},
		{
			name:     "long message spills the string buffer",
			in:       obj(`"hostname":"h"`, `"message":"`+strings.Repeat("x", 5000)+`"`, `"timestamp":"2025-01-15T14:30:22Z"`),
			wantJSON: obj(`"hostname":"h"`, `"message":"`+strings.Repeat("x", 5000)+`"`, `"timestamp":"2025-01-15T14:30:22Z"`, testIDs),
			want:     Event{Hostname: "h", Message: strings.Repeat("x", 5000), Timestamp: t20250115, Severity: NoSeverity},
		},
		{
			name:     "no required fields: empty object",
			in:       `{}`,
			opts:     &Options{RequiredFields: []string{}},
			wantJSON: `{` + testIDs + `}`,
			want:     Event{Severity: NoSeverity},
		},
		{
			name:     "custom required field",
			in:       `{"device":"d1","hostname":"h"}`,
			opts:     &Options{RequiredFields: []string{"device"}},
			wantJSON: `{"device":"d1","hostname":"h",` + testIDs + `}`,
			want:     Event{Hostname: "h", Severity: NoSeverity},
		},
		{
			name:     "empty names in the required list are ignored",
			in:       `{"hostname":"h"}`,
			opts:     &Options{RequiredFields: []string{"", "hostname", ""}},
			wantJSON: `{"hostname":"h",` + testIDs + `}`,
			want:     Event{Hostname: "h", Severity: NoSeverity},
		},
		{
			name:     "nesting exactly at the limit",
			in:       ev(`"a":{"b":[1]}`),
			opts:     &Options{MaxDepth: 3},
			wantJSON: ev(`"a":{"b":[1]}`, testIDs),
			want:     Event{Hostname: "h", Message: "m", Timestamp: t20250115, Severity: NoSeverity},
		},
		{
			name:     "nesting at the default limit of 64",
			in:       ev(`"a":` + strings.Repeat("[", 63) + strings.Repeat("]", 63)),
			wantJSON: ev(`"a":`+strings.Repeat("[", 63)+strings.Repeat("]", 63), testIDs),
			want:     Event{Hostname: "h", Message: "m", Timestamp: t20250115, Severity: NoSeverity},
		},
		{
			name:     "empty stamp adds no identifiers",
			in:       ev(),
			stamp:    &Stamp{},
			wantJSON: ev(),
			want:     Event{Hostname: "h", Message: "m", Timestamp: t20250115, Severity: NoSeverity},
		},
		{
			name:     "stamp values are escaped",
			in:       ev(),
			stamp:    &Stamp{EventID: "a\"b\\c", CorrelationID: "x\ny\x01\xffz"},
			wantJSON: ev(`"_event_id":"a\"b\\c"`, "\"_correlation_id\":\"x\\ny\\u0001\ufffdz\""),
			want:     Event{Hostname: "h", Message: "m", Timestamp: t20250115, Severity: NoSeverity},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			stamp := testStamp
			if tt.stamp != nil {
				stamp = *tt.stamp
			}
			got, err := Normalize([]byte(tt.in), stamp, tt.opts)
			if err != nil {
				t.Fatalf("Normalize: %v", err)
			}
			if string(got.JSON) != tt.wantJSON {
				t.Errorf("JSON\n got  %s\n want %s", got.JSON, tt.wantJSON)
			}
			if !json.Valid(got.JSON) {
				t.Errorf("output is not valid JSON: %s", got.JSON)
			}
			if got.ID != validUTF8(stamp.EventID) || got.CorrelationID != validUTF8(stamp.CorrelationID) {
				t.Errorf("IDs = %q, %q, want the stamp %q, %q", got.ID, got.CorrelationID, stamp.EventID, stamp.CorrelationID)
			}
			assertFields(t, got, tt.want)
			assertRoundTrip(t, got, tt.opts)
		})
	}
}

func assertFields(t *testing.T, got, want Event) {
	t.Helper()
	if got.Hostname != want.Hostname || got.Message != want.Message || got.TrapOID != want.TrapOID ||
		!got.Timestamp.Equal(want.Timestamp) || got.Severity != want.Severity {
		t.Errorf("fields\n got  host=%q msg=%q oid=%q ts=%v sev=%d\n want host=%q msg=%q oid=%q ts=%v sev=%d",
			got.Hostname, got.Message, got.TrapOID, got.Timestamp, got.Severity,
			want.Hostname, want.Message, want.TrapOID, want.Timestamp, want.Severity)
	}
	if got.Timestamp.Location() != time.UTC {
		t.Errorf("timestamp location = %v, want UTC", got.Timestamp.Location())
	}
}

// assertRoundTrip checks that a normalised event decodes to the same fields.
func assertRoundTrip(t *testing.T, n Event, opts *Options) {
	t.Helper()
	d, err := Decode(n.JSON, opts)
	if err != nil {
		t.Fatalf("Decode of Normalize output %s: %v", n.JSON, err)
	}
	assertFields(t, d, n)
	if d.ID != n.ID || d.CorrelationID != n.CorrelationID {
		t.Errorf("Decode IDs = %q, %q, want %q, %q", d.ID, d.CorrelationID, n.ID, n.CorrelationID)
	}
	if len(d.JSON) != len(n.JSON) || (len(d.JSON) > 0 && &d.JSON[0] != &n.JSON[0]) {
		t.Errorf("Decode must return the stored bytes themselves as JSON")
	}
}

func TestNormalizeTimestamps(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want time.Time // zero: rejected with wantRule
		rule string
	}{
		{"rfc3339 Z", "2025-01-15T14:30:22Z", t20250115, ""},
		{"seven fractional digits", "2025-11-11T16:34:50.6449285Z", time.Date(2025, 11, 11, 16, 34, 50, 644928500, time.UTC), ""},
		{"one fractional digit", "2025-01-15T14:30:22.5Z", t20250115.Add(500 * time.Millisecond), ""},
		{"twelve fractional digits are cut to nanoseconds", "2025-01-15T14:30:22.123456789999Z", t20250115.Add(123456789), ""},
		{"positive offset", "2025-01-15T16:30:22+02:00", t20250115, ""},
		{"negative offset with fraction", "2025-01-15T09:30:22.000-05:00", t20250115, ""},
		{"offset crossing the date", "2025-01-16T00:00:22+09:30", t20250115, ""},
		{"unknown local offset -00:00", "2025-01-15T14:30:22-00:00", t20250115, ""},
		{"space instead of T", "2025-01-15 14:30:22Z", t20250115, ""},
		{"no zone is UTC", "2025-01-15T14:30:22", t20250115, ""},
		{"space, fraction, no zone", "2025-01-15 14:30:22.25", t20250115.Add(250 * time.Millisecond), ""},
		{"lower-case t and z", "2025-01-15t14:30:22z", t20250115, ""},
		{"leap day", "2024-02-29T00:00:00Z", time.Date(2024, 2, 29, 0, 0, 0, 0, time.UTC), ""},
		{"year 2000 leap day", "2000-02-29T00:00:00Z", time.Date(2000, 2, 29, 0, 0, 0, 0, time.UTC), ""},
		{"first second of 1970", "1970-01-01T00:00:00Z", time.Unix(0, 0).UTC(), ""},
		{"last second of 9999", "9999-12-31T23:59:59Z", time.Date(9999, 12, 31, 23, 59, 59, 0, time.UTC), ""},
		{"escaped", `2025-01-15T14:30:22\u005a`, t20250115, ""},
		{"date only", "2025-01-15", time.Time{}, ruleTimestamp},
		{"words", "yesterday", time.Time{}, ruleTimestamp},
		{"empty", "", time.Time{}, ruleNotEmpty},
		{"syslog BSD style", "Jan 15 14:30:22", time.Time{}, ruleTimestamp},
		{"month 13", "2025-13-01T00:00:00Z", time.Time{}, ruleTimestamp},
		{"month 0", "2025-00-01T00:00:00Z", time.Time{}, ruleTimestamp},
		{"day 32", "2025-01-32T00:00:00Z", time.Time{}, ruleTimestamp},
		{"April 31", "2025-04-31T00:00:00Z", time.Time{}, ruleTimestamp},
		{"February 29 of a common year", "2025-02-29T00:00:00Z", time.Time{}, ruleTimestamp},
		{"February 29 of 1900", "1900-02-29T00:00:00Z", time.Time{}, ruleTimestamp},
		{"hour 24", "2025-01-15T24:00:00Z", time.Time{}, ruleTimestamp},
		{"minute 60", "2025-01-15T14:60:00Z", time.Time{}, ruleTimestamp},
		{"leap second", "2016-12-31T23:59:60Z", time.Time{}, ruleTimestamp},
		{"dot without digits", "2025-01-15T14:30:22.Z", time.Time{}, ruleTimestamp},
		{"offset without colon", "2025-01-15T14:30:22+0200", time.Time{}, ruleTimestamp},
		{"offset hours only", "2025-01-15T14:30:22+02", time.Time{}, ruleTimestamp},
		{"offset hour 24", "2025-01-15T14:30:22+24:00", time.Time{}, ruleTimestamp},
		{"named zone", "2025-01-15T14:30:22 UTC", time.Time{}, ruleTimestamp},
		{"trailing junk", "2025-01-15T14:30:22Zx", time.Time{}, ruleTimestamp},
		{"leading space", " 2025-01-15T14:30:22Z", time.Time{}, ruleTimestamp},
		{"two-digit year", "25-01-15T14:30:22Z", time.Time{}, ruleTimestamp},
		{"unicode digits", "２025-01-15T14:30:22Z", time.Time{}, ruleTimestamp},
		{"1969", "1969-12-31T23:59:59Z", time.Time{}, ruleYear},
		{"year 0", "0000-01-01T00:00:00Z", time.Time{}, ruleYear},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Normalize([]byte(ev2(`"timestamp":"`+tt.in+`"`)), testStamp, nil)
			if tt.rule != "" {
				assertFieldError(t, err, "timestamp", tt.rule)
				return
			}
			if err != nil {
				t.Fatalf("Normalize: %v", err)
			}
			if !got.Timestamp.Equal(tt.want) || got.Timestamp.Location() != time.UTC {
				t.Errorf("Timestamp = %v, want %v", got.Timestamp, tt.want)
			}
		})
	}
}

// ev2 builds an event with hostname and message plus the given members.
func ev2(extra ...string) string {
	return obj(append([]string{`"hostname":"h"`, `"message":"m"`}, extra...)...)
}

func assertFieldError(t *testing.T, err error, field, rule string) {
	t.Helper()
	var fe *FieldError
	if !errors.As(err, &fe) {
		t.Fatalf("error = %v (%T), want *FieldError{%q, %q}", err, err, field, rule)
	}
	if fe.Field != field || fe.Rule != rule {
		t.Errorf("FieldError = {%q, %q}, want {%q, %q}", fe.Field, fe.Rule, field, rule)
	}
	if !strings.Contains(fe.Error(), rule) || (field != "" && !strings.Contains(fe.Error(), `"`+field+`"`)) {
		t.Errorf("Error() = %q does not name field %q and rule %q", fe.Error(), field, rule)
	}
}

func TestNormalizeRejects(t *testing.T) {
	long256 := strings.Repeat("a", 256)
	tests := []struct {
		name  string
		in    string
		opts  *Options
		field string
		rule  string // "" means a *BodyError is expected
		body  string // substring of the BodyError
	}{
		// The event as a whole.
		{name: "null", in: `null`, rule: ruleObject},
		{name: "array", in: `[{"hostname":"h"}]`, rule: ruleObject},
		{name: "string", in: `"x"`, rule: ruleObject},
		{name: "number", in: ` 42 `, rule: ruleObject},
		{name: "deep array is still not an object", in: strings.Repeat("[", 100) + strings.Repeat("]", 100), rule: ruleObject},
		{name: "empty input", in: ``, body: "invalid JSON: unexpected end of input at byte 0"},
		{name: "white space only", in: " \n", body: "unexpected end of input"},
		{name: "truncated", in: `{"hostname":"h"`, body: "invalid JSON: unexpected end of input at byte 15"},
		{name: "truncated scalar", in: `nul`, body: "unexpected end of input"},
		{name: "missing colon", in: `{"hostname" "h"}`, body: `invalid character '"' after object key at byte 12`},
		{name: "trailing comma", in: `{"hostname":"h",}`, body: "looking for beginning of object key string"},
		{name: "single quotes", in: `{'hostname':'h'}`, body: `invalid character '\'' looking for beginning of object key string`},
		{name: "unquoted key", in: `{hostname:"h"}`, body: "invalid character 'h'"},
		{name: "data after the object", in: ev() + ` {}`, body: "after top-level value"},
		{name: "two objects", in: ev() + "\n" + ev(), body: "after top-level value"},
		{name: "raw newline in a string", in: ev2(`"timestamp":"2025-01-15T14:30:22Z"`, "\"x\":\"a\nb\""), body: "invalid character byte 0xa in string literal"},
		{name: "invalid UTF-8", in: ev("\"x\":\"\xff\""), body: "invalid UTF-8 in string"},
		{name: "NaN", in: ev(`"x":NaN`), body: "invalid character 'N' looking for beginning of value"},
		{name: "Infinity", in: ev(`"x":-Infinity`), body: "in numeric literal"},
		{name: "leading zero", in: ev(`"x":01`), body: "after object key:value pair"},
		{name: "bad escape", in: ev(`"x":"\x41"`), body: "in string escape code"},
		{name: "short unicode escape", in: ev(`"x":"\u12"`), body: `in \u hexadecimal character escape`},
		{name: "unclosed nested array", in: ev(`"x":[1,2}`), body: "after array element"},
		{name: "byte order mark", in: "\xef\xbb\xbf" + ev(), body: "looking for beginning of value"},
		{name: "nesting beyond the limit", in: ev(`"a":{"b":[1]}`), opts: &Options{MaxDepth: 2}, rule: "must not be nested more than 2 levels deep"},
		{name: "nesting beyond the default limit", in: ev(`"a":` + strings.Repeat("[", 64) + strings.Repeat("]", 64)), rule: "must not be nested more than 64 levels deep"},
		{name: "very deep nesting", in: ev(`"a":` + strings.Repeat(`{"a":`, 100000)), rule: "must not be nested more than 64 levels deep"},

		// Duplicates.
		{name: "duplicate hostname", in: ev(`"hostname":"h2"`), field: "hostname", rule: ruleDuplicate},
		{name: "duplicate through an escape", in: ev(`"host\u006eame":"h2"`), field: "hostname", rule: ruleDuplicate},
		{name: "duplicate reserved key", in: ev(`"_retry_count":1`, `"_retry_count":2`), field: "_retry_count", rule: ruleDuplicate},
		{name: "duplicate in a big object", in: ev(manyMembers(40) + `,"k7":0`), field: "k7", rule: ruleDuplicate},

		// Required fields, in order.
		{name: "all missing names hostname first", in: `{"x":1}`, field: "hostname", rule: ruleRequired},
		{name: "missing message", in: obj(`"hostname":"h"`, `"timestamp":"2025-01-15T14:30:22Z"`), field: "message", rule: ruleRequired},
		{name: "missing timestamp", in: ev2(), field: "timestamp", rule: ruleRequired},
		{name: "empty object", in: `{}`, field: "hostname", rule: ruleRequired},
		{name: "hostname null", in: obj(`"hostname":null`, `"message":"m"`, `"timestamp":"2025-01-15T14:30:22Z"`), field: "hostname", rule: ruleString},
		{name: "hostname empty", in: obj(`"hostname":""`, `"message":"m"`, `"timestamp":"2025-01-15T14:30:22Z"`), field: "hostname", rule: ruleNotEmpty},
		{name: "hostname blank", in: obj(`"hostname":" \t\u00a0"`, `"message":"m"`, `"timestamp":"2025-01-15T14:30:22Z"`), field: "hostname", rule: ruleNotEmpty},
		{name: "hostname 0", in: obj(`"hostname":0`, `"message":"m"`, `"timestamp":"2025-01-15T14:30:22Z"`), field: "hostname", rule: ruleString},
		{name: "hostname false", in: obj(`"hostname":false`, `"message":"m"`, `"timestamp":"2025-01-15T14:30:22Z"`), field: "hostname", rule: ruleString},
		{name: "hostname []", in: obj(`"hostname":[]`, `"message":"m"`, `"timestamp":"2025-01-15T14:30:22Z"`), field: "hostname", rule: ruleString},
		{name: "hostname {}", in: obj(`"hostname":{}`, `"message":"m"`, `"timestamp":"2025-01-15T14:30:22Z"`), field: "hostname", rule: ruleString},
		{name: "message number", in: obj(`"hostname":"h"`, `"message":12`, `"timestamp":"2025-01-15T14:30:22Z"`), field: "message", rule: ruleString},
		{name: "message empty", in: obj(`"hostname":"h"`, `"message":""`, `"timestamp":"2025-01-15T14:30:22Z"`), field: "message", rule: ruleNotEmpty},
		{name: "timestamp null", in: ev2(`"timestamp":null`), field: "timestamp", rule: ruleString},
		{name: "timestamp epoch number", in: ev2(`"timestamp":1736951422`), field: "timestamp", rule: ruleString},
		{name: "custom required field missing", in: ev(), opts: &Options{RequiredFields: []string{"hostname", "source"}}, field: "source", rule: ruleRequired},

		// Field rules that also apply when the field is not required.
		{name: "optional hostname of the wrong type", in: `{"hostname":1}`, opts: &Options{RequiredFields: []string{}}, field: "hostname", rule: ruleString},
		{name: "optional message of the wrong type", in: `{"message":true}`, opts: &Options{RequiredFields: []string{}}, field: "message", rule: ruleString},
		{name: "optional timestamp of the wrong type", in: `{"timestamp":{}}`, opts: &Options{RequiredFields: []string{}}, field: "timestamp", rule: ruleString},
		{name: "hostname of 256 characters", in: obj(`"hostname":"`+long256+`"`, `"message":"m"`, `"timestamp":"2025-01-15T14:30:22Z"`), field: "hostname", rule: ruleHostLen},
		{name: "hostname of 256 two-byte characters", in: obj(`"hostname":"`+strings.Repeat("é", 256)+`"`, `"message":"m"`, `"timestamp":"2025-01-15T14:30:22Z"`), field: "hostname", rule: ruleHostLen},
		{name: "hostname with NUL", in: obj(`"hostname":"a\u0000b"`, `"message":"m"`, `"timestamp":"2025-01-15T14:30:22Z"`), field: "hostname", rule: ruleHostNUL},
		{name: "hostname with a lone surrogate", in: obj(`"hostname":"a\ud800b"`, `"message":"m"`, `"timestamp":"2025-01-15T14:30:22Z"`), field: "hostname", rule: ruleSurrogate},
		{name: "message with a lone low surrogate", in: obj(`"hostname":"h"`, `"message":"\udc00"`, `"timestamp":"2025-01-15T14:30:22Z"`), field: "message", rule: ruleSurrogate},
		{name: "message with a reversed surrogate pair", in: obj(`"hostname":"h"`, `"message":"\ude00\ud83d"`, `"timestamp":"2025-01-15T14:30:22Z"`), field: "message", rule: ruleSurrogate},
		{name: "message with a high surrogate at the end", in: obj(`"hostname":"h"`, `"message":"x\ud83d"`, `"timestamp":"2025-01-15T14:30:22Z"`), field: "message", rule: ruleSurrogate},
		{name: "bad timestamp", in: ev2(`"timestamp":"15/01/2025 14:30"`), field: "timestamp", rule: ruleTimestamp},

		// syslog_severity.
		{name: "severity 3.5", in: ev(`"syslog_severity":3.5`), field: "syslog_severity", rule: ruleSeverity},
		{name: "severity -1", in: ev(`"syslog_severity":-1`), field: "syslog_severity", rule: ruleSeverity},
		{name: "severity 8", in: ev(`"syslog_severity":8`), field: "syslog_severity", rule: ruleSeverity},
		{name: "severity 1e400", in: ev(`"syslog_severity":1e400`), field: "syslog_severity", rule: ruleSeverity},
		{name: "severity 07", in: ev(`"syslog_severity":"07"`), field: "syslog_severity", rule: ruleSeverity},
		{name: "severity Minor", in: ev(`"syslog_severity":"Minor"`), field: "syslog_severity", rule: ruleSeverity},
		{name: "severity empty string", in: ev(`"syslog_severity":""`), field: "syslog_severity", rule: ruleSeverity},
		{name: "severity true", in: ev(`"syslog_severity":true`), field: "syslog_severity", rule: ruleSeverity},
		{name: "severity array", in: ev(`"syslog_severity":[3]`), field: "syslog_severity", rule: ruleSeverity},
		{name: "severity object", in: ev(`"syslog_severity":{}`), field: "syslog_severity", rule: ruleSeverity},

		// trap_oid.
		{name: "trap_oid number", in: ev(`"trap_oid":1.3`), field: "trap_oid", rule: ruleString},
		{name: "trap_oid of 256 bytes", in: ev(`"trap_oid":"` + long256 + `"`), field: "trap_oid", rule: ruleTrapOIDLen},
		{name: "trap_oid with a lone surrogate", in: ev(`"trap_oid":"\ud800"`), field: "trap_oid", rule: ruleSurrogate},

		// First failure wins, in the documented order.
		{name: "duplicate before required", in: `{"x":1,"x":2}`, field: "x", rule: ruleDuplicate},
		{name: "required before hostname length", in: obj(`"hostname":"`+long256+`"`, `"message":""`, `"timestamp":"2025-01-15T14:30:22Z"`), field: "message", rule: ruleNotEmpty},
		{name: "timestamp before severity", in: ev2(`"syslog_severity":9`, `"timestamp":"x"`), field: "timestamp", rule: ruleTimestamp},
		{name: "severity before trap_oid", in: ev(`"trap_oid":1`, `"syslog_severity":9`), field: "syslog_severity", rule: ruleSeverity},
		{name: "syntax before everything", in: `{"x":1,"x":2,}`, body: "invalid JSON"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Normalize([]byte(tt.in), testStamp, tt.opts)
			if err == nil {
				t.Fatalf("Normalize succeeded with %s, want an error", got.JSON)
			}
			if got.JSON != nil {
				t.Errorf("Normalize returned JSON along with error %v", err)
			}
			if tt.rule != "" {
				assertFieldError(t, err, tt.field, tt.rule)
			} else {
				assertBodyError(t, err, tt.body)
			}
			// Decode applies the same rules.
			_, derr := Decode([]byte(tt.in), tt.opts)
			if derr == nil || derr.Error() != err.Error() {
				t.Errorf("Decode error = %v, want the same as Normalize: %v", derr, err)
			}
		})
	}
}

func assertBodyError(t *testing.T, err error, substr string) {
	t.Helper()
	var be *BodyError
	if !errors.As(err, &be) {
		t.Fatalf("error = %v (%T), want *BodyError containing %q", err, err, substr)
	}
	if !strings.Contains(be.Error(), substr) {
		t.Errorf("BodyError = %q, want it to contain %q", be.Error(), substr)
	}
}

// manyMembers returns n members "k0":0 ... joined by commas.
func manyMembers(n int) string {
	var b strings.Builder
	for k := range n {
		if k > 0 {
			b.WriteByte(',')
		}
		b.WriteString(`"k` + itoa(k) + `":0`)
	}
	return b.String()
}

func itoa(n int) string { return string(appendInt(nil, n)) }

func appendInt(b []byte, n int) []byte {
	if n >= 10 {
		b = appendInt(b, n/10)
	}
	return append(b, byte('0'+n%10))
}

func TestNormalizeManyMembers(t *testing.T) {
	in := ev(manyMembers(100))
	got, err := Normalize([]byte(in), testStamp, nil)
	if err != nil {
		t.Fatal(err)
	}
	if want := ev(manyMembers(100), testIDs); string(got.JSON) != want {
		t.Errorf("JSON = %s, want %s", got.JSON, want)
	}
}

func TestErrorMessages(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want string
	}{
		{"field", &FieldError{Field: "timestamp", Rule: ruleTimestamp}, `field "timestamp": must be an RFC 3339 date-time, e.g. 2025-01-15T14:30:22Z`},
		{"whole event", &FieldError{Rule: ruleObject}, "event must be a JSON object"},
		{"item", &ItemError{Index: 3, Err: &FieldError{Field: "hostname", Rule: ruleRequired}}, `item 3: field "hostname": is required`},
		{"item with line", &ItemError{Index: 3, Line: 5, Err: &BodyError{Reason: "invalid JSON: x"}}, `item 3 (line 5): invalid JSON: x`},
		{"body", &BodyError{Reason: "empty body"}, "empty body"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.err.Error(); got != tt.want {
				t.Errorf("Error() = %q, want %q", got, tt.want)
			}
		})
	}
	inner := &FieldError{Field: "hostname", Rule: ruleRequired}
	var fe *FieldError
	if err := error(&ItemError{Index: 1, Err: inner}); !errors.As(err, &fe) || fe != inner {
		t.Errorf("errors.As through ItemError did not find the FieldError")
	}
}

func TestDefaultRequired(t *testing.T) {
	a := DefaultRequired()
	if strings.Join(a, ",") != "hostname,message,timestamp" {
		t.Fatalf("DefaultRequired() = %v", a)
	}
	a[0] = "changed"
	if DefaultRequired()[0] != "hostname" {
		t.Errorf("changing the returned slice changed the default")
	}
	var o *Options
	if o.maxDepth() != DefaultMaxDepth || len(o.required()) != 3 {
		t.Errorf("nil Options do not give the defaults")
	}
}
