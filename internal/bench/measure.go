package bench

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime/pprof"
	"time"
)

// measurement holds the counters at the start of a timed part.
type measurement struct {
	cpu     cpuSample
	calls   counts
	own     counts
	server  serverStats
	profile *os.File
}

// startMeasuring reads every counter and, when a profile directory is set,
// starts a CPU profile named after the scenario.
func (e *Env) startMeasuring(ctx context.Context, id string) (*measurement, error) {
	m := &measurement{}
	var err error
	if m.server, err = readServerStats(ctx, e.own); err != nil {
		return nil, err
	}
	m.own = e.ownCalls.snapshot()
	m.calls = e.counter.snapshot()
	if e.profileDir != "" {
		if err := os.MkdirAll(e.profileDir, 0o755); err != nil {
			return nil, fmt.Errorf("creating profile directory: %w", err)
		}
		f, err := os.Create(filepath.Join(e.profileDir, id+".cpu.pprof"))
		if err != nil {
			return nil, fmt.Errorf("creating CPU profile: %w", err)
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			_ = f.Close()
			return nil, fmt.Errorf("starting CPU profile: %w", err)
		}
		m.profile = f
	}
	m.cpu = sampleCPU()
	return m, nil
}

// stopProfile ends the CPU profile, if one runs; safe to call twice.
func (m *measurement) stopProfile() (string, error) {
	if m.profile == nil {
		return "", nil
	}
	pprof.StopCPUProfile()
	name := m.profile.Name()
	err := m.profile.Close()
	m.profile = nil
	if err != nil {
		return "", fmt.Errorf("writing CPU profile: %w", err)
	}
	return name, nil
}

// finish fills r's Redis and CPU figures for events processed in elapsed
// time, and its throughput.
func (e *Env) finish(ctx context.Context, m *measurement, r *Result, events int64, elapsed time.Duration) error {
	cpu := sampleCPU()
	calls := e.counter.snapshot()
	profile, perr := m.stopProfile()
	r.Profile = profile
	server, err := readServerStats(ctx, e.own)
	if err != nil {
		return err
	}
	own := e.ownCalls.snapshot()

	r.Events = events
	r.Seconds = elapsed.Seconds()
	if r.Seconds > 0 {
		r.EventsPerSecond = float64(events) / r.Seconds
	}
	ownDelta := map[string]int64{}
	for name, n := range own.byName {
		if d := n - m.own.byName[name]; d > 0 {
			ownDelta[name] = d
		}
	}
	rd := Redis{
		RoundTrips:      calls.roundTrips - m.calls.roundTrips,
		Commands:        calls.commands - m.calls.commands,
		ServerByCommand: commandDelta(m.server, server, ownDelta),
	}
	for _, n := range rd.ServerByCommand {
		rd.ServerCommands += n
	}
	if name, server, ours, ok := foreignTraffic(m.calls, calls, rd.ServerByCommand); ok {
		r.Notes = append(r.Notes, fmt.Sprintf("other clients used this Redis during the run (it ran %d %s, MUTT sent %d): "+
			"the server-side command counts and Redis CPU include their work", server, name, ours))
	}
	if events > 0 {
		rd.RoundTripsPerEvent = float64(rd.RoundTrips) / float64(events)
		rd.ServerCommandsPerEvent = float64(rd.ServerCommands) / float64(events)
	}
	r.Redis = rd

	wall := cpu.at.Sub(m.cpu.at)
	r.CPU = CPU{
		WallSeconds:     wall.Seconds(),
		ProcessSeconds:  (cpu.process - m.cpu.process).Seconds(),
		RedisSeconds:    server.cpuSecs - m.server.cpuSecs,
		PostgresSeconds: (cpu.postgres - m.cpu.postgres).Seconds(),
	}
	if cpu.machineAll > 0 {
		r.CPU.MachineBusySeconds = (cpu.machineBusy - m.cpu.machineBusy).Seconds()
		// Wall time × CPUs, not the growth of /proc/stat's total: a
		// virtual machine's kernel can drop idle ticks, which would make a
		// mostly idle run look busier than it was.
		r.CPU.MachineSeconds = wall.Seconds() * float64(e.machine.CPUs)
	}
	return perr
}

// topLevelOnly are commands a Lua script cannot run (or MUTT's scripts do
// not), so the server can only have run more of them than MUTT sent if
// another client sent them.
var topLevelOnly = []string{"evalsha", "eval", "xreadgroup", "xautoclaim", "exec"}

// inFlightSlack is how many more calls of a kind the server may count than
// the client without that meaning another client: while traffic flows
// across the start of a measurement, a call the client counted before the
// start may reach the server after it. The pool has fewer connections.
const inFlightSlack = 32

// foreignTraffic reports a command the server ran more often than the
// components sent it.
func foreignTraffic(before, after counts, server map[string]int64) (name string, serverN, ours int64, ok bool) {
	for _, name := range topLevelOnly {
		ours := after.byName[name] - before.byName[name]
		if server[name] > ours+inFlightSlack {
			return name, server[name], ours, true
		}
	}
	return "", 0, 0, false
}
