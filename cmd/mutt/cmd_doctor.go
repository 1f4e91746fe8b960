package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/mutt-go/mutt/internal/app"
	"github.com/mutt-go/mutt/internal/backup"
	"github.com/mutt-go/mutt/internal/config"
	"github.com/mutt-go/mutt/internal/doctor"
	"github.com/mutt-go/mutt/internal/health"
	"github.com/mutt-go/mutt/internal/secrets/vault"
)

// doctorOptions are the flags of `mutt doctor`.
type doctorOptions struct {
	asJSON     bool
	only       []string
	timeout    time.Duration
	backupRoot string
}

// Check validates the flags before anything is contacted.
func (o doctorOptions) Check() error {
	if o.timeout <= 0 {
		return usageError{fmt.Errorf("--timeout must be positive, got %s", o.timeout)}
	}
	if err := doctor.ValidateOnly(o.only); err != nil {
		return usageError{fmt.Errorf("--only: %w", err)}
	}
	return nil
}

func newDoctorCommand(g *globalOptions) *cobra.Command {
	o := doctorOptions{}
	cmd := &cobra.Command{
		Use:   "doctor",
		Short: "Deep diagnostics with thresholds: Redis, queues, breaker, PostgreSQL, Vault, backups, retention, clocks",
		Long: `Run read-only checks of what breaks delivery slowly: Redis memory, eviction policy and
persistence against the at-least-once guarantee, messages stuck pending, the Moogsoft
breaker, dead-letter depth and growth, PostgreSQL connections and audit partitions ahead,
the Vault token's lifetime (when VAULT_ADDR is set), the age of the newest verified
database backup, the last retention run and the clock offset between this host and
Redis and PostgreSQL. Each line shows OK, WARN or FAIL, the measured value, the
threshold and, when not OK, what to do.

Checks: ` + strings.Join(doctor.CheckIDs(), ", ") + `.

Exit status: 0 when every check is OK (or skipped), 1 when at least one warns and
none fails, 2 when at least one fails (or on bad flags or configuration).`,
		Example: `  mutt doctor
  mutt doctor --only redis.policy,redis.persistence
  mutt doctor --json | jq '.findings[] | select(.status != "ok")'`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := o.Check(); err != nil {
				return err
			}
			cfg, err := g.loadConfig()
			if err != nil {
				return err
			}
			if g.embedded(cfg) {
				return usageError{fmt.Errorf("mutt doctor diagnoses a Redis + PostgreSQL deployment; this configuration is the embedded mode "+
					"(MUTT_DATA_DIR=%s): run mutt health for its database, queues and server", cfg.Storage.DataDir)}
			}
			rep, err := runDoctor(cmd.Context(), g, cfg, o)
			if err != nil {
				return err
			}
			if o.asJSON {
				if err := printJSON(g.stdout, rep); err != nil {
					return err
				}
			} else if err := printDoctor(g.stdout, rep); err != nil {
				return err
			}
			return doctorResult(rep)
		},
	}
	fs := cmd.Flags()
	fs.BoolVar(&o.asJSON, "json", false, "print the report as one JSON object")
	fs.StringSliceVar(&o.only, "only", nil, "run only these checks (comma-separated IDs)")
	fs.DurationVar(&o.timeout, "timeout", 5*time.Second, "time each check may take")
	fs.StringVar(&o.backupRoot, "backup-root", envBackupRoot(), "backup root whose newest verified postgres set is checked (env MUTT_BACKUP_ROOT; empty skips the check)")
	return cmd
}

// runDoctor connects with the services' own settings and runs the checks.
// A dependency that cannot be reached is a finding, not an error.
func runDoctor(ctx context.Context, g *globalOptions, cfg config.Config, o doctorOptions) (doctor.Report, error) {
	logger := g.logger(cfg)
	stop, err := app.ResolveSecrets(ctx, &cfg, logger)
	if err != nil {
		return doctor.Report{}, err
	}
	defer stop()
	opts := doctor.Options{Config: cfg, BackupRoot: o.backupRoot, Only: o.only, Timeout: o.timeout, Logger: logger}
	cctx, cancel := context.WithTimeout(ctx, o.timeout)
	defer cancel()
	rcfg := cfg.Redis
	rcfg.MaxConnections = 4
	rdb, err := app.ConnectRedis(cctx, rcfg, logger)
	if err != nil {
		return doctor.Report{Status: health.StatusFail, Findings: []doctor.Finding{{
			ID: "redis.ping", Status: health.StatusFail, Value: err.Error(),
			Remedy: "start Redis or fix REDIS_HOST/REDIS_PORT/REDIS_URL and the password; nothing else can be checked without it",
		}}}, nil
	}
	defer rdb.Close()
	opts.Redis = rdb
	pcfg := cfg.Postgres
	pcfg.PoolMinConns, pcfg.PoolMaxConns = 0, 4
	if pool, err := app.ConnectPostgres(cctx, pcfg, logger); err != nil {
		opts.PostgresError = err
	} else {
		defer pool.Close()
		opts.Postgres = pool
	}
	if v := cfg.Vault; v.Enabled() {
		opts.VaultTTL = func(ctx context.Context) (time.Duration, error) {
			c, err := vault.Login(ctx, vault.Config{
				Addr: v.Addr, RoleID: v.RoleID, SecretIDFile: v.SecretIDFile, SecretsPath: v.SecretsPath,
				RenewThreshold: v.RenewThreshold, CheckInterval: v.CheckInterval, CACertPath: v.CACertPath,
			}, logger)
			if err != nil {
				return 0, err
			}
			return c.TokenTTL(ctx)
		}
	}
	return doctor.Run(ctx, opts), nil
}

func doctorWord(s health.Status) string {
	switch s {
	case health.StatusOK:
		return "OK"
	case health.StatusWarn:
		return "WARN"
	case health.StatusFail:
		return "FAIL"
	}
	return "SKIP"
}

// printDoctor writes one line per finding and, under it, the remedy.
func printDoctor(w io.Writer, r doctor.Report) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	counts := map[health.Status]int{}
	for _, f := range r.Findings {
		counts[f.Status]++
		line := fmt.Sprintf("%s\t%s\t%s", doctorWord(f.Status), f.ID, f.Value)
		if f.Threshold != "" {
			line += "  [" + f.Threshold + "]"
		}
		fmt.Fprintln(tw, line)
		if f.Remedy != "" {
			fmt.Fprintf(tw, "\t\t→ %s\n", f.Remedy)
		}
	}
	if err := tw.Flush(); err != nil {
		return fmt.Errorf("writing report: %w", err)
	}
	if _, err := fmt.Fprintf(w, "\noverall: %s (%d ok, %d warn, %d fail, %d skipped)\n", doctorWord(r.Status),
		counts[health.StatusOK], counts[health.StatusWarn], counts[health.StatusFail], counts[health.StatusSkipped]); err != nil {
		return fmt.Errorf("writing report: %w", err)
	}
	return nil
}

// doctorResult maps the report to the documented exit status.
func doctorResult(r doctor.Report) error {
	code := r.ExitCode()
	if code == doctor.ExitOK {
		return nil
	}
	var ids []string
	for _, f := range r.Findings {
		if f.Status == health.StatusWarn || f.Status == health.StatusFail {
			ids = append(ids, f.ID)
		}
	}
	return exitCodeError{code: code, err: errors.New("doctor found problems in " + strings.Join(ids, ", ") + "; see the remedies above")}
}

// envBackupRoot is the backup root of MUTT_BACKUP_ROOT, or the default.
func envBackupRoot() string { return backup.LoadSettings(os.Getenv).Root }

// printJSON writes v as indented JSON, the --json output of doctor and
// retention.
func printJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		return fmt.Errorf("writing JSON: %w", err)
	}
	return nil
}
