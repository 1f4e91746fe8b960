package event

import (
	"bytes"
	"strconv"
	"testing"
)

// typicalEvent is the first object of testdata/demo_syslog_events.json as a
// producer would send it.
var typicalEvent = []byte(`{"hostname":"wireless-controller-12.campus.example.com","timestamp":"2025-11-11T16:34:50.6449285Z","message":"%LINEPROTO-5-UPDOWN: Line protocol on Interface GigabitEthernet0/0/0, changed state to down","syslog_severity":"Warning","source_type":"cisco-ios"}`)

var typicalStamp = Stamp{EventID: "0194f3a2-7c1e-7d4b-9a51-3f0c2b8e6d10", CorrelationID: "5f1c9a0e-2b7d-4c3e-8f6a-1d2e3f4a5b6c"}

func BenchmarkNormalize(b *testing.B) {
	b.ReportAllocs()
	b.SetBytes(int64(len(typicalEvent)))
	for b.Loop() {
		if _, err := Normalize(typicalEvent, typicalStamp, nil); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDecode(b *testing.B) {
	ev, err := Normalize(typicalEvent, typicalStamp, nil)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.SetBytes(int64(len(ev.JSON)))
	for b.Loop() {
		if _, err := Decode(ev.JSON, nil); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkSplitNDJSON100(b *testing.B) {
	var body bytes.Buffer
	for k := range 100 {
		body.Write(bytes.Replace(typicalEvent, []byte("-12."), []byte("-"+strconv.Itoa(k)+"."), 1))
		body.WriteByte('\n')
	}
	b.ReportAllocs()
	b.SetBytes(int64(body.Len()))
	for b.Loop() {
		items, err := Split(body.Bytes(), "text/plain")
		if err != nil || len(items) != 100 {
			b.Fatal(len(items), err)
		}
	}
}
