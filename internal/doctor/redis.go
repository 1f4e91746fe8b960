package doctor

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/mutt-go/mutt/internal/alerter"
	"github.com/mutt-go/mutt/internal/forward"
	"github.com/mutt-go/mutt/internal/health"
)

// infoFields parses an INFO reply into its key:value fields.
func infoFields(info string) map[string]string {
	fields := map[string]string{}
	for line := range strings.Lines(info) {
		if k, v, ok := strings.Cut(strings.TrimSpace(line), ":"); ok {
			fields[k] = v
		}
	}
	return fields
}

func checkRedisMemory(ctx context.Context, o *Options) Finding {
	info, err := o.Redis.Info(ctx, "memory").Result()
	if err != nil {
		return fail("INFO memory: "+err.Error(), "", "check that Redis answers with the service credentials (`mutt health`)")
	}
	f := infoFields(info)
	used, _ := strconv.ParseInt(f["used_memory"], 10, 64)
	limit, _ := strconv.ParseInt(f["maxmemory"], 10, 64)
	frag, _ := strconv.ParseFloat(f["mem_fragmentation_ratio"], 64)
	th := o.Thresholds
	threshold := fmt.Sprintf("warn > %.0f%% / fail > %.0f%% of maxmemory; fragmentation warn > %.1f / fail > %.1f",
		th.RedisMemoryWarn*100, th.RedisMemoryFail*100, th.FragWarn, th.FragFail)
	value := fmt.Sprintf("used_memory %s", health.FormatBytes(used))
	status := health.StatusOK
	remedy := ""
	if limit > 0 {
		ratio := float64(used) / float64(limit)
		value += fmt.Sprintf(" of maxmemory %s (%.0f%%)", health.FormatBytes(limit), ratio*100)
		if s := judge(ratio, th.RedisMemoryWarn, th.RedisMemoryFail); s != health.StatusOK {
			status = s
			remedy = "raise maxmemory or drain the queues (`mutt doctor --only queue.dlq`); at the limit Redis refuses writes and ingest answers 503"
		}
	} else {
		value += ", no maxmemory (Redis grows until the host runs out)"
	}
	if used >= th.FragMinBytes && frag > 0 {
		value += fmt.Sprintf(", fragmentation %.2f", frag)
		if s := judge(frag, th.FragWarn, th.FragFail); s != health.StatusOK {
			status = health.Worst(status, s)
			remedy = strings.TrimPrefix(remedy+"; enable activedefrag or restart Redis in a quiet hour to defragment", "; ")
		}
	}
	return finding(status, value, threshold, remedy)
}

func checkRedisPolicy(ctx context.Context, o *Options) Finding {
	v, err := o.Redis.ConfigGet(ctx, "maxmemory-policy").Result()
	if err != nil {
		return warn("CONFIG GET maxmemory-policy: "+err.Error(), "noeviction",
			"allow CONFIG GET for the doctor, or check the policy on the server: it must be noeviction")
	}
	policy := v["maxmemory-policy"]
	if policy == "noeviction" {
		return ok("maxmemory-policy noeviction", "noeviction")
	}
	return fail("maxmemory-policy "+policy, "noeviction",
		"run `redis-cli CONFIG SET maxmemory-policy noeviction` and set it in redis.conf: any eviction policy silently drops queued events, dead letters and dynamic configuration")
}

func checkRedisPersistence(ctx context.Context, o *Options) Finding {
	cfg, err := o.Redis.ConfigGet(ctx, "appendonly").Result()
	if err != nil {
		return warn("CONFIG GET appendonly: "+err.Error(), "appendonly yes", "check persistence on the server: appendonly yes, appendfsync everysec")
	}
	fsync, _ := o.Redis.ConfigGet(ctx, "appendfsync").Result()
	info, err := o.Redis.Info(ctx, "persistence").Result()
	if err != nil {
		return fail("INFO persistence: "+err.Error(), "", "check that Redis answers")
	}
	f := infoFields(info)
	threshold := "appendonly yes with appendfsync everysec or always; last RDB save and AOF write ok"
	value := fmt.Sprintf("appendonly %s, appendfsync %s, rdb_last_bgsave_status %s", cfg["appendonly"], fsync["appendfsync"], f["rdb_last_bgsave_status"])
	if f["rdb_last_bgsave_status"] == "err" || f["aof_last_write_status"] == "err" || f["aof_last_bgrewrite_status"] == "err" {
		return fail(value+", aof_last_write_status "+f["aof_last_write_status"], threshold,
			"Redis failed to write to disk (full or read-only?): free space in its dir, then `redis-cli BGSAVE`; until then a restart loses every queued event")
	}
	if cfg["appendonly"] != "yes" {
		return warn(value, threshold,
			"`redis-cli CONFIG SET appendonly yes` and `CONFIG SET appendfsync everysec` (and in redis.conf): without the AOF a Redis crash loses the events accepted since the last snapshot, which breaks the at-least-once guarantee")
	}
	if fsync["appendfsync"] == "no" {
		return warn(value, threshold, "`redis-cli CONFIG SET appendfsync everysec`: with `no` the OS decides when accepted events reach the disk")
	}
	return ok(value, threshold)
}

// pendingStreams are the streams whose consumer groups hold messages in
// flight, with the group that reads each.
func pendingStreams(o *Options) [][2]string {
	return [][2]string{{o.Config.Keys.IngestQueue, alerter.ConsumerGroup}, {o.Config.Keys.AlertQueue, forward.ConsumerGroup}}
}

func checkPending(ctx context.Context, o *Options) Finding {
	th := o.Thresholds
	threshold := fmt.Sprintf("oldest pending message idle warn > %s / fail > %s", th.PendingIdleWarn, th.PendingIdleFail)
	status := health.StatusOK
	var parts []string
	for _, sg := range pendingStreams(o) {
		key, group := sg[0], sg[1]
		sum, err := o.Redis.XPending(ctx, key, group).Result()
		if err != nil {
			if isNoGroup(err) {
				parts = append(parts, key+": no consumer group yet")
				continue
			}
			return fail("XPENDING "+key+": "+err.Error(), threshold, "check that Redis answers")
		}
		if sum.Count == 0 {
			parts = append(parts, key+": 0 pending")
			continue
		}
		oldest, err := o.Redis.XPendingExt(ctx, &redis.XPendingExtArgs{Stream: key, Group: group, Start: "-", End: "+", Count: 1}).Result()
		if err != nil || len(oldest) == 0 {
			return fail(fmt.Sprintf("%s: %d pending; reading the oldest: %v", key, sum.Count, err), threshold, "check that Redis answers")
		}
		idle := oldest[0].Idle
		parts = append(parts, fmt.Sprintf("%s: %d pending, oldest %s idle at %s", key, sum.Count, idle.Round(time.Second), oldest[0].Consumer))
		status = health.Worst(status, judge(float64(idle), float64(th.PendingIdleWarn), float64(th.PendingIdleFail)))
	}
	return finding(status, strings.Join(parts, "; "), threshold,
		"a consumer holds messages it neither acknowledges nor releases: the alerter or forwarder is wedged (a lock on the audit table, a hung Moogsoft call) or its process died and no live worker reclaims; check `systemctl status mutt-alerter mutt-moog-forwarder` and pg_stat_activity for blocked inserts")
}

func isNoGroup(err error) bool {
	return err != nil && (strings.HasPrefix(err.Error(), "NOGROUP") || errors.Is(err, redis.Nil))
}

func checkDLQ(ctx context.Context, o *Options) Finding {
	th := o.Thresholds
	k := o.Config.Keys
	hourAgo := o.Now().Add(-time.Hour).UnixMilli()
	threshold := fmt.Sprintf("depth warn > %d / fail > %d; added in the last hour warn > %d / fail > %d",
		th.DLQDepthWarn, th.DLQDepthFail, th.DLQGrowthWarn, th.DLQGrowthFail)
	status := health.StatusOK
	var parts []string
	for _, key := range []string{k.AlerterDLQ, k.MoogDLQ, k.DeadDLQ} {
		depth, err := o.Redis.XLen(ctx, key).Result()
		if err != nil {
			return fail("XLEN "+key+": "+err.Error(), threshold, "check that Redis answers")
		}
		// Stream IDs start with their creation time in milliseconds, so
		// the entries of the last hour are a range query, capped.
		recent, err := o.Redis.XRangeN(ctx, key, strconv.FormatInt(hourAgo, 10), "+", th.DLQGrowthFail+1).Result()
		if err != nil {
			return fail("XRANGE "+key+": "+err.Error(), threshold, "check that Redis answers")
		}
		grown := int64(len(recent))
		parts = append(parts, fmt.Sprintf("%s: %d entries, %d in the last hour", key, depth, grown))
		status = health.Worst(status, judge(float64(depth), float64(th.DLQDepthWarn), float64(th.DLQDepthFail)))
		status = health.Worst(status, judge(float64(grown), float64(th.DLQGrowthWarn), float64(th.DLQGrowthFail)))
	}
	return finding(status, strings.Join(parts, "; "), threshold,
		"see why with `mutt dlq show moog --limit 10` (or alerter, dead): Moogsoft down or refusing (401/400), invalid events; remediation replays once the cause is fixed")
}

func checkBreaker(ctx context.Context, o *Options) Finding {
	prefix := o.Config.Keys.BreakerPrefix
	vals, err := o.Redis.MGet(ctx, prefix+":state", prefix+":open_time", prefix+":failures").Result()
	if err != nil {
		return fail("reading "+prefix+": "+err.Error(), "", "check that Redis answers")
	}
	str := func(v any) string { s, _ := v.(string); return s }
	state, opened, failures := str(vals[0]), str(vals[1]), str(vals[2])
	if state == "" {
		state = "CLOSED"
	}
	threshold := fmt.Sprintf("CLOSED; warn HALF_OPEN or OPEN / fail OPEN > %s", o.Thresholds.BreakerOpenFail)
	value := fmt.Sprintf("%s, %s consecutive failures", state, orZero(failures))
	switch state {
	case "CLOSED":
		return ok(value, threshold)
	case "HALF_OPEN":
		return warn(value, threshold, "a probe request decides: check Moogsoft (`mutt health --role forwarder`)")
	}
	remedy := "Moogsoft fails or refuses: check it and MOOG_API_KEY; alerts wait and are sent when it recovers (nothing is dropped)"
	if at, err := parseOpenTime(opened); err == nil {
		open := o.Now().Sub(at)
		value += fmt.Sprintf(", open for %s", open.Round(time.Second))
		if open > o.Thresholds.BreakerOpenFail {
			return fail(value, threshold, remedy)
		}
	}
	return warn(value, threshold, remedy)
}

func orZero(s string) string {
	if s == "" {
		return "0"
	}
	return s
}

// parseOpenTime reads the breaker's open_time: Unix seconds, possibly
// fractional, or milliseconds.
func parseOpenTime(s string) (time.Time, error) {
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return time.Time{}, fmt.Errorf("open_time %q: %w", s, err)
	}
	if f > 1e12 {
		return time.UnixMilli(int64(f)), nil
	}
	return time.Unix(0, int64(f*float64(time.Second))), nil
}
