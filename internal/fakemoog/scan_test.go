package fakemoog

import (
	"bytes"
	"encoding/json"
	"testing"
)

func TestExternalID(t *testing.T) {
	tests := []struct {
		name   string
		body   string
		want   string
		wantOK bool
	}{
		{name: "forwarder body", body: `{"signature":"router-01","source_id":"router-01","external_id":"6f1c-01","manager":"MUTT","severity":3}`, want: "6f1c-01", wantOK: true},
		{name: "first member with spaces", body: "{ \"external_id\" :\n \"abc\" , \"x\":1}", want: "abc", wantOK: true},
		{name: "escaped value", body: `{"external_id":"a\"b\\c\u00e9"}`, want: "a\"b\\cé", wantOK: true},
		{name: "nested key comes first", body: `{"custom_info":{"external_id":"inner","list":[{"external_id":"deeper"}]},"external_id":"outer"}`, want: "outer", wantOK: true},
		{name: "only nested", body: `{"custom_info":{"external_id":"inner"}}`, wantOK: false},
		{name: "key text inside a string value", body: `{"description":"\"external_id\":\"fake\"","external_id":"real"}`, want: "real", wantOK: true},
		{name: "value equal to the key name", body: `{"a":"external_id","external_id":"x"}`, want: "x", wantOK: true},
		{name: "number", body: `{"external_id":12345}`, want: "12345", wantOK: true},
		{name: "null", body: `{"external_id":null}`, wantOK: false},
		{name: "object value", body: `{"external_id":{"a":1}}`, wantOK: false},
		{name: "missing", body: `{"signature":"x"}`, wantOK: false},
		{name: "not JSON", body: `external_id=5`, wantOK: false},
		{name: "empty", body: ``, wantOK: false},
		{name: "unterminated string", body: `{"external_id":"abc`, wantOK: false},
		{name: "unterminated key", body: `{"external_`, wantOK: false},
		{name: "array at top", body: `[{"external_id":"x"}]`, wantOK: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := externalID([]byte(tt.body))
			if ok != tt.wantOK || string(got) != tt.want {
				t.Errorf("externalID(%s) = %q, %v; want %q, %v", tt.body, got, ok, tt.want, tt.wantOK)
			}
		})
	}
}

// FuzzExternalID checks the fast scanner against encoding/json on every
// valid object with one plainly written external_id string member.
func FuzzExternalID(f *testing.F) {
	for _, s := range []string{
		`{"external_id":"a"}`,
		`{"x":{"external_id":"b"},"external_id":"c"}`,
		`{"external_id":"a\"b"}`,
		`{"external_id":7}`,
		`{"d":"\\","external_id":"e"}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		got, ok := externalID(b) // must never panic
		var top map[string]any
		if json.Unmarshal(b, &top) != nil || bytes.Count(b, []byte(`"external_id"`)) != 1 || bytes.Contains(b, []byte(`\u`)) {
			return
		}
		want, isString := top["external_id"].(string)
		if !isString {
			return
		}
		if !ok || string(got) != want {
			t.Errorf("externalID(%s) = %q, %v; encoding/json says %q", b, got, ok, want)
		}
	})
}
