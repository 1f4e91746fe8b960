package bench

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/redis/go-redis/v9"
)

// callCounter is a go-redis hook that counts what a client sends: a single
// command or a whole pipeline (MULTI/EXEC included) is one round trip. It
// also counts commands by name, so the harness can take its own commands
// out of the server's figures.
type callCounter struct {
	roundTrips atomic.Int64
	commands   atomic.Int64

	mu     sync.Mutex
	byName map[string]int64
}

var _ redis.Hook = (*callCounter)(nil)

func newCallCounter() *callCounter { return &callCounter{byName: map[string]int64{}} }

func (c *callCounter) DialHook(next redis.DialHook) redis.DialHook { return next }

func (c *callCounter) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		c.roundTrips.Add(1)
		c.commands.Add(1)
		c.count(cmd)
		return next(ctx, cmd)
	}
}

func (c *callCounter) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		c.roundTrips.Add(1)
		c.commands.Add(int64(len(cmds)))
		for _, cmd := range cmds {
			c.count(cmd)
		}
		return next(ctx, cmds)
	}
}

func (c *callCounter) count(cmd redis.Cmder) {
	name := commandName(cmd)
	c.mu.Lock()
	c.byName[name]++
	c.mu.Unlock()
}

// commandName returns the name INFO commandstats files a command under:
// lower case, with the subcommand for container commands ("xgroup|create").
func commandName(cmd redis.Cmder) string {
	name := strings.ToLower(cmd.Name())
	switch name {
	case "xgroup", "xinfo", "client", "config", "script", "memory", "object", "acl", "cluster", "command", "function", "latency", "module", "slowlog":
		if args := cmd.Args(); len(args) > 1 {
			if sub, ok := args[1].(string); ok {
				name += "|" + strings.ToLower(sub)
			}
		}
	}
	return name
}

// counts is a snapshot of a callCounter.
type counts struct {
	roundTrips, commands int64
	byName               map[string]int64
}

func (c *callCounter) snapshot() counts {
	c.mu.Lock()
	defer c.mu.Unlock()
	by := make(map[string]int64, len(c.byName))
	for k, v := range c.byName {
		by[k] = v
	}
	return counts{roundTrips: c.roundTrips.Load(), commands: c.commands.Load(), byName: by}
}

// serverStats is what the harness reads from INFO before and after a run.
type serverStats struct {
	calls   map[string]int64 // INFO commandstats: command → calls
	cpuSecs float64          // used_cpu_user + used_cpu_sys of the server
}

// readServerStats reads INFO commandstats and INFO cpu in one call.
func readServerStats(ctx context.Context, rdb redis.UniversalClient) (serverStats, error) {
	text, err := rdb.Info(ctx, "commandstats", "cpu").Result()
	if err != nil {
		return serverStats{}, fmt.Errorf("reading Redis INFO: %w", err)
	}
	return parseServerStats(text), nil
}

// parseServerStats reads the lines of INFO commandstats
// ("cmdstat_xadd:calls=2,usec=17,…") and INFO cpu ("used_cpu_sys:1.5").
// Lines it does not know are skipped, so a newer server's extra fields do
// no harm.
func parseServerStats(info string) serverStats {
	st := serverStats{calls: map[string]int64{}}
	sc := bufio.NewScanner(strings.NewReader(info))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		key, value, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		switch {
		case strings.HasPrefix(key, "cmdstat_"):
			for _, field := range strings.Split(value, ",") {
				if n, ok := strings.CutPrefix(field, "calls="); ok {
					if v, err := strconv.ParseInt(n, 10, 64); err == nil {
						st.calls[strings.TrimPrefix(key, "cmdstat_")] = v
					}
				}
			}
		case key == "used_cpu_user" || key == "used_cpu_sys":
			if v, err := strconv.ParseFloat(value, 64); err == nil {
				st.cpuSecs += v
			}
		}
	}
	return st
}

// commandDelta returns after − before per command, less the commands the
// harness itself sent in between (own), dropping commands that did not run.
func commandDelta(before, after serverStats, own map[string]int64) map[string]int64 {
	out := map[string]int64{}
	for name, n := range after.calls {
		d := n - before.calls[name] - own[name]
		if d > 0 {
			out[name] = d
		}
	}
	return out
}

// serverVersion returns the Redis server's version, or "" when INFO does not
// say.
func serverVersion(ctx context.Context, rdb redis.UniversalClient) string {
	text, err := rdb.Info(ctx, "server").Result()
	if err != nil {
		return ""
	}
	for _, line := range strings.Split(text, "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "redis_version:"); ok {
			return v
		}
	}
	return ""
}

// isLocalRedis reports whether the client talks to this machine, where the
// server's CPU time shares the machine's cores with MUTT. A client of a
// Sentinel-managed primary or a cluster is not judged local.
func isLocalRedis(rdb redis.UniversalClient) bool {
	c, ok := rdb.(*redis.Client)
	if !ok || c.Options().Addr == "FailoverClient" {
		return false
	}
	if c.Options().Network == "unix" {
		return true
	}
	host, _, err := net.SplitHostPort(c.Options().Addr)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// deleteKeys removes every key matching pattern, in batches.
func deleteKeys(ctx context.Context, rdb redis.UniversalClient, pattern string) error {
	iter := rdb.Scan(ctx, 0, pattern, 1000).Iterator()
	batch := make([]string, 0, 1000)
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		if err := rdb.Unlink(ctx, batch...).Err(); err != nil {
			return fmt.Errorf("deleting keys %s: %w", pattern, err)
		}
		batch = batch[:0]
		return nil
	}
	for iter.Next(ctx) {
		batch = append(batch, iter.Val())
		if len(batch) == cap(batch) {
			if err := flush(); err != nil {
				return err
			}
		}
	}
	if err := iter.Err(); err != nil {
		return fmt.Errorf("scanning keys %s: %w", pattern, err)
	}
	return flush()
}
