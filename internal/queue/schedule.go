package queue

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// A Schedule holds messages that must wait before their next attempt (a
// retry after a failure, or an alert parked by the rate limit or an open
// breaker) in a sorted set scored by due time, so a waiting message never
// blocks a worker. MoveDue puts due messages back on their stream.
//
// A member is "<attempts>|<replays>|<original entry ID>|<payload>": the ID
// keeps members unique, the counters travel with the payload.
type Schedule struct {
	rdb    redis.UniversalClient
	key    string
	stream string
}

// NewSchedule returns the schedule key feeding stream.
func NewSchedule(rdb redis.UniversalClient, key, stream string) *Schedule {
	return &Schedule{rdb: rdb, key: key, stream: stream}
}

// Key returns the sorted set's key.
func (s *Schedule) Key() string { return s.key }

// Member encodes a message for the schedule.
func Member(attempts, replays int64, entryID string, payload []byte) string {
	var b strings.Builder
	b.Grow(len(payload) + len(entryID) + 24)
	b.WriteString(strconv.FormatInt(attempts, 10))
	b.WriteByte('|')
	b.WriteString(strconv.FormatInt(replays, 10))
	b.WriteByte('|')
	b.WriteString(entryID)
	b.WriteByte('|')
	b.Write(payload)
	return b.String()
}

// moveDueScript moves up to ARGV[1] members due by the server's clock from
// the schedule back onto the stream, with their counters as entry fields,
// and returns {moved, milliseconds until the next member is due or -1}.
var moveDueScript = redis.NewScript(`
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now, 'LIMIT', 0, tonumber(ARGV[1]))
for _, m in ipairs(due) do
  local a = string.find(m, '|', 1, true)
  local r = string.find(m, '|', a + 1, true)
  local id = string.find(m, '|', r + 1, true)
  redis.call('XADD', KEYS[2], '*', 'e', string.sub(m, id + 1),
    'attempts', string.sub(m, 1, a - 1), 'replays', string.sub(m, a + 1, r - 1))
  redis.call('ZREM', KEYS[1], m)
end
local nxt = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
local wait = -1
if #nxt == 2 then
  wait = math.max(0, tonumber(nxt[2]) - now)
end
return {#due, wait}
`)

// MoveDue moves up to limit due messages back onto the stream. It returns
// how many moved and how long until the next one is due (negative when the
// schedule is empty).
func (s *Schedule) MoveDue(ctx context.Context, limit int) (int, time.Duration, error) {
	res, err := moveDueScript.Run(ctx, s.rdb, []string{s.key, s.stream}, limit).Int64Slice()
	if err != nil {
		return 0, 0, fmt.Errorf("moving due messages from %s: %w", s.key, err)
	}
	if len(res) != 2 {
		return 0, 0, fmt.Errorf("moving due messages from %s: unexpected reply %v", s.key, res)
	}
	wait := time.Duration(res[1]) * time.Millisecond
	if res[1] < 0 {
		wait = -1
	}
	return int(res[0]), wait, nil
}

// Len returns how many messages wait in the schedule.
func (s *Schedule) Len(ctx context.Context) (int64, error) {
	n, err := s.rdb.ZCard(ctx, s.key).Result()
	if err != nil {
		return 0, fmt.Errorf("measuring %s: %w", s.key, err)
	}
	return n, nil
}
