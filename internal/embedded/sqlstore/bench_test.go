package sqlstore

import (
	"context"
	"testing"
	"time"
)

// benchBatch is the batch size of the ingest producer and the alerter.
const benchBatch = 500

// BenchmarkAppend measures batched ingest: one transaction appends 500
// events to the ingest queue.
func BenchmarkAppend(b *testing.B) {
	d := openTemp(b)
	payloads := events(b, benchBatch, time.Now().UTC())
	ctx := context.Background()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := d.Append(ctx, ingestQueue, payloads); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*benchBatch)/b.Elapsed().Seconds(), "events/s")
}

// BenchmarkCommit measures the alerter's side of the storage layer: read
// 500 events, then one transaction deletes them, writes their 500 audit
// rows (unique event id, ON CONFLICT DO NOTHING) and appends 500 alerts.
// Appending the events and decoding them (the rule engine's side) happen
// outside the timer.
func BenchmarkCommit(b *testing.B) {
	d := openTemp(b)
	rule := addRule(b, d)
	ctx := context.Background()
	start := time.Now().UTC()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		if err := d.Append(ctx, ingestQueue, events(b, benchBatch, start.Add(time.Duration(i)*time.Second))); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		entries, err := d.Read(ctx, ingestQueue, 0, benchBatch)
		if err != nil || len(entries) != benchBatch {
			b.Fatalf("read %d, %v", len(entries), err)
		}
		b.StopTimer()
		batch := alerterBatch(entries, rule)
		b.StartTimer()
		res, err := d.Commit(ctx, batch)
		if err != nil || res.Acked != benchBatch || res.Audited != benchBatch {
			b.Fatalf("commit %+v, %v", res, err)
		}
	}
	b.ReportMetric(float64(b.N*benchBatch)/b.Elapsed().Seconds(), "events/s")
}
