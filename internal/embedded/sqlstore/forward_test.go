package sqlstore

import (
	"context"
	"testing"
	"time"
)

// TestDeliveryKeepsPoisonAndMovesInDueOrder commits a delivery step with a
// dead letter that has no payload (an entry written without one) and
// reschedules three alerts, then moves them back in due order, a limit at
// a time.
func TestDeliveryKeepsPoisonAndMovesInDueOrder(t *testing.T) {
	ctx := context.Background()
	d := openTemp(t)
	const sched, dlq = "mutt:retry:moog", "mutt:dlq:dead"
	if err := d.Append(ctx, alertQueue, [][]byte{[]byte("a"), []byte("b")}); err != nil {
		t.Fatal(err)
	}
	entries, err := d.Read(ctx, alertQueue, 0, 10)
	if err != nil || len(entries) != 2 {
		t.Fatalf("Read = %d entries, %v", len(entries), err)
	}
	now := time.Now()
	b := Delivery{
		Queue: alertQueue, Ack: []int64{entries[0].Seq, entries[1].Seq}, Schedule: sched,
		Later: []Scheduled{
			{Payload: []byte("late"), Attempts: 1, Due: now.Add(-time.Millisecond)},
			{Payload: []byte("early"), Attempts: 2, Replays: 1, Due: now.Add(-time.Second)},
			{Payload: []byte("future"), Due: now.Add(time.Hour)},
		},
		Dead: []DeadLetter{{Queue: dlq, Reason: "malformed_alert", Source: alertQueue, SourceSeq: entries[1].Seq}},
	}
	if acked, err := d.CommitDelivery(ctx, b); err != nil || acked != 2 {
		t.Fatalf("CommitDelivery = %d, %v; want 2", acked, err)
	}
	if acked, err := d.CommitDelivery(ctx, b); err != nil || acked != 0 {
		t.Fatalf("second CommitDelivery = %d, %v; want 0", acked, err)
	}
	if n, err := d.DeadLetterCount(ctx, dlq); err != nil || n != 1 {
		t.Fatalf("DeadLetterCount = %d, %v; want 1", n, err)
	}
	for _, want := range []string{"early", "late"} {
		if moved, _, err := d.MoveDue(ctx, sched, alertQueue, 1); err != nil || moved != 1 {
			t.Fatalf("MoveDue for %s = %d, %v; want 1", want, moved, err)
		}
	}
	moved, next, err := d.MoveDue(ctx, sched, alertQueue, 10)
	if err != nil || moved != 0 || next < 59*time.Minute {
		t.Fatalf("MoveDue with nothing due = %d, %v, %v", moved, next, err)
	}
	back, err := d.Read(ctx, alertQueue, 0, 10)
	if err != nil || len(back) != 2 || string(back[0].Payload) != "early" || back[0].Attempts != 2 ||
		back[0].Replays != 1 || string(back[1].Payload) != "late" {
		t.Fatalf("alert queue after MoveDue = %+v, %v", back, err)
	}
	if n, err := d.Len(ctx, alertQueue); err != nil || n != 2 {
		t.Errorf("Len = %d, %v; want 2", n, err)
	}
	if n, err := d.ScheduleLen(ctx, sched); err != nil || n != 1 {
		t.Errorf("ScheduleLen = %d, %v; want 1", n, err)
	}
}
