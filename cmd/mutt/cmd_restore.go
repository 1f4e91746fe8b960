package main

import (
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/redis/go-redis/v9"
	"github.com/spf13/cobra"

	"github.com/mutt-go/mutt/internal/app"
	"github.com/mutt-go/mutt/internal/backup"
	"github.com/mutt-go/mutt/internal/config"
	"github.com/mutt-go/mutt/internal/health"
	"github.com/mutt-go/mutt/internal/heartbeat"
	"github.com/mutt-go/mutt/internal/store"
	"github.com/mutt-go/mutt/internal/version"
)

// liveConsumerIdle is how recently a queue consumer must have been active to
// count as a running MUTT service.
const liveConsumerIdle = 10 * time.Second

// restorePartitionMonths is how many monthly audit partitions, from the
// current one on, a restored database must have.
const restorePartitionMonths = 4

// restoreOptions are the flags shared by the restore subcommands.
type restoreOptions struct {
	backupOptions
	yes   bool
	force bool
}

func newRestoreCommand(g *globalOptions) *cobra.Command {
	o := &restoreOptions{backupOptions: *newBackupOptions()}
	cmd := &cobra.Command{
		Use:   "restore",
		Short: "Restore components of a backup set (the embedded database too), or rehearse a full restore",
		Long: `Restore one component, or the whole system, from a backup set made by
mutt backup run; or run the quarterly DR drill into scratch targets.

Every artifact of the component is verified (size, SHA-256, age header) and
decrypted with MUTT_BACKUP_IDENTITY_FILE (or MUTT_BACKUP_PASSPHRASE_FILE)
before anything is changed; with MUTT_BACKUP_TRUSTED_KEYS_FILE set, a set
whose manifest is not signed by a trusted key is refused first. A restore refuses to run while MUTT services
consume the queues, unless --force is given, and asks for confirmation unless
--yes is given.

Exit codes: 0 ok, 1 verification or restore failed (nothing changed), 2 usage
error, refused confirmation or running services.
` + vaultSettingsHelp,
		PersistentPreRunE: o.checkSettings,
	}
	pf := cmd.PersistentFlags()
	pf.StringVar(&o.root, "root", o.settings.Root, "backup root (env MUTT_BACKUP_ROOT)")
	pf.BoolVar(&o.yes, "yes", false, "do not ask for confirmation")
	pf.BoolVar(&o.force, "force", false, "restore even while MUTT services are consuming the queues")
	cmd.AddCommand(newRestoreRedisCommand(g, o), newRestorePostgresCommand(g, o),
		newRestoreConfigCommand(g, o), newRestoreDynamicConfigCommand(g, o), newRestoreVaultCommand(g, o),
		newRestoreFullCommand(g, o), newRestoreDrillCommand(g, o), newRestoreSQLiteCommand(g, o))
	return cmd
}

// oneSetArg accepts exactly one set id or "latest".
func oneSetArg(_ *cobra.Command, args []string) error {
	if len(args) != 1 {
		return usageError{errors.New("give one set id or latest")}
	}
	return nil
}

// checkServices refuses, unless --force, while any MUTT role keeps a
// heartbeat (the positive signal every running role writes), or while
// alerter or forwarder consumers were active in the last liveConsumerIdle.
func (o *restoreOptions) checkServices(cmd *cobra.Command, g *globalOptions, cfg config.Config) error {
	if o.force {
		return nil
	}
	rdb, err := app.ConnectRedis(cmd.Context(), cfg.Redis, g.logger(cfg))
	if err != nil {
		return usageError{fmt.Errorf("cannot check for running MUTT services (%v); pass --force to restore anyway", err)}
	}
	defer rdb.Close()
	beats, err := heartbeat.Live(cmd.Context(), rdb, cfg.KeyPrefix)
	if err != nil {
		return usageError{fmt.Errorf("cannot check for running MUTT services (%v); pass --force to restore anyway", err)}
	}
	if len(beats) > 0 {
		running := make([]string, len(beats))
		for i, b := range beats {
			running[i] = b.String()
		}
		return usageError{fmt.Errorf("MUTT services are running: %s; stop them (a killed process's heartbeat expires within %s) or pass --force",
			strings.Join(running, "; "), heartbeat.DefaultTTL)}
	}
	live, err := backup.LiveConsumers(cmd.Context(), rdb, []backup.QueueGroup{
		{Stream: cfg.Keys.IngestQueue, Group: "alerter"},
		{Stream: cfg.Keys.AlertQueue, Group: "forwarder"},
	}, liveConsumerIdle)
	if err != nil {
		return usageError{fmt.Errorf("cannot check for running MUTT services (%v); pass --force to restore anyway", err)}
	}
	if len(live) > 0 {
		return usageError{fmt.Errorf("MUTT services are running (active queue consumers: %s); stop them or pass --force", strings.Join(live, ", "))}
	}
	return nil
}

func newRestoreRedisCommand(g *globalOptions, o *restoreOptions) *cobra.Command {
	var (
		classes       []string
		mode          string
		full          bool
		includeQueues bool
	)
	cmd := &cobra.Command{
		Use:   "redis <id|latest> [--classes config,dlq,unhandled,queues] [--mode merge|replace] [--full]",
		Short: "Restore Redis keys of the chosen classes, or the whole dataset with --full",
		Long: `Write the Redis keys of a backup set back. Only the chosen classes are restored
(default config, dlq, unhandled). In merge mode (the default) an existing key is
kept; in replace mode it is overwritten. Restored config keys are announced on
the config updates channel so running services reload them.

--full replaces the whole dataset with the set's dump.rdb (complete server
loss): the snapshot is decrypted into the Redis data directory and checked,
Redis is stopped, the current dump.rdb and AOF are kept as
<name>.pre-restore-<runid>, the snapshot takes dump.rdb's place and Redis is
started — with AOF off for that boot if it was on, then AOF is switched on
again and rewritten from the loaded data. Key counts are compared with the
snapshot and the manifest; rate-limit, circuit-breaker, heartbeat and queue
keys of the snapshot are deleted (queues are kept with --include-queues).
Run it on the Redis host, with Redis running (an empty one on a new host).

Settings for --full:
  MUTT_BACKUP_REDIS_SERVICE    systemd unit stopped and started (default redis-server)
  MUTT_BACKUP_REDIS_STOP_CMD   command that stops Redis instead of systemctl stop <unit>
  MUTT_BACKUP_REDIS_START_CMD  command that starts it instead of systemctl start <unit>
  MUTT_BACKUP_REDIS_DIR        data directory (default: CONFIG GET dir)`,
		Args: oneSetArg,
		RunE: func(cmd *cobra.Command, args []string) error {
			start := time.Now()
			if full && (cmd.Flags().Changed("classes") || cmd.Flags().Changed("mode")) {
				return usageError{errors.New("--full restores the whole dataset; it takes no --classes or --mode")}
			}
			if full {
				return o.restoreRedisFull(cmd, g, args[0], includeQueues, start)
			}
			if mode != "merge" && mode != "replace" {
				return usageError{fmt.Errorf("unknown mode %q: use merge or replace", mode)}
			}
			keys, cfg, m, stop, err := o.prepare(cmd, g, args[0], backup.ComponentRedis)
			if err != nil {
				return err
			}
			defer stop()
			if len(classes) == 0 {
				classes = backup.DefaultRedisRestoreClasses()
			}
			if err := o.confirmWrite(cmd, g, false, fmt.Sprintf("restore Redis classes %s from set %s in %s mode?", strings.Join(classes, ","), m.SetID, mode)); err != nil {
				return err
			}
			rdb, err := app.ConnectRedis(cmd.Context(), cfg.Redis, g.logger(cfg))
			if err != nil {
				return err
			}
			defer rdb.Close()
			res, err := backup.RestoreRedisSet(cmd.Context(), o.root, m, keys, rdb, classes, mode == "replace")
			if err != nil {
				return err
			}
			fmt.Fprintf(g.stdout, "restored %d keys, kept %d existing, skipped %d expired (set %s)\n", res.Restored, res.Existing, res.Skipped, m.SetID)
			fmt.Fprintf(g.stdout, "RTO: %s\n", time.Since(start).Round(time.Millisecond))
			return nil
		},
	}
	cmd.Flags().StringSliceVar(&classes, "classes", nil, "key classes: config, dlq, unhandled, queues, other (default config,dlq,unhandled)")
	cmd.Flags().StringVar(&mode, "mode", "merge", "merge (keep existing keys) or replace")
	cmd.Flags().BoolVar(&full, "full", false, "replace the whole dataset with the set's dump.rdb (stops and starts Redis)")
	cmd.Flags().BoolVar(&includeQueues, "include-queues", false, "with --full: keep the restored ingest and alert queues")
	return cmd
}

// restoreRedisFull is `restore redis --full`: the RDB swap of
// backup.RestoreRedisRDB, with the stop and start commands taken from the
// environment.
func (o *restoreOptions) restoreRedisFull(cmd *cobra.Command, g *globalOptions, set string, includeQueues bool, start time.Time) error {
	ctx := cmd.Context()
	keys, cfg, m, stop, err := o.prepare(cmd, g, set, backup.ComponentRedis)
	if err != nil {
		return err
	}
	defer stop()
	service := o.settings.RedisService
	opts := backup.RDBRestoreOptions{
		Root: o.root, Manifest: m, Keys: keys, Dir: o.settings.RedisDir,
		Stop:   []string{"systemctl", "stop", service},
		Start:  []string{"systemctl", "start", service},
		Prefix: cfg.KeyPrefix, IncludeQueues: includeQueues, Progress: g.stdout,
	}
	if v := o.settings.RedisStopCmd; len(v) > 0 {
		opts.Stop = v
	}
	if v := o.settings.RedisStartCmd; len(v) > 0 {
		opts.Start, opts.StartNoAOF = v, []string{"--appendonly", "no"}
	}
	if err := o.confirmWrite(cmd, g, false, fmt.Sprintf("replace the WHOLE Redis dataset with the dump.rdb of set %s (Redis is stopped and started)?", m.SetID)); err != nil {
		return err
	}
	if cfg.Redis.Topology() != config.RedisStandalone {
		return errors.New("a full restore stops and starts one Redis server, which Sentinel or a cluster answers with a failover: " +
			"unset REDIS_SENTINEL_ADDRS/REDIS_CLUSTER_NODES and point REDIS_URL at that server alone (with Sentinel's monitoring of it removed)")
	}
	rdb, err := app.ConnectRedis(ctx, cfg.Redis, g.logger(cfg))
	if err != nil {
		return fmt.Errorf("%w; start Redis (an empty one on a new host) before a full restore", err)
	}
	defer rdb.Close()
	opts.Redis = rdb.(*redis.Client) // a standalone client, checked above
	res, err := backup.RestoreRedisRDB(ctx, opts)
	if err != nil {
		return err
	}
	fmt.Fprintf(g.stdout, "restored dump.rdb of set %s: db%d holds %d keys (snapshot %d); deleted %d volatile keys\n", m.SetID, res.DB, res.DBSize, res.SnapshotKeys, res.Dropped)
	for _, n := range res.CountNotes {
		fmt.Fprintf(g.stdout, "  note: %s (the logical export was taken a moment apart)\n", n)
	}
	for _, k := range res.Kept {
		fmt.Fprintf(g.stdout, "previous file kept as %s\n", k)
	}
	printRTO(g.stdout, "redis", time.Since(start), backup.RTORedis)
	fmt.Fprintln(g.stdout, "next: start the MUTT services and run `mutt health`")
	return nil
}

// prepare does what every restore does before asking to go ahead: load the
// keys and the configuration (with the passwords from Vault), find the set,
// verify the component's artifacts, and make sure no MUTT service is
// consuming. The caller calls stop when done.
func (o *restoreOptions) prepare(cmd *cobra.Command, g *globalOptions, set, component string) (keys *backup.Keys, cfg config.Config, m *backup.Manifest, stop func(), err error) {
	stop = func() {}
	if keys, err = o.keys(); err != nil {
		return nil, cfg, nil, stop, err
	}
	cfg, stopSecrets, err := g.loadBackupConfig(cmd.Context())
	if err != nil {
		return nil, cfg, nil, stop, err
	}
	fail := func(err error) (*backup.Keys, config.Config, *backup.Manifest, func(), error) {
		stopSecrets()
		return nil, cfg, nil, stop, err
	}
	if m, err = backup.FindSet(o.root, set, component); err != nil {
		return fail(err)
	}
	if err := o.checkSignatures(g, m); err != nil {
		return fail(err)
	}
	if _, err := backup.VerifyComponent(o.root, m, component); err != nil {
		return fail(err)
	}
	if err := o.checkServices(cmd, g, cfg); err != nil {
		return fail(err)
	}
	return keys, cfg, m, stopSecrets, nil
}

// confirmWrite asks before a restore writes anything; a dry run writes
// nothing and goes ahead without asking.
func (o *restoreOptions) confirmWrite(cmd *cobra.Command, g *globalOptions, dryRun bool, question string) error {
	if dryRun {
		return nil
	}
	return confirm(cmd, g, o.yes, "restore", question)
}

// finishWrite closes the output of a restore that may be a dry run: it says
// nothing was written, or prints the measured RTO against target.
func finishWrite(w io.Writer, dryRun bool, what string, start time.Time, target time.Duration) {
	if dryRun {
		fmt.Fprintln(w, "dry run: nothing written")
		return
	}
	printRTO(w, what, time.Since(start), target)
}

func newRestorePostgresCommand(g *globalOptions, o *restoreOptions) *cobra.Command {
	var pitr pitrFlags
	cmd := &cobra.Command{
		Use:   "postgres <id|latest> | postgres [<base-id>] --target-datadir DIR [--to-time T | --to-lsn L] [--port P]",
		Short: "Restore the PostgreSQL database and swap it in",
		Long: `Restore the database of a backup set into a new scratch database, compare its
row counts with the manifest and only then swap it in: the live database is
renamed to <db>_pre_restore_<time>_<4 hex> and kept, the scratch database takes its
name. Any failure before the swap leaves the live database untouched.

With --target-datadir it is a point-in-time restore instead: the newest
pgbase backup (profile base) consistent before the target is unpacked into
that new directory, the archived WAL is checked and replayed up to --to-time
(RFC 3339), --to-lsn or, with neither, the end of the archive, and the server
is promoted and left running on 127.0.0.1:--port (archiving off). The live
database is not touched. A damaged or missing WAL segment stops the restore
naming the segment; the time of the last transaction replayed is reported.

Settings: MUTT_BACKUP_PG_RESTORE, the pg_restore to use (default: PATH);
MUTT_BACKUP_PG_BIN, PostgreSQL's bin directory for point-in-time restores.`,
		Args: func(cmd *cobra.Command, args []string) error {
			if pitr.pitr() {
				return nil
			}
			return oneSetArg(cmd, args)
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			if pitr.pitr() {
				return runRestorePITR(cmd, g, o, &pitr, args)
			}
			ctx := cmd.Context()
			start := time.Now()
			keys, cfg, m, stop, err := o.prepare(cmd, g, args[0], backup.ComponentPostgres)
			if err != nil {
				return err
			}
			defer stop()
			var liveVersion int64
			if pool, err := app.ConnectPostgres(ctx, cfg.Postgres, g.logger(cfg)); err == nil {
				liveVersion, _ = store.SchemaVersion(ctx, pool)
				pool.Close()
			}
			if err := o.confirmWrite(cmd, g, false, fmt.Sprintf("replace the live MUTT database with the one of set %s?", m.SetID)); err != nil {
				return err
			}
			res, err := backup.RestorePostgresSet(ctx, backup.PostgresRestoreOptions{
				Root: o.root, Manifest: m, Keys: keys, DatabaseURL: app.BackupDatabaseURL(cfg.Postgres),
				PgRestore: o.settings.PgRestore,
			})
			if err != nil {
				return err
			}
			fmt.Fprintf(g.stdout, "restored database %s from set %s\n", res.Database, m.SetID)
			// The set may predate the current months; the alerter needs their
			// audit partitions. A failure here does not undo the restore.
			if pool, err := app.ConnectPostgres(ctx, cfg.Postgres, g.logger(cfg)); err != nil {
				fmt.Fprintf(g.stderr, "mutt: checking audit partitions: %v; run `mutt migrate`\n", err)
			} else {
				created, err := store.EnsurePartitions(ctx, pool, time.Now(), restorePartitionMonths)
				pool.Close()
				if len(created) > 0 {
					fmt.Fprintf(g.stdout, "created audit partitions %s\n", strings.Join(created, ", "))
				}
				if err != nil {
					fmt.Fprintf(g.stderr, "mutt: creating audit partitions: %v; run `mutt migrate`\n", err)
				}
			}
			for _, t := range slices.Sorted(maps.Keys(res.Counts)) {
				fmt.Fprintf(g.stdout, "  %s: %d rows\n", t, res.Counts[t])
			}
			if res.PreRestore != "" {
				fmt.Fprintf(g.stdout, "the previous database was kept as %s; drop it when no longer needed:\n  DROP DATABASE %s;\n", res.PreRestore, pgx.Identifier{res.PreRestore}.Sanitize())
			}
			if res.Schema.Migrate {
				fmt.Fprintf(g.stdout, "the set's schema version %d was migrated to %d before the swap\n", res.Schema.Backup, res.Schema.Binary)
			} else if m.SchemaVersion < liveVersion {
				fmt.Fprintf(g.stdout, "the restored schema is version %d, older than %d: run `mutt migrate` before starting the services\n", m.SchemaVersion, liveVersion)
			}
			fmt.Fprintf(g.stdout, "RTO: %s\n", time.Since(start).Round(time.Millisecond))
			return nil
		},
	}
	pitr.add(cmd)
	return cmd
}

// printRTO prints a measured recovery time against its seed target.
func printRTO(w io.Writer, what string, took, target time.Duration) {
	verdict := "within"
	if took > target {
		verdict = "OVER"
	}
	fmt.Fprintf(w, "RTO: %s %s (%s the %s target)\n", what, took.Round(time.Millisecond), verdict, target)
}

func newRestoreConfigCommand(g *globalOptions, o *restoreOptions) *cobra.Command {
	var (
		files, target string
		dryRun        bool
		asJSON        bool
	)
	cmd := &cobra.Command{
		Use:   "config <id|latest> [--files GLOB] [--target-dir DIR] [--dry-run]",
		Short: "Restore configuration files from a backup set",
		Long: `Write the configuration files of a set back, with their archived modes, owners
and modification times. Every file is staged next to its destination and only
installed once the whole archive has decrypted and matched its checksum; the
previous file is kept as <file>.pre-restore-<time>. Files that already match are
left alone. --files selects a glob on the path or base name, or a directory.`,
		Args: oneSetArg,
		RunE: func(cmd *cobra.Command, args []string) error {
			start := time.Now()
			keys, _, m, stop, err := o.prepare(cmd, g, args[0], backup.ComponentConfig)
			if err != nil {
				return err
			}
			defer stop()
			where := target
			if where == "" {
				where = "/"
			}
			if err := o.confirmWrite(cmd, g, dryRun, fmt.Sprintf("restore the configuration files of set %s under %s?", m.SetID, where)); err != nil {
				return err
			}
			res, err := backup.RestoreConfigFiles(cmd.Context(), backup.ConfigRestoreOptions{
				Root: o.root, Manifest: m, Keys: keys, TargetDir: target, Files: files, DryRun: dryRun,
			})
			if err != nil {
				return err
			}
			if asJSON {
				return writeJSON(g.stdout, res)
			}
			for _, l := range []struct {
				verb  string
				paths []string
			}{{"added", res.Added}, {"changed", res.Changed}, {"unchanged", res.Unchanged}, {"kept", res.Kept}} {
				for _, p := range l.paths {
					fmt.Fprintf(g.stdout, "%-9s %s\n", l.verb, p)
				}
			}
			if !dryRun {
				fmt.Fprintf(g.stdout, "restored %d files (%d added, %d changed) from set %s; restart the affected services\n",
					len(res.Added)+len(res.Changed), len(res.Added), len(res.Changed), m.SetID)
			}
			finishWrite(g.stdout, dryRun, "config", start, backup.RTOConfig)
			return nil
		},
	}
	cmd.Flags().StringVar(&files, "files", "", "only entries matching this glob (path or base name) or below this directory")
	cmd.Flags().StringVar(&target, "target-dir", "", "directory to restore under instead of /")
	cmd.Flags().BoolVar(&dryRun, "dry-run", false, "show what would change and write nothing")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

func newRestoreDynamicConfigCommand(g *globalOptions, o *restoreOptions) *cobra.Command {
	var prune, dryRun, asJSON bool
	cmd := &cobra.Command{
		Use:   "dynamic-config <id|latest> [--prune] [--dry-run]",
		Short: "Restore the dynamic configuration (mutt:config:*) from a backup set",
		Long: `Write every dynamic configuration value of a set's config archive back to Redis,
publish each name on the config updates channel so running services reload it,
and audit each change in config_audit_log (changed_by restore:<set>). --prune
also deletes keys the backup does not hold.`,
		Args: oneSetArg,
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			start := time.Now()
			keys, cfg, m, stop, err := o.prepare(cmd, g, args[0], backup.ComponentConfig)
			if err != nil {
				return err
			}
			defer stop()
			if err := o.confirmWrite(cmd, g, dryRun, fmt.Sprintf("restore the dynamic configuration of set %s?", m.SetID)); err != nil {
				return err
			}
			rdb, err := app.ConnectRedis(ctx, cfg.Redis, g.logger(cfg))
			if err != nil {
				return err
			}
			defer rdb.Close()
			opts := backup.DynamicConfigRestoreOptions{Root: o.root, Manifest: m, Keys: keys, Redis: rdb, Prefix: cfg.Keys.ConfigPrefix, Prune: prune, DryRun: dryRun}
			if !dryRun {
				pool, err := app.ConnectPostgres(ctx, cfg.Postgres, g.logger(cfg))
				if err != nil {
					return fmt.Errorf("connecting to PostgreSQL to audit the changes: %w", err)
				}
				defer pool.Close()
				st := store.New(pool)
				if err := st.CheckConfigAudit(ctx); err != nil {
					return err
				}
				opts.Auditor = st
			}
			res, err := backup.RestoreDynamicConfig(ctx, opts)
			if err != nil {
				return err
			}
			if asJSON {
				return writeJSON(g.stdout, res)
			}
			fmt.Fprintf(g.stdout, "set %d keys, %d already current, deleted %d (set %s)\n", len(res.Set), len(res.Unchanged), len(res.Deleted), m.SetID)
			finishWrite(g.stdout, dryRun, "dynamic config", start, backup.RTOConfig)
			return nil
		},
	}
	cmd.Flags().BoolVar(&prune, "prune", false, "delete dynamic config keys the backup does not hold")
	cmd.Flags().BoolVar(&dryRun, "dry-run", false, "show what would change and write nothing")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

func newRestoreVaultCommand(g *globalOptions, o *restoreOptions) *cobra.Command {
	var merge, dryRun bool
	cmd := &cobra.Command{
		Use:   "vault <id|latest> [--merge] [--dry-run]",
		Short: "Restore the Vault KV secrets from a backup set",
		Long: `Decrypt a set's Vault export in memory and write each secret path back in one
write, then read it back and compare. Without --merge each path ends up holding
exactly the backed-up keys. Only key names are ever printed.`,
		Args: oneSetArg,
		RunE: func(cmd *cobra.Command, args []string) error {
			start := time.Now()
			keys, cfg, m, stop, err := o.prepare(cmd, g, args[0], backup.ComponentVault)
			if err != nil {
				return err
			}
			defer stop()
			kv, err := loginBackupVault(cmd.Context(), g, o.settings, cfg)
			if err != nil {
				return err
			}
			if err := o.confirmWrite(cmd, g, dryRun, fmt.Sprintf("write the Vault secrets of set %s?", m.SetID)); err != nil {
				return err
			}
			changes, err := backup.RestoreVault(cmd.Context(), backup.VaultRestoreOptions{Root: o.root, Manifest: m, Keys: keys, KV: kv, Merge: merge, DryRun: dryRun, NotFound: vaultNotFound})
			for _, c := range changes {
				fmt.Fprintf(g.stdout, "%s: added %s; changed %s; removed %s; kept %s\n", c.Path,
					strings.Join(c.Added, ","), strings.Join(c.Changed, ","), strings.Join(c.Removed, ","), strings.Join(c.Kept, ","))
			}
			if err != nil {
				return err
			}
			printRTO(g.stdout, "vault", time.Since(start), backup.RTOVault)
			return nil
		},
	}
	cmd.Flags().BoolVar(&merge, "merge", false, "keep keys that are in Vault but not in the backup")
	cmd.Flags().BoolVar(&dryRun, "dry-run", false, "show the key differences and write nothing")
	return cmd
}

// embeddedStorage reports whether cfg selects the embedded mode.
func embeddedStorage(cfg config.Config) bool {
	mode, err := cfg.StorageMode()
	return err == nil && mode == config.StorageEmbedded
}

// deepVerifySet test-restores the named components of set m (all when none
// is named) into throw-away targets and records the deep results in m (the
// caller writes the manifest).
func (b *backupOptions) deepVerifySet(cmd *cobra.Command, g *globalOptions, m *backup.Manifest, components []string) []error {
	ctx := cmd.Context()
	keys, err := b.keys()
	if err != nil {
		return []error{err}
	}
	cfg, stop, err := g.loadBackupConfig(ctx)
	if err != nil {
		return []error{err}
	}
	defer stop()
	opts := backup.DeepVerifyOptions{
		Root: b.root, Manifest: m, Keys: keys, DatabaseURL: app.BackupDatabaseURL(cfg.Postgres),
		PgRestore: b.settings.PgRestore, RedisServer: b.settings.RedisServer,
		PgBin: b.settings.PgBin, Components: components,
	}
	// Only the redis component needs the live server, and only where
	// there is one.
	if !embeddedStorage(cfg) {
		if rdb, err := app.ConnectRedis(ctx, cfg.Redis, g.logger(cfg)); err == nil {
			defer rdb.Close()
			opts.Redis = rdb
		}
	}
	errs := backup.DeepVerify(ctx, opts)
	for _, c := range m.Components {
		if len(components) > 0 && !slices.Contains(components, c.Name) {
			continue
		}
		if c.Verify != nil && c.Verify.Level == backup.VerifyDeep {
			fmt.Fprintf(g.stdout, "  deep %s: %s: %s\n", c.Name, c.Verify.Status, c.Verify.Detail)
		}
	}
	return errs
}

func newRestoreFullCommand(g *globalOptions, o *restoreOptions) *cobra.Command {
	var (
		withVault, noSafety, asJSON bool
		target                      string
	)
	cmd := &cobra.Command{
		Use:   "full <id|latest> [--with-vault] [--no-safety-backup] [--target-dir DIR]",
		Short: "Restore the whole system from a backup set and measure the RTO",
		Long: `Restore a set in order: Vault (with --with-vault), PostgreSQL (scratch database,
count check, schema migration if the set is older, swap), Redis (replace mode,
default classes), the dynamic configuration, the configuration files. Every
artifact is checked against the manifest before anything changes, and a
pre-restore safety backup is taken first unless --no-safety-backup. Each step
verifies its result; the measured RTO is printed per step and in total.`,
		Args: oneSetArg,
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			keys, err := o.keys()
			if err != nil {
				return err
			}
			cfg, stop, err := g.loadBackupConfig(ctx)
			if err != nil {
				return err
			}
			defer stop()
			need := []string{backup.ComponentPostgres, backup.ComponentRedis}
			if withVault {
				need = append(need, backup.ComponentVault)
			}
			m, err := backup.FindSet(o.root, args[0], need...)
			if err != nil {
				return err
			}
			if err := o.checkSignatures(g, m); err != nil {
				return err
			}
			signKey, err := o.signingKey()
			if err != nil {
				return err
			}
			if err := o.checkServices(cmd, g, cfg); err != nil {
				return err
			}
			var kv backup.VaultKV
			if withVault {
				if kv, err = loginBackupVault(ctx, g, o.settings, cfg); err != nil {
					return err
				}
			}
			if err := confirm(cmd, g, o.yes, "restore", fmt.Sprintf("replace the live database, Redis keys and configuration with set %s?", m.SetID)); err != nil {
				return err
			}
			rdb, err := app.ConnectRedis(ctx, cfg.Redis, g.logger(cfg))
			if err != nil {
				return err
			}
			defer rdb.Close()
			opts := backup.RestoreOptions{
				Root: o.root, Manifest: m, Keys: keys, DatabaseURL: app.BackupDatabaseURL(cfg.Postgres),
				PgRestore: o.settings.PgRestore, Redis: rdb, ConfigPrefix: cfg.Keys.ConfigPrefix,
				ConfigTargetDir: target, WithVault: withVault, Vault: kv, VaultNotFound: vaultNotFound,
			}
			if !asJSON {
				opts.Progress = g.stdout
			}
			if !noSafety {
				safety := backup.RunOptions{
					Root: o.root, Keys: keys, Host: hostName(), ToolVersion: version.Version(), Redis: rdb, SigningKey: signKey,
					RedisPatterns: backup.DefaultRedisPatterns(cfg.KeyPrefix),
					Postgres:      &backup.PostgresDumpOptions{DatabaseURL: app.BackupDatabaseURL(cfg.Postgres), PgDump: o.settings.PgDump},
				}
				if withVault {
					safety.Vault, safety.VaultPaths = kv, app.BackupVaultPaths(o.settings, cfg.Vault)
				}
				defer app.BackupSources(ctx, o.settings, cfg, []string{backup.ComponentConfig}, &safety, g.logger(cfg), g.stderr)()
				opts.Safety = &safety
			}
			res, err := backup.RestoreFull(ctx, opts)
			if asJSON {
				if jerr := writeJSON(g.stdout, res); jerr != nil {
					return jerr
				}
			} else {
				if res.SafetySet != "" {
					fmt.Fprintf(g.stdout, "pre-restore safety set %s\n", res.SafetySet)
				}
				for _, w := range res.SafetyWarnings {
					fmt.Fprintf(g.stderr, "mutt: safety backup incomplete: %s\n", w)
				}
				for _, s := range res.Steps {
					printRTO(g.stdout, s.Component, s.RTO, s.Target)
				}
				if res.PreRestoreDB != "" {
					fmt.Fprintf(g.stdout, "the previous database was kept as %s\n", res.PreRestoreDB)
				}
				if res.Schema.Migrate {
					fmt.Fprintf(g.stdout, "the set's schema version %d was migrated to %d before the swap\n", res.Schema.Backup, res.Schema.Binary)
				}
				printRTO(g.stdout, "full", res.Total, res.TotalTarget)
			}
			if err != nil {
				return err
			}
			// The services are stopped during a restore, so their endpoints
			// are skipped; Redis, PostgreSQL and the schema must be healthy.
			rep := health.Run(ctx, health.Options{Config: cfg, Logger: g.logger(cfg)})
			if !asJSON {
				fmt.Fprintf(g.stdout, "health after restore: %s\n", rep.Status)
				fmt.Fprintln(g.stdout, "next: start the services, run `mutt health`, then repoint DNS or the load balancer if this is a new host")
			}
			if failed := rep.Failed(); len(failed) > 0 {
				names := make([]string, len(failed))
				for i, c := range failed {
					names[i] = c.Name + ": " + c.Detail
				}
				return fmt.Errorf("restored, but the health check fails: %s", strings.Join(names, "; "))
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&withVault, "with-vault", false, "restore the Vault secrets first")
	cmd.Flags().BoolVar(&noSafety, "no-safety-backup", false, "do not take a pre-restore safety backup")
	cmd.Flags().StringVar(&target, "target-dir", "", "directory to restore configuration files under instead of /")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

func newRestoreDrillCommand(g *globalOptions, o *restoreOptions) *cobra.Command {
	var keep, asJSON bool
	cmd := &cobra.Command{
		Use:   "drill [<id|latest>] [--keep] [--json]",
		Short: "Run the DR drill: restore into scratch targets and measure RTO and RPO",
		Long: `Restore a set (default: the latest verified one) into a scratch PostgreSQL
database, a private scratch Redis and a temporary config root; compare every
table's row count with the manifest and its rows' MD5 with the live database,
and every key's DUMP with the export; report the measured RTO per component
against the seed targets (PostgreSQL 30 min, Redis 15 min, config 15 min, full
2 h) and the RPO (now minus the snapshot time). Live data is never touched.
Scratch targets are removed unless --keep. Exit 1 when the drill fails.

Settings: MUTT_BACKUP_REDIS_SERVER, the redis-server for the scratch Redis
(default: PATH; "none" borrows an empty database index instead).`,
		Args: func(_ *cobra.Command, args []string) error {
			if len(args) > 1 {
				return usageError{errors.New("drill takes at most one set id")}
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			set := "latest"
			if len(args) == 1 {
				set = args[0]
			}
			keys, err := o.keys()
			if err != nil {
				return err
			}
			cfg, stop, err := g.loadBackupConfig(ctx)
			if err != nil {
				return err
			}
			defer stop()
			m, err := backup.FindSet(o.root, set, backup.ComponentPostgres, backup.ComponentRedis)
			if err != nil {
				return err
			}
			if err := o.checkSignatures(g, m); err != nil {
				return err
			}
			opts := backup.DrillOptions{
				Root: o.root, Manifest: m, Keys: keys, DatabaseURL: app.BackupDatabaseURL(cfg.Postgres),
				PgRestore: o.settings.PgRestore, RedisServer: o.settings.RedisServer, Keep: keep,
			}
			if rdb, err := app.ConnectRedis(ctx, cfg.Redis, g.logger(cfg)); err == nil {
				defer rdb.Close()
				opts.Redis = rdb
			}
			rep, err := backup.Drill(ctx, opts)
			if err != nil {
				return err
			}
			// The record is what `backup status --quarterly` and the
			// MUTTDRDrillOverdue alert look at.
			now := time.Now()
			if err := backup.WriteDrillRecord(o.root, backup.DrillRecordOf(rep, now)); err != nil {
				return fmt.Errorf("recording the DR drill: %w", err)
			}
			if err := backup.WriteMetricsFile(o.root, o.settings.MetricsFile, now); err != nil {
				fmt.Fprintf(g.stderr, "mutt: warning: %v\n", err)
			}
			if asJSON {
				if err := writeJSON(g.stdout, rep); err != nil {
					return err
				}
			} else {
				printDrill(g.stdout, rep)
			}
			if !rep.Passed {
				return fmt.Errorf("DR drill of set %s failed; see the report above", rep.SetID)
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&keep, "keep", false, "leave the scratch database, Redis data and config directory for inspection")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the report as JSON")
	return cmd
}

// printDrill prints a drill report for people.
func printDrill(w io.Writer, rep *backup.DrillReport) {
	fmt.Fprintf(w, "DR drill of set %s (snapshot %s)\n", rep.SetID, rep.SnapshotAt.Format(time.RFC3339))
	for _, s := range rep.Steps {
		fmt.Fprintf(w, "%-9s %s: %s\n", s.Component, s.Status, s.Detail)
		printRTO(w, s.Component, s.RTO, s.Target)
	}
	for _, t := range rep.Tables {
		fmt.Fprintf(w, "  table %-28s %9d rows  %s\n", t.Name, t.Rows, t.Result)
	}
	fmt.Fprintf(w, "  keys: %d match the export, %d differ, %d expired\n", rep.Keys.Matched, rep.Keys.MismatchCount, rep.Keys.Expired)
	for _, k := range rep.Kept {
		fmt.Fprintf(w, "  kept %s\n", k)
	}
	printRTO(w, "full", rep.Total, rep.TotalTarget)
	met := "met"
	if !rep.RPOMet {
		met = "NOT met"
	}
	fmt.Fprintf(w, "RPO: %s (%s target %s)\n", rep.RPO.Round(time.Second), met, rep.RPOTarget)
	if rep.Passed {
		fmt.Fprintln(w, "drill passed")
	} else {
		fmt.Fprintln(w, "drill FAILED")
	}
}
