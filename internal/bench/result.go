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

// Scenario kinds, Result.Kind.
const (
	KindIngest    = "ingest"
	KindAlerter   = "alerter"
	KindForwarder = "forwarder"
	KindE2E       = "e2e"
)

// Target metrics, Target.Metric.
const (
	MetricEventsPerSecond   = "events_per_second"
	MetricRequestsPerSecond = "requests_per_second"
	MetricAlertsPerSecond   = "alerts_per_second"
	// MetricLatencyP99 is the 99th percentile of the ingest-to-Moogsoft
	// latency in milliseconds; its target is a maximum.
	MetricLatencyP99 = "latency_p99_ms"
)

// Target is the figure a scenario must reach: at least Min, or for a
// latency below Max.
type Target struct {
	Metric string  `json:"metric"` // one of the Metric constants
	Min    float64 `json:"min,omitempty"`
	Max    float64 `json:"max,omitempty"`
	Met    bool    `json:"met"`
}

// Value returns the figure of r that its target is about.
func (r Result) Value() float64 {
	switch r.Target.Metric {
	case MetricRequestsPerSecond:
		return r.RequestsPerSecond
	case MetricLatencyP99:
		return r.LatencyP99Millis
	}
	return r.EventsPerSecond
}

// check sets Target.Met from the result's figures.
func (r *Result) check() {
	if r.Target.Max > 0 {
		r.Target.Met = r.Value() < r.Target.Max
		return
	}
	r.Target.Met = r.Value() >= r.Target.Min
}

// String renders the target, e.g. "≥ 10,000 alerts/s".
func (t Target) String() string {
	unit := map[string]string{
		MetricEventsPerSecond: "events/s", MetricRequestsPerSecond: "requests/s",
		MetricAlertsPerSecond: "alerts/s", MetricLatencyP99: "ms p99",
	}[t.Metric]
	if unit == "" {
		unit = strings.ReplaceAll(t.Metric, "_", " ")
	}
	if t.Max > 0 {
		return "< " + strconv.FormatFloat(t.Max, 'f', -1, 64) + " " + unit
	}
	return "≥ " + group(t.Min) + " " + unit
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
	Kind     string `json:"kind"`     // one of the Kind constants
	Scenario string `json:"scenario"` // human description

	// Events is what the scenario processed in its timed part: events,
	// or for the forwarder, alerts.
	Events          int64   `json:"events"`
	Seconds         float64 `json:"seconds"`
	EventsPerSecond float64 `json:"events_per_second"`

	// Ingest and end to end.
	Requests          int64   `json:"requests,omitempty"`
	RequestsPerSecond float64 `json:"requests_per_second,omitempty"`
	BatchSize         int     `json:"batch_size,omitempty"`
	// Concurrency is the requests in flight: of the load generator for
	// ingest, per worker for the forwarder.
	Concurrency int `json:"concurrency,omitempty"`
	// Latency: of an ingest request for ingest (sent to response
	// headers), of an alert for end to end (event sent to the ingestor to
	// alert received by Moogsoft).
	LatencyP50Millis float64 `json:"latency_p50_ms,omitempty"`
	LatencyP90Millis float64 `json:"latency_p90_ms,omitempty"`
	LatencyP99Millis float64 `json:"latency_p99_ms,omitempty"`
	LatencyMaxMillis float64 `json:"latency_max_ms,omitempty"`

	// Alerter only.
	Rules        int   `json:"rules,omitempty"`
	Workers      int   `json:"workers,omitempty"`
	AlerterBatch int   `json:"alerter_batch_size,omitempty"`
	Handled      int64 `json:"handled,omitempty"`   // audit rows written
	Unhandled    int64 `json:"unhandled,omitempty"` // events no rule matched
	Alerts       int64 `json:"alerts,omitempty"`    // alert queue length afterwards, meta-alerts included
	DeadLetters  int64 `json:"dead_letters,omitempty"`
	// Windows is the throughput of each stretch of a long drain, Ceiling
	// what PostgreSQL alone did with the same audit writes, and Waits the
	// wait events of the database's busy backends during the drain.
	// Reference is the ceiling of the INSERT … ON CONFLICT statement the
	// alerter sent before it used COPY, with the same batches.
	Windows   []Window `json:"windows,omitempty"`
	Ceiling   *Ceiling `json:"ceiling,omitempty"`
	Reference *Ceiling `json:"reference_ceiling,omitempty"`
	Waits     []Wait   `json:"postgres_waits,omitempty"`

	// Forwarder and end to end.
	ForwarderBatch int `json:"forwarder_batch_size,omitempty"`
	// Delivered counts the distinct alerts (external IDs) the fake
	// Moogsoft accepted, Duplicates the alerts it accepted again.
	Delivered  int64 `json:"delivered,omitempty"`
	Duplicates int64 `json:"duplicates,omitempty"`

	// End to end only.
	OfferedRate float64 `json:"offered_rate,omitempty"` // events/s the sender was paced at
	// Expected is the number of alerts the rules forward for the events
	// of the timed part, MetaAlerts the unhandled-event meta-alerts
	// delivered besides them.
	Expected   int64 `json:"expected_alerts,omitempty"`
	MetaAlerts int64 `json:"meta_alerts,omitempty"`
	// SendLagMaxMillis is the longest an event left after its scheduled
	// send time; small figures mean the open loop held its pace.
	SendLagMaxMillis float64 `json:"send_lag_max_ms,omitempty"`
	// Stages break the latency down by where an alert spent its time.
	Stages []Stage `json:"stages,omitempty"`

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

// Stage is the latency from an event's send time to one point on its way
// to Moogsoft, over the alerts of an end-to-end run.
type Stage struct {
	Name      string  `json:"name"`
	P50Millis float64 `json:"p50_ms"`
	P99Millis float64 `json:"p99_ms"`
	MaxMillis float64 `json:"max_ms"`
}

func (res Result) writeText(b *strings.Builder) {
	fmt.Fprintf(b, "%s\n", res.Scenario)
	verdict := "MISSED"
	if res.Target.Met {
		verdict = "met"
	}
	switch {
	case res.Kind == KindE2E:
		fmt.Fprintf(b, "  rate        %s events/s offered, %s events/s sent  (%s events in %.2f s, one per request; send lag max %.2f ms)\n",
			group(res.OfferedRate), group(res.EventsPerSecond), group(float64(res.Events)), res.Seconds, res.SendLagMaxMillis)
		fmt.Fprintf(b, "  latency     p50 %.2f ms, p90 %.2f ms, p99 %.2f ms, max %.2f ms (event sent to the ingestor → alert received by Moogsoft, %s alerts)\n",
			res.LatencyP50Millis, res.LatencyP90Millis, res.LatencyP99Millis, res.LatencyMaxMillis, group(float64(res.Delivered)))
		for _, st := range res.Stages {
			fmt.Fprintf(b, "    %-30s p50 %7.2f ms, p99 %7.2f ms, max %7.2f ms\n", st.Name, st.P50Millis, st.P99Millis, st.MaxMillis)
		}
		fmt.Fprintf(b, "  alerts      %s expected, %s delivered, %s duplicates, %s unhandled-event meta-alerts besides\n",
			group(float64(res.Expected)), group(float64(res.Delivered)), group(float64(res.Duplicates)), group(float64(res.MetaAlerts)))
	case res.Kind == KindForwarder:
		fmt.Fprintf(b, "  throughput  %s alerts/s  (%s alerts in %.2f s)\n",
			group(res.EventsPerSecond), group(float64(res.Events)), res.Seconds)
		fmt.Fprintf(b, "  delivered   %s distinct alerts, %s duplicates  (%d workers, batch %d, %d requests in flight per worker)\n",
			group(float64(res.Delivered)), group(float64(res.Duplicates)), res.Workers, res.ForwarderBatch, res.Concurrency)
	case res.Requests > 0:
		fmt.Fprintf(b, "  throughput  %s events/s, %s requests/s  (%s events in %.2f s)\n",
			group(res.EventsPerSecond), group(res.RequestsPerSecond), group(float64(res.Events)), res.Seconds)
		fmt.Fprintf(b, "  latency     p50 %.2f ms, p99 %.2f ms, max %.2f ms (request sent to response headers)\n",
			res.LatencyP50Millis, res.LatencyP99Millis, res.LatencyMaxMillis)
	default:
		fmt.Fprintf(b, "  throughput  %s events/s  (%s events in %.2f s)\n",
			group(res.EventsPerSecond), group(float64(res.Events)), res.Seconds)
	}
	fmt.Fprintf(b, "  target      %s: %s\n", res.Target, verdict)
	if res.Rules > 0 && res.Kind != KindE2E {
		fmt.Fprintf(b, "  decisions   %s handled (audited), %s unhandled, %s alerts queued, %d dead letters  (%d rules, %d workers, batch %d)\n",
			group(float64(res.Handled)), group(float64(res.Unhandled)), group(float64(res.Alerts)), res.DeadLetters,
			res.Rules, res.Workers, res.AlerterBatch)
	}
	writeDrainText(b, res)
	unit := "event"
	if res.Kind == KindForwarder {
		unit = "alert"
	}
	rd := res.Redis
	fmt.Fprintf(b, "  Redis       %.4f round trips/%s (%s round trips, %s commands sent)\n",
		rd.RoundTripsPerEvent, unit, group(float64(rd.RoundTrips)), group(float64(rd.Commands)))
	fmt.Fprintf(b, "              server: %.3f commands/%s incl. inside scripts (%s)\n",
		rd.ServerCommandsPerEvent, unit, topCommands(rd.ServerByCommand, 6))
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

// writeDrainText renders a drain's windows, its ceiling and the waits of
// PostgreSQL.
func writeDrainText(b *strings.Builder, res Result) {
	c := res.Ceiling
	if c != nil {
		fmt.Fprintf(b, "  ceiling     %s rows/s (%s rows in %.2f s; %s); the drain is %.0f %% of it\n",
			group(c.RowsPerSecond), group(float64(c.Rows)), c.Seconds, c.What, 100*c.Ratio)
	}
	if r := res.Reference; r != nil {
		fmt.Fprintf(b, "  reference   %s rows/s (%s rows in %.2f s; %s); the drain is %.0f %% of it\n",
			group(r.RowsPerSecond), group(float64(r.Rows)), r.Seconds, r.What, 100*r.Ratio)
	}
	if len(res.Windows) > 0 {
		b.WriteString("  windows     events drained        events/s   ceiling rows/s   share   reference rows/s\n")
		for _, w := range res.Windows {
			fmt.Fprintf(b, "              %9s–%-9s %10s", group(float64(w.From)), group(float64(w.To)), group(w.EventsPerSecond))
			if w.CeilingPerSecond > 0 {
				fmt.Fprintf(b, " %16s %6.0f %%", group(w.CeilingPerSecond), 100*w.EventsPerSecond/w.CeilingPerSecond)
			}
			if w.ReferencePerSecond > 0 {
				fmt.Fprintf(b, " %18s", group(w.ReferencePerSecond))
			}
			b.WriteString("\n")
		}
	}
	if len(res.Waits) > 0 {
		fmt.Fprintf(b, "  PG waits    drain: %s\n", topWaits(res.Waits, 6))
	}
	if c != nil && len(c.Waits) > 0 {
		fmt.Fprintf(b, "              ceiling: %s (PostgreSQL CPU %.1f s)\n", topWaits(c.Waits, 6), c.PostgresSeconds)
	}
	if r := res.Reference; r != nil && len(r.Waits) > 0 {
		fmt.Fprintf(b, "              reference: %s (PostgreSQL CPU %.1f s)\n", topWaits(r.Waits, 6), r.PostgresSeconds)
	}
}

// topWaits renders the n largest waits, "CPU 61 %, IO:WALSync 20 %, …".
func topWaits(ws []Wait, n int) string {
	parts := make([]string, 0, n+1)
	for i, w := range ws {
		if i == n {
			parts = append(parts, "…")
			break
		}
		parts = append(parts, fmt.Sprintf("%s %.0f %%", w.Event, 100*w.Share))
	}
	return strings.Join(parts, ", ")
}
