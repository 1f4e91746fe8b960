package main

import (
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/mutt-go/mutt/internal/secrets"
	"github.com/mutt-go/mutt/internal/sender"
)

func newSendCommand(g *globalOptions) *cobra.Command {
	var (
		opts     sender.Options
		generate int
		seed     int64
		progress string
		native   nativeSendOptions
	)
	cmd := &cobra.Command{
		Use:   "send [FILE.json ...]",
		Short: "Send sample events (or generated load) to the HTTP ingest API",
		Long: `Send events to a running ingestor: the JSON files given (an array of events, or
SNMP trap records, which are converted as the trap collector would), or --generate N
synthetic events. The API key comes from INGEST_API_KEY or INGEST_API_KEY_FILE, never
from the command line. A progress bar is drawn when standard error is a terminal.`,
		Example: `  INGEST_API_KEY_FILE=key mutt send --retimestamp ../shared/data/*.json
  mutt send --generate 100000 --batch 100 --concurrency 8
  mutt send --syslog udp://127.0.0.1:5514 --rfc3164 ../shared/data/demo_syslog_events.json
  SNMP_COMMUNITY=public mutt send --trap 127.0.0.1:10162 --inform ../shared/data/demo_snmp_traps.json`,
		RunE: func(cmd *cobra.Command, files []string) error {
			if len(files) == 0 && generate == 0 {
				return usageError{errors.New("nothing to send: name event files or use --generate N")}
			}
			if native.active() {
				return g.runNativeSend(cmd.Context(), native, files, generate, seed, opts.Repeat, opts.Rate)
			}
			key, ok, err := secrets.FromEnv(os.LookupEnv, "INGEST_API_KEY")
			if err != nil {
				return usageError{err}
			}
			if !ok {
				return usageError{errors.New("INGEST_API_KEY or INGEST_API_KEY_FILE must be set to the ingestor's API key")}
			}
			opts.APIKey = key.Reveal()
			if len(files) > 0 {
				if opts.Events, err = sender.Load(files...); err != nil {
					return err
				}
			}
			if generate > 0 {
				opts.Events = append(opts.Events, sender.Generate(generate, seed)...)
			}
			switch progress {
			case "always":
				opts.Progress = g.stderr
			case "auto":
				if f, ok := g.stderr.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
					opts.Progress = g.stderr
				}
			case "never":
			default:
				return usageError{fmt.Errorf("--progress must be auto, always or never, got %q", progress)}
			}
			summary, err := sender.Run(cmd.Context(), opts)
			fmt.Fprintln(g.stdout, summary.String())
			if err != nil {
				return err
			}
			if summary.Rejected > 0 || summary.Failed > 0 {
				return fmt.Errorf("%d events rejected and %d failed of %d", summary.Rejected, summary.Failed, summary.Events)
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&opts.URL, "url", envOr("MUTT_INGEST_URL", "http://127.0.0.1:8080"), "ingestor base URL (env MUTT_INGEST_URL)")
	f.IntVar(&opts.BatchSize, "batch", 100, "events per request (1 = one JSON object per request)")
	f.IntVar(&opts.Concurrency, "concurrency", 4, "requests in flight")
	f.IntVar(&opts.Repeat, "repeat", 1, "send the whole set this many times")
	f.Float64Var(&opts.Rate, "rate", 0, "events per second (0 = as fast as possible)")
	f.BoolVar(&opts.Retimestamp, "retimestamp", false, "stamp every event with the send time")
	f.IntVar(&opts.MaxRetries, "retries", 5, "retries per request on 429, 503 and connection errors")
	f.DurationVar(&opts.RetryBackoffCap, "backoff-cap", 5*time.Second, "longest wait between retries without Retry-After")
	f.IntVar(&generate, "generate", 0, "also send N synthetic events")
	f.Int64Var(&seed, "seed", 1, "seed for --generate")
	f.StringVar(&progress, "progress", "auto", "progress bar: auto, always or never")
	native.register(f)
	return cmd
}

func envOr(name, fallback string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return fallback
}
