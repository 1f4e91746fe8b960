package main

import (
	"context"
	"encoding/json"
	"errors"

	"github.com/spf13/cobra"

	"github.com/mutt-go/mutt/internal/app"
	"github.com/mutt-go/mutt/internal/config"
	"github.com/mutt-go/mutt/internal/ruletest"
	"github.com/mutt-go/mutt/internal/store"
)

func newRulesCommand(g *globalOptions) *cobra.Command {
	cmd := &cobra.Command{Use: "rules", Short: "Work with alert rules"}
	var raw string
	test := &cobra.Command{
		Use:     "test --event JSON",
		Short:   "Show which rule an event would match and what would happen (no side effects)",
		Example: `  mutt rules test --event '{"hostname":"router1","message":"%LINK-3-UPDOWN: Interface Gi0/1, changed state to down","timestamp":"2025-01-15T14:30:22Z"}'`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if raw == "" {
				return usageError{errors.New("--event is required")}
			}
			cfg, err := g.loadConfig()
			if err != nil {
				return err
			}
			ev, err := ruletest.Normalize([]byte(raw), cfg.Ingest.RequiredFields)
			if err != nil {
				return usageError{err}
			}
			set, err := g.loadRuleSet(cmd.Context(), cfg)
			if err != nil {
				return err
			}
			return json.NewEncoder(g.stdout).Encode(ruletest.Decide(ev, set, cfg.Alerter.UnhandledDefaultTeam))
		},
	}
	test.Flags().StringVar(&raw, "event", "", "the event as a JSON object")
	cmd.AddCommand(test, newRulesImportCommand(g))
	return cmd
}

// loadRuleSet reads the rule set the alerter would load: from the embedded
// database of the data directory, or from PostgreSQL.
func (g *globalOptions) loadRuleSet(ctx context.Context, cfg config.Config) (store.RuleSet, error) {
	if g.embedded(cfg) {
		db, err := openEmbeddedDB(ctx, cfg)
		if err != nil {
			return store.RuleSet{}, err
		}
		defer db.Close()
		return db.LoadRuleSet(ctx)
	}
	pool, err := app.ConnectPostgres(ctx, cfg.Postgres, g.logger(cfg))
	if err != nil {
		return store.RuleSet{}, err
	}
	defer pool.Close()
	return store.New(pool).LoadRuleSet(ctx)
}
