package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/mutt-go/mutt/internal/slo"
)

// defaultPrometheusURL is where `mutt slo check` looks without a flag or
// PROMETHEUS_URL.
const defaultPrometheusURL = "http://localhost:9090"

// sloCheckOptions are the flags of `mutt slo check`.
type sloCheckOptions struct {
	prometheusURL string
	json          bool
}

func newSLOCommand(g *globalOptions) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "slo",
		Short: "Evaluate the service level objectives against Prometheus",
		Args:  cobra.NoArgs,
	}
	cmd.AddCommand(newSLOCheckCommand(g))
	return cmd
}

func newSLOCheckCommand(g *globalOptions) *cobra.Command {
	opts := sloCheckOptions{prometheusURL: os.Getenv("PROMETHEUS_URL")}
	if opts.prometheusURL == "" {
		opts.prometheusURL = defaultPrometheusURL
	}
	cmd := &cobra.Command{
		Use:   "check",
		Short: "Print every SLO's status; exit 1 if any is critical",
		Long: `Evaluates the six SLOs (ingestor and forwarder availability and p99 latency,
alerter processing and rule-cache reload success) with their default windows and
thresholds, and prints a table or, with --json, the document GET /api/v1/slo returns.

Exit status: 0 when no SLO is critical, 1 when one is (an SLO Prometheus has no
data for counts as critical).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runSLOCheck(cmd, g, opts)
		},
	}
	f := cmd.Flags()
	f.StringVar(&opts.prometheusURL, "prometheus-url", opts.prometheusURL, "Prometheus base URL (env PROMETHEUS_URL)")
	f.BoolVar(&opts.json, "json", false, "print the report as JSON")
	return cmd
}

func runSLOCheck(cmd *cobra.Command, g *globalOptions, opts sloCheckOptions) error {
	e := slo.NewEvaluator(opts.prometheusURL, nil, nil)
	report, err := e.Report(cmd.Context(), time.Now())
	if err != nil {
		if cmd.Context().Err() != nil {
			return err
		}
		return usageError{fmt.Errorf("%w; pass --prometheus-url or set PROMETHEUS_URL", err)}
	}
	if opts.json {
		enc := json.NewEncoder(g.stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(report); err != nil {
			return fmt.Errorf("writing the SLO report: %w", err)
		}
	} else if err := writeSLOTable(g.stdout, report); err != nil {
		return fmt.Errorf("writing the SLO report: %w", err)
	}
	if crit := report.Critical(); len(crit) > 0 {
		names := make([]string, len(crit))
		for i, r := range crit {
			names[i] = r.Name
		}
		return exitCodeError{code: exitFailure, err: fmt.Errorf("%d of %d SLOs critical: %s (Prometheus %s)",
			len(crit), len(report.SLOs), strings.Join(names, ", "), opts.prometheusURL)}
	}
	return nil
}

// writeSLOTable prints one line per SLO.
func writeSLOTable(w io.Writer, r slo.Report) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "SLO\tSTATUS\tVALUE\tTARGET\tBURN\tWINDOW\tMESSAGE")
	for _, s := range r.SLOs {
		value, target := "-", "-"
		switch {
		case s.TargetSeconds != nil:
			target = fmt.Sprintf("%.3fs", *s.TargetSeconds)
			if s.ActualValue != nil {
				value = fmt.Sprintf("%.3fs", *s.ActualValue)
			}
		case s.Target != nil:
			target = fmt.Sprintf("%.4f", *s.Target)
			if s.ActualValue != nil {
				value = fmt.Sprintf("%.4f", *s.ActualValue)
			}
		}
		burn := "-"
		if s.BurnRate != nil {
			burn = fmt.Sprintf("%.2f", *s.BurnRate)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%dh\t%s\n", s.Name, s.Status, value, target, burn, s.WindowHours, s.Message)
	}
	fmt.Fprintf(tw, "\nevaluated at %s\n", r.Timestamp.Format(time.RFC3339))
	return tw.Flush()
}
