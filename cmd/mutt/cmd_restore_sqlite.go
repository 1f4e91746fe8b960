package main

import (
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/mutt-go/mutt/internal/backup"
)

func newRestoreSQLiteCommand(g *globalOptions, o *restoreOptions) *cobra.Command {
	var (
		dataDir string
		asJSON  bool
	)
	cmd := &cobra.Command{
		Use:   "sqlite <id|latest> [--data-dir DIR]",
		Short: "Restore the embedded mode's database from a backup set",
		Long: `Restore the embedded database (mutt.db) of a set into the data directory
(MUTT_DATA_DIR, or --data-dir). It takes the data directory's lock first, so it
refuses while mutt serve runs there: stop the server before restoring. The set's
copy is decrypted beside the live database, checked with PRAGMA integrity_check
and its row counts compared with the manifest; only then is it renamed over
mutt.db. The previous database and its WAL are kept as
mutt.db.pre_restore_<time>_<4 hex>. Nothing in the data directory is written
through a symbolic link; a mutt.db that is a link is refused.`,
		Args: oneSetArg,
		RunE: func(cmd *cobra.Command, args []string) error {
			start := time.Now()
			keys, err := o.keys()
			if err != nil {
				return err
			}
			if dataDir == "" {
				cfg, err := g.loadConfig()
				if err != nil {
					return err
				}
				dataDir = cfg.Storage.DataDir
			}
			m, err := backup.FindSet(o.root, args[0], backup.ComponentSQLite)
			if err != nil {
				return err
			}
			if err := o.checkSignatures(g, m); err != nil {
				return err
			}
			if _, err := backup.VerifyComponent(o.root, m, backup.ComponentSQLite); err != nil {
				return err
			}
			if err := o.confirmWrite(cmd, g, false, fmt.Sprintf("replace the embedded database in %s with the one of set %s?", dataDir, m.SetID)); err != nil {
				return err
			}
			res, err := backup.RestoreSQLite(cmd.Context(), backup.RestoreOptions{Root: o.root, Manifest: m, Keys: keys, DataDir: dataDir})
			if err != nil {
				return err
			}
			if asJSON {
				return writeJSON(g.stdout, res)
			}
			fmt.Fprintf(g.stdout, "restored %s from set %s; %d table counts match the manifest\n", res.Database, m.SetID, res.Tables)
			if res.PreRestore != "" {
				fmt.Fprintf(g.stdout, "the previous database is kept as %s\n", res.PreRestore)
			}
			printRTO(g.stdout, backup.ComponentSQLite, time.Since(start), backup.RTOTarget(backup.ComponentSQLite))
			fmt.Fprintln(g.stdout, "next: start mutt serve and run `mutt health`")
			return nil
		},
	}
	cmd.Flags().StringVar(&dataDir, "data-dir", "", "data directory to restore into (default MUTT_DATA_DIR)")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}
