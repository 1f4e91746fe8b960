package event

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/")

// demoSeverities maps the syslog_severity names found in the demo data.
var demoSeverities = map[string]int{
	"Alert": 1, "Critical": 2, "Error": 3, "Warning": 4, "Notice": 5, "Info": 6, "Debug": 7,
}

func readDemo(t *testing.T) []byte {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", "demo_syslog_events.json"))
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// TestDemoSyslogEvents normalises every object of the demo data set (a
// pretty-printed JSON array with CRLF line ends) and compares the result with
// testdata/demo_syslog_events.normalized.ndjson; run with -update to rewrite
// it.
func TestDemoSyslogEvents(t *testing.T) {
	data := readDemo(t)
	items, err := Split(data, "application/json; charset=utf-8")
	if err != nil {
		t.Fatalf("Split: %v", err)
	}
	if len(items) != 330 {
		t.Fatalf("Split found %d events, want 330", len(items))
	}
	var golden bytes.Buffer
	for k, item := range items {
		stamp := Stamp{EventID: fmt.Sprintf("demo-%03d", k), CorrelationID: fmt.Sprintf("corr-%03d", k)}
		got, err := Normalize(item, stamp, nil)
		if err != nil {
			t.Fatalf("item %d: %v\n%s", k, err, item)
		}
		var in struct {
			Hostname          string `json:"hostname"`
			Message           string `json:"message"`
			SyslogSeverityRaw string `json:"syslog_severity"`
		}
		if err := json.Unmarshal(item, &in); err != nil {
			t.Fatal(err)
		}
		want, ok := demoSeverities[in.SyslogSeverityRaw]
		if !ok {
			t.Fatalf("item %d: unexpected severity %q in the demo data", k, in.SyslogSeverityRaw)
		}
		if got.Severity != want || got.Hostname != in.Hostname || got.Message != in.Message {
			t.Errorf("item %d: got host=%q msg=%q sev=%d, want %q %q %d", k, got.Hostname, got.Message, got.Severity, in.Hostname, in.Message, want)
		}
		if got.Timestamp.IsZero() || got.Timestamp.Year() != 2025 {
			t.Errorf("item %d: Timestamp = %v", k, got.Timestamp)
		}
		assertSameMembers(t, item, got.JSON, map[string]string{
			"syslog_severity": fmt.Sprint(want),
			"_event_id":       `"` + stamp.EventID + `"`,
			"_correlation_id": `"` + stamp.CorrelationID + `"`,
		})
		assertRoundTrip(t, got, nil)
		golden.Write(got.JSON)
		golden.WriteByte('\n')
	}

	path := filepath.Join("testdata", "demo_syslog_events.normalized.ndjson")
	if *update {
		if err := os.WriteFile(path, golden.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if !bytes.Equal(golden.Bytes(), want) {
		t.Errorf("normalised demo events differ from %s (run go test -update after checking the change)", path)
	}

	// The golden file itself is an NDJSON batch as rsyslog would post it.
	again, err := Split(want, "text/plain")
	if err != nil || len(again) != len(items) {
		t.Fatalf("Split of the golden NDJSON: %d items, %v", len(again), err)
	}
	for k := range again {
		if _, err := Decode(again[k], nil); err != nil {
			t.Errorf("Decode of golden line %d: %v", k+1, err)
		}
	}
}

// assertSameMembers checks that out holds in's members, in in's order and with
// in's raw value bytes, except for the values in replaced, which must be as
// given; members of replaced that in lacks must follow, in out's order.
func assertSameMembers(t *testing.T, in, out []byte, replaced map[string]string) {
	t.Helper()
	if !json.Valid(out) {
		t.Fatalf("output is not valid JSON: %s", out)
	}
	inKeys, inVals := members(t, in)
	outKeys, outVals := members(t, out)
	var wantKeys []string
	for _, k := range inKeys {
		if k[0] != '_' {
			wantKeys = append(wantKeys, k)
		}
	}
	for _, k := range outKeys[len(wantKeys):] {
		if _, ok := replaced[k]; !ok {
			t.Errorf("unexpected appended member %q in %s", k, out)
		}
		wantKeys = append(wantKeys, k)
	}
	if fmt.Sprint(outKeys) != fmt.Sprint(wantKeys) {
		t.Fatalf("keys = %v, want %v", outKeys, wantKeys)
	}
	for _, k := range outKeys {
		want, ok := replaced[k]
		if !ok {
			want = inVals[k]
		}
		if outVals[k] != want {
			t.Errorf("member %q = %s, want %s", k, outVals[k], want)
		}
	}
}

// members lists the top-level keys of an object in order, with raw values.
func members(t *testing.T, data []byte) ([]string, map[string]string) {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(data))
	if _, err := dec.Token(); err != nil {
		t.Fatal(err)
	}
	var keys []string
	vals := map[string]string{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			t.Fatal(err)
		}
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			t.Fatal(err)
		}
		k := tok.(string)
		keys = append(keys, k)
		vals[k] = string(raw)
	}
	return keys, vals
}

// TestDemoAsNDJSON posts the demo data the way rsyslog's omhttp batch mode
// does: one compact object per line, text/plain.
func TestDemoAsNDJSON(t *testing.T) {
	var arr []json.RawMessage
	if err := json.Unmarshal(readDemo(t), &arr); err != nil {
		t.Fatal(err)
	}
	for start := 0; start < len(arr); start += 100 {
		var body bytes.Buffer
		end := min(start+100, len(arr))
		for _, o := range arr[start:end] {
			if err := json.Compact(&body, o); err != nil {
				t.Fatal(err)
			}
			body.WriteByte('\n')
		}
		items, err := Split(body.Bytes(), "text/plain")
		if err != nil {
			t.Fatalf("batch at %d: %v", start, err)
		}
		if len(items) != end-start {
			t.Fatalf("batch at %d: %d items, want %d", start, len(items), end-start)
		}
		for k, item := range items {
			if _, err := Normalize(item, Stamp{EventID: "e", CorrelationID: "c"}, nil); err != nil {
				t.Errorf("batch at %d, item %d: %v", start, k, err)
			}
		}
	}
}

// TestDemoSNMPTraps feeds the demo trap data set, which has no hostname or
// message: with the default options every object is rejected for its missing
// hostname; with only timestamp required each one normalises, keeps its
// trap_oid and gets a syslog_severity only from syslog severity names.
func TestDemoSNMPTraps(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("testdata", "demo_snmp_traps.json"))
	if err != nil {
		t.Fatal(err)
	}
	items, err := Split(data, "application/json")
	if err != nil {
		t.Fatal(err)
	}
	if len(items) != 100 {
		t.Fatalf("Split found %d traps, want 100", len(items))
	}
	trapSeverities := map[string]int{"Alert": 1, "Critical": 2, "Warning": 4, "Informational": 6, "Minor": NoSeverity, "Major": NoSeverity}
	opts := &Options{RequiredFields: []string{"timestamp"}}
	for k, item := range items {
		_, err := Normalize(item, Stamp{EventID: "e"}, nil)
		assertFieldError(t, err, "hostname", ruleRequired)

		got, err := Normalize(item, Stamp{EventID: "e"}, opts)
		if err != nil {
			t.Fatalf("trap %d: %v", k, err)
		}
		var in struct {
			TrapOID  string `json:"trap_oid"`
			Severity string `json:"severity"`
		}
		if err := json.Unmarshal(item, &in); err != nil {
			t.Fatal(err)
		}
		want, ok := trapSeverities[in.Severity]
		if !ok {
			t.Fatalf("trap %d: unexpected severity %q in the demo data", k, in.Severity)
		}
		if got.TrapOID != in.TrapOID || got.Severity != want {
			t.Errorf("trap %d: TrapOID, Severity = %q, %d, want %q, %d", k, got.TrapOID, got.Severity, in.TrapOID, want)
		}
		replaced := map[string]string{"_event_id": `"e"`}
		if want != NoSeverity {
			replaced["syslog_severity"] = fmt.Sprint(want)
		}
		assertSameMembers(t, item, got.JSON, replaced)
		assertRoundTrip(t, got, opts)
	}
}
