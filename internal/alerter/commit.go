package alerter

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/mutt-go/mutt/internal/event"
	"github.com/mutt-go/mutt/internal/queue"
)

// commitScript finishes a batch in one atomic step: acknowledge the
// messages, push their alerts, write their dead letters, count unhandled
// messages (pushing a meta-alert when a count reaches the threshold) and
// delete the acknowledged entries. If none of the messages was still
// pending (another consumer reclaimed and finished them) it does nothing,
// so a batch's effects happen once even when two consumers raced for it.
//
// Meta-alerts are built by the caller only for the events that reach the
// threshold. The script first works out, without changing anything, which
// unhandled events would reach it; if any of them came without its
// meta-alert (an empty argument), it returns {-1, their positions…} and
// does nothing else, and the caller sends the batch again with those
// meta-alerts. The dry run mirrors the counting below with one GET per
// signature: its count goes up by one per event from the counter's value
// until it reaches the threshold, after which it is triggered. It does not
// look at the triggered key: while that exists the counter does not (it was
// renamed into it), so the dry run can only ask for a meta-alert the
// counting then does not push, never miss one it does.
//
// KEYS: ingest stream, alert stream, DLQ stream, then a counter key and its
// "triggered" key per unhandled event.
// ARGV: group, n ids, ids…, n alerts, alerts…, n dead, (payload, reason,
// error, source, source id, deliveries, failed at, replays)…, threshold, expiry,
// n unhandled, meta-alert or "" per unhandled event…
var commitScript = redis.NewScript(queue.LuaBatchFunctions + `
local i = 1
local group = ARGV[i]; i = i + 1
local nids = tonumber(ARGV[i]); i = i + 1
local first = i
local nalerts = tonumber(ARGV[first + nids])
local deadAt = first + nids + 1 + nalerts
local ndead = tonumber(ARGV[deadAt])
local unhAt = deadAt + 1 + 8 * ndead
local threshold = tonumber(ARGV[unhAt])
local expiry = tonumber(ARGV[unhAt + 1])
local nunh = tonumber(ARGV[unhAt + 2])
local metaAt = unhAt + 3

local missing = {-1}
local counts = {}
for k = 1, nunh do
  local counter = KEYS[3 + 2 * k - 1]
  local n = counts[counter]
  if n == nil then
    n = tonumber(redis.call('GET', counter)) or 0
  end
  if n >= 0 then
    n = n + 1
    if n == threshold then
      if ARGV[metaAt + k - 1] == '' then missing[#missing + 1] = k end
      n = -1
    end
  end
  counts[counter] = n
end
if #missing > 1 then
  return missing
end

local acked = ack_ids(KEYS[1], group, first, nids)
if nids > 0 and acked == 0 then
  return {0, 0}
end
i = first + nids + 1
for k = 1, nalerts do
  redis.call('XADD', KEYS[2], '*', 'e', ARGV[i]); i = i + 1
end
i = deadAt + 1
for k = 1, ndead do
  redis.call('XADD', KEYS[3], '*', 'e', ARGV[i], 'reason', ARGV[i+1], 'error', ARGV[i+2],
    'source', ARGV[i+3], 'source_id', ARGV[i+4], 'deliveries', ARGV[i+5], 'failed_at', ARGV[i+6],
    'replays', ARGV[i+7])
  i = i + 8
end
i = metaAt
local metas = 0
for k = 1, nunh do
  local counter = KEYS[3 + 2 * k - 1]
  local triggered = KEYS[3 + 2 * k]
  if redis.call('EXISTS', triggered) == 0 then
    local n = redis.call('INCR', counter)
    if n == 1 then redis.call('EXPIRE', counter, expiry) end
    if n == threshold then
      redis.call('RENAME', counter, triggered)
      redis.call('EXPIRE', triggered, expiry)
      redis.call('XADD', KEYS[2], '*', 'e', ARGV[i])
      metas = metas + 1
    end
  end
  i = i + 1
end
del_ids(KEYS[1], first, nids)
return {acked, metas}
`)

// unhandledItem is one unhandled event's contribution to a commit. Its
// meta-alert is built only when the commit script asks for it.
type unhandledItem struct {
	counterKey string
	ev         event.Event
	eventID    string
	team       string
	metaAlert  []byte
}

// commit is everything a batch does in Redis.
type commit struct {
	ids       []string
	alerts    [][]byte
	dead      []queue.DeadLetter
	unhandled []unhandledItem
	threshold int64
	expiry    int64
}

// commitResult says what the script did.
type commitResult struct {
	acked, metaAlerts int64
}

// runCommit runs the commit script, building the meta-alerts it asks for
// and sending the batch again until it is done. Each round builds at least
// one more meta-alert, so there are at most as many rounds as unhandled
// events, plus one.
func (a *Alerter) runCommit(ctx context.Context, c *commit) (commitResult, error) {
	for range len(c.unhandled) + 1 {
		res, err := a.commitOnce(ctx, c)
		if err != nil {
			return commitResult{}, err
		}
		if len(res) == 2 && res[0] >= 0 {
			return commitResult{acked: res[0], metaAlerts: res[1]}, nil
		}
		if len(res) < 2 || res[0] != -1 {
			return commitResult{}, fmt.Errorf("committing batch: unexpected reply %v", res)
		}
		for _, k := range res[1:] {
			if k < 1 || k > int64(len(c.unhandled)) {
				return commitResult{}, fmt.Errorf("committing batch: meta-alert asked for unhandled event %d of %d", k, len(c.unhandled))
			}
			u := &c.unhandled[k-1]
			if u.metaAlert != nil {
				return commitResult{}, fmt.Errorf("committing batch: meta-alert %d asked for again", k)
			}
			u.metaAlert = appendMetaAlert(nil, &u.ev, u.eventID, u.team, c.threshold, c.expiry)
		}
	}
	return commitResult{}, fmt.Errorf("committing batch of %d: meta-alerts still missing after %d rounds", len(c.ids), len(c.unhandled)+1)
}

// noMetaAlert stands for a meta-alert not built: the script tells an empty
// argument from any alert.
var noMetaAlert = []byte{}

func (a *Alerter) commitOnce(ctx context.Context, c *commit) ([]int64, error) {
	keys := make([]string, 3, 3+2*len(c.unhandled))
	keys[0], keys[1], keys[2] = a.ingest.Key(), a.opts.AlertQueue, a.opts.DLQ
	n := 2 + len(c.ids) + 1 + len(c.alerts) + 1 + 8*len(c.dead) + 3 + len(c.unhandled)
	args := make([]any, 0, n)
	args = append(args, a.ingest.Group(), len(c.ids))
	for _, id := range c.ids {
		args = append(args, id)
	}
	args = append(args, len(c.alerts))
	for _, al := range c.alerts {
		args = append(args, al)
	}
	args = append(args, len(c.dead))
	now := time.Now().UTC().Format(time.RFC3339Nano)
	for _, d := range c.dead {
		args = append(args, d.Payload, d.Reason, d.Error, d.Source, d.SourceID, strconv.FormatInt(d.Deliveries, 10), now,
			strconv.FormatInt(d.Replays, 10))
	}
	args = append(args, c.threshold, c.expiry, len(c.unhandled))
	for _, u := range c.unhandled {
		keys = append(keys, u.counterKey, u.counterKey+":triggered")
		if u.metaAlert == nil {
			args = append(args, noMetaAlert)
		} else {
			args = append(args, u.metaAlert)
		}
	}
	res, err := commitScript.Run(ctx, a.rdb, keys, args...).Int64Slice()
	if err != nil {
		return nil, fmt.Errorf("committing batch of %d: %w", len(c.ids), err)
	}
	return res, nil
}
