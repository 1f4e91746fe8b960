package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"strconv"
	"time"

	"github.com/spf13/cobra"

	"github.com/mutt-go/mutt/internal/fakemoog"
	"github.com/mutt-go/mutt/internal/secrets"
)

func newFakeMoogCommand(g *globalOptions) *cobra.Command {
	var (
		listen string
		quiet  bool
		noAuth bool
		mode   fakemoog.Mode
	)
	cmd := &cobra.Command{
		Use:   "fake-moog",
		Short: "Run a stand-in for the Moogsoft webhook, for tests and outage drills",
		Long: `Run a stand-in for the Moogsoft event webhook. It accepts POST /events and
/api/v1/events, counts alerts by external_id (so duplicates show), and can be told to
misbehave: a fixed status, 429 with Retry-After, a fraction of failures, slow answers or
dropped connections — from the flags at start, or at run time with POST /mode.

When MOOG_API_KEY (or MOOG_API_KEY_FILE) is set, requests must carry it as a bearer token,
as the real webhook requires; --no-auth accepts any request.

Endpoints: GET /stats (counts), GET /health, GET|POST /mode, POST /reset.`,
		Example: `  mutt fake-moog --listen 127.0.0.1:18080
  curl -X POST localhost:18080/mode -d '{"status":503}'                 # outage
  curl -X POST localhost:18080/mode -d '{"status":429,"retry_after_seconds":5}'
  curl -X POST localhost:18080/mode -d '{"fail_fraction":0.2,"delay_ms":250}'
  curl -X POST localhost:18080/mode -d '{}'                             # healthy again
  curl localhost:18080/stats`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := mode.Validate(); err != nil {
				return usageError{fmt.Errorf("invalid mode flags: %w", err)}
			}
			opts := fakemoog.Options{Mode: mode}
			if !noAuth {
				key, ok, err := secrets.FromEnv(os.LookupEnv, "MOOG_API_KEY")
				if err != nil {
					return usageError{err}
				}
				if ok {
					opts.APIKey = key.Reveal()
				}
			}
			return runFakeMoog(cmd.Context(), g, listen, quiet, opts)
		},
	}
	f := cmd.Flags()
	f.StringVar(&listen, "listen", "127.0.0.1:18080", "address to listen on (port 0 picks a free one)")
	f.BoolVar(&quiet, "quiet", false, "do not print a line of counts every second")
	f.BoolVar(&noAuth, "no-auth", false, "accept requests without checking MOOG_API_KEY")
	f.IntVar(&mode.Status, "status", 0, "answer every event with this status (e.g. 503, 429; 0 = accept)")
	f.DurationVar(&mode.RetryAfter, "retry-after", 0, "Retry-After sent with error answers")
	f.Float64Var(&mode.FailFraction, "fail-fraction", 0, "fraction of events (0 to 1) answered with --fail-status")
	f.IntVar(&mode.FailStatus, "fail-status", 503, "status of the --fail-fraction failures")
	f.DurationVar(&mode.Delay, "delay", 0, "hold every answer this long")
	f.BoolVar(&mode.Drop, "drop", false, "close every connection without an answer")
	return cmd
}

// runFakeMoog serves until ctx ends, printing the address first and then,
// unless quiet, a line of counts every second.
func runFakeMoog(ctx context.Context, g *globalOptions, listen string, quiet bool, opts fakemoog.Options) error {
	srv := fakemoog.New(opts)
	ln, err := net.Listen("tcp", listen)
	if err != nil {
		return fmt.Errorf("listening on %s (is another fake-moog running? pick a port with --listen): %w", listen, err)
	}
	hs := &http.Server{Handler: srv, ReadHeaderTimeout: 10 * time.Second}
	auth := "no API key required"
	if opts.APIKey != "" {
		auth = "requiring MOOG_API_KEY as a bearer token"
	}
	fmt.Fprintf(g.stdout, "fake-moog listening on http://%s (%s)\n", ln.Addr(), auth)

	served := make(chan error, 1)
	go func() { served <- hs.Serve(ln) }()
	var tick <-chan time.Time
	if !quiet {
		t := time.NewTicker(time.Second)
		defer t.Stop()
		tick = t.C
	}
	var prev int64
	for {
		select {
		case err := <-served:
			return fmt.Errorf("serving fake-moog: %w", err)
		case <-tick:
			st := srv.Stats()
			var refused int64
			for code, n := range st.ByStatus {
				if c, _ := strconv.Atoi(code); c < 200 || c >= 300 {
					refused += n
				}
			}
			fmt.Fprintf(g.stdout, "received %d (+%d/s), distinct %d, duplicates %d, refused %d, dropped %d\n",
				st.Count, st.Count-prev, st.Distinct, st.Duplicates, refused, st.Dropped)
			prev = st.Count
		case <-ctx.Done():
			sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			if err := hs.Shutdown(sctx); err != nil && !errors.Is(err, context.DeadlineExceeded) {
				return fmt.Errorf("stopping fake-moog: %w", err)
			}
			st := srv.Stats()
			fmt.Fprintf(g.stdout, "fake-moog stopped: received %d, distinct %d, duplicates %d\n", st.Count, st.Distinct, st.Duplicates)
			return nil
		}
	}
}
