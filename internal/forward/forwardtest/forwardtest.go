// Package forwardtest is the conformance suite of the forwarder's storage
// (forward.Backend): every implementation, Redis and the embedded SQLite
// store, runs Run against fresh storage and must pass it unchanged.
//
// It imports only forward and queue; it must not import an implementation.
package forwardtest

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/mutt-go/mutt/internal/forward"
	"github.com/mutt-go/mutt/internal/queue"
)

// Consumer is the worker name the suite reads as.
const Consumer = "fw-0"

// Target is one fresh, empty storage under test.
type Target struct {
	// Backend is the storage as a running forwarder uses it.
	Backend forward.Backend
	// Queues names the alert queue (AlertQueue, the Source of the dead
	// letters the suite writes) and the dead-letter queues.
	Queues forward.ForwarderOptions
	// Append adds payloads to the end of the alert queue, as the alerter
	// does.
	Append func(ctx context.Context, payloads ...[]byte) error
	// DeadLetters returns the entries of the dead-letter queue named dlq
	// (Queues.MoogDLQ or Queues.DeadDLQ), oldest first, with every field
	// as stored.
	DeadLetters func(ctx context.Context, dlq string) ([]queue.DeadLetter, error)
	// Restart returns the Backend as a new process on the same storage
	// sees it: what the old one read and never committed is pending.
	Restart func(t *testing.T) forward.Backend
}

// Run checks the forward.Backend open returns; open gives fresh, empty
// storage on each call.
func Run(t *testing.T, open func(t *testing.T) Target) {
	tests := []struct {
		name string
		fn   func(t *testing.T, tg Target)
	}{
		{"ReadInOrderAndCommit", testReadInOrder},
		{"UncommittedIsReclaimed", testReclaim},
		{"RestartFinishesOwnPending", testRestart},
		{"SecondCommitChangesNothing", testIdempotent},
		{"DeadLettersKeepEveryField", testDeadLetters},
		{"ScheduleMovesOnlyDue", testSchedule},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tg := open(t)
			if err := tg.Backend.Alerts.Prepare(context.Background()); err != nil {
				t.Fatalf("Prepare: %v", err)
			}
			tt.fn(t, tg)
		})
	}
}

func payloads(prefix string, n int) [][]byte {
	out := make([][]byte, n)
	for i := range out {
		out[i] = fmt.Appendf(nil, `{"alert":"%s-%d"}`, prefix, i)
	}
	return out
}

// readAll reads until it holds n messages or a deadline passes.
func readAll(t *testing.T, src forward.AlertSource, consumer string, n int) []queue.Message {
	t.Helper()
	ctx := context.Background()
	var out []queue.Message
	deadline := time.Now().Add(5 * time.Second)
	for len(out) < n {
		if time.Now().After(deadline) {
			t.Fatalf("read %d of %d messages", len(out), n)
		}
		msgs, err := src.Read(ctx, consumer, n-len(out), 50*time.Millisecond)
		if err != nil {
			t.Fatalf("Read: %v", err)
		}
		out = append(out, msgs...)
	}
	return out
}

func ids(msgs []queue.Message) []string {
	out := make([]string, len(msgs))
	for i, m := range msgs {
		out[i] = m.ID
	}
	return out
}

func commit(t *testing.T, b forward.Backend, c forward.DeliveryCommit, want int64) {
	t.Helper()
	acked, err := b.Commits.Commit(context.Background(), c)
	if err != nil || acked != want {
		t.Fatalf("Commit = %d, %v; want %d acknowledged", acked, err, want)
	}
}

func wantLen(t *testing.T, what string, l forward.Depth, want int64) {
	t.Helper()
	n, err := l.Len(context.Background())
	if err != nil || n != want {
		t.Fatalf("%s length = %d, %v; want %d", what, n, err, want)
	}
}

// queued appends n alerts named after name and reads them as Consumer.
func queued(t *testing.T, tg Target, name string, n int) ([][]byte, []queue.Message) {
	t.Helper()
	p := payloads(name, n)
	if err := tg.Append(context.Background(), p...); err != nil {
		t.Fatalf("Append: %v", err)
	}
	return p, readAll(t, tg.Backend.Alerts, Consumer, n)
}

func wantPending(t *testing.T, src forward.AlertSource, want int64) {
	t.Helper()
	if n, err := src.PendingCount(context.Background()); err != nil || n != want {
		t.Errorf("PendingCount = %d, %v; want %d", n, err, want)
	}
}

// testReadInOrder: a batch comes back in append order, once, and its
// commit empties the queue.
func testReadInOrder(t *testing.T, tg Target) {
	ctx := context.Background()
	p, msgs := queued(t, tg, "order", 7)
	src := tg.Backend.Alerts
	for i, m := range msgs {
		if !bytes.Equal(m.Payload, p[i]) || m.Deliveries != 1 || m.Attempts != 0 || m.Replays != 0 {
			t.Errorf("message %d = %q deliveries %d attempts %d replays %d; want %q, 1, 0, 0",
				i, m.Payload, m.Deliveries, m.Attempts, m.Replays, p[i])
		}
	}
	more, err := src.Read(ctx, "fw-1", 10, 20*time.Millisecond)
	if err != nil || len(more) != 0 {
		t.Fatalf("a second consumer read %d messages already handed out (%v)", len(more), err)
	}
	wantPending(t, src, 7)
	wantLen(t, "alert queue", src, 7)
	commit(t, tg.Backend, forward.DeliveryCommit{IDs: ids(msgs)}, 7)
	wantLen(t, "alert queue", src, 0)
	wantPending(t, src, 0)
}

// testReclaim: a message read and never committed goes to another
// consumer once idle, with its delivery counted; the first consumer's late
// commit then changes nothing.
func testReclaim(t *testing.T, tg Target) {
	ctx := context.Background()
	p, first := queued(t, tg, "reclaim", 1)
	src := tg.Backend.Alerts
	var got []queue.Message
	deadline := time.Now().Add(5 * time.Second)
	for len(got) == 0 {
		if time.Now().After(deadline) {
			t.Fatal("the uncommitted message was never reclaimed")
		}
		var err error
		if got, err = src.Reclaim(ctx, "fw-reclaim", 50*time.Millisecond, 10); err != nil {
			t.Fatalf("Reclaim: %v", err)
		}
	}
	if len(got) != 1 || got[0].ID != first[0].ID || !bytes.Equal(got[0].Payload, p[0]) || got[0].Deliveries != 2 {
		t.Fatalf("reclaimed %+v; want %s once with 2 deliveries", got, first[0].ID)
	}
	commit(t, tg.Backend, forward.DeliveryCommit{IDs: ids(got)}, 1)
	commit(t, tg.Backend, forward.DeliveryCommit{
		IDs:  ids(first),
		Dead: []queue.DeadLetter{{Payload: p[0], Reason: "late", Source: tg.Queues.AlertQueue, SourceID: first[0].ID}},
	}, 0)
	dead, err := tg.DeadLetters(ctx, tg.Queues.DeadDLQ)
	if err != nil || len(dead) != 0 {
		t.Fatalf("the late commit wrote dead letters: %v, %v", dead, err)
	}
	wantLen(t, "alert queue", src, 0)
}

// testRestart: after a restart the same consumer gets what it held, at
// once (by Recover or by Read), not after an idle time.
func testRestart(t *testing.T, tg Target) {
	ctx := context.Background()
	p, held := queued(t, tg, "restart", 3)
	b := tg.Restart(t)
	if err := b.Alerts.Prepare(ctx); err != nil {
		t.Fatalf("Prepare after the restart: %v", err)
	}
	var got []queue.Message
	if _, err := b.Alerts.Recover(ctx, Consumer, 10, func(_ context.Context, msgs []queue.Message) error {
		got = append(got, msgs...)
		return nil
	}); err != nil {
		t.Fatalf("Recover: %v", err)
	}
	if len(got) < 3 {
		more, err := b.Alerts.Read(ctx, Consumer, 10, 50*time.Millisecond)
		if err != nil {
			t.Fatalf("Read after the restart: %v", err)
		}
		got = append(got, more...)
	}
	if !slices.Equal(ids(got), ids(held)) {
		t.Fatalf("after the restart %s got %v; want %v", Consumer, ids(got), ids(held))
	}
	for i, m := range got {
		if !bytes.Equal(m.Payload, p[i]) {
			t.Errorf("message %d after the restart = %q, want %q", i, m.Payload, p[i])
		}
	}
	commit(t, b, forward.DeliveryCommit{IDs: ids(got)}, 3)
	wantLen(t, "alert queue", b.Alerts, 0)
}

// testIdempotent: committing a batch a second time (a redelivery that
// another forwarder finished) adds no schedule entry and no dead letter.
func testIdempotent(t *testing.T, tg Target) {
	ctx := context.Background()
	p, msgs := queued(t, tg, "twice", 3)
	q := tg.Queues
	c := forward.DeliveryCommit{
		IDs: ids(msgs),
		Schedule: []forward.Scheduled{{ID: msgs[0].ID, Payload: p[0], Attempts: 1,
			Due: time.Now().Add(time.Hour)}},
		DLQ:  []queue.DeadLetter{{Payload: p[1], Reason: "http_4xx", Source: q.AlertQueue, SourceID: msgs[1].ID, Deliveries: 1}},
		Dead: []queue.DeadLetter{{Payload: p[2], Reason: "malformed_alert", Source: q.AlertQueue, SourceID: msgs[2].ID, Deliveries: 1}},
	}
	commit(t, tg.Backend, c, 3)
	commit(t, tg.Backend, c, 0)
	wantLen(t, "alert queue", tg.Backend.Alerts, 0)
	wantLen(t, "schedule", tg.Backend.Schedule, 1)
	for _, dlq := range []string{q.MoogDLQ, q.DeadDLQ} {
		got, err := tg.DeadLetters(ctx, dlq)
		if err != nil || len(got) != 1 {
			t.Errorf("%s holds %d entries (%v) after two commits; want 1", dlq, len(got), err)
		}
	}
	if tg.Backend.MoogDLQ != nil {
		wantLen(t, "Moogsoft DLQ", tg.Backend.MoogDLQ, 1)
	}
}

// testDeadLetters: every field of a dead letter survives, in commit order,
// on both dead-letter queues.
func testDeadLetters(t *testing.T, tg Target) {
	ctx := context.Background()
	p, msgs := queued(t, tg, "dead", 3)
	q := tg.Queues
	dlq := []queue.DeadLetter{
		{Payload: p[0], Reason: "retries_exhausted", Error: "HTTP 503: unavailable", Source: q.AlertQueue,
			SourceID: msgs[0].ID, Deliveries: 4, Attempts: 6, Replays: 2, Status: 503},
		{Payload: p[1], Reason: "http_4xx", Error: "HTTP 400: bad request", Source: q.AlertQueue,
			SourceID: msgs[1].ID, Deliveries: 1, Attempts: 1, Replays: 0, Status: 400},
	}
	dead := []queue.DeadLetter{
		{Payload: p[2], Reason: "malformed_alert", Error: "not JSON", Source: q.AlertQueue,
			SourceID: msgs[2].ID, Deliveries: 11, Attempts: 3, Replays: 5},
	}
	commit(t, tg.Backend, forward.DeliveryCommit{IDs: ids(msgs), DLQ: dlq, Dead: dead}, 3)
	for _, tt := range []struct {
		queue string
		want  []queue.DeadLetter
	}{{q.MoogDLQ, dlq}, {q.DeadDLQ, dead}} {
		got, err := tg.DeadLetters(ctx, tt.queue)
		if err != nil {
			t.Fatalf("reading %s: %v", tt.queue, err)
		}
		if len(got) != len(tt.want) {
			t.Fatalf("%s holds %d entries, want %d", tt.queue, len(got), len(tt.want))
		}
		for i := range got {
			if !equalDeadLetter(got[i], tt.want[i]) {
				t.Errorf("%s entry %d = %+v\nwant %+v", tt.queue, i, got[i], tt.want[i])
			}
		}
	}
}

func equalDeadLetter(a, b queue.DeadLetter) bool {
	return bytes.Equal(a.Payload, b.Payload) && a.Reason == b.Reason && a.Error == b.Error &&
		a.Source == b.Source && a.SourceID == b.SourceID && a.Deliveries == b.Deliveries &&
		a.Attempts == b.Attempts && a.Replays == b.Replays && a.Status == b.Status
}

// testSchedule: MoveDue moves what is due, with its counters, back to the
// alert queue and leaves the rest, saying when the next is due.
func testSchedule(t *testing.T, tg Target) {
	ctx := context.Background()
	p, msgs := queued(t, tg, "sched", 3)
	now := time.Now()
	commit(t, tg.Backend, forward.DeliveryCommit{IDs: ids(msgs), Schedule: []forward.Scheduled{
		{ID: msgs[0].ID, Payload: p[0], Attempts: 2, Replays: 1, Due: now.Add(-time.Second)},
		{ID: msgs[1].ID, Payload: p[1], Attempts: 1, Replays: 0, Due: now.Add(time.Hour)},
		{ID: msgs[2].ID, Payload: p[2], Attempts: 0, Replays: 3, Due: now.Add(-time.Millisecond)},
	}}, 3)
	wantLen(t, "schedule", tg.Backend.Schedule, 3)
	wantLen(t, "alert queue", tg.Backend.Alerts, 0)
	moved, next, err := tg.Backend.Schedule.MoveDue(ctx, 100)
	if err != nil || moved != 2 {
		t.Fatalf("MoveDue = %d, %v; want 2 moved", moved, err)
	}
	if next < 59*time.Minute || next > time.Hour {
		t.Errorf("MoveDue says the next is due in %v; want about an hour", next)
	}
	wantLen(t, "schedule", tg.Backend.Schedule, 1)
	back := readAll(t, tg.Backend.Alerts, Consumer, 2)
	want := []struct {
		payload           []byte
		attempts, replays int64
	}{{p[0], 2, 1}, {p[2], 0, 3}}
	for i, m := range back {
		if !bytes.Equal(m.Payload, want[i].payload) || m.Attempts != want[i].attempts || m.Replays != want[i].replays {
			t.Errorf("moved alert %d = %q attempts %d replays %d; want %q, %d, %d",
				i, m.Payload, m.Attempts, m.Replays, want[i].payload, want[i].attempts, want[i].replays)
		}
	}
	if moved, _, err := tg.Backend.Schedule.MoveDue(ctx, 100); err != nil || moved != 0 {
		t.Errorf("a second MoveDue moved %d (%v); want 0", moved, err)
	}
}
