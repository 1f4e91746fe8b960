package bench

import (
	"encoding/json"
	"strconv"
	"testing"
	"time"
)

func TestTrafficBodyAndSeq(t *testing.T) {
	snap, err := benchSnapshot(50)
	if err != nil {
		t.Fatal(err)
	}
	tr, err := newTraffic(30_000, 1, snap, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(tr.distinct) != distinctEvents || tr.expected == 0 || tr.handled < tr.expected {
		t.Fatalf("%d distinct events, %d forwarded, %d handled", len(tr.distinct), tr.expected, tr.handled)
	}
	now := time.Date(2026, 11, 25, 12, 0, 0, 123456789, time.UTC)
	tests := []struct {
		name string
		seq  int
	}{
		{name: "first", seq: 0},
		{name: "past the distinct events", seq: distinctEvents + 7},
		{name: "last", seq: 29_999},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			body := tr.body(tt.seq, now)
			var ev map[string]any
			if err := json.Unmarshal(body, &ev); err != nil {
				t.Fatalf("body is not JSON: %v\n%s", err, body)
			}
			if ev["timestamp"] != "2026-11-25T12:00:00.123456789Z" || ev["bench_sent_ns"] != float64(now.UnixNano()) {
				t.Errorf("timestamp %v, sent %v", ev["timestamp"], ev["bench_sent_ns"])
			}
			if got := tr.seqOf(body); got != tt.seq {
				t.Errorf("seqOf(event) = %d, want %d", got, tt.seq)
			}
			// Moogsoft gets the event inside custom_info.
			moog := []byte(`{"external_id":"x","custom_info":` + string(body) + `}`)
			if got := tr.seqOf(moog); got != tt.seq {
				t.Errorf("seqOf(Moogsoft body) = %d, want %d", got, tt.seq)
			}
		})
	}
	bad := []struct {
		name string
		body string
	}{
		{name: "no sequence", body: `{"hostname":"h"}`},
		{name: "out of range", body: `{"bench_seq":` + strconv.Itoa(30_000) + `}`},
		{name: "not a number", body: `{"bench_seq":"7"}`},
	}
	for _, tt := range bad {
		t.Run(tt.name, func(t *testing.T) {
			if got := tr.seqOf([]byte(tt.body)); got != -1 {
				t.Errorf("seqOf(%s) = %d, want -1", tt.body, got)
			}
		})
	}
}

func TestTargetCheck(t *testing.T) {
	tests := []struct {
		name string
		res  Result
		text string
		met  bool
	}{
		{name: "throughput met", res: Result{EventsPerSecond: 12_000, Target: Target{Metric: MetricAlertsPerSecond, Min: 10_000}},
			text: "≥ 10,000 alerts/s", met: true},
		{name: "throughput missed", res: Result{RequestsPerSecond: 9_000, Target: Target{Metric: MetricRequestsPerSecond, Min: 10_000}},
			text: "≥ 10,000 requests/s"},
		{name: "latency met", res: Result{LatencyP99Millis: 3.5, Target: Target{Metric: MetricLatencyP99, Max: 50}},
			text: "< 50 ms p99", met: true},
		{name: "latency missed", res: Result{LatencyP99Millis: 50.1, Target: Target{Metric: MetricLatencyP99, Max: 50}},
			text: "< 50 ms p99"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := tt.res
			r.check()
			if r.Target.Met != tt.met || r.Target.String() != tt.text {
				t.Errorf("met %v, %q; want %v, %q", r.Target.Met, r.Target.String(), tt.met, tt.text)
			}
		})
	}
}
