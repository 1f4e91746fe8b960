package main

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/mutt-go/mutt/internal/app"
	"github.com/mutt-go/mutt/internal/backup"
	"github.com/mutt-go/mutt/internal/config"
)

// defaultUnitDir is where `backup schedule install` writes systemd units.
const defaultUnitDir = "/etc/systemd/system"

// notifyTimeout bounds all attempts of one backup notification.
const notifyTimeout = 30 * time.Second

// updateMetrics rewrites the metrics file from the catalogue. Metrics are a
// side channel: a failure is reported on stderr and never changes the
// command's exit code.
func (b *backupOptions) updateMetrics(g *globalOptions) {
	if err := backup.WriteMetricsFile(b.root, b.metricsFile, time.Now()); err != nil {
		fmt.Fprintf(g.stderr, "mutt: warning: %v\n", err)
	}
}

// notify posts the outcome of set m (and runErr, a run that could not
// finish its manifest) to MUTT_BACKUP_NOTIFY_URL: always on failure, on
// success only with MUTT_BACKUP_NOTIFY_ON_SUCCESS=true. A failure to notify
// is logged and never changes the backup's exit code.
func (b *backupOptions) notify(ctx context.Context, g *globalOptions, cfg config.Config, m *backup.Manifest, runErr error) {
	target := b.settings.NotifyURL
	if target == "" || m == nil {
		return
	}
	if runErr == nil && !backup.ShouldNotify(m, b.settings.NotifyOnSuccess) {
		return
	}
	text := backup.NotifyText(m)
	if runErr != nil {
		text = fmt.Sprintf(":rotating_light: MUTT backup FAILED on %s: set %s: %v", m.Host, m.SetID, runErr)
	}
	n := &backup.Notifier{URL: target, Redact: configSecrets(cfg)}
	nctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), notifyTimeout)
	defer cancel()
	if err := n.Send(nctx, text); err != nil {
		g.logger(cfg).Warn("backup notification not delivered", "set_id", m.SetID, "error", err.Error())
	}
}

// configSecrets lists the secret values of cfg that no message may carry.
func configSecrets(cfg config.Config) []string {
	out := []string{cfg.Postgres.Password.Reveal(), cfg.Postgres.PasswordNext.Reveal(),
		cfg.Redis.Password.Reveal(), cfg.Redis.PasswordNext.Reveal()}
	for _, u := range []config.URL{cfg.Postgres.URL, cfg.Redis.URL} {
		if pw, ok := u.Password(); ok {
			out = append(out, pw)
		}
	}
	return out
}

func newBackupStatusCommand(g *globalOptions, b *backupOptions) *cobra.Command {
	var (
		weekly, monthly, quarterly bool
		asJSON                     bool
	)
	cmd := &cobra.Command{
		Use:   "status [--weekly|--monthly|--quarterly] [--json]",
		Short: "Check the backup integrity checklist; exit 1 when any check fails",
		Long: `Run the backup integrity checklist against the manifests and the backup root.

Daily (default): every scheduled component has a good set within its interval
(pgconfig 2h, redis 7h, postgres/config/logs 26h, vault/prometheus 8d) whose
last verification passed, the backup filesystem is below 80 % used, no
"*.partial" file is older than a day, the root is mode 0700 and the key files
0400/0600, encryption is configured, and (when MUTT_BACKUP_SIGNING_KEY_FILE
is set) the newest set of each component is signed by that key, and WAL
archiving (pg_stat_archiver) lags less than MUTT_BACKUP_WAL_LAG_MAX (default
5m) when archive_mode is on or pgbase backups exist; the lag goes to the
metrics file as mutt_backup_wal_archive_lag_seconds.
--weekly adds remote sync (when MUTT_BACKUP_REMOTES is set) and size anomalies
(< 50 % or > 200 % of the median of the previous 7 sets).
--monthly adds a passing deep verify within 35 days, encrypted sets and
retention applied.
--quarterly adds a DR drill within 92 days that met its targets and an alert
test within 92 days, and prints the manual items as reminders.

Exit codes: 0 every check passed, 1 a check failed, 2 usage error.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			level := backup.LevelDaily
			picked := 0
			for l, on := range map[string]bool{backup.LevelWeekly: weekly, backup.LevelMonthly: monthly, backup.LevelQuarterly: quarterly} {
				if on {
					level = l
					picked++
				}
			}
			if picked > 1 {
				return usageError{errors.New("give at most one of --weekly, --monthly and --quarterly")}
			}
			o := backup.StatusOptions{
				Root: b.root, Level: level, Retention: b.settings.Retention, KeepMin: b.settings.KeepMin, Now: time.Now(),
				Remotes:  b.settings.Remotes,
				KeyFiles: []string{b.settings.PassphraseFile, b.settings.IdentityFile},
			}
			if _, err := b.keys(); err != nil {
				o.EncryptionError = errors.Unwrap(err)
			}
			if k, err := b.signingKey(); err != nil {
				o.SigningError = errors.Unwrap(err)
			} else if k != nil {
				o.SigningKey = k.Public().(ed25519.PublicKey)
			}
			o.WALLagMax = b.settings.WALLagMax
			if cfg, err := g.loadConfig(); err == nil && embeddedStorage(cfg) {
				// No PostgreSQL, so no WAL archiving to check.
				o.MaxAge = backup.DefaultMaxAgeFor(backup.StorageEmbedded)
			} else {
				o.Archiver, o.ArchiverError = b.readArchiver(cmd.Context(), g)
			}
			rep, err := backup.CheckStatus(o)
			if err != nil {
				return err
			}
			if asJSON {
				if err := writeJSON(g.stdout, rep); err != nil {
					return err
				}
			} else {
				tw := tabwriter.NewWriter(g.stdout, 0, 4, 2, ' ', 0)
				for _, c := range rep.Checks {
					fmt.Fprintf(tw, "%s\t%s\t%s\n", strings.ToUpper(c.Status), c.Name, c.Detail)
				}
				if err := tw.Flush(); err != nil {
					return err
				}
			}
			if !rep.OK {
				var failed []string
				for _, c := range rep.Checks {
					if c.Status == backup.CheckFail {
						failed = append(failed, c.Name)
					}
				}
				return fmt.Errorf("backup status (%s): %d checks failed: %s", level, len(failed), strings.Join(failed, ", "))
			}
			return nil
		},
	}
	fs := cmd.Flags()
	fs.BoolVar(&weekly, "weekly", false, "add the weekly checks")
	fs.BoolVar(&monthly, "monthly", false, "add the weekly and monthly checks")
	fs.BoolVar(&quarterly, "quarterly", false, "add the weekly, monthly and quarterly checks")
	fs.BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

func newBackupScheduleCommand(g *globalOptions, b *backupOptions) *cobra.Command {
	var (
		cron    bool
		unitDir string
		binary  string
		user    string
		envFile string
		dryRun  bool
		pitr    bool
	)
	cmd := &cobra.Command{
		Use:   "schedule install|remove|show [--cron] [--pitr] [--unit-dir DIR] [--binary PATH]",
		Short: "Install, remove or show the systemd timers (or crontab) of the backup schedule",
		Long: `Render the default backup schedule as systemd .service + .timer pairs:
hourly pgconfig at :15; redis at 00, 06, 12 and 18 h; daily at 02:00 followed
by prune (only when the backup succeeded); weekly on Sunday 02:30; sync at
00:30, 06:30, 12:30 and 18:30; deep verify on the first Sunday of the month at
03:00. With --pitr, for a site that relies on point-in-time recovery, also a
base backup (--profile base) every day at 01:30 and the WAL archiving check
(backup status) every five minutes. Timers are Persistent (a run missed while down happens at boot); the
services run as the mutt user in a sandbox that can write only the backup root
and the metrics directory, with settings from /etc/mutt/mutt.env.

  show     print the units (or, with --cron, /etc/cron.d lines)
  install  write the units into --unit-dir (with --cron: print the lines)
  remove   delete the units from --unit-dir`,
		Args: func(_ *cobra.Command, args []string) error {
			if len(args) != 1 || (args[0] != "install" && args[0] != "remove" && args[0] != "show") {
				return usageError{errors.New("schedule takes one of install, remove and show")}
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			if binary == "" {
				exe, err := os.Executable()
				if err != nil {
					return usageError{fmt.Errorf("finding the mutt executable: %w; pass --binary", err)}
				}
				if binary, err = filepath.EvalSymlinks(exe); err != nil {
					return usageError{fmt.Errorf("finding the mutt executable: %w; pass --binary", err)}
				}
			}
			o := backup.ScheduleOptions{Binary: binary, Root: b.root, User: user, EnvFile: envFile, MetricsFile: b.metricsFile,
				// remove takes the point-in-time recovery units away too,
				// wherever they were installed from.
				PITR: pitr || args[0] == "remove"}
			if err := o.Validate(); err != nil {
				return usageError{err}
			}
			action := args[0]
			if cron {
				if action == "remove" {
					fmt.Fprintln(g.stdout, "remove /etc/cron.d/mutt-backup (or the lines of `mutt backup schedule show --cron` from your crontab)")
					return nil
				}
				text, err := backup.RenderCrontab(o)
				if err != nil {
					return usageError{err}
				}
				fmt.Fprint(g.stdout, text)
				return nil
			}
			units, err := backup.RenderSystemdUnits(o)
			if err != nil {
				return usageError{err}
			}
			switch {
			case action == "show" || (action == "install" && dryRun):
				for _, u := range units {
					fmt.Fprintf(g.stdout, "# %s\n%s\n", filepath.Join(unitDir, u.Name), u.Content)
				}
				return nil
			case action == "install":
				return installUnits(g, unitDir, units)
			}
			return removeUnits(g, unitDir, units, dryRun)
		},
	}
	fs := cmd.Flags()
	fs.BoolVar(&cron, "cron", false, "crontab lines instead of systemd units")
	fs.StringVar(&unitDir, "unit-dir", defaultUnitDir, "directory of the systemd units")
	fs.StringVar(&binary, "binary", "", "absolute path of mutt in the units (default: this executable)")
	fs.StringVar(&user, "user", "mutt", "user the jobs run as")
	fs.StringVar(&envFile, "env-file", "/etc/mutt/mutt.env", "environment file with MUTT's settings and secret file paths")
	fs.BoolVar(&dryRun, "dry-run", false, "show what would be written or removed")
	fs.BoolVar(&pitr, "pitr", false, "also the daily base backup and the 5-minute WAL archiving check of point-in-time recovery")
	return cmd
}

// installUnits writes units into dir and says how to enable the timers.
func installUnits(g *globalOptions, dir string, units []backup.Unit) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("installing backup units: %w", err)
	}
	var timers []string
	for _, u := range units {
		p := filepath.Join(dir, u.Name)
		tmp := p + ".partial"
		if err := os.WriteFile(tmp, []byte(u.Content), 0o644); err != nil {
			return fmt.Errorf("installing backup units: %w", err)
		}
		if err := os.Rename(tmp, p); err != nil {
			os.Remove(tmp)
			return fmt.Errorf("installing backup units: %w", err)
		}
		fmt.Fprintf(g.stdout, "wrote %s\n", p)
		if strings.HasSuffix(u.Name, ".timer") {
			timers = append(timers, u.Name)
		}
	}
	fmt.Fprintf(g.stdout, "next: systemctl daemon-reload && systemctl enable --now %s\n", strings.Join(timers, " "))
	return nil
}

// removeUnits deletes units (and their timers.target.wants links) from dir.
func removeUnits(g *globalOptions, dir string, units []backup.Unit, dryRun bool) error {
	var timers []string
	var errs []error
	for _, u := range units {
		paths := []string{filepath.Join(dir, u.Name)}
		if strings.HasSuffix(u.Name, ".timer") {
			timers = append(timers, u.Name)
			paths = append(paths, filepath.Join(dir, "timers.target.wants", u.Name))
		}
		for _, p := range paths {
			if _, err := os.Lstat(p); errors.Is(err, fs.ErrNotExist) {
				continue
			}
			if dryRun {
				fmt.Fprintf(g.stdout, "would remove %s\n", p)
				continue
			}
			if err := os.Remove(p); err != nil {
				errs = append(errs, err)
				continue
			}
			fmt.Fprintf(g.stdout, "removed %s\n", p)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("removing backup units: %w", err)
	}
	if !dryRun {
		fmt.Fprintf(g.stdout, "next: systemctl stop %s; systemctl daemon-reload\n", strings.Join(timers, " "))
	}
	return nil
}

func newBackupAlertTestCommand(g *globalOptions, b *backupOptions) *cobra.Command {
	var (
		minutes int
		clear   bool
	)
	cmd := &cobra.Command{
		Use:   "alert-test [--minutes N] [--clear]",
		Short: "Report a failing synthetic backup in the metrics file so the alert rules fire",
		Long: `Write mutt_backup_last_status{component="alert-test"} 0 into the metrics file
(MUTT_BACKUP_METRICS_FILE) for N minutes, so MUTTBackupFailed fires end to end
(Prometheus, Alertmanager, the pager) without breaking a real backup. The
synthetic component disappears with the first metrics write after the N
minutes (any backup command), or at once with --clear. The test is recorded
for the quarterly check of ` + "`mutt backup status --quarterly`" + `.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if minutes < 1 {
				return usageError{fmt.Errorf("--minutes %d: want at least 1", minutes)}
			}
			dir := filepath.Dir(b.metricsFile)
			if fi, err := os.Stat(dir); err != nil || !fi.IsDir() {
				return usageError{fmt.Errorf("metrics directory %s does not exist: install node_exporter's textfile collector or set MUTT_BACKUP_METRICS_FILE", dir)}
			}
			now := time.Now().UTC()
			at := backup.AlertTest{At: now, Until: now.Add(time.Duration(minutes) * time.Minute)}
			if clear {
				prev, ok, err := backup.ReadAlertTest(b.root)
				if err != nil {
					return err
				}
				at = backup.AlertTest{At: now, Until: now}
				if ok {
					at.At = prev.At // clearing is not a test
				}
			}
			if err := backup.WriteAlertTest(b.root, at); err != nil {
				return err
			}
			if err := backup.WriteMetricsFile(b.root, b.metricsFile, now); err != nil {
				return err
			}
			if clear {
				fmt.Fprintf(g.stdout, "cleared the synthetic %s failure from %s\n", backup.AlertTestComponent, b.metricsFile)
				return nil
			}
			fmt.Fprintf(g.stdout, "%s now reports mutt_backup_last_status{component=%q} 0 until %s\n",
				b.metricsFile, backup.AlertTestComponent, at.Until.Format(time.RFC3339))
			fmt.Fprintln(g.stdout, "MUTTBackupFailed (severity warning) should fire about 5 minutes after the next scrape; check Alertmanager and the pager")
			return nil
		},
	}
	cmd.Flags().IntVar(&minutes, "minutes", 15, "how long the synthetic failure is reported")
	cmd.Flags().BoolVar(&clear, "clear", false, "remove the synthetic failure now")
	return cmd
}

// readArchiver reads the server's WAL archiving state for status and
// keeps it for the metrics file; an unreachable server is reported, not
// fatal (status decides whether it matters).
func (b *backupOptions) readArchiver(ctx context.Context, g *globalOptions) (*backup.ArchiverStatus, error) {
	cfg, stop, err := g.loadBackupConfig(ctx)
	if err != nil {
		return nil, err
	}
	defer stop()
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	st, err := backup.ReadArchiverStatus(ctx, app.BackupDatabaseURL(cfg.Postgres))
	if err != nil {
		return nil, err
	}
	if st.ArchiveMode != "off" {
		if err := backup.WriteArchiverStatus(b.root, st); err != nil {
			fmt.Fprintf(g.stderr, "mutt: warning: keeping the archiver status: %v\n", err)
		}
		b.updateMetrics(g)
	}
	return &st, nil
}
