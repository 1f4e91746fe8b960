package queue_test

import (
	"context"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/mutt-go/mutt/internal/itest"
	"github.com/mutt-go/mutt/internal/queue"
)

func TestScheduleMovesOnlyDueMessagesWithTheirCounters(t *testing.T) {
	rdb, prefix := itest.Redis(t)
	ctx := context.Background()
	stream := prefix + ":alerts"
	s := queue.NewSchedule(rdb, prefix+":retry", stream)
	now := time.Now()
	due := queue.Member(2, 1, "1-0", []byte(`{"a":"x|y"}`))
	later := queue.Member(0, 0, "2-0", []byte(`{"b":1}`))
	if err := rdb.ZAdd(ctx, s.Key(),
		redis.Z{Score: float64(now.Add(-time.Second).UnixMilli()), Member: due},
		redis.Z{Score: float64(now.Add(time.Hour).UnixMilli()), Member: later},
	).Err(); err != nil {
		t.Fatal(err)
	}
	moved, wait, err := s.MoveDue(ctx, 100)
	if err != nil {
		t.Fatal(err)
	}
	if moved != 1 {
		t.Fatalf("moved %d, want 1", moved)
	}
	if wait < 59*time.Minute || wait > time.Hour {
		t.Errorf("next due in %s, want about an hour", wait)
	}
	entries, err := queue.Range(ctx, rdb, stream, "-", 10)
	if err != nil || len(entries) != 1 {
		t.Fatalf("stream = %v, %v", entries, err)
	}
	f := entries[0].Fields
	if f[queue.PayloadField] != `{"a":"x|y"}` || f[queue.AttemptsField] != "2" || f[queue.ReplaysField] != "1" {
		t.Errorf("moved entry = %v", f)
	}
	if n, _ := s.Len(ctx); n != 1 {
		t.Errorf("schedule holds %d, want 1", n)
	}
	if err := rdb.ZRem(ctx, s.Key(), later).Err(); err != nil {
		t.Fatal(err)
	}
	if _, wait, _ := s.MoveDue(ctx, 100); wait >= 0 {
		t.Errorf("empty schedule reports a wait of %s", wait)
	}
}

func TestReplayCountsAndStopsAtTheLimit(t *testing.T) {
	rdb, prefix := itest.Redis(t)
	ctx := context.Background()
	dlq, target, dead := prefix+":dlq", prefix+":target", prefix+":dead"
	add := func(payload, replays string) string {
		id, err := rdb.XAdd(ctx, &redis.XAddArgs{Stream: dlq, Values: []any{
			queue.PayloadField, payload, "reason", "max_retries", "error", "boom", queue.ReplaysField, replays,
		}}).Result()
		if err != nil {
			t.Fatal(err)
		}
		return id
	}
	fresh := add("p1", "0")
	tired := add("p2", "3")
	res, err := queue.Replay(ctx, rdb, dlq, target, dead, 3, []string{fresh, tired, "1-1"})
	if err != nil {
		t.Fatal(err)
	}
	if res != (queue.ReplayResult{Replayed: 1, Dead: 1, Missing: 1}) {
		t.Errorf("result = %+v", res)
	}
	back, _ := queue.Range(ctx, rdb, target, "-", 10)
	if len(back) != 1 || back[0].Fields[queue.PayloadField] != "p1" || back[0].Fields[queue.ReplaysField] != "1" {
		t.Errorf("replayed = %+v", back)
	}
	gone, _ := queue.Range(ctx, rdb, dead, "-", 10)
	if len(gone) != 1 || gone[0].Fields["reason"] != "replay_limit" || gone[0].Fields[queue.PayloadField] != "p2" {
		t.Errorf("dead = %+v", gone)
	}
	if n, _ := rdb.XLen(ctx, dlq).Result(); n != 0 {
		t.Errorf("DLQ still holds %d", n)
	}
}
