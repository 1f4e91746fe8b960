package queue

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
)

// Entry is one dead-letter queue entry as stored.
type Entry struct {
	ID     string
	Fields map[string]string
}

// Payload returns the entry's message.
func (e Entry) Payload() []byte { return []byte(e.Fields[PayloadField]) }

// Time returns when the entry was written, from its stream ID.
func (e Entry) Time() time.Time {
	ms, _, _ := cutDash(e.ID)
	return time.UnixMilli(ms).UTC()
}

func cutDash(id string) (int64, int64, bool) {
	for i := 0; i < len(id); i++ {
		if id[i] == '-' {
			ms, err1 := strconv.ParseInt(id[:i], 10, 64)
			seq, err2 := strconv.ParseInt(id[i+1:], 10, 64)
			return ms, seq, err1 == nil && err2 == nil
		}
	}
	ms, err := strconv.ParseInt(id, 10, 64)
	return ms, 0, err == nil
}

// Range returns up to count entries of a stream with IDs from start on
// ("-" for the oldest), oldest first.
func Range(ctx context.Context, rdb redis.UniversalClient, key, start string, count int64) ([]Entry, error) {
	msgs, err := rdb.XRangeN(ctx, key, start, "+", count).Result()
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", key, err)
	}
	out := make([]Entry, 0, len(msgs))
	for _, m := range msgs {
		f := make(map[string]string, len(m.Values))
		for k, v := range m.Values {
			if s, ok := v.(string); ok {
				f[k] = s
			}
		}
		out = append(out, Entry{ID: m.ID, Fields: f})
	}
	return out, nil
}

// Page returns up to n entries of a stream, oldest first: those after the
// entry after ("" starts at the head) or, without after, from since's
// millisecond on (zero: from the oldest).
func Page(ctx context.Context, rdb redis.UniversalClient, key, after string, since time.Time, n int) ([]Entry, error) {
	start := "-"
	switch {
	case after != "":
		start = "(" + after
	case !since.IsZero():
		start = strconv.FormatInt(since.UnixMilli(), 10)
	}
	return Range(ctx, rdb, key, start, int64(n))
}

// replayScript moves the named entries from a dead-letter stream to their
// target stream with the replay counter raised, or, past the replay limit,
// to the terminal dead-letter stream with the reason replay_limit. An ID no
// longer in the DLQ is skipped. Each entry moves atomically: it is never in
// two places or in none.
//
// KEYS: dlq, target, dead. ARGV: max replays, now (RFC 3339), ids…
// Returns {replayed, dead, missing}.
var replayScript = redis.NewScript(`
local max = tonumber(ARGV[1])
local replayed, dead, missing = 0, 0, 0
for i = 3, #ARGV do
  local got = redis.call('XRANGE', KEYS[1], ARGV[i], ARGV[i])
  if #got == 0 then
    missing = missing + 1
  else
    local f = got[1][2]
    local fields = {}
    for j = 1, #f, 2 do fields[f[j]] = f[j + 1] end
    local replays = (tonumber(fields['replays'] or '0') or 0) + 1
    if replays > max then
      redis.call('XADD', KEYS[3], '*', 'e', fields['e'] or '', 'reason', 'replay_limit',
        'error', 'replayed ' .. (replays - 1) .. ' times without success; last failure: ' .. (fields['reason'] or '?') .. ': ' .. (fields['error'] or ''),
        'source', KEYS[1], 'source_id', ARGV[i], 'failed_at', ARGV[2], 'replays', tostring(replays - 1))
      dead = dead + 1
    else
      redis.call('XADD', KEYS[2], '*', 'e', fields['e'] or '', 'replays', tostring(replays))
      replayed = replayed + 1
    end
    redis.call('XDEL', KEYS[1], ARGV[i])
  end
end
return {replayed, dead, missing}
`)

// ReplayResult counts what a replay did.
type ReplayResult struct {
	Replayed, Dead, Missing int
}

// Replay moves the DLQ entries ids back to target, raising each one's
// replay counter; an entry already replayed maxReplays times goes to dead
// instead, so a message that keeps failing stops cycling.
func Replay(ctx context.Context, rdb redis.UniversalClient, dlq, target, dead string, maxReplays int, ids []string) (ReplayResult, error) {
	var total ReplayResult
	for start := 0; start < len(ids); start += 500 {
		chunk := ids[start:min(start+500, len(ids))]
		args := make([]any, 0, 2+len(chunk))
		args = append(args, maxReplays, time.Now().UTC().Format(time.RFC3339Nano))
		for _, id := range chunk {
			args = append(args, id)
		}
		res, err := replayScript.Run(ctx, rdb, []string{dlq, target, dead}, args...).Int64Slice()
		if err != nil {
			return total, fmt.Errorf("replaying from %s to %s: %w", dlq, target, err)
		}
		total.Replayed += int(res[0])
		total.Dead += int(res[1])
		total.Missing += int(res[2])
	}
	return total, nil
}

// Delete removes entries from a stream, returning how many existed.
func Delete(ctx context.Context, rdb redis.UniversalClient, key string, ids []string) (int64, error) {
	var n int64
	for start := 0; start < len(ids); start += 500 {
		d, err := rdb.XDel(ctx, key, ids[start:min(start+500, len(ids))]...).Result()
		if err != nil {
			return n, fmt.Errorf("deleting from %s: %w", key, err)
		}
		n += d
	}
	return n, nil
}
