package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strconv"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/mutt-go/mutt/internal/app"
	"github.com/mutt-go/mutt/internal/backup"
	"github.com/mutt-go/mutt/internal/retention"
)

// Defaults of the retention paths.
const (
	defaultArchiveDir           = "/var/lib/mutt/archive"
	defaultRetentionMetricsFile = "/var/lib/node_exporter/textfile_collector/mutt_retention.prom"
)

// retentionOptions are the flags of `mutt retention run`.
type retentionOptions struct {
	dryRun      bool
	asJSON      bool
	archiveDir  string
	backupRoot  string
	metricsFile string
	policy      retention.Policy
}

// Check validates the flags before anything is contacted.
func (o retentionOptions) Check() error {
	if o.archiveDir == "" {
		return usageError{errors.New("--archive-dir must not be empty: archives are written before anything is dropped")}
	}
	if err := o.policy.Validate(); err != nil {
		return usageError{err}
	}
	return nil
}

// envInt reads the first of names that is set as an integer, else def.
func envInt(def int, names ...string) (int, error) {
	for _, n := range names {
		if v, ok := os.LookupEnv(n); ok && v != "" {
			i, err := strconv.Atoi(v)
			if err != nil {
				return 0, usageError{fmt.Errorf("%s must be a whole number, got %q", n, v)}
			}
			return i, nil
		}
	}
	return def, nil
}

// metricsFileDefault is MUTT_RETENTION_METRICS_FILE when set (even empty,
// which turns the metrics off), else the textfile collector's path.
func metricsFileDefault() string {
	if v, ok := os.LookupEnv("MUTT_RETENTION_METRICS_FILE"); ok {
		return v
	}
	return defaultRetentionMetricsFile
}

func newRetentionCommand(g *globalOptions) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "retention",
		Short: "Partitions ahead, archive and purge by policy",
		Args:  cobra.NoArgs,
	}
	cmd.AddCommand(newRetentionRunCommand(g))
	return cmd
}

func newRetentionRunCommand(g *globalOptions) *cobra.Command {
	o := retentionOptions{policy: retention.DefaultPolicy()}
	cmd := &cobra.Command{
		Use:   "run",
		Short: "Enforce the retention policy once (the mutt-retention timer runs it daily)",
		Long: `Enforce the retention policy once:

  1. create the monthly event_audit_log partitions for this month and the next
     RETENTION_PRECREATE_MONTHS (3);
  2. archive every partition older than RETENTION_EVENT_AUDIT_DAYS (90) to
     <archive-dir>/event_audit_log/YYYY/event_audit_log_YYYY_MM.csv.gz (read back
     and counted, with a .sha256 beside it, and copied to every
     MUTT_BACKUP_REMOTES target under archive/), then drop it; old rows of the
     default partition likewise;
  3. archive and delete config_audit_log rows older than
     CONFIG_AUDIT_RETENTION_DAYS (365);
  4. delete archive files and event_audit_log_archive rows older than
     EVENT_ARCHIVE_RETENTION_YEARS (7);
  5. trim dead-letter entries older than RETENTION_DLQ_DAYS (30).

Steps 2 to 5 are refused, and the command exits 1, while the newest verified
postgres backup under the backup root is older than 26 hours. Every change is
recorded in config_audit_log (changed_by mutt-retention). Metrics go to
MUTT_RETENTION_METRICS_FILE for node_exporter's textfile collector.

On an embedded data directory (MUTT_DATA_DIR, no Redis or PostgreSQL setting)
the same policy runs on the one database: there are no partitions to create,
each month of audit rows past the active period goes to the same archive file
and is then deleted in chunks of 10,000 rows, and the gate wants a verified
sqlite backup.

Exit status: 0 when the run completed, 1 when it failed or refused, 2 on bad
flags or configuration.`,
		Example: `  mutt retention run --dry-run
  mutt retention run --archive-dir /srv/mutt/archive
  mutt retention run --json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := o.Check(); err != nil {
				return err
			}
			return runRetention(cmd.Context(), g, o)
		},
	}
	var envErr error
	def := func(v int, names ...string) int {
		i, err := envInt(v, names...)
		if err != nil && envErr == nil {
			envErr = err
		}
		return i
	}
	p := &o.policy
	fs := cmd.Flags()
	fs.BoolVar(&o.dryRun, "dry-run", false, "say what would be created, archived and deleted; change nothing")
	fs.BoolVar(&o.asJSON, "json", false, "print the result as one JSON object")
	fs.StringVar(&o.archiveDir, "archive-dir", envOr("MUTT_ARCHIVE_DIR", defaultArchiveDir), "where archive files go (env MUTT_ARCHIVE_DIR)")
	fs.StringVar(&o.backupRoot, "backup-root", envBackupRoot(), "backup root the backup gate reads (env MUTT_BACKUP_ROOT)")
	fs.StringVar(&o.metricsFile, "metrics-file", metricsFileDefault(),
		"textfile-collector file for the run's metrics (env MUTT_RETENTION_METRICS_FILE; empty: none)")
	fs.IntVar(&p.ActiveDays, "event-audit-days", def(p.ActiveDays, "RETENTION_EVENT_AUDIT_DAYS", "EVENT_RETENTION_DAYS"), "days audit rows stay live (env RETENTION_EVENT_AUDIT_DAYS)")
	fs.IntVar(&p.ArchiveYears, "archive-years", def(p.ArchiveYears, "EVENT_ARCHIVE_RETENTION_YEARS"), "years archives are kept (env EVENT_ARCHIVE_RETENTION_YEARS)")
	fs.IntVar(&p.ConfigAuditDays, "config-audit-days", def(p.ConfigAuditDays, "CONFIG_AUDIT_RETENTION_DAYS", "RETENTION_AUDIT_DAYS"), "days configuration audit rows are kept (env CONFIG_AUDIT_RETENTION_DAYS)")
	fs.IntVar(&p.DLQDays, "dlq-days", def(p.DLQDays, "RETENTION_DLQ_DAYS"), "days dead letters are kept (env RETENTION_DLQ_DAYS)")
	fs.IntVar(&p.PartitionsAhead, "partitions-ahead", def(p.PartitionsAhead, "RETENTION_PRECREATE_MONTHS"), "monthly partitions kept ahead (env RETENTION_PRECREATE_MONTHS)")
	cmd.PreRunE = func(*cobra.Command, []string) error { return envErr }
	return cmd
}

func runRetention(ctx context.Context, g *globalOptions, o retentionOptions) error {
	cfg, err := g.loadConfig()
	if err != nil {
		return err
	}
	logger := g.logger(cfg).With("component", "retention")
	stop, err := app.ResolveSecrets(ctx, &cfg, logger)
	if err != nil {
		return err
	}
	defer stop()
	var remotes []backup.RemoteStore
	if s := backup.LoadSettings(os.Getenv); len(s.Remotes) > 0 {
		if remotes, err = openRemotes(s, nil, hostName()); err != nil {
			return err
		}
	}
	dlqs := []string{cfg.Keys.AlerterDLQ, cfg.Keys.MoogDLQ, cfg.Keys.DeadDLQ}
	ro := retention.Options{
		Remotes: remotes, Policy: o.policy, DLQs: dlqs,
		ArchiveDir: o.archiveDir, BackupRoot: o.backupRoot, DryRun: o.dryRun, Logger: logger,
	}
	if g.embedded(cfg) {
		db, err := openEmbeddedDB(ctx, cfg)
		if err != nil {
			return err
		}
		defer db.Close()
		ro.Now = time.Now()
		res, runErr := retention.RunEmbedded(ctx, retention.EmbeddedOptions{Options: ro, DB: db})
		return reportRetention(g, o, logger, ro.Now, res, runErr, func() ([]retention.TableStat, error) {
			return retention.MeasureEmbeddedTables(ctx, db)
		})
	}
	rcfg := cfg.Redis
	rcfg.MaxConnections = 2
	rdb, err := app.ConnectRedis(ctx, rcfg, logger)
	if err != nil {
		return err
	}
	defer rdb.Close()
	pcfg := cfg.Postgres
	pcfg.PoolMinConns, pcfg.PoolMaxConns = 0, 3
	pool, err := app.ConnectPostgres(ctx, pcfg, logger)
	if err != nil {
		return err
	}
	defer pool.Close()
	ro.Pool, ro.Redis, ro.Now = pool, rdb, time.Now()
	res, runErr := retention.Run(ctx, ro)
	return reportRetention(g, o, logger, ro.Now, res, runErr, func() ([]retention.TableStat, error) {
		return retention.MeasureTables(ctx, pool)
	})
}

// reportRetention writes the metrics of a run that started at start (not
// for a dry run, nor when another run held the lock) and prints its result;
// the error is the run's.
func reportRetention(g *globalOptions, o retentionOptions, logger *slog.Logger, start time.Time, res retention.Result, runErr error,
	measure func() ([]retention.TableStat, error)) error {
	if !o.dryRun && !errors.Is(runErr, retention.ErrLocked) {
		tables, err := measure()
		if err != nil {
			logger.Warn("measuring the audit tables", "error", err)
		}
		if err := retention.WriteMetrics(o.metricsFile, retention.Report{
			Result: res, Err: runErr, Policy: o.policy, Tables: tables, Duration: time.Since(start),
		}); err != nil {
			logger.Warn("writing retention metrics", "error", err)
		}
	}
	if o.asJSON {
		if err := printJSON(g.stdout, res); err != nil {
			return err
		}
	} else if err := printRetention(g.stdout, res); err != nil {
		return err
	}
	if runErr != nil {
		return fmt.Errorf("retention run: %w", runErr)
	}
	return nil
}

// printRetention writes one line per action.
func printRetention(w io.Writer, res retention.Result) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	verb := "done"
	if res.DryRun {
		verb = "would do"
	}
	fmt.Fprintf(tw, "%s\tACTION\tTARGET\tROWS\tARCHIVE\n", "STATE")
	for _, a := range res.Actions {
		state := verb
		if !a.Done && !res.DryRun {
			state = "not done"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\n", state, a.Kind, a.Target, a.Rows, a.File)
	}
	if err := tw.Flush(); err != nil {
		return fmt.Errorf("writing result: %w", err)
	}
	switch {
	case res.Refused != "":
		_, err := fmt.Fprintf(w, "\nrefused to drop or delete: %s\n", res.Refused)
		return err
	case len(res.Actions) == 0:
		_, err := fmt.Fprintln(w, "\nnothing to do")
		return err
	}
	return nil
}
