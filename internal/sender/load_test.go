package sender

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const (
	syslogFile = "testdata/demo_syslog_events.json"
	trapFile   = "testdata/demo_snmp_traps.json"
)

// decodeObject unmarshals one event for assertions.
func decodeObject(t *testing.T, ev []byte) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(ev, &m); err != nil {
		t.Fatalf("event %s is not a JSON object: %v", ev, err)
	}
	return m
}

func requireMuttFields(t *testing.T, i int, m map[string]any) {
	t.Helper()
	for _, k := range []string{"hostname", "message", "timestamp"} {
		if s, ok := m[k].(string); !ok || s == "" {
			t.Errorf("event %d: %s = %#v, want a non-empty string", i, k, m[k])
		}
	}
}

func TestLoadDemoFiles(t *testing.T) {
	tests := []struct {
		name      string
		paths     []string
		wantCount int
		wantTraps int
	}{
		{name: "syslog", paths: []string{syslogFile}, wantCount: 330},
		{name: "traps", paths: []string{trapFile}, wantCount: 100, wantTraps: 100},
		{name: "both", paths: []string{syslogFile, trapFile}, wantCount: 430, wantTraps: 100},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			evs, err := Load(tt.paths...)
			if err != nil {
				t.Fatalf("Load: %v", err)
			}
			if len(evs) != tt.wantCount {
				t.Fatalf("Load returned %d events, want %d", len(evs), tt.wantCount)
			}
			traps := 0
			for i, ev := range evs {
				if bytes.ContainsAny(ev, "\r\n") {
					t.Errorf("event %d spans lines: %q", i, ev)
				}
				m := decodeObject(t, ev)
				requireMuttFields(t, i, m)
				if m["source"] == "snmp" {
					traps++
					if m["hostname"] != m["source_ip"] {
						t.Errorf("event %d: hostname %v, want source_ip %v", i, m["hostname"], m["source_ip"])
					}
					prefix := m["source_ip"].(string) + " " + m["trap_oid"].(string) + " "
					if !strings.HasPrefix(m["message"].(string), prefix) {
						t.Errorf("event %d: message %q does not start with %q", i, m["message"], prefix)
					}
				}
			}
			if traps != tt.wantTraps {
				t.Errorf("converted traps = %d, want %d", traps, tt.wantTraps)
			}
		})
	}
}

func TestLoadSyslogPassesThroughUnchanged(t *testing.T) {
	raw, err := os.ReadFile(syslogFile)
	if err != nil {
		t.Fatal(err)
	}
	var want []map[string]any
	if err := json.Unmarshal(raw, &want); err != nil {
		t.Fatal(err)
	}
	evs, err := Load(syslogFile)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	for i, ev := range evs {
		got, _ := json.Marshal(decodeObject(t, ev))
		exp, _ := json.Marshal(want[i])
		if !bytes.Equal(got, exp) {
			t.Fatalf("event %d changed:\n got  %s\n want %s", i, got, exp)
		}
	}
}

func TestLoadConvertsTraps(t *testing.T) {
	evs, err := Load(trapFile)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	tests := []struct {
		name  string
		index int
		want  string
	}{
		{
			name:  "coldStart with sysUpTime and sysName",
			index: 0,
			want: `{"timestamp":"2025-11-11T16:34:39.7110083Z","hostname":"192.168.1.188",` +
				`"message":"192.168.1.188 1.3.6.1.6.3.1.1.5.1 1.3.6.1.2.1.1.3.0=12345 1.3.6.1.2.1.1.5.0=core-router-01.dc1.example.com",` +
				`"trap_oid":"1.3.6.1.6.3.1.1.5.1","severity":"Alert","source":"snmp","source_ip":"192.168.1.188"}`,
		},
		{
			name:  "linkDown",
			index: 1,
			want: `{"timestamp":"2025-11-11T16:34:39.7595337Z","hostname":"192.168.1.65",` +
				`"message":"192.168.1.65 1.3.6.1.6.3.1.1.5.3 1.3.6.1.2.1.2.2.1.1=2 1.3.6.1.2.1.2.2.1.8=2",` +
				`"trap_oid":"1.3.6.1.6.3.1.1.5.3","severity":"Informational","source":"snmp","source_ip":"192.168.1.65"}`,
		},
		{
			name:  "value with a space",
			index: 3,
			want: `{"timestamp":"2025-11-11T16:34:39.7605544Z","hostname":"192.168.1.240",` +
				`"message":"192.168.1.240 1.3.6.1.4.1.2011.5.25.19.2.2.1.0 1.3.6.1.4.1.2011.5.25.19.2.2.1.2=Port 1 1.3.6.1.4.1.2011.5.25.19.2.2.1.3=Link down",` +
				`"trap_oid":"1.3.6.1.4.1.2011.5.25.19.2.2.1.0","severity":"Warning","source":"snmp","source_ip":"192.168.1.240"}`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := string(evs[tt.index]); got != tt.want {
				t.Errorf("trap %d:\n got  %s\n want %s", tt.index, got, tt.want)
			}
		})
	}
}

func TestLoadFormats(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name         string
		content      string
		wantMessages []string
	}{
		{
			name:         "ndjson",
			content:      "{\"hostname\":\"a\",\"message\":\"one\",\"timestamp\":\"t\"}\n{\"hostname\":\"b\",\"message\":\"two\",\"timestamp\":\"t\"}\n",
			wantMessages: []string{"one", "two"},
		},
		{
			name:         "ndjson with BOM and CRLF",
			content:      "\xef\xbb\xbf{\"hostname\":\"a\",\"message\":\"one\",\"timestamp\":\"t\"}\r\n{\"hostname\":\"b\",\"message\":\"two\",\"timestamp\":\"t\"}\r\n",
			wantMessages: []string{"one", "two"},
		},
		{
			name:         "single pretty-printed object",
			content:      "{\n  \"hostname\": \"a\",\n  \"message\": \"only\",\n  \"timestamp\": \"t\"\n}\n",
			wantMessages: []string{"only"},
		},
		{
			name:         "array with BOM",
			content:      "\xef\xbb\xbf[{\"hostname\":\"a\",\"message\":\"x\",\"timestamp\":\"t\"}]",
			wantMessages: []string{"x"},
		},
		{
			name: "trap with object variables and no trap_oid",
			content: `[{"source_ip":"10.0.0.1","timestamp":"t","variables":[{"oid":"1.3.6.1.2.1.2.2.1.1","value":7},` +
				`{"oid":"1.3.6.1.2.1.2.2.1.2","value":"Gi0/1"}]}]`,
			wantMessages: []string{"10.0.0.1 1.3.6.1.2.1.2.2.1.1=7 1.3.6.1.2.1.2.2.1.2=Gi0/1"},
		},
		{
			name:         "other objects pass through for the ingestor to judge",
			content:      `[{"msg":"no mutt fields"}]`,
			wantMessages: []string{""},
		},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := filepath.Join(dir, "f"+string(rune('a'+i))+".json")
			if err := os.WriteFile(p, []byte(tt.content), 0o600); err != nil {
				t.Fatal(err)
			}
			evs, err := Load(p)
			if err != nil {
				t.Fatalf("Load: %v", err)
			}
			if len(evs) != len(tt.wantMessages) {
				t.Fatalf("got %d events, want %d", len(evs), len(tt.wantMessages))
			}
			for j, ev := range evs {
				if bytes.ContainsAny(ev, "\r\n") {
					t.Errorf("event %d spans lines: %q", j, ev)
				}
				m := decodeObject(t, ev)
				got, _ := m["message"].(string)
				if got != tt.wantMessages[j] {
					t.Errorf("event %d message = %q, want %q", j, got, tt.wantMessages[j])
				}
			}
		})
	}
}

func TestLoadErrors(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	tests := []struct {
		name     string
		path     string
		wantText []string
	}{
		{name: "malformed item", path: "testdata/malformed.json", wantText: []string{"testdata/malformed.json", "item 1", "line 3"}},
		{name: "truncated array", path: write("truncated.json", `[{"hostname":"a","message":"m","timestamp":"t"},`), wantText: []string{"truncated.json", "item 1"}},
		{name: "unterminated array", path: write("open.json", `[{"hostname":"a","message":"m","timestamp":"t"}`), wantText: []string{"open.json", "after item 0"}},
		{name: "item not an object", path: write("number.json", `[{"hostname":"a","message":"m","timestamp":"t"}, 3]`), wantText: []string{"number.json", "item 1", "a number"}},
		{name: "ndjson bad line", path: write("bad.ndjson", "{\"hostname\":\"a\"}\n{\"hostname\":\n"), wantText: []string{"bad.ndjson", "item 1"}},
		{name: "bad varbind", path: write("trap.json", `[{"source_ip":"10.0.0.1","trap_oid":"1.2","variables":["oid=1.2 value=3"]}]`), wantText: []string{"trap.json", "item 0", "variable 0"}},
		{name: "trap without usable source_ip", path: write("ip.json", `[{"source_ip":7,"trap_oid":"1.2"}]`), wantText: []string{"ip.json", "item 0", "source_ip"}},
		{name: "data after array", path: write("trailing.json", `[{"hostname":"a","message":"m","timestamp":"t"}] {}`), wantText: []string{"trailing.json", "after the closing"}},
		{name: "empty file", path: write("empty.json", " \n"), wantText: []string{"empty.json", "no events"}},
		{name: "empty array", path: write("none.json", "[]"), wantText: []string{"none.json", "no events"}},
		{name: "missing file", path: filepath.Join(dir, "absent.json"), wantText: []string{"absent.json"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			evs, err := Load(syslogFile, tt.path)
			if err == nil {
				t.Fatalf("Load succeeded with %d events, want an error", len(evs))
			}
			for _, s := range tt.wantText {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("error %q does not mention %q", err, s)
				}
			}
		})
	}
	if _, err := Load(); err == nil {
		t.Error("Load() with no paths succeeded, want an error")
	}
}

func TestParseVarbind(t *testing.T) {
	tests := []struct {
		name      string
		raw       string
		wantOID   string
		wantValue string
		wantErr   bool
	}{
		{name: "string form", raw: `"@{oid=1.3.6.1.2.1.1.3.0; value=12345}"`, wantOID: "1.3.6.1.2.1.1.3.0", wantValue: "12345"},
		{name: "value with spaces and semicolon", raw: `"@{oid=1.2.3; value=High CPU; 95%}"`, wantOID: "1.2.3", wantValue: "High CPU; 95%"},
		{name: "empty value", raw: `"@{oid=1.2.3; value=}"`, wantOID: "1.2.3", wantValue: ""},
		{name: "object with number", raw: `{"oid":"1.2.3","value":42}`, wantOID: "1.2.3", wantValue: "42"},
		{name: "object with string", raw: `{"oid":"1.2.3","value":"up"}`, wantOID: "1.2.3", wantValue: "up"},
		{name: "missing braces", raw: `"oid=1.2.3; value=1"`, wantErr: true},
		{name: "missing value", raw: `"@{oid=1.2.3}"`, wantErr: true},
		{name: "empty oid", raw: `"@{oid=; value=1}"`, wantErr: true},
		{name: "object without oid", raw: `{"value":1}`, wantErr: true},
		{name: "number", raw: `5`, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			oid, val, err := parseVarbind(json.RawMessage(tt.raw))
			if (err != nil) != tt.wantErr {
				t.Fatalf("parseVarbind(%s) error = %v, want error %v", tt.raw, err, tt.wantErr)
			}
			if oid != tt.wantOID || val != tt.wantValue {
				t.Errorf("parseVarbind(%s) = %q, %q; want %q, %q", tt.raw, oid, val, tt.wantOID, tt.wantValue)
			}
		})
	}
}

func FuzzDecodeEvents(f *testing.F) {
	for _, p := range []string{syslogFile, trapFile, "testdata/malformed.json"} {
		data, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Add([]byte("{\"a\":1}\n{\"b\":2}\n"))
	f.Add([]byte(`[{"source_ip":"1.2.3.4","variables":["@{oid=1; value=2}",{"oid":"3","value":null}]}]`))
	f.Fuzz(func(t *testing.T, data []byte) {
		evs, err := decodeEvents(data)
		if err != nil {
			return
		}
		for i, ev := range evs {
			if bytes.ContainsAny(ev, "\r\n") {
				t.Errorf("event %d spans lines: %q", i, ev)
			}
			if _, err := compactObject(ev); err != nil {
				t.Errorf("event %d is not sendable: %v", i, err)
			}
		}
	})
}
