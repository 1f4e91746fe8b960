package queue

import (
	"context"
	"fmt"
	"log/slog"
	"time"
)

// MaxBlock caps how long a consumer's read waits for new messages. A
// blocked read does not notice a stop, so the cap bounds how long an idle
// service takes to shut down; a longer configured block buys nothing, since
// a blocked read returns as soon as a message arrives.
const MaxBlock = time.Second

// DrainContext returns a context for processing work already taken from a
// queue: it outlives ctx by grace, so a stop lets the batch in hand finish
// instead of abandoning it half done, and is cancelled grace after ctx ends.
func DrainContext(ctx context.Context, grace time.Duration) (context.Context, context.CancelFunc) {
	pctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	stop := context.AfterFunc(ctx, func() {
		t := time.AfterFunc(grace, cancel)
		context.AfterFunc(pctx, func() { t.Stop() })
	})
	return pctx, func() { stop(); cancel() }
}

// Sleep waits d or until ctx ends; it reports whether the full wait
// happened.
func Sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// RecoverPending hands process, in batches of up to count, every message
// consumer still holds from an earlier run under the same name (see
// ReadOwnPending), until none is left; it returns how many it handed over.
// A batch that process fails stays pending, for the reclaimers.
func (s *Stream) RecoverPending(ctx context.Context, consumer string, count int,
	process func(context.Context, []Message) error) (int, error) {
	after, total := "0", 0
	for ctx.Err() == nil {
		msgs, next, err := s.ReadOwnPending(ctx, consumer, after, count)
		if err != nil {
			return total, err
		}
		if len(msgs) == 0 && next == after {
			return total, nil
		}
		after = next
		if len(msgs) == 0 {
			continue // only deleted entries in this page
		}
		total += len(msgs)
		if err := process(ctx, msgs); err != nil {
			return total, fmt.Errorf("processing %d pending messages of %s: %w", len(msgs), consumer, err)
		}
	}
	return total, ctx.Err()
}

// ReclaimLoop takes over, until ctx ends, the messages that consumers which
// stopped (crashed, killed or stuck) left pending for idle or longer, and
// hands them to process in batches of up to count; every ten minutes it
// also prunes consumer names idle for an hour with nothing pending. ready
// gates the work (nil: always ready); reclaimed is told how many were taken
// over (nil: not told).
func (s *Stream) ReclaimLoop(ctx context.Context, consumer string, idle time.Duration, count int,
	ready func() bool, reclaimed func(int), process func(context.Context, []Message) error, logger *slog.Logger) {
	interval := max(idle/2, 500*time.Millisecond)
	var lastPrune time.Time
	recovered := false
	for {
		if !recovered && (ready == nil || ready()) {
			// What this reclaimer took over before a restart is its own now.
			n, err := s.RecoverPending(ctx, consumer, count, process)
			recovered = err == nil
			if err != nil && ctx.Err() == nil {
				logger.Warn("taking back pending messages", "error", err)
			} else if n > 0 {
				logger.Info("took back pending messages", "consumer", consumer, "count", n)
			}
		}
		if time.Since(lastPrune) > 10*time.Minute {
			lastPrune = time.Now()
			if n, err := s.PruneConsumers(ctx, time.Hour); err != nil && ctx.Err() == nil {
				logger.Warn("pruning idle consumers", "error", err)
			} else if n > 0 {
				logger.Info("pruned idle consumers", "count", n)
			}
		}
		for ctx.Err() == nil && (ready == nil || ready()) {
			msgs, err := s.Reclaim(ctx, consumer, idle, count)
			if err != nil {
				if ctx.Err() == nil {
					logger.Warn("reclaiming pending messages", "error", err)
				}
				break
			}
			if len(msgs) == 0 {
				break
			}
			if reclaimed != nil {
				reclaimed(len(msgs))
			}
			logger.Info("reclaimed pending messages", "count", len(msgs))
			if err := process(ctx, msgs); err != nil {
				if ctx.Err() == nil {
					logger.Warn("processing reclaimed messages", "error", err)
				}
				break
			}
		}
		if !Sleep(ctx, interval) {
			return
		}
	}
}

// LuaBatchFunctions is a Lua prelude for scripts that finish a batch of
// stream entries whose IDs are ARGV[first] … ARGV[first+n-1]:
// ack_ids(key, group, first, n) acknowledges them and returns how many were
// still pending; del_ids(key, first, n) deletes them. Both work in chunks of
// 500 so a large batch never overflows Lua's argument stack.
const LuaBatchFunctions = `
local function each_chunk(first, n, fn)
  local total = 0
  for s = 0, n - 1, 500 do
    local chunk = {}
    for k = s, math.min(s + 499, n - 1) do chunk[#chunk + 1] = ARGV[first + k] end
    total = total + fn(chunk)
  end
  return total
end
local function ack_ids(key, group, first, n)
  return each_chunk(first, n, function(c) return redis.call('XACK', key, group, unpack(c)) end)
end
local function del_ids(key, first, n)
  return each_chunk(first, n, function(c) return redis.call('XDEL', key, unpack(c)) end)
end
`
