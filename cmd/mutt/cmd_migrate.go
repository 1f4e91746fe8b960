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
		Short: "Apply the embedded PostgreSQL schema (safe to run again)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := g.loadConfig()
			if err != nil {
				return err
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
