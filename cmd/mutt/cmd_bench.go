package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/mutt-go/mutt/internal/bench"
)

// benchOptions are the flags every bench subcommand shares.
type benchOptions struct {
	json       bool
	jsonFile   string
	profileDir string
	strict     bool
}

func newBenchCommand(g *globalOptions) *cobra.Command {
	var bo benchOptions
	cmd := &cobra.Command{
		Use:   "bench",
		Short: "Measure ingest, alerter and forwarder throughput, end-to-end latency, backup and restore time, and API latency",
		Long: `Run MUTT's real ingest, alerter and forwarder components in this process against the
configured Redis (REDIS_URL, default redis://127.0.0.1:6379/0) and PostgreSQL, with a fake
Moogsoft on a loopback port, and report events/s (alerts/s), latency, Redis round trips per
event and CPU time, each beside its target.

The configured database (DATABASE_URL, default postgres://postgres@127.0.0.1:5432/postgres)
is used only to create a scratch database mutt_bench_<random>; keys go under the prefix
mutt_bench_<random>. Both are removed at the end, also after Ctrl-C.

For the ingest and end-to-end scenarios the HTTP load generator runs in this process too,
and for the forwarder and end-to-end scenarios the fake Moogsoft does, so they share the
CPUs with MUTT's components, Redis and PostgreSQL.`,
		Args: cobra.NoArgs,
	}
	pf := cmd.PersistentFlags()
	pf.BoolVar(&bo.json, "json", false, "print the report as JSON")
	pf.StringVar(&bo.jsonFile, "json-file", "", "also write the report as JSON to this file")
	pf.StringVar(&bo.profileDir, "profile-dir", "", "write a CPU profile of each scenario's timed part into this directory")
	pf.BoolVar(&bo.strict, "strict", false, "exit with status 1 when a target is missed")

	var in bench.IngestOptions
	ingestCmd := &cobra.Command{
		Use:   "ingest",
		Short: "Send generated events to the HTTP ingest API and measure it",
		Example: `  mutt bench ingest --batch 100 --concurrency 8 --events 500000
  mutt bench ingest --batch 1 --concurrency 16 --events 150000`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return g.runBench(cmd.Context(), bo, func(ctx context.Context, env *bench.Env) ([]bench.Result, error) {
				r, err := env.RunIngest(ctx, in)
				return []bench.Result{r}, err
			})
		},
	}
	f := ingestCmd.Flags()
	f.IntVar(&in.Batch, "batch", 100, "events per request (1 = one JSON object per request)")
	f.IntVar(&in.Concurrency, "concurrency", 8, "requests in flight")
	f.IntVar(&in.Events, "events", 500_000, "events to send in the timed part")

	var (
		al      bench.AlerterOptions
		profile string
	)
	alerterCmd := &cobra.Command{
		Use:   "alerter",
		Short: "Drain a pre-filled ingest queue with the alerter and measure it",
		Long: `Fill the ingest queue with normalised events, then start an alerter, wired as the
alerter role wires it, and time it until the queue is empty; the audit rows written must be
exactly the events the rules handle.

--handled 100 makes every event handled by a rule that pages (one audit row and one alert
per event); --window N reports the throughput of every N events, so a slowdown as the audit
table grows shows; --ceiling then inserts the same audit rows again, alone, through the same
store call with the same workers and batch size, and puts that PostgreSQL ceiling beside each
window. --profile all-handled is --events 2000000 --handled 100 --window 250000 --ceiling;
flags given with it override its values.`,
		Example: `  mutt bench alerter --events 200000 --rules 50
  mutt bench alerter --profile all-handled
  mutt bench alerter --handled 100 --events 500000 --window 100000 --ceiling --workers 4`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			o, err := alerterOptions(cmd, profile, al)
			if err != nil {
				return err
			}
			return g.runBench(cmd.Context(), bo, func(ctx context.Context, env *bench.Env) ([]bench.Result, error) {
				r, err := env.RunAlerter(ctx, o)
				return []bench.Result{r}, err
			})
		},
	}
	f = alerterCmd.Flags()
	f.IntVar(&al.Events, "events", 200_000, "events to queue before the alerter starts")
	f.IntVar(&al.Rules, "rules", 50, "rules in the rule set")
	f.IntVar(&al.Workers, "workers", 0, "alerter workers (default: ALERTER_WORKERS)")
	f.IntVar(&al.BatchSize, "batch-size", 0, "events per alerter batch (default: ALERTER_BATCH_SIZE)")
	f.IntVar(&al.Handled, "handled", 0, "percent of events a paging rule handles: 0 (the rule set's own mix) or 100")
	f.IntVar(&al.Window, "window", 0, "also report the throughput of every this many events (0: none)")
	f.BoolVar(&al.Ceiling, "ceiling", false, "after the drain, measure PostgreSQL alone with the same audit writes")
	f.StringVar(&profile, "profile", "", "a named run: all-handled")

	var fw bench.ForwarderOptions
	forwarderCmd := &cobra.Command{
		Use:   "forwarder",
		Short: "Deliver a pre-filled alert queue to an in-process fake Moogsoft and measure it",
		Long: `Fill the alert queue with alerts shaped as the alerter queues them, then start one
forwarder, wired as the forwarder role wires it (retry, circuit breaker, rate limiter,
webhook) with the rate limit off, delivering to a fake Moogsoft served by a net/http server
on a loopback port of this process. Timed from the forwarder's start until the fake has
received every alert.`,
		Example: `  mutt bench forwarder --alerts 200000
  mutt bench forwarder --workers 4 --batch-size 256 --concurrency 64`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return g.runBench(cmd.Context(), bo, func(ctx context.Context, env *bench.Env) ([]bench.Result, error) {
				r, err := env.RunForwarder(ctx, fw)
				return []bench.Result{r}, err
			})
		},
	}
	f = forwarderCmd.Flags()
	f.IntVar(&fw.Alerts, "alerts", 200_000, "alerts to queue before the forwarder starts")
	f.IntVar(&fw.Workers, "workers", 0, "forwarder workers (default: FORWARDER_WORKERS)")
	f.IntVar(&fw.BatchSize, "batch-size", 0, "alerts per forwarder batch (default: FORWARDER_BATCH_SIZE)")
	f.IntVar(&fw.Concurrency, "concurrency", 0, "requests in flight per worker (default: FORWARDER_CONCURRENCY)")

	var ee bench.E2EOptions
	e2eCmd := &cobra.Command{
		Use:   "e2e",
		Short: "Measure the latency from ingest to Moogsoft under a steady event rate",
		Long: `Run the ingestor, the alerter and a forwarder in this process, wired as ` + "`mutt serve`" + ` wires
them and with the settings MUTT ships with, delivering to a fake Moogsoft on a loopback port.
Send generated events at a fixed rate, one event per request, each request leaving at its
scheduled time whether or not earlier ones were answered (an open loop), with its send time
inside the event. The latency of an alert is from that send time until the fake Moogsoft
receives it; the report gives p50, p90, p99 and max, and where the time went.

The shipped Moogsoft rate limit (MOOG_RATE_LIMIT, 50/s) is below the alert rate of this
load, so the run sets no limit unless --moog-rate-limit asks for one. The other flags
change a shipped setting and mark the result as tuned.`,
		Example: `  mutt bench e2e --rate 2000 --seconds 20
  mutt bench e2e --alerter-block 5ms`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return g.runBench(cmd.Context(), bo, func(ctx context.Context, env *bench.Env) ([]bench.Result, error) {
				r, err := env.RunE2E(ctx, ee)
				return []bench.Result{r}, err
			})
		},
	}
	f = e2eCmd.Flags()
	f.Float64Var(&ee.Rate, "rate", 2000, "events per second, one per request")
	f.Float64Var(&ee.Seconds, "seconds", 20, "length of the timed part")
	f.Float64Var(&ee.Warmup, "warmup", 2, "seconds of the same traffic before the timed part (negative: none)")
	f.IntVar(&ee.Rules, "rules", 50, "rules in the rule set")
	f.DurationVar(&ee.AlerterBlock, "alerter-block", 0, "tuned: alerter XREADGROUP block (default: ALERTER_BLOCK)")
	f.IntVar(&ee.AlerterBatchSize, "alerter-batch-size", 0, "tuned: alerter batch size (default: ALERTER_BATCH_SIZE)")
	f.DurationVar(&ee.ForwarderBlock, "forwarder-block", 0, "tuned: forwarder XREADGROUP block (default: FORWARDER_BLOCK)")
	f.IntVar(&ee.ForwarderBatchSize, "forwarder-batch-size", 0, "tuned: forwarder batch size (default: FORWARDER_BATCH_SIZE)")
	f.IntVar(&ee.MoogRateLimit, "moog-rate-limit", 0, "tuned: shared Moogsoft rate limit in alerts/s (default: none)")

	var (
		batchEvents, singleEvents int
		allAlerter                bench.AlerterOptions
		allForwarder              bench.ForwarderOptions
		allE2E                    bench.E2EOptions
	)
	allCmd := &cobra.Command{
		Use:   "all",
		Short: "Run batched ingest, single-event ingest, the alerter drain, the forwarder and end to end, in that order",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return g.runBench(cmd.Context(), bo, func(ctx context.Context, env *bench.Env) ([]bench.Result, error) {
				var out []bench.Result
				for _, o := range []bench.IngestOptions{
					{Batch: 100, Concurrency: 8, Events: batchEvents},
					{Batch: 1, Concurrency: 16, Events: singleEvents},
				} {
					r, err := env.RunIngest(ctx, o)
					out = append(out, r)
					if err != nil {
						return out, err
					}
				}
				steps := []func() (bench.Result, error){
					func() (bench.Result, error) { return env.RunAlerter(ctx, allAlerter) },
					func() (bench.Result, error) { return env.RunForwarder(ctx, allForwarder) },
					func() (bench.Result, error) { return env.RunE2E(ctx, allE2E) },
				}
				for _, step := range steps {
					r, err := step()
					out = append(out, r)
					if err != nil {
						return out, err
					}
				}
				return out, nil
			})
		},
	}
	f = allCmd.Flags()
	f.IntVar(&batchEvents, "ingest-events", 1_000_000, "events for batched ingest (100 per request, concurrency 8)")
	f.IntVar(&singleEvents, "single-events", 150_000, "events for single-event ingest (concurrency 16)")
	f.IntVar(&allAlerter.Events, "alerter-events", 400_000, "events for the alerter drain")
	f.IntVar(&allAlerter.Rules, "rules", 50, "rules in the alerter's rule set")
	f.IntVar(&allAlerter.Workers, "workers", 0, "alerter workers (default: ALERTER_WORKERS)")
	f.IntVar(&allAlerter.BatchSize, "batch-size", 0, "events per alerter batch (default: ALERTER_BATCH_SIZE)")
	f.IntVar(&allForwarder.Alerts, "forwarder-alerts", 200_000, "alerts for the forwarder")
	f.Float64Var(&allE2E.Rate, "e2e-rate", 2000, "events per second for end to end")
	f.Float64Var(&allE2E.Seconds, "e2e-seconds", 20, "length of the timed part of end to end")

	var bk bench.BackupOptions
	backupCmd := &cobra.Command{
		Use:   "backup",
		Short: "Back up, verify and restore a database of --rows audit rows and measure each step",
		Long: `Fill the scratch database as months of use would (--rules rules, development hosts,
device teams, their config audit rows, and --rows event audit rows over --months monthly
partitions and --hosts hostnames), VACUUM ANALYZE it, then time what an operator runs,
through the same code as the CLI: ` + "`mutt backup run --components postgres`" + ` (pg_dump into an
age-encrypted artifact, quick-verified), ` + "`mutt backup verify`" + `, ` + "`mutt backup verify --deep`" + `
(a test restore into a throw-away database) and ` + "`mutt restore postgres`" + ` (scratch restore,
row counts, swap). Reports wall time, MB/s of database and the recovery time against the
30-minute PostgreSQL RTO. The backup root and key are temporary; every database made is
dropped at the end.`,
		Example: `  mutt bench backup --rows 1000000`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return g.runBenchScenario(cmd.Context(), bo, func(ctx context.Context, env *bench.Env) (scenarioReport, error) {
				return env.RunBackup(ctx, bk)
			})
		},
	}
	addSeedFlags(backupCmd, &bk.Seed)
	f = backupCmd.Flags()
	f.StringVar(&bk.Dir, "dir", "", "directory for the temporary backup root (default: the system's temporary directory)")
	f.BoolVar(&bk.SkipDeep, "skip-deep", false, "leave out the deep verification")

	var ap bench.APIOptions
	apiCmd := &cobra.Command{
		Use:   "api",
		Short: "Measure the control-plane API's latency over --rules rules and --rows audit rows",
		Long: `Fill the scratch database as ` + "`mutt bench backup`" + ` does, serve the control-plane API (the
webui role's handler, over the configured PostgreSQL pool) on a loopback port of this
process, and send --requests requests to each of GET /api/v2/rules, GET
/api/v2/audit-logs?hostname=<an ordinary host, a different one each request> and
GET /api/v2/audit-logs?hostname=<the busiest host, a tenth of the rows>, at each
--concurrency, from a Go HTTP client in a closed loop. Reports p50, p95, p99, max and
requests/s against the target p99 < 50 ms, and EXPLAIN (ANALYZE, BUFFERS) of the
statements the audit search sent.`,
		Example: `  mutt bench api --rows 1000000 --rules 1000`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return g.runBenchScenario(cmd.Context(), bo, func(ctx context.Context, env *bench.Env) (scenarioReport, error) {
				return env.RunAPI(ctx, ap)
			})
		},
	}
	addSeedFlags(apiCmd, &ap.Seed)
	f = apiCmd.Flags()
	f.IntVar(&ap.Requests, "requests", 2_000, "timed requests per endpoint and concurrency")
	f.IntSliceVar(&ap.Concurrency, "concurrency", []int{1, 8}, "requests in flight (each measured in turn)")
	f.IntVar(&ap.Warmup, "warmup", 200, "untimed requests per endpoint first")

	cmd.AddCommand(ingestCmd, alerterCmd, forwarderCmd, e2eCmd, allCmd, backupCmd, apiCmd)
	cmd.AddCommand(receiverBenchCommands(g, &bo)...)
	return cmd
}

// alerterOptions returns the options of `mutt bench alerter`: the named
// profile's, if any, with every flag given on the command line applied over
// them.
func alerterOptions(cmd *cobra.Command, profile string, flags bench.AlerterOptions) (bench.AlerterOptions, error) {
	o := flags
	if profile != "" {
		p, ok := bench.AlerterProfiles[profile]
		if !ok {
			return o, fmt.Errorf("--profile %q is not a profile; the profiles are: all-handled", profile)
		}
		o = p
		given := []struct {
			flag  string
			apply func()
		}{
			{"events", func() { o.Events = flags.Events }},
			{"rules", func() { o.Rules = flags.Rules }},
			{"workers", func() { o.Workers = flags.Workers }},
			{"batch-size", func() { o.BatchSize = flags.BatchSize }},
			{"handled", func() { o.Handled = flags.Handled }},
			{"window", func() { o.Window = flags.Window }},
			{"ceiling", func() { o.Ceiling = flags.Ceiling }},
		}
		for _, g := range given {
			if cmd.Flags().Changed(g.flag) {
				g.apply()
			}
		}
	}
	if err := o.Check(); err != nil {
		return o, fmt.Errorf("--%w", err)
	}
	return o, nil
}

// addSeedFlags adds the flags of the data the backup and API scenarios
// seed.
func addSeedFlags(cmd *cobra.Command, o *bench.SeedOptions) {
	f := cmd.Flags()
	f.IntVar(&o.Rows, "rows", 1_000_000, "event audit rows")
	f.IntVar(&o.Rules, "rules", 1_000, "rules")
	f.IntVar(&o.Hosts, "hosts", 1_000, "distinct hostnames of the audit rows (the first has a tenth of them)")
	f.IntVar(&o.Months, "months", 4, "monthly partitions the audit rows spread over, ending with the current month")
}

// scenarioReport is the report of a scenario with a layout of its own
// (backup, api).
type scenarioReport interface {
	WriteText(w io.Writer) error
	TargetMet() bool
	Target() string
}

// runBenchScenario is runBench for a scenario with its own report: it sets
// up the scratch database and key prefix, runs the scenario, prints its
// report (also when it failed part way) and cleans up.
func (g *globalOptions) runBenchScenario(ctx context.Context, bo benchOptions,
	run func(context.Context, *bench.Env) (scenarioReport, error)) error {
	var report scenarioReport
	err := g.withBenchEnv(ctx, bo.profileDir, func(ctx context.Context, env *bench.Env) error {
		var err error
		report, err = run(ctx, env)
		return err
	})
	if report != nil {
		if perr := printScenario(g, bo, report); perr != nil {
			err = errors.Join(err, perr)
		}
	}
	if err != nil {
		if ctx.Err() != nil {
			return fmt.Errorf("benchmark interrupted: %w", err)
		}
		return err
	}
	if bo.strict && !report.TargetMet() {
		return fmt.Errorf("target missed: %s", report.Target())
	}
	return nil
}

func printScenario(g *globalOptions, bo benchOptions, report scenarioReport) error {
	if bo.jsonFile != "" {
		b, err := json.MarshalIndent(report, "", "  ")
		if err != nil {
			return fmt.Errorf("encoding the report: %w", err)
		}
		if err := os.WriteFile(bo.jsonFile, append(b, '\n'), 0o644); err != nil {
			return fmt.Errorf("writing the report: %w", err)
		}
	}
	if bo.json {
		enc := json.NewEncoder(g.stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(report)
	}
	return report.WriteText(g.stdout)
}

// runBench sets up the scratch database and key prefix, runs the scenarios,
// prints what they measured (also when one failed) and cleans up.
func (g *globalOptions) runBench(ctx context.Context, bo benchOptions,
	run func(context.Context, *bench.Env) ([]bench.Result, error)) error {
	return g.withBenchEnv(ctx, bo.profileDir, func(ctx context.Context, env *bench.Env) error {
		return g.runResults(ctx, bo, env, run)
	})
}

// withBenchEnv sets up the scratch database and key prefix, runs fn and
// cleans up, also after Ctrl-C.
func (g *globalOptions) withBenchEnv(ctx context.Context, profileDir string, fn func(context.Context, *bench.Env) error) (err error) {
	cfg, err := g.loadConfig()
	if err != nil {
		return err
	}
	// The components log at info when they start; for a benchmark only
	// warnings are worth seeing unless asked for.
	if g.logLevel == "" && os.Getenv("LOG_LEVEL") == "" {
		cfg.Log.Level = "warn"
	}
	opts := bench.Options{
		Config: cfg, RedisURL: cfg.Redis.URL.Reveal(), AdminDatabaseURL: cfg.Postgres.URL.Reveal(),
		Logger: g.logger(cfg), Progress: g.stderr, ProfileDir: profileDir,
	}
	env, err := bench.Setup(ctx, opts)
	if err != nil {
		return fmt.Errorf("setting up the benchmark: %w", err)
	}
	defer func() {
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
		defer cancel()
		if cerr := env.Close(cctx); cerr != nil {
			err = errors.Join(err, fmt.Errorf("cleaning up (drop database %s and keys %s:* by hand): %w", env.Name(), env.Name(), cerr))
		}
	}()
	return fn(ctx, env)
}

// runResults runs scenarios that report bench.Results and prints them.
func (g *globalOptions) runResults(ctx context.Context, bo benchOptions, env *bench.Env,
	run func(context.Context, *bench.Env) ([]bench.Result, error)) error {
	report := bench.Report{Started: time.Now()}
	report.Machine = env.Machine()
	results, runErr := run(ctx, env)
	for _, r := range results {
		if r.Seconds > 0 {
			report.Results = append(report.Results, r)
		}
	}
	if len(report.Results) > 0 || runErr == nil {
		if perr := printReport(g, bo, report); perr != nil {
			return errors.Join(runErr, perr)
		}
	}
	if runErr != nil {
		if ctx.Err() != nil {
			return fmt.Errorf("benchmark interrupted: %w", runErr)
		}
		return runErr
	}
	if bo.strict {
		for _, r := range report.Results {
			if !r.Target.Met {
				return fmt.Errorf("%s: %.2f %s, target %s", r.ID, r.Value(), r.Target.Metric, r.Target)
			}
		}
	}
	return nil
}

func printReport(g *globalOptions, bo benchOptions, report bench.Report) error {
	if bo.jsonFile != "" {
		b, err := json.MarshalIndent(report, "", "  ")
		if err != nil {
			return fmt.Errorf("encoding the report: %w", err)
		}
		if err := os.WriteFile(bo.jsonFile, append(b, '\n'), 0o644); err != nil {
			return fmt.Errorf("writing the report: %w", err)
		}
	}
	if bo.json {
		enc := json.NewEncoder(g.stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(report)
	}
	return report.WriteText(g.stdout)
}
