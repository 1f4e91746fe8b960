package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/mutt-go/mutt/internal/app"
	"github.com/mutt-go/mutt/internal/version"
)

func newServeCommand(g *globalOptions) *cobra.Command {
	var only string
	var noMigrate, dev bool
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run MUTT's services in one process (all by default)",
		Long: `Run MUTT's services in one process. By default every role runs; --only picks some.
The syslog and snmptrap receivers run when their listen addresses are set.
The schema is migrated first unless --no-migrate is given. SIGHUP reloads rules;
SIGINT or SIGTERM stops after the work in hand is finished.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var roles []string // nil: app.DefaultRoles
			if only != "" {
				var err error
				if roles, err = app.ParseRoles(only); err != nil {
					return usageError{err}
				}
			}
			return g.serve(cmd.Context(), roles, !noMigrate, dev)
		},
	}
	cmd.Flags().StringVar(&only, "only", "", "comma-separated roles to run: ingestor,alerter,forwarder,remediation,webui,syslog,snmptrap")
	cmd.Flags().BoolVar(&noMigrate, "no-migrate", false, "do not apply schema migrations at start")
	cmd.Flags().BoolVar(&dev, "dev", false, "development mode: run the web UI without a configured API key (a generated key is printed once)")
	return cmd
}

func newRoleCommand(g *globalOptions, role, short string) *cobra.Command {
	var migrate, dev bool
	cmd := &cobra.Command{
		Use:   role,
		Short: short,
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return g.serve(cmd.Context(), []string{role}, migrate, dev)
		},
	}
	cmd.Flags().BoolVar(&migrate, "migrate", false, "apply schema migrations at start")
	if role == app.RoleWebUI {
		cmd.Flags().BoolVar(&dev, "dev", false, "development mode: run without a configured API key (a generated key is printed once)")
	}
	return cmd
}

func (g *globalOptions) serve(ctx context.Context, roles []string, migrate, dev bool) error {
	cfg, err := g.loadConfig()
	if err != nil {
		return err
	}
	cfg.Web.Dev = dev
	if roles == nil {
		roles = app.DefaultRoles(cfg)
	}
	logger := g.logger(cfg)
	stopSecrets, err := app.ResolveSecrets(ctx, &cfg, logger)
	if err != nil {
		return err
	}
	defer stopSecrets()
	srv, err := app.NewServer(ctx, cfg, app.ServeOptions{Roles: roles, Migrate: migrate, Version: version.Version(), Ready: notifyReady(logger)}, logger)
	if err != nil {
		return err
	}
	defer srv.Close()
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	go func() {
		for range hup {
			logger.Info("SIGHUP: reloading")
			srv.Reload()
		}
	}()
	return srv.Run(ctx)
}
