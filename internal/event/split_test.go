package event

import (
	"errors"
	"strings"
	"testing"
)

const (
	objA = `{"hostname":"a","message":"m","timestamp":"2025-01-15T14:30:22Z"}`
	objB = `{"hostname":"b","message":"x y","timestamp":"2025-01-15T14:30:22Z","n":{"k":[1,2]}}`
	objC = `{"hostname":"c","message":"m","timestamp":"2025-01-15T14:30:22Z"}`
)

func TestSplitAccepts(t *testing.T) {
	tests := []struct {
		name        string
		body        string
		contentType string
		want        []string
	}{
		{"one object", objA, "application/json", []string{objA}},
		{"one object, no content type", objA, "", []string{objA}},
		{"one object with charset", objA, "Application/JSON; charset=utf-8", []string{objA}},
		{"vendor +json type", objA, "application/vnd.mutt+json", []string{objA}},
		{"pretty-printed object", "{\n  \"hostname\": \"a\",\n  \"n\": [\n    1\n  ]\n}\n", "application/json", []string{"{\n  \"hostname\": \"a\",\n  \"n\": [\n    1\n  ]\n}"}},
		{"surrounding white space", " \r\n\t" + objA + " \r\n\t", "application/json", []string{objA}},
		{"byte order mark", "\xef\xbb\xbf" + objA, "application/json", []string{objA}},
		{"array", "[" + objA + "," + objB + "]", "application/json", []string{objA, objB}},
		{"array with white space", "\xef\xbb\xbf [ \n" + objA + " ,\r\n " + objB + "\n ] \n", "application/json", []string{objA, objB}},
		{"array as text/plain", "[" + objA + "]", "text/plain", []string{objA}},
		{"NDJSON as text/plain (rsyslog omhttp batch)", objA + "\n" + objB + "\n" + objC, "text/plain", []string{objA, objB, objC}},
		{"NDJSON as application/x-ndjson with final newline", objA + "\n" + objB + "\n", "application/x-ndjson", []string{objA, objB}},
		{"NDJSON as application/jsonlines", objA + "\n" + objB, "application/jsonlines", []string{objA, objB}},
		{"NDJSON as application/json", objA + "\n" + objB, "application/json", []string{objA, objB}},
		{"NDJSON with CRLF", objA + "\r\n" + objB + "\r\n", "text/plain; charset=utf-8", []string{objA, objB}},
		{"NDJSON with blank lines and indentation", "\n\n  " + objA + "  \n \r\n\t\n" + objB + "\n\n", "text/plain", []string{objA, objB}},
		{"NDJSON with BOM", "\xef\xbb\xbf" + objA + "\n" + objB, "application/x-ndjson", []string{objA, objB}},
		{"concatenated pretty-printed objects", "{\n \"a\": 1\n}\n{\n \"b\": 2\n}\n", "text/plain", []string{"{\n \"a\": 1\n}", "{\n \"b\": 2\n}"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			body := []byte(tt.body)
			got, err := Split(body, tt.contentType)
			if err != nil {
				t.Fatalf("Split: %v", err)
			}
			if len(got) != len(tt.want) {
				t.Fatalf("Split returned %d items %q, want %d", len(got), got, len(tt.want))
			}
			for k := range got {
				if string(got[k]) != tt.want[k] {
					t.Errorf("item %d = %q, want %q", k, got[k], tt.want[k])
				}
				if Line(body, got[k]) == 0 {
					t.Errorf("item %d does not alias the body", k)
				}
			}
		})
	}
}

func TestSplitRejects(t *testing.T) {
	tests := []struct {
		name        string
		body        string
		contentType string
		want        string // the whole error message
		index       int    // the *ItemError index, or -1 for a *BodyError
		line        int
		inner       string // "field" or "body": the type inside the *ItemError
	}{
		{name: "wrong content type", body: objA, contentType: "application/x-www-form-urlencoded", index: -1,
			want: `unsupported content type "application/x-www-form-urlencoded": send application/json, application/*+json, application/x-ndjson, application/jsonlines or text/plain`},
		{name: "xml", body: objA, contentType: "text/xml; charset=utf-8", index: -1,
			want: `unsupported content type "text/xml": send application/json, application/*+json, application/x-ndjson, application/jsonlines or text/plain`},
		{name: "json-seq", body: objA, contentType: "application/json-seq", index: -1,
			want: `unsupported content type "application/json-seq": send application/json, application/*+json, application/x-ndjson, application/jsonlines or text/plain`},
		{name: "bare +json", body: objA, contentType: "application/+json", index: -1,
			want: `unsupported content type "application/+json": send application/json, application/*+json, application/x-ndjson, application/jsonlines or text/plain`},
		{name: "no subtype", body: objA, contentType: "json", index: -1,
			want: `unsupported content type "json": send application/json, application/*+json, application/x-ndjson, application/jsonlines or text/plain`},
		{name: "empty body", body: "", index: -1, want: "empty body"},
		{name: "white space body", body: " \r\n\t\n", index: -1, want: "empty body"},
		{name: "BOM only", body: "\xef\xbb\xbf\n", index: -1, want: "empty body"},
		{name: "null", body: "null", index: -1, want: "payload is null"},
		{name: "null with white space", body: " null\r\n", index: -1, want: "payload is null"},
		{name: "string", body: `"x"`, index: -1, want: "payload must be a JSON object, an array of objects, or newline-delimited objects"},
		{name: "number", body: `42`, index: -1, want: "payload must be a JSON object, an array of objects, or newline-delimited objects"},
		{name: "true", body: `true`, index: -1, want: "payload must be a JSON object, an array of objects, or newline-delimited objects"},
		{name: "scalar first line of NDJSON", body: "1\n" + objA, index: -1, want: "payload must be a JSON object, an array of objects, or newline-delimited objects"},
		{name: "empty array", body: "[]", index: -1, want: "empty batch"},
		{name: "empty array with white space", body: " [ \n ] ", index: -1, want: "empty batch"},
		{name: "truncated object", body: `{"hostname":"a","message":`, index: -1, want: "invalid JSON: unexpected end of input at byte 26"},
		{name: "truncated literal", body: `nul`, index: -1, want: "invalid JSON: unexpected end of input at byte 3"},
		{name: "bad literal", body: `nulL`, index: -1, want: "invalid JSON: invalid character 'L' in literal null (expecting 'l') at byte 3"},
		{name: "scalar followed by data", body: `1 2`, index: -1, want: "invalid JSON: invalid character '2' after top-level value at byte 2"},
		{name: "unescaped quote (rsyslog TLS example)", body: `{"hostname":"h","message":"said "hi"","timestamp":"t"}`, index: -1,
			want: `invalid JSON: invalid character 'h' after object key:value pair at byte 33`},
		{name: "two objects on one line", body: objA + objB, index: -1,
			want: "invalid JSON: invalid character '{' after top-level value (one object per line) at byte 65"},
		{name: "array followed by data", body: "[" + objA + "] x", index: -1, want: "invalid JSON: invalid character 'x' after top-level value at byte 68"},
		{name: "empty array followed by data", body: "[] x", index: -1, want: "invalid JSON: invalid character 'x' after top-level value at byte 3"},
		{name: "two arrays", body: "[" + objA + "]\n[" + objB + "]", index: -1, want: "invalid JSON: invalid character '[' after top-level value at byte 68 (line 2, column 1)"},
		{name: "array missing comma", body: "[" + objA + " " + objB + "]", index: -1, want: "invalid JSON: invalid character '{' after array element at byte 67"},
		{name: "truncated array", body: "[" + objA + ",", index: -1, want: "invalid JSON: unexpected end of input at byte 67"},
		{name: "unterminated array", body: "[" + objA, index: -1, want: "invalid JSON: unexpected end of input at byte 66"},
		{name: "invalid UTF-8", body: "{\"a\":\"\xc3\x28\"}", index: -1, want: "invalid JSON: invalid UTF-8 in string at byte 6"},
		{name: "syntax error in a later array element wins over a non-object", body: "[1,{]", index: -1,
			want: "invalid JSON: invalid character ']' looking for beginning of object key string at byte 4"},

		{name: "array element that is not an object", body: "[" + objA + ",42," + objB + "]", index: 1,
			inner: "field", want: "item 1: event must be a JSON object"},
		{name: "array element that is an array", body: "[[" + objA + "]]", index: 0,
			inner: "field", want: "item 0: event must be a JSON object"},
		{name: "pretty array element that is null", body: "[\n " + objA + ",\n null\n]", index: 1, line: 3,
			inner: "field", want: "item 1 (line 3): event must be a JSON object"},

		{name: "bad third line", body: objA + "\n" + objB + "\n" + `{"hostname":"c",,"message":"m"}` + "\n" + objC, index: 2, line: 3, inner: "body",
			want: "item 2 (line 3): invalid JSON: invalid character ',' looking for beginning of object key string at byte 166 (line 3, column 17)"},
		{name: "unterminated third line runs into the fourth", body: objA + "\n" + objB + "\n{\"hostname\":\"c\",\n" + objC, index: 2, line: 3, inner: "body",
			want: "item 2 (line 3): invalid JSON: invalid character '{' looking for beginning of object key string at byte 167 (line 4, column 1)"},
		{name: "bad line after blank lines counts only items", body: objA + "\n\n\r\n" + objB + "\n\n" + `{"message":"said "hi""}` + "\n" + objC, index: 2, line: 6, inner: "body",
			want: "item 2 (line 6): invalid JSON: invalid character 'h' after object key:value pair at byte 172 (line 6, column 19)"},
		{name: "bad first line of NDJSON", body: `{"a":tru}` + "\n" + objA, index: 0, line: 1, inner: "body",
			want: "item 0 (line 1): invalid JSON: invalid character '}' in literal true (expecting 'e') at byte 8 (line 1, column 9)"},
		{name: "raw newline inside a string (traphandle script)", body: "{\"message\":\"a\nb\"}\n" + objA, index: 0, line: 1, inner: "body",
			want: "item 0 (line 1): invalid JSON: invalid character byte 0xa in string literal at byte 13 (line 1, column 14)"},
		{name: "two objects on the second line", body: objA + "\n" + objB + " " + objC, index: 1, line: 2, inner: "body",
			want: "item 1 (line 2): invalid JSON: invalid character '{' after top-level value (one object per line) at byte 150 (line 2, column 85)"},
		{name: "NDJSON line that is an array", body: objA + "\n[" + objB + "]", index: 1, line: 2, inner: "field",
			want: "item 1 (line 2): event must be a JSON object"},
		{name: "NDJSON line that is null", body: objA + "\n\nnull\n", index: 1, line: 3, inner: "field",
			want: "item 1 (line 3): event must be a JSON object"},
		{name: "NDJSON line that is truncated at the end", body: objA + "\n{", index: 1, line: 2, inner: "body",
			want: "item 1 (line 2): invalid JSON: unexpected end of input at byte 67 (line 2, column 2)"},
		{name: "pretty-printed object with an error is reported with its line", body: "{\n  \"a\": 1,\n  \"b\": x\n}", index: 0, line: 1, inner: "body",
			want: "item 0 (line 1): invalid JSON: invalid character 'x' looking for beginning of value at byte 19 (line 3, column 8)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Split([]byte(tt.body), tt.contentType)
			if err == nil {
				t.Fatalf("Split returned %q, want an error", got)
			}
			if got != nil {
				t.Errorf("Split returned items along with error %v", err)
			}
			if err.Error() != tt.want {
				t.Errorf("error\n got  %s\n want %s", err, tt.want)
			}
			if tt.index < 0 {
				if _, ok := err.(*BodyError); !ok {
					t.Errorf("error is %T, want *BodyError", err)
				}
				return
			}
			var ie *ItemError
			if !errors.As(err, &ie) {
				t.Fatalf("error is %T, want *ItemError", err)
			}
			if ie.Index != tt.index || ie.Line != tt.line {
				t.Errorf("ItemError Index, Line = %d, %d, want %d, %d", ie.Index, ie.Line, tt.index, tt.line)
			}
			var fe *FieldError
			var be *BodyError
			switch {
			case tt.inner == "field" && !errors.As(err, &fe):
				t.Errorf("ItemError wraps %T, want *FieldError", ie.Err)
			case tt.inner == "body" && !errors.As(err, &be):
				t.Errorf("ItemError wraps %T, want *BodyError", ie.Err)
			}
		})
	}
}

func TestSplitContentTypes(t *testing.T) {
	tests := []struct {
		contentType string
		ok          bool
	}{
		{"", true},
		{"  ", true},
		{"; charset=utf-8", true},
		{"application/json", true},
		{"APPLICATION/JSON", true},
		{"application/json;charset=UTF-8", true},
		{"application/problem+json", true},
		{"application/vnd.mutt.v2+JSON; charset=utf-8", true},
		{"application/x-ndjson", true},
		{"application/ndjson", true},
		{"application/jsonlines", true},
		{"application/x-jsonlines", true},
		{"text/plain", true},
		{"Text/Plain; charset=us-ascii", true},
		{"text/html", false},
		{"text/json", false},
		{"application/xml", false},
		{"application/octet-stream", false},
		{"multipart/form-data; boundary=x", false},
		{"application/jsonx", false},
		{"application/json-seq", false},
		{strings.Repeat("x", 300), false},
	}
	for _, tt := range tests {
		t.Run(tt.contentType, func(t *testing.T) {
			_, err := Split([]byte(objA), tt.contentType)
			if (err == nil) != tt.ok {
				t.Fatalf("Split with %q: error %v, want ok=%v", tt.contentType, err, tt.ok)
			}
			if err != nil && (!strings.Contains(err.Error(), "unsupported content type") || len(err.Error()) > 250) {
				t.Errorf("error %q does not name the content type briefly", err)
			}
		})
	}
}

func TestSplitAliasesBody(t *testing.T) {
	body := []byte("[" + objA + "," + objB + "]")
	items, err := Split(body, "application/json")
	if err != nil {
		t.Fatal(err)
	}
	items[0][2] = 'X'
	if body[3] != 'X' {
		t.Errorf("items are copies of the body, want slices of it")
	}
}

func TestLine(t *testing.T) {
	body := []byte(objA + "\n\n" + objB + "\r\n" + objC)
	items, err := Split(body, "text/plain")
	if err != nil {
		t.Fatal(err)
	}
	for k, want := range []int{1, 3, 4} {
		if got := Line(body, items[k]); got != want {
			t.Errorf("Line(item %d) = %d, want %d", k, got, want)
		}
	}
	if got := Line(body, []byte(objA)); got != 0 {
		t.Errorf("Line of a foreign slice = %d, want 0", got)
	}
	if got := Line(body, nil); got != 0 {
		t.Errorf("Line of nil = %d, want 0", got)
	}
	if got := Line(body[:10], body[20:30]); got != 0 {
		t.Errorf("Line of a slice beyond body = %d, want 0", got)
	}
}
