package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/mutt-go/mutt/internal/embedded/sqlstore"
	"github.com/mutt-go/mutt/internal/health"
)

func newHealthCommand(g *globalOptions) *cobra.Command {
	var (
		roles   []string
		asJSON  bool
		timeout time.Duration
	)
	cmd := &cobra.Command{
		Use:   "health",
		Short: "Check MUTT and its storage (Redis and PostgreSQL, or the embedded database), queues and every role's /health",
		Long: `Check, concurrently and each within --timeout, that Redis answers (and has memory
headroom), that PostgreSQL answers and its schema matches this binary, how deep
the work and dead-letter queues are, and that each role's /health endpoint on
its configured address says healthy. In the embedded mode (MUTT_DATA_DIR) the
database of the data directory takes the place of Redis and PostgreSQL, and the
server check fails when no mutt serve holds the data directory. A role that is not listening is skipped,
unless it is named with --role; when no role answers at all, the roles check
fails: nothing of MUTT runs where this host's settings point.

Exit status: 0 when every check is ok or only warns, 1 when any check fails,
2 on bad flags or configuration.`,
		Example: `  mutt health
  mutt health --role alerter,forwarder --timeout 5s
  mutt health --json | jq '.checks[] | select(.status != "ok")'`,
		Args: func(_ *cobra.Command, args []string) error {
			if len(args) > 0 {
				return usageError{fmt.Errorf("health takes no arguments, got %q", args)}
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, _ []string) error {
			opts, err := healthOptions(roles, timeout)
			if err != nil {
				return err
			}
			cfg, err := g.loadConfig()
			if err != nil {
				return err
			}
			opts.Config = cfg
			opts.Logger = g.logger(cfg)
			if g.embedded(cfg) {
				opts.OpenDatabase = func(ctx context.Context) (*sqlstore.DB, error) { return openEmbeddedDB(ctx, cfg) }
			}
			report := health.Run(cmd.Context(), opts)
			if asJSON {
				enc := json.NewEncoder(g.stdout)
				enc.SetIndent("", "  ")
				if err := enc.Encode(report); err != nil {
					return fmt.Errorf("writing report: %w", err)
				}
			} else if err := printHealth(g.stdout, report); err != nil {
				return err
			}
			return healthResult(report)
		},
	}
	fs := cmd.Flags()
	fs.StringSliceVar(&roles, "role", nil, "check only these roles' endpoints and fail when one is not running: "+
		strings.Join(health.RoleNames(), ", "))
	fs.BoolVar(&asJSON, "json", false, "print the report as one JSON object")
	fs.DurationVar(&timeout, "timeout", health.DefaultTimeout, "time each check may take")
	return cmd
}

// healthOptions checks the flags before anything is contacted.
func healthOptions(roles []string, timeout time.Duration) (health.Options, error) {
	if timeout <= 0 {
		return health.Options{}, usageError{fmt.Errorf("--timeout must be positive, got %s", timeout)}
	}
	opts := health.Options{Timeout: timeout, ExpectRunning: true}
	for _, r := range roles {
		r = strings.TrimSpace(r)
		if !health.IsRole(r) {
			return opts, usageError{fmt.Errorf("--role %q: roles are %s", r, strings.Join(health.RoleNames(), ", "))}
		}
		opts.Roles = append(opts.Roles, r)
	}
	return opts, nil
}

// healthWord is a status in the vocabulary of the health-check script.
func healthWord(s health.Status) string {
	switch s {
	case health.StatusOK:
		return "OK"
	case health.StatusWarn:
		return "WARNING"
	case health.StatusFail:
		return "ERROR"
	case health.StatusSkipped:
		return "SKIPPED"
	}
	return strings.ToUpper(string(s))
}

// printHealth writes one line per check, then the overall status.
func printHealth(w io.Writer, r health.Report) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "STATUS\tCHECK\tLATENCY\tDETAIL")
	counts := map[health.Status]int{}
	for _, c := range r.Checks {
		counts[c.Status]++
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", healthWord(c.Status), c.Name, c.Latency.Round(100*time.Microsecond), c.Detail)
	}
	if err := tw.Flush(); err != nil {
		return fmt.Errorf("writing report: %w", err)
	}
	_, err := fmt.Fprintf(w, "\noverall: %s (%d ok, %d warning, %d error, %d skipped)\n", healthWord(r.Status),
		counts[health.StatusOK], counts[health.StatusWarn], counts[health.StatusFail], counts[health.StatusSkipped])
	if err != nil {
		return fmt.Errorf("writing report: %w", err)
	}
	return nil
}

// healthResult maps the report to the exit status: failures exit 1.
func healthResult(r health.Report) error {
	failed := r.Failed()
	if len(failed) == 0 {
		return nil
	}
	names := make([]string, len(failed))
	for i, c := range failed {
		names[i] = c.Name
	}
	return exitCodeError{code: exitFailure, err: errors.New("unhealthy: " + strings.Join(names, ", ") +
		" failed; see the details above")}
}
