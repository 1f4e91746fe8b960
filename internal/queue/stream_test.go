package queue_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/mutt-go/mutt/internal/itest"
	"github.com/mutt-go/mutt/internal/queue"
)

// fill appends n payloads named tag-i to the stream with plain XADDs and
// returns their IDs.
func fill(t testing.TB, rdb *redis.Client, key, tag string, n int) []string {
	t.Helper()
	ids := make([]string, n)
	for i := range n {
		id, err := rdb.XAdd(context.Background(), &redis.XAddArgs{
			Stream: key,
			Values: []any{queue.PayloadField, fmt.Sprintf("%s-%d", tag, i)},
		}).Result()
		if err != nil {
			t.Fatalf("XADD %s: %v", key, err)
		}
		ids[i] = id
	}
	return ids
}

func groupCount(t testing.TB, rdb *redis.Client, key string) int {
	t.Helper()
	groups, err := rdb.XInfoGroups(context.Background(), key).Result()
	if err != nil {
		t.Fatalf("XINFO GROUPS %s: %v", key, err)
	}
	return len(groups)
}

func newStream(t testing.TB) (*queue.Stream, *redis.Client) {
	t.Helper()
	rdb, prefix := itest.Redis(t)
	s := queue.NewStream(rdb, prefix+":ingest_queue", "alerters")
	if err := s.EnsureGroup(context.Background()); err != nil {
		t.Fatalf("EnsureGroup: %v", err)
	}
	return s, rdb
}

func TestEnsureGroup(t *testing.T) {
	ctx := context.Background()
	rdb, prefix := itest.Redis(t)
	key := prefix + ":ingest_queue"
	// Entries written before the group exists are delivered to it.
	fill(t, rdb, key, "early", 2)
	s := queue.NewStream(rdb, key, "alerters")
	if s.Key() != key || s.Group() != "alerters" {
		t.Errorf("Key, Group = %q, %q", s.Key(), s.Group())
	}
	for i := range 3 {
		if err := s.EnsureGroup(ctx); err != nil {
			t.Fatalf("EnsureGroup call %d: %v", i+1, err)
		}
	}
	if n := groupCount(t, rdb, key); n != 1 {
		t.Errorf("%d groups, want 1", n)
	}
	msgs, err := s.Read(ctx, "c1", 10, -1)
	if err != nil || len(msgs) != 2 || string(msgs[0].Payload) != "early-0" {
		t.Errorf("Read = %v, %v; want the two entries written before the group", msgs, err)
	}

	// On a key that is not a stream the error says what was attempted.
	other := prefix + ":string"
	if err := rdb.Set(ctx, other, "x", 0).Err(); err != nil {
		t.Fatal(err)
	}
	err = queue.NewStream(rdb, other, "g").EnsureGroup(ctx)
	if err == nil || !strings.Contains(err.Error(), "creating consumer group g on "+other) {
		t.Errorf("EnsureGroup on a string key = %v, want a wrapped WRONGTYPE error", err)
	}
}

func TestReadEmpty(t *testing.T) {
	tests := []struct {
		name  string
		block time.Duration
	}{
		{name: "no wait", block: -1},
		{name: "short wait", block: 50 * time.Millisecond},
		{name: "sub-millisecond wait", block: 500 * time.Microsecond},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, _ := newStream(t)
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			start := time.Now()
			msgs, err := s.Read(ctx, "c1", 10, tt.block)
			if err != nil || len(msgs) != 0 {
				t.Fatalf("Read on an empty stream = %v, %v; want nothing, no error", msgs, err)
			}
			if d := time.Since(start); d > 2*time.Second {
				t.Errorf("Read took %s with block %s", d, tt.block)
			}
		})
	}
}

func TestReadDeliversNewMessages(t *testing.T) {
	ctx := context.Background()
	s, rdb := newStream(t)
	ids := fill(t, rdb, s.Key(), "m", 5)
	// Entries without the payload field (written by another tool) come back
	// with a nil payload for the consumer to treat as poison.
	foreign, err := rdb.XAdd(ctx, &redis.XAddArgs{Stream: s.Key(), Values: []any{"other", "x"}}).Result()
	if err != nil {
		t.Fatal(err)
	}

	first, err := s.Read(ctx, "c1", 3, -1)
	if err != nil || len(first) != 3 {
		t.Fatalf("Read = %v, %v; want 3 messages", first, err)
	}
	second, err := s.Read(ctx, "c2", 10, 50*time.Millisecond)
	if err != nil || len(second) != 3 {
		t.Fatalf("second Read = %v, %v; want the other 3", second, err)
	}
	got := append(first, second...)
	for i, m := range got {
		if m.Deliveries != 1 {
			t.Errorf("message %s: Deliveries %d, want 1", m.ID, m.Deliveries)
		}
		if i < len(ids) {
			if m.ID != ids[i] || string(m.Payload) != fmt.Sprintf("m-%d", i) {
				t.Errorf("message %d = %s %q, want %s m-%d", i, m.ID, m.Payload, ids[i], i)
			}
		} else if m.ID != foreign || m.Payload != nil {
			t.Errorf("foreign entry = %s %q, want %s with nil payload", m.ID, m.Payload, foreign)
		}
	}
	if n, err := s.PendingCount(ctx); err != nil || n != 6 {
		t.Errorf("PendingCount = %d, %v; want 6", n, err)
	}
	if n, err := s.Len(ctx); err != nil || n != 6 {
		t.Errorf("Len = %d, %v; want 6", n, err)
	}
}

func TestReadBlocksUntilMessage(t *testing.T) {
	ctx := context.Background()
	s, rdb := newStream(t)
	type result struct {
		msgs []queue.Message
		err  error
	}
	done := make(chan result, 1)
	go func() {
		msgs, err := s.Read(ctx, "c1", 10, 5*time.Second)
		done <- result{msgs, err}
	}()
	// Wait until the reader is blocked on the server before writing.
	itest.Eventually(t, 5*time.Second, "reader never blocked", func() bool {
		n, err := rdb.Do(ctx, "INFO", "clients").Text()
		return err == nil && !strings.Contains(n, "blocked_clients:0")
	})
	fill(t, rdb, s.Key(), "late", 1)
	select {
	case r := <-done:
		if r.err != nil || len(r.msgs) != 1 || string(r.msgs[0].Payload) != "late-0" {
			t.Errorf("Read = %v, %v; want the late message", r.msgs, r.err)
		}
	case <-time.After(4 * time.Second):
		t.Fatal("Read did not return after a message arrived")
	}
}

func TestReadRecreatesDeletedStream(t *testing.T) {
	ctx := context.Background()
	s, rdb := newStream(t)
	fill(t, rdb, s.Key(), "old", 2)
	if err := rdb.Del(ctx, s.Key()).Err(); err != nil {
		t.Fatal(err)
	}
	msgs, err := s.Read(ctx, "c1", 10, 20*time.Millisecond)
	if err != nil || len(msgs) != 0 {
		t.Fatalf("Read after the stream was deleted = %v, %v; want nothing, no error", msgs, err)
	}
	if n := groupCount(t, rdb, s.Key()); n != 1 {
		t.Fatalf("%d groups after Read, want the group recreated", n)
	}
	fill(t, rdb, s.Key(), "new", 1)
	msgs, err = s.Read(ctx, "c1", 10, -1)
	if err != nil || len(msgs) != 1 || string(msgs[0].Payload) != "new-0" {
		t.Errorf("Read = %v, %v; want the message written after the restore", msgs, err)
	}

	// Reclaim and PendingCount cope the same way.
	if err := rdb.Del(ctx, s.Key()).Err(); err != nil {
		t.Fatal(err)
	}
	if n, err := s.PendingCount(ctx); err != nil || n != 0 {
		t.Errorf("PendingCount on a deleted stream = %d, %v; want 0, nil", n, err)
	}
	if msgs, err := s.Reclaim(ctx, "c2", time.Millisecond, 10); err != nil || len(msgs) != 0 {
		t.Errorf("Reclaim on a deleted stream = %v, %v; want nothing, no error", msgs, err)
	}
	if n := groupCount(t, rdb, s.Key()); n != 1 {
		t.Errorf("%d groups after Reclaim, want the group recreated", n)
	}
}

// idleAtLeast waits until every message pending for the group has been idle
// for at least d.
func idleAtLeast(t *testing.T, rdb *redis.Client, s *queue.Stream, d time.Duration) {
	t.Helper()
	itest.Eventually(t, 10*time.Second, "pending messages never became idle", func() bool {
		p, err := rdb.XPendingExt(context.Background(), &redis.XPendingExtArgs{
			Stream: s.Key(), Group: s.Group(), Start: "-", End: "+", Count: 1000,
		}).Result()
		if err != nil || len(p) == 0 {
			return false
		}
		for _, e := range p {
			if e.Idle < d {
				return false
			}
		}
		return true
	})
}

func TestReclaim(t *testing.T) {
	const minIdle = 100 * time.Millisecond
	ctx := context.Background()
	s, rdb := newStream(t)
	ids := fill(t, rdb, s.Key(), "m", 3)

	// A consumer takes two messages and dies without acknowledging them.
	taken, err := s.Read(ctx, "dead", 2, -1)
	if err != nil || len(taken) != 2 {
		t.Fatalf("Read = %v, %v", taken, err)
	}
	// Fresh messages are left with their consumer.
	if msgs, err := s.Reclaim(ctx, "rescuer", minIdle, 10); err != nil || len(msgs) != 0 {
		t.Fatalf("Reclaim of fresh messages = %v, %v; want none", msgs, err)
	}
	idleAtLeast(t, rdb, s, minIdle)
	// A live consumer takes the third message just now.
	live, err := s.Read(ctx, "live", 10, -1)
	if err != nil || len(live) != 1 || live[0].ID != ids[2] {
		t.Fatalf("Read = %v, %v; want the third message", live, err)
	}

	msgs, err := s.Reclaim(ctx, "rescuer", minIdle, 10)
	if err != nil {
		t.Fatalf("Reclaim: %v", err)
	}
	if len(msgs) != 2 {
		t.Fatalf("Reclaim returned %d messages, want the 2 idle ones: %v", len(msgs), msgs)
	}
	for i, m := range msgs {
		if m.ID != ids[i] || string(m.Payload) != fmt.Sprintf("m-%d", i) || m.Deliveries != 2 {
			t.Errorf("reclaimed %d = {%s %q deliveries %d}, want {%s m-%d deliveries 2}", i, m.ID, m.Payload, m.Deliveries, ids[i], i)
		}
	}
	// They now belong to the rescuer, and a second reclaim counts again.
	p, err := rdb.XPendingExt(ctx, &redis.XPendingExtArgs{Stream: s.Key(), Group: s.Group(), Start: "-", End: "+", Count: 10, Consumer: "rescuer"}).Result()
	if err != nil || len(p) != 2 {
		t.Errorf("rescuer holds %v (err %v), want 2 messages", p, err)
	}
	idleAtLeast(t, rdb, s, minIdle)
	msgs, err = s.Reclaim(ctx, "rescuer2", minIdle, 1)
	if err != nil || len(msgs) != 1 || msgs[0].ID != ids[0] || msgs[0].Deliveries != 3 {
		t.Errorf("Reclaim with count 1 = %v, %v; want the oldest with Deliveries 3", msgs, err)
	}
}

func TestReclaimDropsDeletedEntries(t *testing.T) {
	ctx := context.Background()
	s, rdb := newStream(t)
	ids := fill(t, rdb, s.Key(), "m", 2)
	if _, err := s.Read(ctx, "dead", 10, -1); err != nil {
		t.Fatal(err)
	}
	if err := rdb.XDel(ctx, s.Key(), ids[0]).Err(); err != nil {
		t.Fatal(err)
	}
	idleAtLeast(t, rdb, s, 20*time.Millisecond)
	msgs, err := s.Reclaim(ctx, "rescuer", 20*time.Millisecond, 10)
	if err != nil || len(msgs) != 1 || msgs[0].ID != ids[1] || msgs[0].Deliveries != 2 {
		t.Errorf("Reclaim = %v, %v; want only the surviving entry", msgs, err)
	}
	if n, err := s.PendingCount(ctx); err != nil || n != 1 {
		t.Errorf("PendingCount = %d, %v; want 1 (the deleted entry dropped)", n, err)
	}
}

func TestAck(t *testing.T) {
	ctx := context.Background()
	s, rdb := newStream(t)
	fill(t, rdb, s.Key(), "m", 5)
	msgs, err := s.Read(ctx, "c1", 10, -1)
	if err != nil || len(msgs) != 5 {
		t.Fatalf("Read = %v, %v", msgs, err)
	}
	tests := []struct {
		name        string
		ids         []string
		wantLen     int64
		wantPending int64
	}{
		{name: "nothing", ids: nil, wantLen: 5, wantPending: 5},
		{name: "one", ids: []string{msgs[0].ID}, wantLen: 4, wantPending: 4},
		{name: "a batch", ids: []string{msgs[1].ID, msgs[2].ID, msgs[3].ID}, wantLen: 1, wantPending: 1},
		{name: "already acknowledged", ids: []string{msgs[1].ID}, wantLen: 1, wantPending: 1},
		{name: "the last", ids: []string{msgs[4].ID}, wantLen: 0, wantPending: 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := s.Ack(ctx, tt.ids...); err != nil {
				t.Fatalf("Ack: %v", err)
			}
			if n, err := s.Len(ctx); err != nil || n != tt.wantLen {
				t.Errorf("Len = %d, %v; want %d", n, err, tt.wantLen)
			}
			if n, err := s.PendingCount(ctx); err != nil || n != tt.wantPending {
				t.Errorf("PendingCount = %d, %v; want %d", n, err, tt.wantPending)
			}
		})
	}
	// Acknowledged messages are never delivered again.
	nothingToReclaim(t, s)
	if again, err := s.Read(ctx, "c2", 10, -1); err != nil || len(again) != 0 {
		t.Errorf("Read after Ack = %v, %v; want nothing", again, err)
	}
}

// nothingToReclaim checks that even with no idle time nothing can be
// reclaimed: no message is pending.
func nothingToReclaim(t *testing.T, s *queue.Stream) {
	t.Helper()
	msgs, err := s.Reclaim(context.Background(), "c3", 0, 10)
	if err != nil || len(msgs) != 0 {
		t.Errorf("Reclaim after Ack = %v, %v; want nothing", msgs, err)
	}
}

func TestDeadLetterFields(t *testing.T) {
	ctx := context.Background()
	rdb, prefix := itest.Redis(t)
	dlq := prefix + ":dlq:alerter"
	failedAt := time.Date(2025, 3, 4, 5, 6, 7, 890_000_000, time.FixedZone("CET", 3600))
	d := queue.DeadLetter{
		Payload:    []byte(`{"hostname":"h","message":"m"}`),
		Reason:     "max_retries",
		Error:      "inserting audit row: deadline exceeded",
		Source:     "mutt:ingest_queue",
		SourceID:   "1700000000000-0",
		Deliveries: 5,
	}
	fields := d.Fields(failedAt)
	if len(fields)%2 != 0 {
		t.Fatalf("Fields has %d elements, want pairs", len(fields))
	}
	id, err := rdb.XAdd(ctx, &redis.XAddArgs{Stream: dlq, Values: fields}).Result()
	if err != nil {
		t.Fatalf("XADD: %v", err)
	}
	got, err := rdb.XRange(ctx, dlq, id, id).Result()
	if err != nil || len(got) != 1 {
		t.Fatalf("XRANGE = %v, %v", got, err)
	}
	want := map[string]string{
		queue.PayloadField: `{"hostname":"h","message":"m"}`,
		"reason":           "max_retries",
		"error":            "inserting audit row: deadline exceeded",
		"source":           "mutt:ingest_queue",
		"source_id":        "1700000000000-0",
		"deliveries":       "5",
		"failed_at":        "2025-03-04T04:06:07.89Z",
		queue.ReplaysField: "0",
	}
	if len(got[0].Values) != len(want) {
		t.Errorf("entry has fields %v, want %v", got[0].Values, want)
	}
	for k, v := range want {
		if got[0].Values[k] != v {
			t.Errorf("field %s = %v, want %q", k, got[0].Values[k], v)
		}
	}
}
