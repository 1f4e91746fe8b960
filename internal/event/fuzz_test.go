package event

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"unicode/utf8"
)

// fuzzSeeds are event texts covering every rule of the table tests.
var fuzzSeeds = []string{
	ev(),
	ev(`"syslog_severity":"Warning"`, `"x":{"y":[1,2.5e3,null,true,false,"\u00e9"]}`),
	ev(`"syslog_severity":3.0`),
	ev(`"syslog_severity":null`, `"severity":"err"`),
	ev(`"severity":"Minor"`, `"trap_oid":"1.3.6.1.6.3.1.1.5.3"`),
	ev(`"_retry_count":5`, `"_correlation_id":"c"`, `"\u005fx":1`),
	ev(`"hostname":"dup"`),
	obj(`"hostname":"r\u00e9\"\\\/"`, `"message":"a\nb\ud83d\ude00"`, `"timestamp":"2025-11-11T16:34:50.6449285Z"`),
	obj(`"hostname":"a\ud800"`, `"message":"m"`, `"timestamp":"2025-01-15 14:30:22"`),
	obj(`"hostname":""`, `"message":0`, `"timestamp":"2025-01-15t14:30:22+02:00"`),
	ev2(`"timestamp":"1969-12-31T23:59:59Z"`),
	ev2(`"timestamp":"2025-02-29T00:00:00Z"`),
	ev(`"a":` + strings.Repeat("[", 70) + strings.Repeat("]", 70)),
	`null`, `[]`, `"x"`, `42`, ``, `{`, `{"a":1,}`, "{\"a\":\"\xff\"}", `{"a":NaN}`,
}

func FuzzNormalize(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add([]byte(s), "e1", "c1")
	}
	f.Add([]byte(ev()), "a\"b\\", "x\ny\xff")
	f.Fuzz(func(t *testing.T, raw []byte, eventID, correlationID string) {
		in := bytes.Clone(raw)
		stamp := Stamp{EventID: eventID, CorrelationID: correlationID}
		got, err := Normalize(raw, stamp, nil)
		if !bytes.Equal(raw, in) {
			t.Fatalf("Normalize changed its input")
		}
		checkErrorType(t, err)
		if err != nil {
			return
		}
		// What we accept, encoding/json accepts too, and sees the same values.
		if !json.Valid(raw) || !utf8.Valid(raw) {
			t.Fatalf("Normalize accepted text that is not valid JSON: %q", raw)
		}
		if !json.Valid(got.JSON) {
			t.Fatalf("Normalize output is not valid JSON: %q", got.JSON)
		}
		var std map[string]any
		if err := json.Unmarshal(got.JSON, &std); err != nil {
			t.Fatalf("encoding/json cannot read the output %q: %v", got.JSON, err)
		}
		if std["hostname"] != got.Hostname || std["message"] != got.Message {
			t.Fatalf("encoding/json reads host=%q msg=%q, Normalize %q %q", std["hostname"], std["message"], got.Hostname, got.Message)
		}
		for k := range std {
			if strings.HasPrefix(k, "_") && k != keyEventID && k != keyCorrelationID {
				t.Fatalf("reserved key %q survived in %q", k, got.JSON)
			}
		}
		d, err := Decode(got.JSON, nil)
		if err != nil {
			t.Fatalf("Decode of Normalize output %q: %v", got.JSON, err)
		}
		if d.Hostname != got.Hostname || d.Message != got.Message || d.TrapOID != got.TrapOID ||
			!d.Timestamp.Equal(got.Timestamp) || d.Severity != got.Severity ||
			d.ID != got.ID || d.CorrelationID != got.CorrelationID {
			t.Fatalf("round trip differs:\n normalize %+v\n decode    %+v", got, d)
		}
		// Normalising again changes nothing but the identifiers.
		again, err := Normalize(got.JSON, stamp, nil)
		if err != nil || !bytes.Equal(again.JSON, got.JSON) {
			t.Fatalf("Normalize is not idempotent: %q -> %q, %v", got.JSON, again.JSON, err)
		}
	})
}

func FuzzDecode(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add([]byte(s))
	}
	f.Add([]byte(`{"hostname": "h", "message": "m", "timestamp": "2025-01-15T14:30:22Z", "_event_id": "e", "_correlation_id": 5}`))
	f.Fuzz(func(t *testing.T, stored []byte) {
		in := bytes.Clone(stored)
		got, err := Decode(stored, nil)
		if !bytes.Equal(stored, in) {
			t.Fatalf("Decode changed its input")
		}
		checkErrorType(t, err)
		if err != nil {
			if !json.Valid(stored) || !utf8.Valid(stored) {
				return
			}
			// Valid JSON is rejected only for a rule, never for syntax.
			var be *BodyError
			if errors.As(err, &be) {
				t.Fatalf("Decode reported %v for valid JSON %q", err, stored)
			}
			return
		}
		if !json.Valid(stored) {
			t.Fatalf("Decode accepted invalid JSON %q", stored)
		}
		if len(got.JSON) != len(stored) || (len(stored) > 0 && &got.JSON[0] != &stored[0]) {
			t.Fatalf("Event.JSON is not the stored text")
		}
		if got.Timestamp.Year() < 1969 || got.Severity < NoSeverity || got.Severity > 7 ||
			utf8.RuneCountInString(got.Hostname) > 255 || len(got.TrapOID) > 255 {
			t.Fatalf("Decode returned an event breaking its own rules: %+v", got)
		}
	})
}

func FuzzSplit(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add([]byte(s), "application/json")
	}
	f.Add([]byte("["+objA+","+objB+"]"), "application/json")
	f.Add([]byte("\xef\xbb\xbf"+objA+"\r\n\r\n"+objB+"\n"), "text/plain")
	f.Add([]byte(objA+"\n{\"a\":\n"+objB), "application/x-ndjson")
	f.Add([]byte("[1,{}]"), "")
	f.Add([]byte(objA), "application/vnd.x+json; charset=utf-8")
	f.Add([]byte(objA), "text/html")
	f.Fuzz(func(t *testing.T, body []byte, contentType string) {
		in := bytes.Clone(body)
		items, err := Split(body, contentType)
		if !bytes.Equal(body, in) {
			t.Fatalf("Split changed its input")
		}
		checkErrorType(t, err)
		if err != nil {
			if items != nil {
				t.Fatalf("items along with an error")
			}
			return
		}
		if len(items) == 0 {
			t.Fatalf("no items and no error for %q", body)
		}
		for k, item := range items {
			if len(item) == 0 || item[0] != '{' || item[len(item)-1] != '}' || !json.Valid(item) {
				t.Fatalf("item %d is not a JSON object: %q", k, item)
			}
			if Line(body, item) == 0 {
				t.Fatalf("item %d does not alias the body", k)
			}
		}
	})
}

// checkErrorType fails unless err is nil or one of the documented types.
func checkErrorType(t *testing.T, err error) {
	t.Helper()
	if err == nil {
		return
	}
	var be *BodyError
	var fe *FieldError
	var ie *ItemError
	if !errors.As(err, &be) && !errors.As(err, &fe) && !errors.As(err, &ie) {
		t.Fatalf("error %v has undocumented type %T", err, err)
	}
	if err.Error() == "" {
		t.Fatalf("empty error message")
	}
}
