package main

import (
	"errors"
	"fmt"
	"maps"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/spf13/cobra"

	"github.com/mutt-go/mutt/internal/app"
	"github.com/mutt-go/mutt/internal/backup"
	"github.com/mutt-go/mutt/internal/config"
	"github.com/mutt-go/mutt/internal/store"
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
	o := &restoreOptions{}
	cmd := &cobra.Command{
		Use:   "restore",
		Short: "Restore Redis keys or the PostgreSQL database from a backup set",
		Long: `Restore one component of a backup set made by mutt backup run.

Every artifact of the component is verified (size, SHA-256, age header) and
decrypted with MUTT_BACKUP_IDENTITY_FILE (or MUTT_BACKUP_PASSPHRASE_FILE)
before anything is changed. A restore refuses to run while MUTT services
consume the queues, unless --force is given, and asks for confirmation unless
--yes is given.

Exit codes: 0 ok, 1 verification or restore failed (nothing changed), 2 usage
error, refused confirmation or running services.`,
	}
	root := os.Getenv("MUTT_BACKUP_ROOT")
	if root == "" {
		root = defaultBackupRoot
	}
	pf := cmd.PersistentFlags()
	pf.StringVar(&o.root, "root", root, "backup root (env MUTT_BACKUP_ROOT)")
	pf.BoolVar(&o.yes, "yes", false, "do not ask for confirmation")
	pf.BoolVar(&o.force, "force", false, "restore even while MUTT services are consuming the queues")
	cmd.AddCommand(newRestoreRedisCommand(g, o), newRestorePostgresCommand(g, o))
	return cmd
}

// oneSetArg accepts exactly one set id or "latest".
func oneSetArg(_ *cobra.Command, args []string) error {
	if len(args) != 1 {
		return usageError{errors.New("give one set id or latest")}
	}
	return nil
}

// checkServices refuses while alerter or forwarder consumers were active
// in the last liveConsumerIdle, unless --force.
func (o *restoreOptions) checkServices(cmd *cobra.Command, g *globalOptions, cfg config.Config) error {
	if o.force {
		return nil
	}
	rdb, err := app.ConnectRedis(cmd.Context(), cfg.Redis, g.logger(cfg))
	if err != nil {
		return usageError{fmt.Errorf("cannot check for running MUTT services (%v); pass --force to restore anyway", err)}
	}
	defer rdb.Close()
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
		classes []string
		mode    string
	)
	cmd := &cobra.Command{
		Use:   "redis <id|latest> [--classes config,dlq,unhandled,queues] [--mode merge|replace]",
		Short: "Restore Redis keys of the chosen classes",
		Long: `Write the Redis keys of a backup set back. Only the chosen classes are restored
(default config, dlq, unhandled). In merge mode (the default) an existing key is
kept; in replace mode it is overwritten. Restored config keys are announced on
the config updates channel so running services reload them.`,
		Args: oneSetArg,
		RunE: func(cmd *cobra.Command, args []string) error {
			start := time.Now()
			if mode != "merge" && mode != "replace" {
				return usageError{fmt.Errorf("unknown mode %q: use merge or replace", mode)}
			}
			keys, cfg, m, err := o.prepare(cmd, g, args[0], backup.ComponentRedis)
			if err != nil {
				return err
			}
			if len(classes) == 0 {
				classes = backup.DefaultRedisRestoreClasses()
			}
			if err := confirm(cmd, g, o.yes, "restore", fmt.Sprintf("restore Redis classes %s from set %s in %s mode?", strings.Join(classes, ","), m.SetID, mode)); err != nil {
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
	return cmd
}

// prepare does what every restore does before asking to go ahead: load the
// keys and the configuration, find the set, verify the component's
// artifacts, and make sure no MUTT service is consuming.
func (o *restoreOptions) prepare(cmd *cobra.Command, g *globalOptions, set, component string) (*backup.Keys, config.Config, *backup.Manifest, error) {
	keys, err := o.keys()
	if err != nil {
		return nil, config.Config{}, nil, err
	}
	cfg, err := g.loadConfig()
	if err != nil {
		return nil, cfg, nil, err
	}
	m, err := findSet(o.root, set)
	if err != nil {
		return nil, cfg, nil, err
	}
	if _, err := backup.VerifyComponent(o.root, m, component); err != nil {
		return nil, cfg, nil, err
	}
	if err := o.checkServices(cmd, g, cfg); err != nil {
		return nil, cfg, nil, err
	}
	return keys, cfg, m, nil
}

func newRestorePostgresCommand(g *globalOptions, o *restoreOptions) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "postgres <id|latest>",
		Short: "Restore the PostgreSQL database and swap it in",
		Long: `Restore the database of a backup set into a new scratch database, compare its
row counts with the manifest and only then swap it in: the live database is
renamed to <db>_pre_restore_<time> and kept, the scratch database takes its
name. Any failure before the swap leaves the live database untouched.

Settings: MUTT_BACKUP_PG_RESTORE, the pg_restore to use (default: PATH).`,
		Args: oneSetArg,
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			start := time.Now()
			keys, cfg, m, err := o.prepare(cmd, g, args[0], backup.ComponentPostgres)
			if err != nil {
				return err
			}
			var liveVersion int64
			if pool, err := app.ConnectPostgres(ctx, cfg.Postgres, g.logger(cfg)); err == nil {
				liveVersion, _ = store.SchemaVersion(ctx, pool)
				pool.Close()
			}
			if err := confirm(cmd, g, o.yes, "restore", fmt.Sprintf("replace the live MUTT database with the one of set %s?", m.SetID)); err != nil {
				return err
			}
			res, err := backup.RestorePostgresSet(ctx, backup.PostgresRestoreOptions{
				Root: o.root, Manifest: m, Keys: keys, DatabaseURL: backupDatabaseURL(cfg.Postgres),
				PgRestore: os.Getenv("MUTT_BACKUP_PG_RESTORE"),
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
			if m.SchemaVersion < liveVersion {
				fmt.Fprintf(g.stdout, "the restored schema is version %d, older than %d: run `mutt migrate` before starting the services\n", m.SchemaVersion, liveVersion)
			}
			fmt.Fprintf(g.stdout, "RTO: %s\n", time.Since(start).Round(time.Millisecond))
			return nil
		},
	}
	return cmd
}
