package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/mutt-go/mutt/internal/app"
	"github.com/mutt-go/mutt/internal/store"
)

func newMigrateCommand(g *globalOptions) *cobra.Command {
	return &cobra.Command{
		Use:   "migrate",
		Short: "Apply this binary's schema to PostgreSQL, or to the embedded database (safe to run again)",
		Long: `Apply the schema migrations this binary carries that the database lacks. In the
Redis + PostgreSQL mode that is PostgreSQL; in the embedded mode (MUTT_DATA_DIR) the
database of the data directory, which mutt serve also migrates when it starts.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := g.loadConfig()
			if err != nil {
				return err
			}
			if g.embedded(cfg) {
				// Opening the database applies its migrations.
				db, err := openEmbeddedDB(cmd.Context(), cfg)
				if err != nil {
					return err
				}
				defer db.Close()
				v, err := db.SchemaVersion(cmd.Context())
				if err != nil {
					return err
				}
				fmt.Fprintf(g.stdout, "%s: schema at version %d\n", db.Path(), v)
				return nil
			}
			logger := g.logger(cfg)
			pool, err := app.ConnectPostgres(cmd.Context(), cfg.Postgres, logger)
			if err != nil {
				return err
			}
			defer pool.Close()
			if err := store.Migrate(cmd.Context(), pool, logger); err != nil {
				return err
			}
			v, err := store.SchemaVersion(cmd.Context(), pool)
			if err != nil {
				return err
			}
			fmt.Fprintf(g.stdout, "schema at version %d\n", v)
			return nil
		},
	}
}
