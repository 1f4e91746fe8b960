package forward

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/mutt-go/mutt/internal/queue"
)

// forwardCommitScript finishes a delivery batch atomically: acknowledge the
// entries, put rescheduled alerts in the schedule, write dead letters to the
// Moogsoft DLQ or the terminal queue, and delete the entries. When none of
// the entries was still pending (another forwarder finished them), nothing
// else happens.
//
// KEYS: alert stream, schedule, Moogsoft DLQ, terminal DLQ.
// ARGV: group, n ids, ids…, n scheduled, (score, member)…,
// n dlq, (n fields, fields…)…, n dead, (n fields, fields…)…
var forwardCommitScript = redis.NewScript(queue.LuaBatchFunctions + `
local i = 1
local group = ARGV[i]; i = i + 1
local nids = tonumber(ARGV[i]); i = i + 1
local first = i
local acked = ack_ids(KEYS[1], group, first, nids)
i = first + nids
if nids > 0 and acked == 0 then return 0 end
local nsched = tonumber(ARGV[i]); i = i + 1
for k = 1, nsched do
  redis.call('ZADD', KEYS[2], ARGV[i], ARGV[i + 1]); i = i + 2
end
for target = 3, 4 do
  local n = tonumber(ARGV[i]); i = i + 1
  for k = 1, n do
    local nf = tonumber(ARGV[i]); i = i + 1
    local fields = {}
    for f = 0, nf - 1 do fields[#fields + 1] = ARGV[i + f] end
    redis.call('XADD', KEYS[target], '*', unpack(fields))
    i = i + nf
  end
end
del_ids(KEYS[1], first, nids)
return acked
`)

type scheduled struct {
	due    time.Time
	member string
}

type forwardCommit struct {
	ids       []string
	scheduled []scheduled
	dlq       []queue.DeadLetter // to the Moogsoft DLQ, replayable
	dead      []queue.DeadLetter // to the terminal queue
}

func (f *Forwarder) runCommit(ctx context.Context, c *forwardCommit) error {
	keys := []string{f.opts.AlertQueue, f.opts.RetryKey, f.opts.MoogDLQ, f.opts.DeadDLQ}
	args := make([]any, 0, 4+len(c.ids)+2*len(c.scheduled)+24*(len(c.dlq)+len(c.dead)))
	args = append(args, ConsumerGroup, len(c.ids))
	for _, id := range c.ids {
		args = append(args, id)
	}
	args = append(args, len(c.scheduled))
	for _, s := range c.scheduled {
		args = append(args, strconv.FormatInt(s.due.UnixMilli(), 10), s.member)
	}
	now := time.Now()
	for _, list := range [][]queue.DeadLetter{c.dlq, c.dead} {
		args = append(args, len(list))
		for _, d := range list {
			fields := d.Fields(now)
			args = append(args, len(fields))
			args = append(args, fields...)
		}
	}
	if err := forwardCommitScript.Run(ctx, f.rdb, keys, args...).Err(); err != nil {
		return fmt.Errorf("committing delivery batch of %d: %w", len(c.ids), err)
	}
	return nil
}
