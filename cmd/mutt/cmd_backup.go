package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/mutt-go/mutt/internal/app"
	"github.com/mutt-go/mutt/internal/backup"
	"github.com/mutt-go/mutt/internal/health"
	"github.com/mutt-go/mutt/internal/version"
)

// exitLocked is the exit code when another run holds the backup root's lock
// (EX_TEMPFAIL: try again later; nothing was done).
const exitLocked = 75

// lockedError turns a held lock into its exit code; other errors pass.
func lockedError(err error) error {
	if errors.Is(err, backup.ErrLocked) {
		return exitCodeError{code: exitLocked, err: fmt.Errorf("%w; try again when it has finished", err)}
	}
	return err
}

// backupOptions are the settings shared by the backup subcommands.
type backupOptions struct {
	root        string
	metricsFile string
	// settings are the MUTT_BACKUP_* settings, read when the command is
	// built and validated before any subcommand runs (checkSettings).
	settings backup.Settings
	// signatureWarned is set once the "signatures are not checked" warning
	// was printed, so that a command prints it once.
	signatureWarned bool
}

// newBackupOptions reads the backup settings from the environment; they
// are validated when a subcommand runs, so that a bad setting never breaks
// commands that have nothing to do with backups.
func newBackupOptions() *backupOptions {
	return &backupOptions{settings: backup.LoadSettings(os.Getenv)}
}

// checkSettings refuses to run with any bad backup setting, naming every
// one of them.
func (b *backupOptions) checkSettings(*cobra.Command, []string) error {
	if err := b.settings.Validate(); err != nil {
		return usageError{err}
	}
	return nil
}

// keys loads the encryption settings from the environment; secrets never
// come from flags, where they would show in the process list.
func (b *backupOptions) keys() (*backup.Keys, error) {
	k, err := b.settings.Keys()
	if err != nil {
		return nil, usageError{err}
	}
	return k, nil
}

func newBackupCommand(g *globalOptions) *cobra.Command {
	b := newBackupOptions()
	cmd := &cobra.Command{
		Use:   "backup",
		Short: "Create, list, show and verify encrypted backup sets",
		Long: `Create, list, show and verify MUTT's backup sets.

A set is one run of a profile: an encrypted artifact per component under the
backup root and a JSON manifest describing them, written last.

Settings (environment only, so that no secret appears in the process list):
  MUTT_BACKUP_ROOT              backup root (default /var/backups/mutt; --root overrides)
  MUTT_BACKUP_RECIPIENTS_FILE   age public keys, one per line
  MUTT_BACKUP_PASSPHRASE_FILE   age passphrase file (mode 0400), instead of recipients
  MUTT_BACKUP_IDENTITY_FILE     age identity, needed only to decrypt
  MUTT_BACKUP_PG_DUMP           pg_dump to use (default: the one in PATH)
  MUTT_BACKUP_PG_BASEBACKUP     pg_basebackup of the pgbase component (default: PATH)
  MUTT_BACKUP_PG_BIN            PostgreSQL's bin directory for point-in-time restores
                                (default: the directory of the pg_ctl in PATH)
  MUTT_BACKUP_WAL_LAG_MAX       archiving lag past which status fails (default 5m)
  MUTT_BACKUP_RETENTION_<C>     local retention of component C, e.g. 720h or 30d
  MUTT_BACKUP_KEEP_MIN          verified sets per component prune never goes below (default 3)
  MUTT_BACKUP_METRICS_FILE      node_exporter textfile rewritten after run, verify and prune
                                (default /var/lib/node_exporter/textfile_collector/mutt_backup.prom;
                                skipped when its directory does not exist)
  MUTT_BACKUP_NOTIFY_URL        webhook (Slack-compatible JSON) told about every failed run
  MUTT_BACKUP_NOTIFY_ON_SUCCESS true: tell the webhook about successful runs too
  MUTT_BACKUP_REMOTES           comma list of remote targets, checked by status --weekly
  MUTT_BACKUP_REDIS_DIR         Redis data directory as seen here (default: CONFIG GET dir);
                                dump.rdb is backed up when it is readable on this host
  MUTT_BACKUP_REDIS_SAVE_TIMEOUT how long to wait for BGSAVE (default 10m)
  MUTT_BACKUP_PROMETHEUS_URL    Prometheus base URL; unset skips the prometheus component
  MUTT_BACKUP_PROMETHEUS_DATA_DIR its data directory on this host (default /var/lib/prometheus)

Every setting is checked before a subcommand runs; a bad one stops it with
exit 2, naming every bad variable and the rule it breaks.

Exit codes: 0 ok, 1 a component or verification failed, 2 usage or
configuration error, 75 another run holds the backup root's lock.
` + signingSettingsHelp + vaultSettingsHelp,
		PersistentPreRunE: b.checkSettings,
	}
	cmd.PersistentFlags().StringVar(&b.root, "root", b.settings.Root, "backup root (env MUTT_BACKUP_ROOT)")
	cmd.PersistentFlags().StringVar(&b.metricsFile, "metrics-file", b.settings.MetricsFile, "node_exporter textfile for the backup metrics (env MUTT_BACKUP_METRICS_FILE)")
	cmd.AddCommand(
		newBackupRunCommand(g, b),
		newBackupListCommand(g, b),
		newBackupShowCommand(g, b),
		newBackupVerifyCommand(g, b),
		newBackupPruneCommand(g, b),
		newBackupStatusCommand(g, b),
		newBackupScheduleCommand(g, b),
		newBackupAlertTestCommand(g, b),
		newBackupSyncCommand(g, b),
		newBackupPullCommand(g, b),
		newBackupLifecycleCommand(g, b),
		newBackupKeygenCommand(g),
		newBackupWALPushCommand(g, b),
		newBackupWALFetchCommand(g, b),
		newBackupInitCommand(g),
	)
	return cmd
}

func newBackupRunCommand(g *globalOptions, b *backupOptions) *cobra.Command {
	var (
		profile    string
		components []string
		label      string
		pin        bool
		asJSON     bool
		yes        bool
		noSync     bool
	)
	cmd := &cobra.Command{
		Use:   "run [--profile P | --components a,b] [--label L] [--pin]",
		Short: "Create one backup set",
		Long: `Create one backup set of a profile (hourly, redis, daily, weekly, pre-upgrade,
base) or of the components named with --components (postgres, pgconfig, sqlite,
redis, config, logs, vault, prometheus, pgbase). The base profile takes the pgbase
component, a pg_basebackup of the cluster that point-in-time recovery replays
the WAL archive onto (the role needs REPLICATION). In the embedded mode the
profiles take sqlite, an online copy of the embedded database, instead of
pgconfig, postgres, redis and pgbase. Each component is independent: one that fails is recorded as
failed and the others still run. Every artifact is quick-verified after writing.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			_ = yes // run never asks: it only adds a set
			if len(components) == 0 {
				if _, ok := backup.ProfileComponents(profile); !ok {
					return usageError{fmt.Errorf("unknown profile %q: use %s", profile, orList(backup.NewRegistry().Profiles()))}
				}
			} else {
				for _, c := range components {
					if !backup.KnownComponent(c) {
						return usageError{unknownComponent(c)}
					}
				}
				if !cmd.Flags().Changed("profile") {
					profile = "custom"
				}
			}
			keys, err := b.keys()
			if err != nil {
				return err
			}
			signKey, err := b.signingKey()
			if err != nil {
				return err
			}
			cfg, stopSecrets, err := g.loadBackupConfig(ctx)
			if err != nil {
				return err
			}
			defer stopSecrets()
			storage, err := cfg.StorageMode()
			if err != nil {
				return usageError{err}
			}
			names := components
			if len(names) == 0 {
				if names, _ = backup.ProfileComponentsFor(profile, storage); len(names) == 0 {
					return usageError{fmt.Errorf("profile %q takes no component in the %s storage mode", profile, storage)}
				}
			}
			opts := backup.RunOptions{
				Root: b.root, Keys: keys, Profile: profile, Components: components, Storage: storage,
				Label: label, Pinned: pin, Host: hostName(), ToolVersion: version.Version(),
				RedisPatterns:    backup.DefaultRedisPatterns(cfg.KeyPrefix),
				RedisDir:         b.settings.RedisDir,
				RedisSaveTimeout: b.settings.RedisSaveTimeout,
				Unreachable:      map[string]error{},
				SigningKey:       signKey,
			}
			if !asJSON {
				bar := newComponentBar(g)
				defer bar.clear()
				opts.Progress = bar.lines(g.stdout)
				if bar != nil {
					opts.Bytes = bar.update
				}
			}
			defer app.BackupSources(ctx, b.settings, cfg, names, &opts, g.logger(cfg), g.stderr)()
			m, err := backup.Run(ctx, opts)
			if !errors.Is(err, backup.ErrLocked) {
				b.updateMetrics(g)
				b.notify(ctx, g, cfg, m, err)
			}
			if err != nil {
				return lockedError(err)
			}
			syncErr := syncAfterRun(ctx, g, b, m, noSync, asJSON)
			if !noSync {
				b.updateMetrics(g) // the remotes' sync times
			}
			if asJSON {
				if err := writeJSON(g.stdout, m); err != nil {
					return err
				}
			} else {
				fmt.Fprintf(g.stdout, "set %s: %s\n", m.SetID, m.Status)
			}
			var failed []string
			for _, c := range m.Components {
				// A component named explicitly is an error when skipped;
				// one that only came with the profile is not.
				explicit := len(components) > 0 && c.Status == backup.StatusSkipped
				if c.Status == backup.StatusFailed || explicit || (c.Verify != nil && c.Verify.Status != backup.StatusOK) {
					failed = append(failed, c.Name)
				}
			}
			if len(failed) > 0 {
				return fmt.Errorf("backup set %s: failed: %s", m.SetID, strings.Join(failed, ", "))
			}
			return syncErr
		},
	}
	fs := cmd.Flags()
	fs.StringVar(&profile, "profile", "daily", "hourly, redis, daily, weekly, pre-upgrade or base")
	fs.StringSliceVar(&components, "components", nil, "these components instead of the profile's (comma list of postgres, pgconfig, sqlite, redis, config, logs, vault, prometheus, pgbase)")
	fs.StringVar(&label, "label", "", "label recorded in the manifest (e.g. the upgrade it precedes)")
	fs.BoolVar(&pin, "pin", false, "never prune this set")
	fs.BoolVar(&asJSON, "json", false, "print the manifest as JSON")
	fs.BoolVar(&yes, "yes", false, "do not ask for confirmation (run never asks; accepted for scripts)")
	fs.BoolVar(&noSync, "no-sync", false, "do not sync to MUTT_BACKUP_REMOTES after the run")
	return cmd
}

// unknownComponent says which components exist.
func unknownComponent(name string) error {
	return fmt.Errorf("unknown component %q: use %s", name, orList(backup.NewRegistry().Names()))
}

// orList joins names as "a, b or c".
func orList(names []string) string {
	if len(names) < 2 {
		return strings.Join(names, "")
	}
	return strings.Join(names[:len(names)-1], ", ") + " or " + names[len(names)-1]
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		return fmt.Errorf("writing JSON: %w", err)
	}
	return nil
}

// setBytes is the stored size of every artifact of m.
func setBytes(m *backup.Manifest) int64 {
	var n int64
	for _, c := range m.Components {
		for _, a := range c.Artifacts {
			n += a.Bytes
		}
	}
	return n
}

// backupListEntry is one set in `backup list --json`.
type backupListEntry struct {
	SetID      string            `json:"set_id"`
	Time       time.Time         `json:"time"`
	Profile    string            `json:"profile"`
	Label      string            `json:"label,omitempty"`
	Pinned     bool              `json:"pinned"`
	Status     string            `json:"status"`
	Components map[string]string `json:"components"`
	Bytes      int64             `json:"bytes"`
	// WALFrom is, for a pgbase set, the first archived WAL segment it
	// needs (every later one too); StopWAL ends its own span.
	WALFrom string `json:"wal_from,omitempty"`
	StopWAL string `json:"stop_wal,omitempty"`
}

func newBackupListCommand(g *globalOptions, b *backupOptions) *cobra.Command {
	var (
		component string
		asJSON    bool
	)
	cmd := &cobra.Command{
		Use:   "list [--component C]",
		Short: "List backup sets, newest first",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if component != "" && !backup.KnownComponent(component) {
				return usageError{fmt.Errorf("unknown component %q", component)}
			}
			ms, err := backup.ListManifests(b.root)
			if err != nil {
				return err
			}
			entries := []backupListEntry{}
			for _, m := range ms {
				if component != "" {
					if c := m.Component(component); c == nil || c.Status == backup.StatusSkipped {
						continue
					}
				}
				e := backupListEntry{
					SetID: m.SetID, Time: m.Time(), Profile: m.Profile, Label: m.Label, Pinned: m.Pinned,
					Status: m.Status, Components: map[string]string{}, Bytes: setBytes(m),
				}
				for _, c := range m.Components {
					e.Components[c.Name] = c.Status
				}
				if info, err := backup.PgBaseInfoOf(m.Component(backup.ComponentPgBase)); err == nil {
					e.WALFrom, e.StopWAL = info.StartWAL, info.StopWAL
				}
				entries = append(entries, e)
			}
			if asJSON {
				return writeJSON(g.stdout, entries)
			}
			if len(entries) == 0 {
				fmt.Fprintf(g.stdout, "no backup sets under %s\n", b.root)
				return nil
			}
			tw := tabwriter.NewWriter(g.stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "SET\tTIME\tPROFILE\tSTATUS\tCOMPONENTS\tSIZE")
			for _, e := range entries {
				var cs []string
				for _, c := range slices.Sorted(maps.Keys(e.Components)) {
					cs = append(cs, c+":"+e.Components[c])
				}
				if e.WALFrom != "" {
					cs = append(cs, "(WAL from "+e.WALFrom+")")
				}
				profile := e.Profile
				if e.Pinned {
					profile += " (pinned)"
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", e.SetID, e.Time.Format(time.RFC3339), profile, e.Status,
					strings.Join(cs, " "), health.FormatBytes(e.Bytes))
			}
			return tw.Flush()
		},
	}
	cmd.Flags().StringVar(&component, "component", "", "only sets holding this component")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

// findSet returns the set named by arg: a set id or "latest".
func findSet(root, arg string) (*backup.Manifest, error) {
	ms, err := backup.ListManifests(root)
	if err != nil {
		return nil, err
	}
	if arg == "latest" {
		if len(ms) == 0 {
			return nil, fmt.Errorf("no backup sets under %s", root)
		}
		return ms[0], nil
	}
	if _, err := backup.SetTime(arg); err != nil {
		return nil, usageError{fmt.Errorf("%q is neither a set id nor latest; run `mutt backup list`", arg)}
	}
	for _, m := range ms {
		if m.SetID == arg {
			return m, nil
		}
	}
	return nil, fmt.Errorf("no backup set %s under %s", arg, root)
}

func newBackupShowCommand(g *globalOptions, b *backupOptions) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "show <id|latest>",
		Short: "Show a backup set's manifest",
		Args: func(_ *cobra.Command, args []string) error {
			if len(args) != 1 {
				return usageError{errors.New("show takes one set id or latest")}
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			m, err := findSet(b.root, args[0])
			if err != nil {
				return err
			}
			if asJSON {
				return writeJSON(g.stdout, m)
			}
			sig, err := signatureLine(g, b, m)
			if err != nil {
				return err
			}
			printManifest(g.stdout, m)
			fmt.Fprintf(g.stdout, "\nsignature:  %s\n", sig)
			return nil
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the manifest as JSON")
	return cmd
}

func printManifest(w io.Writer, m *backup.Manifest) {
	fmt.Fprintf(w, "set:        %s\n", m.SetID)
	fmt.Fprintf(w, "status:     %s\n", m.Status)
	fmt.Fprintf(w, "profile:    %s\n", m.Profile)
	if m.Label != "" {
		fmt.Fprintf(w, "label:      %s\n", m.Label)
	}
	fmt.Fprintf(w, "pinned:     %t\n", m.Pinned)
	fmt.Fprintf(w, "host:       %s (mutt %s, schema %d)\n", m.Host, m.ToolVersion, m.SchemaVersion)
	fmt.Fprintf(w, "started:    %s\n", m.StartedAt.Format(time.RFC3339))
	fmt.Fprintf(w, "finished:   %s\n", m.FinishedAt.Format(time.RFC3339))
	fmt.Fprintf(w, "encryption: %s %s\n", m.Encryption.Scheme, strings.Join(m.Encryption.Recipients, " "))
	for _, c := range m.Components {
		fmt.Fprintf(w, "\n%s: %s", c.Name, c.Status)
		if c.Reason != "" {
			fmt.Fprintf(w, " (%s)", c.Reason)
		}
		fmt.Fprintln(w)
		for _, k := range slices.Sorted(maps.Keys(c.Counts)) {
			fmt.Fprintf(w, "  count %s = %d\n", k, c.Counts[k])
		}
		for _, a := range c.Artifacts {
			fmt.Fprintf(w, "  artifact %s (%s, sha256 %s)\n", a.Path, health.FormatBytes(a.Bytes), a.SHA256)
		}
		if c.Name == backup.ComponentPgBase && c.Status == backup.StatusOK {
			if info, err := backup.PgBaseInfoOf(&c); err == nil {
				fmt.Fprintf(w, "  wal: timeline %d, %s (%s) to %s (%s); restorable to any time from %s with the archived WAL from %s on\n",
					info.Timeline, info.StartLSN, info.StartWAL, info.StopLSN, info.StopWAL, info.StopTime.Format(time.RFC3339), info.StartWAL)
			}
		}
		if v := c.Verify; v != nil {
			fmt.Fprintf(w, "  verify %s %s at %s", v.Level, v.Status, v.At.Format(time.RFC3339))
			if v.Detail != "" {
				fmt.Fprintf(w, ": %s", v.Detail)
			}
			fmt.Fprintln(w)
		}
	}
}

// backupVerifyResult is one set's outcome in `backup verify --json`.
type backupVerifyResult struct {
	SetID    string   `json:"set_id"`
	Status   string   `json:"status"`
	Failures []string `json:"failures,omitempty"`
}

func newBackupVerifyCommand(g *globalOptions, b *backupOptions) *cobra.Command {
	var (
		latest     bool
		latestEach bool
		all        bool
		asJSON     bool
		deep       bool
	)
	cmd := &cobra.Command{
		Use:   "verify [<id> | --latest | --latest-each | --all] [--deep]",
		Short: "Quick-verify backup sets: sizes, SHA-256 and age headers",
		Long: `Check every artifact of a set against its manifest without decrypting: size,
SHA-256 of the stored file and a well-formed age header. The result is written
into the manifest. Without arguments the latest set is verified.
--latest-each picks, for every component, the newest set holding it; with
--deep only those components are test-restored, which is what the monthly
check of ` + "`mutt backup status --monthly`" + ` needs.`,
		Args: func(_ *cobra.Command, args []string) error {
			if len(args) > 1 {
				return usageError{errors.New("verify takes at most one set id")}
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			picks := 0
			for _, p := range []bool{len(args) == 1, latest, latestEach, all} {
				if p {
					picks++
				}
			}
			if picks > 1 {
				return usageError{errors.New("give one of <id>, --latest, --latest-each and --all")}
			}
			unlock, err := backup.Lock(b.root)
			if err != nil {
				return lockedError(err)
			}
			defer unlock()
			// A selection without components deep-verifies every one.
			var sets []backup.SetSelection
			switch {
			case all || latestEach:
				ms, err := backup.ListManifests(b.root)
				if err != nil {
					return err
				}
				if latestEach {
					sets = backup.LatestEach(ms)
					if len(sets) == 0 {
						return fmt.Errorf("no backup set under %s holds a successful component; run `mutt backup list`", b.root)
					}
					break
				}
				for _, m := range ms {
					sets = append(sets, backup.SetSelection{Manifest: m})
				}
			default:
				arg := "latest"
				if len(args) == 1 {
					arg = args[0]
				}
				m, err := findSet(b.root, arg)
				if err != nil {
					return err
				}
				sets = append(sets, backup.SetSelection{Manifest: m})
			}
			ms := make([]*backup.Manifest, 0, len(sets))
			for _, s := range sets {
				ms = append(ms, s.Manifest)
			}
			if err := b.checkSignatures(g, ms...); err != nil {
				return err
			}
			results := []backupVerifyResult{}
			var bad []string
			for _, s := range sets {
				m := s.Manifest
				errs := backup.VerifyQuickSet(b.root, m, time.Now())
				if deep && len(errs) == 0 {
					errs = b.deepVerifySet(cmd, g, m, s.Components)
				}
				if _, err := backup.WriteManifest(b.root, m); err != nil {
					return err
				}
				r := backupVerifyResult{SetID: m.SetID, Status: backup.StatusOK}
				for _, e := range errs {
					r.Status = backup.StatusFailed
					r.Failures = append(r.Failures, e.Error())
					bad = append(bad, e.Error())
				}
				results = append(results, r)
				if !asJSON {
					fmt.Fprintf(g.stdout, "%s: %s\n", m.SetID, r.Status)
					for _, f := range r.Failures {
						fmt.Fprintf(g.stdout, "  %s\n", f)
					}
				}
			}
			b.updateMetrics(g)
			if asJSON {
				if err := writeJSON(g.stdout, results); err != nil {
					return err
				}
			}
			if len(bad) > 0 {
				return fmt.Errorf("verification failed: %s", strings.Join(bad, "; "))
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&latest, "latest", false, "verify the newest set (the default)")
	cmd.Flags().BoolVar(&deep, "deep", false, "also decrypt and test-restore into throw-away targets (needs MUTT_BACKUP_IDENTITY_FILE)")
	cmd.Flags().BoolVar(&latestEach, "latest-each", false, "verify, per component, the newest set holding it")
	cmd.Flags().BoolVar(&all, "all", false, "verify every set")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

// backupPruneSet is one set in `backup prune --json`.
type backupPruneSet struct {
	SetID  string `json:"set_id"`
	Reason string `json:"reason"`
	Bytes  int64  `json:"bytes,omitempty"`
}

// backupPruneResult is the output of `backup prune --json`.
type backupPruneResult struct {
	DryRun  bool             `json:"dry_run"`
	KeepMin int              `json:"keep_min"`
	Delete  []backupPruneSet `json:"delete"`
	Keep    []backupPruneSet `json:"keep"`
	Garbage []string         `json:"garbage"`
	// WAL lists the archived WAL files (entry and artifact paths) that
	// no kept base backup needs.
	WAL        []string `json:"wal"`
	PlanBytes  int64    `json:"plan_bytes"`
	FreedBytes int64    `json:"freed_bytes"`
	Errors     []string `json:"errors,omitempty"`
}

func newBackupPruneCommand(g *globalOptions, b *backupOptions) *cobra.Command {
	var (
		component string
		keepMin   int
		dryRun    bool
		asJSON    bool
		yes       bool
	)
	cmd := &cobra.Command{
		Use:   "prune [--component C] [--keep-min N] [--dry-run] [--yes]",
		Short: "Delete backup sets past retention and leftover garbage",
		Long: `Delete the sets whose every component is past its retention
(MUTT_BACKUP_RETENTION_<COMPONENT>), together with "*.partial" files not
modified for 24 h and artifact directories without a manifest whose set
started more than 24 h ago, and the archived WAL that no kept pgbase
backup needs (segments before the oldest kept base's start; none while
no base exists). It holds the run lock, so no backup runs meanwhile; the
age keeps the partial files of a pull or WAL push in progress. It never
deletes a
pinned set, the newest verified set of a component, or a set among the
--keep-min (MUTT_BACKUP_KEEP_MIN, default 3) newest verified sets of a
component. Artifacts go first and the manifest last; empty date directories
are removed. With --component only sets holding that component and garbage
under its directory are considered. Asks for confirmation unless --yes.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if component != "" && !backup.KnownComponent(component) {
				return usageError{unknownComponent(component)}
			}
			retention := b.settings.Retention
			if !cmd.Flags().Changed("keep-min") {
				keepMin = b.settings.KeepMin
			} else if keepMin < 1 {
				return usageError{fmt.Errorf("--keep-min %d: want at least 1", keepMin)}
			}
			unlock, err := backup.Lock(b.root)
			if err != nil {
				return lockedError(err)
			}
			defer unlock()
			ms, err := backup.ListManifests(b.root)
			if err != nil {
				return err
			}
			now := time.Now()
			plan := backup.PlanPrune(ms, retention, keepMin, now)
			garbage, err := backup.FindGarbage(b.root, ms, now)
			if err != nil {
				return err
			}
			byID := map[string]*backup.Manifest{}
			for _, m := range ms {
				byID[m.SetID] = m
			}
			holds := func(id string) bool {
				if component == "" {
					return true
				}
				c := byID[id].Component(component)
				return c != nil && (c.Status != backup.StatusSkipped || len(c.Artifacts) > 0)
			}
			res := backupPruneResult{DryRun: dryRun, KeepMin: keepMin, Delete: []backupPruneSet{}, Keep: []backupPruneSet{}, Garbage: []string{}, WAL: []string{}}
			var ids []string
			for _, d := range plan.Delete {
				if !holds(d.SetID) {
					continue
				}
				// The manifest is freed too, so the plan matches what
				// a real prune reports.
				n := setBytes(byID[d.SetID])
				if rel, err := backup.ManifestPath(d.SetID); err == nil {
					mb, err := backup.DiskUsage(b.root, filepath.ToSlash(rel))
					if err != nil {
						return err
					}
					n += mb
				}
				res.Delete = append(res.Delete, backupPruneSet{SetID: d.SetID, Reason: d.Reason, Bytes: n})
				res.PlanBytes += n
				ids = append(ids, d.SetID)
			}
			for _, d := range plan.Keep {
				if holds(d.SetID) {
					res.Keep = append(res.Keep, backupPruneSet{SetID: d.SetID, Reason: d.Reason})
				}
			}
			for _, p := range garbage {
				if component != "" && !strings.HasPrefix(p, component+"/") {
					continue
				}
				n, err := backup.DiskUsage(b.root, p)
				if err != nil {
					return err
				}
				res.Garbage = append(res.Garbage, p)
				res.PlanBytes += n
			}
			if component == "" || component == backup.ComponentPgBase {
				deleted := map[string]bool{}
				for _, id := range ids {
					deleted[id] = true
				}
				var kept []*backup.Manifest
				for _, m := range ms {
					if !deleted[m.SetID] {
						kept = append(kept, m)
					}
				}
				wal, err := backup.PlanWALPrune(b.root, kept)
				if err != nil {
					return err
				}
				for _, p := range wal {
					n, err := backup.DiskUsage(b.root, p)
					if err != nil {
						return err
					}
					res.WAL = append(res.WAL, p)
					res.PlanBytes += n
				}
			}
			if !asJSON {
				for _, d := range res.Keep {
					fmt.Fprintf(g.stdout, "keep    %s (%s)\n", d.SetID, d.Reason)
				}
				for _, d := range res.Delete {
					fmt.Fprintf(g.stdout, "delete  %s (%s, %s)\n", d.SetID, d.Reason, health.FormatBytes(d.Bytes))
				}
				for _, p := range res.Garbage {
					fmt.Fprintf(g.stdout, "garbage %s\n", p)
				}
				for _, p := range res.WAL {
					fmt.Fprintf(g.stdout, "wal     %s\n", p)
				}
				fmt.Fprintf(g.stdout, "%d sets, %d garbage paths and %d WAL files no kept base needs to remove, %s\n",
					len(res.Delete), len(res.Garbage), len(res.WAL)/2, health.FormatBytes(res.PlanBytes))
			}
			nothing := len(ids) == 0 && len(res.Garbage) == 0 && len(res.WAL) == 0
			if dryRun || nothing {
				if asJSON {
					return writeJSON(g.stdout, res)
				}
				if dryRun {
					fmt.Fprintln(g.stdout, "dry run: nothing deleted")
				}
				return nil
			}
			what := fmt.Sprintf("delete %d backup sets, %d garbage paths and %d archived WAL files under %s", len(ids), len(res.Garbage), len(res.WAL)/2, b.root)
			if err := confirm(cmd, g, yes, "prune", what+"?"); err != nil {
				return err
			}
			freed, derr := backup.DeleteSets(b.root, ms, ids)
			// The WAL goes after the sets: a base deleted first never
			// points at WAL already gone.
			n, gerr := backup.RemoveGarbage(b.root, append(slices.Clone(res.Garbage), res.WAL...))
			res.FreedBytes = freed + n
			b.updateMetrics(g)
			for _, e := range []error{derr, gerr} {
				if e != nil {
					res.Errors = append(res.Errors, e.Error())
				}
			}
			if asJSON {
				if err := writeJSON(g.stdout, res); err != nil {
					return err
				}
			} else {
				fmt.Fprintf(g.stdout, "freed %s\n", health.FormatBytes(res.FreedBytes))
			}
			if err := errors.Join(derr, gerr); err != nil {
				return fmt.Errorf("pruning %s: %w", b.root, err)
			}
			return nil
		},
	}
	fs := cmd.Flags()
	fs.StringVar(&component, "component", "", "only sets holding this component")
	fs.IntVar(&keepMin, "keep-min", 3, "verified sets per component never pruned (env MUTT_BACKUP_KEEP_MIN)")
	fs.BoolVar(&dryRun, "dry-run", false, "show what would be deleted and delete nothing")
	fs.BoolVar(&asJSON, "json", false, "print the plan and result as JSON")
	fs.BoolVar(&yes, "yes", false, "do not ask for confirmation")
	return cmd
}
