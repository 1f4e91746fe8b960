package bench

import (
	"cmp"
	"fmt"
	"io"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Target is the figure a scenario must reach.
type Target struct {
	Metric string  `json:"metric"` // "events_per_second" or "requests_per_second"
	Min    float64 `json:"min"`
	Met    bool    `json:"met"`
}

// Redis is what a scenario cost in Redis.
type Redis struct {
	// RoundTrips is the number of calls the components made (a pipeline or
	// a script call counts once), counted on their client.
	RoundTrips         int64   `json:"round_trips"`
	RoundTripsPerEvent float64 `json:"round_trips_per_event"`
	// Commands is the number of commands in those calls.
	Commands int64 `json:"commands"`
	// ServerCommands is the growth of INFO commandstats calls during the
	// run, less the harness's own commands. It includes every command run
	// inside a Lua script, and the commands of any other client of the same
	// server.
	ServerCommands         int64            `json:"server_commands"`
	ServerCommandsPerEvent float64          `json:"server_commands_per_event"`
	ServerByCommand        map[string]int64 `json:"server_by_command,omitempty"`
}

// CPU is the CPU time spent during a scenario's timed part.
type CPU struct {
	WallSeconds    float64 `json:"wall_seconds"`
	ProcessSeconds float64 `json:"process_seconds"` // this process: MUTT's components and, for ingest, the load generator
	RedisSeconds   float64 `json:"redis_seconds"`   // the Redis server (whatever its other clients did too)
	// PostgresSeconds is the CPU time of this machine's postgres processes
	// (0 when PostgreSQL runs elsewhere).
	PostgresSeconds float64 `json:"postgres_seconds"`
	// MachineBusySeconds is the busy time of all CPUs of this machine
	// (0 where it cannot be read); MachineSeconds is wall time × CPUs.
	MachineBusySeconds float64 `json:"machine_busy_seconds"`
	MachineSeconds     float64 `json:"machine_seconds"`
}

// Result is one scenario's outcome.
type Result struct {
	ID       string `json:"id"`       // short name, e.g. "ingest-batch100-c8"
	Scenario string `json:"scenario"` // human description

	Events          int64   `json:"events"`
	Seconds         float64 `json:"seconds"`
	EventsPerSecond float64 `json:"events_per_second"`

	// Ingest only.
	Requests          int64   `json:"requests,omitempty"`
	RequestsPerSecond float64 `json:"requests_per_second,omitempty"`
	BatchSize         int     `json:"batch_size,omitempty"`
	Concurrency       int     `json:"concurrency,omitempty"`
	LatencyP50Millis  float64 `json:"latency_p50_ms,omitempty"`
	LatencyP99Millis  float64 `json:"latency_p99_ms,omitempty"`
	LatencyMaxMillis  float64 `json:"latency_max_ms,omitempty"`

	// Alerter only.
	Rules        int   `json:"rules,omitempty"`
	Workers      int   `json:"workers,omitempty"`
	AlerterBatch int   `json:"alerter_batch_size,omitempty"`
	Handled      int64 `json:"handled,omitempty"`   // audit rows written
	Unhandled    int64 `json:"unhandled,omitempty"` // events no rule matched
	Alerts       int64 `json:"alerts,omitempty"`    // alert queue length afterwards, meta-alerts included
	DeadLetters  int64 `json:"dead_letters,omitempty"`

	Target Target   `json:"target"`
	Redis  Redis    `json:"redis"`
	CPU    CPU      `json:"cpu"`
	Notes  []string `json:"notes,omitempty"`
	// Profile is the CPU profile written for the timed part, if any.
	Profile string `json:"profile,omitempty"`
}

// Report is a whole run: the machine and every scenario's result.
type Report struct {
	Machine Machine   `json:"machine"`
	Started time.Time `json:"started"`
	Results []Result  `json:"results"`
}

// LoadGeneratorNote says under which condition the ingest figures hold.
const LoadGeneratorNote = "the HTTP load generator runs in the same process and shares the CPUs with the ingestor and Redis"

// WriteText renders the report for people.
func (r Report) WriteText(w io.Writer) error {
	var b strings.Builder
	m := r.Machine
	fmt.Fprintf(&b, "MUTT benchmark, %s\n", r.Started.UTC().Format(time.RFC3339))
	fmt.Fprintf(&b, "machine   %d CPUs", m.CPUs)
	if m.CPUModel != "" {
		fmt.Fprintf(&b, " (%s)", m.CPUModel)
	}
	fmt.Fprintf(&b, ", %s, %s, Redis %s, PostgreSQL %s\n", m.OS, m.GoVersion, orUnknown(m.Redis), orUnknown(m.PostgreSQL))
	for _, res := range r.Results {
		b.WriteString("\n")
		res.writeText(&b)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func orUnknown(s string) string {
	if s == "" {
		return "(unknown)"
	}
	return s
}

func (res Result) writeText(b *strings.Builder) {
	fmt.Fprintf(b, "%s\n", res.Scenario)
	verdict := "MISSED"
	if res.Target.Met {
		verdict = "met"
	}
	if res.Requests > 0 {
		fmt.Fprintf(b, "  throughput  %s events/s, %s requests/s  (%s events in %.2f s)\n",
			group(res.EventsPerSecond), group(res.RequestsPerSecond), group(float64(res.Events)), res.Seconds)
		fmt.Fprintf(b, "  latency     p50 %.2f ms, p99 %.2f ms, max %.2f ms (request sent to response headers)\n",
			res.LatencyP50Millis, res.LatencyP99Millis, res.LatencyMaxMillis)
	} else {
		fmt.Fprintf(b, "  throughput  %s events/s  (%s events in %.2f s)\n",
			group(res.EventsPerSecond), group(float64(res.Events)), res.Seconds)
	}
	fmt.Fprintf(b, "  target      %s %s: %s\n", group(res.Target.Min), strings.ReplaceAll(res.Target.Metric, "_", " "), verdict)
	if res.Rules > 0 {
		fmt.Fprintf(b, "  decisions   %s handled (audited), %s unhandled, %s alerts queued, %d dead letters  (%d rules, %d workers, batch %d)\n",
			group(float64(res.Handled)), group(float64(res.Unhandled)), group(float64(res.Alerts)), res.DeadLetters,
			res.Rules, res.Workers, res.AlerterBatch)
	}
	rd := res.Redis
	fmt.Fprintf(b, "  Redis       %.4f round trips/event (%s round trips, %s commands sent)\n",
		rd.RoundTripsPerEvent, group(float64(rd.RoundTrips)), group(float64(rd.Commands)))
	fmt.Fprintf(b, "              server: %.3f commands/event incl. inside scripts (%s)\n",
		rd.ServerCommandsPerEvent, topCommands(rd.ServerByCommand, 6))
	c := res.CPU
	fmt.Fprintf(b, "  CPU         mutt process %.1f s, Redis %.1f s, PostgreSQL %.1f s", c.ProcessSeconds, c.RedisSeconds, c.PostgresSeconds)
	if c.MachineSeconds > 0 {
		other := max(c.MachineBusySeconds-c.ProcessSeconds-c.RedisSeconds-c.PostgresSeconds, 0)
		fmt.Fprintf(b, "; machine busy %.1f of %.1f CPU-s (%.0f %%), other %.1f s", c.MachineBusySeconds, c.MachineSeconds,
			100*c.MachineBusySeconds/c.MachineSeconds, other)
	}
	b.WriteString("\n")
	if res.Profile != "" {
		fmt.Fprintf(b, "  profile     %s\n", res.Profile)
	}
	for _, n := range res.Notes {
		fmt.Fprintf(b, "  note        %s\n", n)
	}
}

// topCommands renders the n commands with most calls, "xadd 500000, …".
func topCommands(by map[string]int64, n int) string {
	names := slices.SortedFunc(maps.Keys(by), func(a, b string) int {
		if c := cmp.Compare(by[b], by[a]); c != 0 {
			return c
		}
		return cmp.Compare(a, b)
	})
	if len(names) == 0 {
		return "none"
	}
	parts := make([]string, 0, n+1)
	for i, name := range names {
		if i == n {
			parts = append(parts, "…")
			break
		}
		parts = append(parts, name+" "+strconv.FormatInt(by[name], 10))
	}
	return strings.Join(parts, ", ")
}

// group formats a number with thousands separators and no decimals.
func group(v float64) string {
	s := strconv.FormatFloat(v, 'f', 0, 64)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}

// percentile returns the nearest-rank p-th percentile (0 < p ≤ 100) of
// sorted durations, or 0 for none.
func percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	rank := int(float64(len(sorted))*p/100 + 0.999999999)
	rank = min(max(rank, 1), len(sorted))
	return sorted[rank-1]
}

func millis(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
