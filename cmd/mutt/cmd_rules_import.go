package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/mutt-go/mutt/internal/app"
	"github.com/mutt-go/mutt/internal/config"
	"github.com/mutt-go/mutt/internal/embedded/sqlstore"
	"github.com/mutt-go/mutt/internal/store"
)

// ruleImport is the file `mutt rules import` reads: rules, development
// hosts and device teams, in the REST API's field names.
type ruleImport struct {
	Rules    []store.Rule `json:"rules"`
	DevHosts []string     `json:"dev_hosts"`
	Teams    []store.Team `json:"teams"`
}

// ruleWriter is what an import needs of a store; the PostgreSQL store and
// the embedded database both have it.
type ruleWriter interface {
	ListRules(ctx context.Context) ([]store.Rule, error)
	CreateRule(ctx context.Context, r store.Rule, a store.Actor) (int64, error)
	AddDevHost(ctx context.Context, hostname string, a store.Actor) error
	AddTeam(ctx context.Context, t store.Team, a store.Actor) error
}

func newRulesImportCommand(g *globalOptions) *cobra.Command {
	var ifEmpty bool
	var reason string
	cmd := &cobra.Command{
		Use:   "import FILE",
		Short: "Create the rules, development hosts and device teams of a JSON file, each change audited",
		Long: `Create every rule, development host and device team of FILE, a JSON object
{"rules": [...], "dev_hosts": [...], "teams": [...]} with the REST API's field names,
each with its config_audit_log row (changed_by cli:<user>). On the embedded store the
database is created when the data directory has none yet. Nothing is replaced: an import
adds to what is there, and --if-empty skips it when any rule exists.`,
		Example: `  mutt rules import scripts/demo-rules.json --if-empty`,
		Args:    configArgs(1, "the JSON file to import"),
		RunE: func(cmd *cobra.Command, args []string) error {
			raw, err := os.ReadFile(args[0])
			if err != nil {
				return usageError{err}
			}
			var in ruleImport
			dec := json.NewDecoder(bytes.NewReader(raw))
			dec.DisallowUnknownFields()
			if err := dec.Decode(&in); err != nil {
				return usageError{fmt.Errorf("%s: %w", args[0], err)}
			}
			cfg, err := g.loadConfig()
			if err != nil {
				return err
			}
			w, closeStore, err := openRuleWriter(cmd.Context(), g, cfg)
			if err != nil {
				return err
			}
			defer closeStore()
			return importRules(cmd.Context(), w, in, ifEmpty, configActor(reason), g)
		},
	}
	cmd.Flags().BoolVar(&ifEmpty, "if-empty", false, "import only when there is no rule yet")
	cmd.Flags().StringVar(&reason, "reason", "imported with mutt rules import", "reason recorded in the audit log")
	return cmd
}

// openRuleWriter opens the store of cfg's storage mode for writing.
func openRuleWriter(ctx context.Context, g *globalOptions, cfg config.Config) (ruleWriter, func(), error) {
	mode, err := cfg.StorageMode()
	if err != nil {
		return nil, nil, err
	}
	if mode == config.StorageEmbedded {
		if err := os.MkdirAll(cfg.Storage.DataDir, 0o700); err != nil {
			return nil, nil, fmt.Errorf("creating the data directory (MUTT_DATA_DIR=%s): %w", cfg.Storage.DataDir, err)
		}
		db, err := sqlstore.Open(ctx, cfg.Storage.DatabaseFile())
		if err != nil {
			return nil, nil, fmt.Errorf("opening the embedded database (MUTT_DATA_DIR=%s): %w", cfg.Storage.DataDir, err)
		}
		return db, func() { _ = db.Close() }, nil
	}
	pool, err := app.ConnectPostgres(ctx, cfg.Postgres, g.logger(cfg))
	if err != nil {
		return nil, nil, err
	}
	return store.New(pool), pool.Close, nil
}

func importRules(ctx context.Context, w ruleWriter, in ruleImport, ifEmpty bool, actor store.Actor, g *globalOptions) error {
	if ifEmpty {
		existing, err := w.ListRules(ctx)
		if err != nil {
			return err
		}
		if len(existing) > 0 {
			fmt.Fprintf(g.stdout, "%d rules exist; nothing imported (--if-empty)\n", len(existing))
			return nil
		}
	}
	for i, r := range in.Rules {
		if _, err := w.CreateRule(ctx, r, actor); err != nil {
			return fmt.Errorf("rule %d of the file: %w", i+1, err)
		}
	}
	for _, h := range in.DevHosts {
		if err := w.AddDevHost(ctx, h, actor); err != nil {
			return fmt.Errorf("development host %q: %w", h, err)
		}
	}
	for _, t := range in.Teams {
		if err := w.AddTeam(ctx, t, actor); err != nil {
			return fmt.Errorf("device team of %q: %w", t.Hostname, err)
		}
	}
	fmt.Fprintf(g.stdout, "imported %d rules, %d development hosts, %d device teams\n", len(in.Rules), len(in.DevHosts), len(in.Teams))
	return nil
}
