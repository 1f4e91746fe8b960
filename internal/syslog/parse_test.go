package syslog

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mutt-go/mutt/internal/event"
	"github.com/mutt-go/mutt/internal/ingest"
)

var update = flag.Bool("update", false, "rewrite the golden files of testdata/corpus")

// corpusNow is the receiver's clock in the golden tests.
var corpusNow = time.Date(2025, 6, 15, 12, 0, 0, 0, time.UTC)

var testPeer = Peer{IP: "192.0.2.10", Transport: "udp"}

// TestCorpusGolden parses every vendor's sample lines and compares the
// events with the golden files; each event must also pass the ingest
// validation unchanged in meaning.
func TestCorpusGolden(t *testing.T) {
	files, err := filepath.Glob("testdata/corpus/*.log")
	if err != nil || len(files) == 0 {
		t.Fatalf("no corpus: %v", err)
	}
	p := NewParser()
	var o ingest.Object
	for _, file := range files {
		t.Run(filepath.Base(file), func(t *testing.T) {
			data, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			var out bytes.Buffer
			for _, line := range bytes.Split(bytes.TrimRight(data, "\n"), []byte{'\n'}) {
				m, err := p.Parse(line, corpusNow)
				if err != nil {
					t.Fatalf("%q: %v", line, err)
				}
				js := AppendEvent(&o, m, testPeer, corpusNow)
				if _, err := event.Normalize(js, event.Stamp{EventID: "e"}, nil); err != nil {
					t.Errorf("%q: event rejected by the ingest validation: %v\n%s", line, err, js)
				}
				var pretty map[string]any
				if err := json.Unmarshal(js, &pretty); err != nil {
					t.Fatalf("%q: invalid JSON %s: %v", line, js, err)
				}
				out.Write(js)
				out.WriteByte('\n')
			}
			golden := strings.TrimSuffix(file, ".log") + ".golden"
			if *update {
				if err := os.WriteFile(golden, out.Bytes(), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test -update to create it)", err)
			}
			if !bytes.Equal(out.Bytes(), want) {
				gotLines, wantLines := strings.Split(out.String(), "\n"), strings.Split(string(want), "\n")
				for i := range min(len(gotLines), len(wantLines)) {
					if gotLines[i] != wantLines[i] {
						t.Errorf("line %d:\n got %s\nwant %s", i+1, gotLines[i], wantLines[i])
					}
				}
				if len(gotLines) != len(wantLines) {
					t.Errorf("%d events, golden has %d", len(gotLines), len(wantLines))
				}
			}
		})
	}
}

// TestParseFields pins the fields the rules and operators rely on.
func TestParseFields(t *testing.T) {
	tests := []struct {
		name, line                         string
		host, app, pid, msgid, msg, format string
		sev, fac                           int
		ts                                 string
	}{
		{"rfc5424", `<165>1 2025-06-14T10:30:01.123+02:00 mx01 mgd 4242 UI_X [a@1 k="v"] hello`,
			"mx01", "mgd", "4242", "UI_X", "hello", FormatRFC5424, 5, 20, "2025-06-14T08:30:01.123Z"},
		{"rfc3164", `<38>Jun 14 11:00:01 web01 sshd[2211]: Failed password`,
			"web01", "sshd", "2211", "", "Failed password", FormatRFC3164, 6, 4, "2025-06-14T11:00:01Z"},
		{"cisco sequence and star", `<189>123: *Mar  1 18:46:11.123: %SYS-5-CONFIG_I: Configured`,
			"", "", "", "SYS-5-CONFIG_I", "%SYS-5-CONFIG_I: Configured", FormatRFC3164, 5, 23, "2025-03-01T18:46:11.123Z"},
		{"asa year no host", `<164>Jun 14 2024 10:20:31 UTC: %ASA-4-106023: Deny tcp`,
			"", "", "", "ASA-4-106023", "%ASA-4-106023: Deny tcp", FormatRFC3164, 4, 20, "2024-06-14T10:20:31Z"},
		{"no pri", `Jun 14 11:10:00 h1 app: text`, "h1", "app", "", "", "text", FormatRFC3164, 5, 1, "2025-06-14T11:10:00Z"},
		{"no host", `<134>Jun 14 11:00:03 haproxy[4242]: Server DOWN`, "", "haproxy", "4242", "", "Server DOWN", FormatRFC3164, 6, 16, "2025-06-14T11:00:03Z"},
		{"year-less in the future is last year", `<13>Dec 31 23:59:59 h app: x`, "h", "app", "", "", "x", FormatRFC3164, 5, 1, "2024-12-31T23:59:59Z"},
		{"rfc3339 in bsd", `<13>2025-06-14T11:10:02.250+01:00 rsys01 myprog[99]: fwd`, "rsys01", "myprog", "99", "", "fwd", FormatRFC3164, 5, 1, "2025-06-14T10:10:02.25Z"},
	}
	p := NewParser()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := p.Parse([]byte(tt.line), corpusNow)
			if err != nil {
				t.Fatal(err)
			}
			got := []string{string(m.Hostname), string(m.AppName), string(m.ProcID), string(m.MsgID), string(m.Msg), m.Format}
			want := []string{tt.host, tt.app, tt.pid, tt.msgid, tt.msg, tt.format}
			for i := range got {
				if got[i] != want[i] {
					t.Errorf("field %d = %q, want %q", i, got[i], want[i])
				}
			}
			if m.Severity != tt.sev || m.Facility != tt.fac {
				t.Errorf("severity/facility = %d/%d, want %d/%d", m.Severity, m.Facility, tt.sev, tt.fac)
			}
			if ts := m.Timestamp.Format(time.RFC3339Nano); ts != tt.ts {
				t.Errorf("timestamp = %s, want %s", ts, tt.ts)
			}
		})
	}
}

func TestParseRejectsEmpty(t *testing.T) {
	for _, in := range []string{"", " ", "\r\n", "\x00\x00"} {
		if _, err := NewParser().Parse([]byte(in), corpusNow); err != ErrEmpty {
			t.Errorf("%q: err = %v, want ErrEmpty", in, err)
		}
	}
}

// TestNonUTF8Kept checks that bytes outside UTF-8 survive as \xNN text.
func TestNonUTF8Kept(t *testing.T) {
	m, err := NewParser().Parse([]byte("<13>Jun 14 11:10:03 host01 app: caf\xe9!"), corpusNow)
	if err != nil {
		t.Fatal(err)
	}
	var o ingest.Object
	var ev struct{ Message string }
	if err := json.Unmarshal(AppendEvent(&o, m, testPeer, corpusNow), &ev); err != nil {
		t.Fatal(err)
	}
	if ev.Message != `caf\xe9!` {
		t.Errorf("message = %q, want %q", ev.Message, `caf\xe9!`)
	}
}

// FuzzParse checks that no input panics the parser and every event it
// makes is valid JSON that the ingest validation reads.
func FuzzParse(f *testing.F) {
	files, _ := filepath.Glob("testdata/corpus/*.log")
	for _, file := range files {
		data, _ := os.ReadFile(file)
		for _, line := range bytes.Split(data, []byte{'\n'}) {
			f.Add(line)
		}
	}
	f.Add([]byte("<999>"))
	f.Add([]byte("<1>1 "))
	f.Add([]byte("*Feb 30 25:61:61.9999999999 UTC+99:99"))
	p := NewParser()
	var o ingest.Object
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := p.Parse(b, corpusNow)
		if err != nil {
			return
		}
		js := AppendEvent(&o, m, testPeer, corpusNow)
		if !json.Valid(js) {
			t.Fatalf("invalid JSON for %q: %s", b, js)
		}
		if _, err := event.Normalize(js, event.Stamp{EventID: "e"}, &event.Options{RequiredFields: []string{}}); err != nil {
			t.Fatalf("ingest validation refused %q: %v\n%s", b, err, js)
		}
	})
}

func BenchmarkParseRFC5424(b *testing.B) {
	line := []byte(`<165>1 2025-06-14T10:30:01.123Z mx01 mgd 4242 UI_DBASE_LOGOUT_EVENT [junos@2636.1.1.1.2.18 username="netops"] User 'netops' exiting configuration mode`)
	benchParse(b, line)
}

func BenchmarkParseRFC3164(b *testing.B) {
	benchParse(b, []byte(`<38>Jun 14 11:00:01 web01 sshd[2211]: Failed password for invalid user admin from 198.51.100.4 port 50022 ssh2`))
}

func benchParse(b *testing.B, line []byte) {
	p := NewParser()
	var o ingest.Object
	b.ReportAllocs()
	b.SetBytes(int64(len(line)))
	for b.Loop() {
		m, _ := p.Parse(line, corpusNow)
		AppendEvent(&o, m, testPeer, corpusNow)
	}
}

func BenchmarkParseRFC5424NoSD(b *testing.B) {
	benchParse(b, []byte(`<165>1 2025-06-14T10:30:01.123Z mx01 mgd 4242 UI_DBASE_LOGOUT_EVENT - User 'netops' exiting configuration mode`))
}

// BenchmarkMessageToQueue is the receiver's CPU work for one message up to
// the ingest producer: parse, build the event, and the feeder's
// validation and _event_id, with a producer that discards.
func BenchmarkMessageToQueue(b *testing.B) {
	feeder := ingest.NewFeeder(discardProducer{}, ingest.FeederOptions{})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = feeder.Run(ctx); close(done) }()
	defer func() { cancel(); <-done }()
	line := []byte(`<165>1 2025-06-14T10:30:01.123Z mx01 mgd 4242 UI_DBASE_LOGOUT_EVENT - User 'netops' exiting configuration mode`)
	p := NewParser()
	var o ingest.Object
	b.ReportAllocs()
	for b.Loop() {
		m, _ := p.Parse(line, corpusNow)
		if err := feeder.Submit(ctx, AppendEvent(&o, m, testPeer, corpusNow), nil); err != nil {
			b.Fatal(err)
		}
	}
}

type discardProducer struct{}

func (discardProducer) Produce(_ context.Context, payloads [][]byte) (int64, error) {
	return int64(len(payloads)), nil
}
