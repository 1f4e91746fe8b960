package forward

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/mutt-go/mutt/internal/version"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

const testAgentTime = 1736680200

// buildBody parses an alert and builds its Moogsoft body.
func buildBody(t testing.TB, alert string) []byte {
	t.Helper()
	var f alertFields
	if err := parseAlert([]byte(alert), &f); err != nil {
		t.Fatalf("parseAlert(%s): %v", alert, err)
	}
	return appendBody(nil, &f, testAgentTime)
}

// decodeBody decodes a body, failing the test when it is not valid JSON.
func decodeBody(t testing.TB, body []byte) map[string]any {
	t.Helper()
	var m map[string]any
	d := json.NewDecoder(bytes.NewReader(body))
	d.UseNumber()
	if err := d.Decode(&m); err != nil {
		t.Fatalf("body is not a JSON object: %v\n%s", err, body)
	}
	return m
}

// TestBodyGolden checks the whole body for alerts as the alerter queues
// them (a handled alert, a meta-alert) and an older alert with spaces and an
// api_key, against the golden files; go test -update rewrites them.
func TestBodyGolden(t *testing.T) {
	tests := []struct {
		name string
		want map[string]any // every field of the Moogsoft event
	}{
		{name: "handled", want: map[string]any{
			"signature": "router-01", "source_id": "router-01", "external_id": "01JCE8Q9ZK3V5W7X9Y1A2B3C4D",
			"manager": "MUTT", "source": "MUTT Alerter", "class": "NetOps", "agent": version.Agent(),
			"agent_location": "Alerter Service", "type": "Alert", "severity": json.Number("3"),
			"description": "LINK-DOWN: Interface eth0 \"uplink\" → core", "agent_time": json.Number("1736680200"),
			"custom_info": map[string]any{
				"timestamp": "2025-11-10T12:00:00Z", "hostname": "router-01",
				"message": "LINK-DOWN: Interface eth0 \"uplink\" → core", "syslog_severity": json.Number("3"),
				"big": json.Number("12345678901234567890"), "_correlation_id": "6f1c2a9e-0d1b-4c55-9a51-2f7e4b0c9d11",
			},
		}},
		{name: "meta", want: map[string]any{
			"signature": "MUTT_Alerter", "source_id": "MUTT_Alerter", "external_id": "01JCE8R2M4N6P8Q0R2S4T6V8W0",
			"manager": "MUTT", "source": "MUTT Alerter", "class": "NETO", "agent": version.Agent(),
			"agent_location": "Alerter Service", "type": "Alert", "severity": json.Number("3"),
			"description": "[MUTT] Detected 100 unhandled messages in 300s from 'sw-07'. Sample message: %SYS-5-CONFIG_I: Configured from console",
			"agent_time":  json.Number("1736680200"),
			"custom_info": map[string]any{
				"timestamp": "2025-11-10T12:00:05Z", "hostname": "sw-07",
				"message": "%SYS-5-CONFIG_I: Configured from console", "_correlation_id": "b0e7c1d2-3f45-4a67-8b9c-0d1e2f3a4b5c",
			},
		}},
		{name: "legacy", want: map[string]any{
			"signature": "fw-02", "source_id": "fw-02", "external_id": "c0ffee00-1111-2222-3333-444455556666",
			"manager": "MUTT", "source": "MUTT Alerter", "class": "SecOps", "agent": version.Agent(),
			"agent_location": "Alerter Service", "type": "Alert", "severity": json.Number("5"),
			"description": "Config changed", "agent_time": json.Number("1736680200"),
			"custom_info": map[string]any{
				"timestamp": "2025-11-10T12:00:00Z", "hostname": "fw-02", "message": "Config changed",
				"syslog_severity": json.Number("2"),
			},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in, err := os.ReadFile(filepath.Join("testdata", tt.name+".alert.json"))
			if err != nil {
				t.Fatal(err)
			}
			body := buildBody(t, string(in))
			golden := filepath.Join("testdata", tt.name+".body.golden")
			if *update {
				if err := os.WriteFile(golden, append(body, '\n'), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test -update to create it)", err)
			}
			if !bytes.Equal(body, bytes.TrimSuffix(want, []byte("\n"))) {
				t.Errorf("body differs from %s\n got: %s\nwant: %s", golden, body, want)
			}
			if got := decodeBody(t, body); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("decoded body\n got: %#v\nwant: %#v", got, tt.want)
			}
			if strings.Contains(string(body), "do-not-forward") {
				t.Errorf("body carries the alert's api_key: %s", body)
			}
		})
	}
}

func TestBodySeverityMap(t *testing.T) {
	tests := []struct {
		severity string // JSON value, "" for an absent key
		want     string
	}{
		{`"Critical"`, "5"},
		{`"Major"`, "4"},
		{`"Warning"`, "3"},
		{`"Minor"`, "2"},
		{`"Info"`, "1"},
		{`"Clear"`, "0"},
		{`"critical"`, "3"},
		{`"CRITICAL"`, "3"},
		{`"Critical "`, "3"},
		{`"Emergency"`, "3"},
		{`""`, "3"},
		{`null`, "3"},
		{`5`, "3"},
		{`["Critical"]`, "3"},
		{`"Cr\u0069tical"`, "5"},
		{``, "3"},
	}
	for _, tt := range tests {
		t.Run(tt.severity, func(t *testing.T) {
			alert := `{"hostname":"h"}`
			if tt.severity != "" {
				alert = `{"hostname":"h","severity":` + tt.severity + `}`
			}
			got := decodeBody(t, buildBody(t, alert))["severity"]
			if got != json.Number(tt.want) {
				t.Errorf("severity %s: got %v, want %s", tt.severity, got, tt.want)
			}
		})
	}
}

func TestBodyFieldMapping(t *testing.T) {
	tests := []struct {
		name  string
		alert string
		want  map[string]any // fields to check
		none  []string       // fields that must be absent
	}{
		{
			name:  "absent keys take the defaults",
			alert: `{}`,
			want: map[string]any{
				"signature": "unknown", "source_id": "unknown", "external_id": "unknown",
				"class": "Unknown", "description": "", "severity": json.Number("3"),
			},
			none: []string{"custom_info"},
		},
		{
			name:  "null and empty values pass through",
			alert: `{"hostname":null,"team_assignment":"","message_body":null,"raw_json":null,"_correlation_id":null}`,
			want: map[string]any{
				"signature": nil, "source_id": nil, "external_id": nil, "class": "", "description": nil, "custom_info": nil,
			},
		},
		{
			name:  "non-string values pass through",
			alert: `{"hostname":17,"team_assignment":true,"message_body":["a",{"b":"}"}],"raw_json":"plain"}`,
			want: map[string]any{
				"signature": json.Number("17"), "class": true,
				"description": []any{"a", map[string]any{"b": "}"}}, "custom_info": "plain",
			},
		},
		{
			name:  "event_id wins over correlation id",
			alert: `{"_correlation_id":"cid","event_id":"eid"}`,
			want:  map[string]any{"external_id": "eid"},
		},
		{
			name:  "empty event_id falls back to correlation id",
			alert: `{"_correlation_id":"cid","event_id":""}`,
			want:  map[string]any{"external_id": "cid"},
		},
		{
			name:  "null event_id falls back to correlation id",
			alert: `{"event_id":null,"_correlation_id":"cid"}`,
			want:  map[string]any{"external_id": "cid"},
		},
		{
			name:  "neither id is unknown",
			alert: `{"event_id":null}`,
			want:  map[string]any{"external_id": "unknown"},
		},
		{
			name:  "the last duplicate key wins",
			alert: `{"hostname":"a","hostname":"b"}`,
			want:  map[string]any{"signature": "b"},
		},
		{
			name:  "escaped keys are matched decoded",
			alert: `{"host\u006eame":"h1","team\u005fassignment":"T"}`,
			want:  map[string]any{"signature": "h1", "class": "T"},
		},
		{
			name:  "escapes and non-ASCII in values survive",
			alert: "{\"message_body\":\"tab\\there \\\"q\\\" \\\\ \\u00e9 é 日本 \\ud83d\\ude00\"}",
			want:  map[string]any{"description": "tab\there \"q\" \\ é é 日本 😀"},
		},
		{
			name:  "whitespace around members",
			alert: " \n{ \"hostname\" :\t\"h\" ,\r\n \"raw_json\" : { \"a\" : [ 1 , 2 ] } } \n",
			want:  map[string]any{"signature": "h", "custom_info": map[string]any{"a": []any{json.Number("1"), json.Number("2")}}},
		},
		{
			name:  "unknown members are ignored",
			alert: `{"api_key":"secret","alert_type":"unhandled_meta","source_hostname":"sw","rule_id":1,"hostname":"h"}`,
			want:  map[string]any{"signature": "h"},
			none:  []string{"api_key", "alert_type", "source_hostname", "rule_id"},
		},
	}
	constant := map[string]any{
		"manager": "MUTT", "source": "MUTT Alerter", "agent": version.Agent(),
		"agent_location": "Alerter Service", "type": "Alert", "agent_time": json.Number("1736680200"),
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := decodeBody(t, buildBody(t, tt.alert))
			for k, v := range constant {
				if !reflect.DeepEqual(got[k], v) {
					t.Errorf("%s = %#v, want %#v", k, got[k], v)
				}
			}
			for k, v := range tt.want {
				g, ok := got[k]
				if !ok {
					t.Errorf("%s missing", k)
				} else if !reflect.DeepEqual(g, v) {
					t.Errorf("%s = %#v, want %#v", k, g, v)
				}
			}
			for _, k := range tt.none {
				if _, ok := got[k]; ok {
					t.Errorf("%s present, want absent", k)
				}
			}
		})
	}
}

func TestParseAlertRejects(t *testing.T) {
	tests := []struct {
		name    string
		payload string
	}{
		{"not json", `not json`},
		{"array", `[1]`},
		{"string", `"hostname"`},
		{"number", `42`},
		{"null", `null`},
		{"empty", ``},
		{"truncated", `{"hostname":"h"`},
		{"trailing garbage", `{"hostname":"h"} x`},
		{"two objects", `{}{}`},
		{"invalid UTF-8", "{\"hostname\":\"\xff\"}"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var f alertFields
			if err := parseAlert([]byte(tt.payload), &f); err == nil {
				t.Errorf("parseAlert(%q) accepted it", tt.payload)
			}
		})
	}
}

// FuzzBody checks that any JSON object becomes a valid JSON body and that
// nothing else is accepted.
func FuzzBody(f *testing.F) {
	for _, name := range []string{"handled", "meta", "legacy"} {
		b, err := os.ReadFile(filepath.Join("testdata", name+".alert.json"))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte(`{"hostname":"a\"}","raw_json":[{"x":"]"}]}`))
	f.Add([]byte(`[1]`))
	f.Fuzz(func(t *testing.T, p []byte) {
		var fields alertFields
		err := parseAlert(p, &fields)
		var v any
		isObject := json.Unmarshal(p, &v) == nil && reflect.TypeOf(v) == reflect.TypeOf(map[string]any{})
		if err != nil {
			if isObject && utf8.Valid(p) {
				t.Fatalf("rejected a JSON object: %v: %q", err, p)
			}
			return
		}
		if !isObject {
			t.Fatalf("accepted %q, which is not a JSON object", p)
		}
		body := appendBody(nil, &fields, 1)
		if !json.Valid(body) {
			t.Fatalf("invalid body %q for %q", body, p)
		}
	})
}
