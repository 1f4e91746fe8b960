package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
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
		Short: "Measure ingest and alerter throughput against the configured Redis and PostgreSQL",
		Long: `Run MUTT's real ingest and alerter components in this process against the configured
Redis (REDIS_URL, default redis://127.0.0.1:6379/0) and PostgreSQL, and report events/s,
request latency, Redis round trips per event and CPU time, each beside its target.

The configured database (DATABASE_URL, default postgres://postgres@127.0.0.1:5432/postgres)
is used only to create a scratch database mutt_bench_<random>; keys go under the prefix
mutt_bench_<random>. Both are removed at the end, also after Ctrl-C.

For the ingest scenarios the HTTP load generator runs in this process too, so it shares
the CPUs with the ingestor and Redis.`,
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

	var al bench.AlerterOptions
	alerterCmd := &cobra.Command{
		Use:     "alerter",
		Short:   "Drain a pre-filled ingest queue with the alerter and measure it",
		Example: `  mutt bench alerter --events 200000 --rules 50`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return g.runBench(cmd.Context(), bo, func(ctx context.Context, env *bench.Env) ([]bench.Result, error) {
				r, err := env.RunAlerter(ctx, al)
				return []bench.Result{r}, err
			})
		},
	}
	f = alerterCmd.Flags()
	f.IntVar(&al.Events, "events", 200_000, "events to queue before the alerter starts")
	f.IntVar(&al.Rules, "rules", 50, "rules in the rule set")
	f.IntVar(&al.Workers, "workers", 0, "alerter workers (default: ALERTER_WORKERS)")
	f.IntVar(&al.BatchSize, "batch-size", 0, "events per alerter batch (default: ALERTER_BATCH_SIZE)")

	var (
		batchEvents, singleEvents int
		allAlerter                bench.AlerterOptions
	)
	allCmd := &cobra.Command{
		Use:   "all",
		Short: "Run batched ingest, single-event ingest and the alerter drain, in that order",
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
				r, err := env.RunAlerter(ctx, allAlerter)
				return append(out, r), err
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

	cmd.AddCommand(ingestCmd, alerterCmd, allCmd)
	return cmd
}

// runBench sets up the scratch database and key prefix, runs the scenarios,
// prints what they measured (also when one failed) and cleans up.
func (g *globalOptions) runBench(ctx context.Context, bo benchOptions,
	run func(context.Context, *bench.Env) ([]bench.Result, error)) (err error) {
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
		Config: cfg, RedisURL: cfg.Redis.URL, AdminDatabaseURL: cfg.Postgres.URL,
		Logger: g.logger(cfg), Progress: g.stderr, ProfileDir: bo.profileDir,
	}
	report := bench.Report{Started: time.Now()}
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
				return fmt.Errorf("%s: %.0f %s, target %.0f", r.ID, metricValue(r), r.Target.Metric, r.Target.Min)
			}
		}
	}
	return nil
}

func metricValue(r bench.Result) float64 {
	if r.Target.Metric == "requests_per_second" {
		return r.RequestsPerSecond
	}
	return r.EventsPerSecond
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
