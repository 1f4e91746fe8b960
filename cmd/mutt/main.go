// Command mutt is MUTT, the Multi-Use Telemetry Tool: every service and
// every operator tool of the event pipeline in one binary.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/redis/go-redis/v9"
	"github.com/spf13/cobra"

	"github.com/mutt-go/mutt/internal/config"
	"github.com/mutt-go/mutt/internal/obs"
	"github.com/mutt-go/mutt/internal/version"
)

// Exit codes shared by every subcommand.
const (
	exitOK      = 0
	exitFailure = 1
	exitUsage   = 2 // bad flags, bad configuration

	exitInterrupted = 130 // stopped by SIGINT or SIGTERM before finishing
)

// globalOptions are the flags every subcommand accepts.
type globalOptions struct {
	configFile  string
	redisURL    string
	databaseURL string
	keyPrefix   string
	logLevel    string
	logFormat   string
	stdout      io.Writer
	stderr      io.Writer
	// overrides are a subcommand's flags, applied after the environment.
	overrides []func(*config.Config)
}

// exitCodeError carries an exit code other than the generic failure.
type exitCodeError struct {
	code int
	err  error
}

func (e exitCodeError) Error() string { return e.err.Error() }
func (e exitCodeError) Unwrap() error { return e.err }

// ExitCode is the process exit code the error asks for.
func (e exitCodeError) ExitCode() int { return e.code }

// usageError marks errors that exit with exitUsage.
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// quietRedis drops go-redis's own pool chatter: every error it describes
// also reaches MUTT's code, which logs it once, with context.
type quietRedis struct{}

func (quietRedis) Printf(context.Context, string, ...any) {}

func run(args []string, stdout, stderr io.Writer) int {
	redis.SetLogger(quietRedis{})
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	// The first signal asks for a graceful stop; restoring the default
	// handling makes a second one end the process at once. Unfinished work
	// stays pending in Redis either way.
	go func() { <-ctx.Done(); stop() }()
	g := &globalOptions{stdout: stdout, stderr: stderr}
	root := newRootCommand(g)
	root.SetArgs(args)
	root.SetOut(stdout)
	root.SetErr(stderr)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return exitOK
	}
	if errors.Is(err, context.Canceled) && ctx.Err() != nil {
		fmt.Fprintln(stderr, "mutt: interrupted")
		return exitInterrupted
	}
	fmt.Fprintln(stderr, "mutt:", err)
	// Commands with exit codes of their own (75: lock held) say so.
	var coded exitCodeError
	if errors.As(err, &coded) {
		return coded.ExitCode()
	}
	var ue usageError
	var fe *config.FieldError
	if errors.As(err, &ue) || errors.As(err, &fe) {
		return exitUsage
	}
	return exitFailure
}

func newRootCommand(g *globalOptions) *cobra.Command {
	root := &cobra.Command{
		Use:   "mutt",
		Short: "MUTT: syslog and SNMP traps in, prioritized rules, alerts out",
		Long: `MUTT (Multi-Use Telemetry Tool) takes syslog messages and SNMP traps, decides with
prioritized rules what each event means, records it in PostgreSQL and sends alerts on.

Every service and operator tool is a subcommand of this one binary.`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError{err} })
	pf := root.PersistentFlags()
	pf.StringVar(&g.configFile, "config", os.Getenv("MUTT_CONFIG"), "YAML configuration file (env MUTT_CONFIG)")
	pf.StringVar(&g.redisURL, "redis-url", "", "Redis URL, e.g. redis://127.0.0.1:6379/0 (env REDIS_URL)")
	pf.StringVar(&g.databaseURL, "database-url", "", "PostgreSQL URL (env DATABASE_URL)")
	pf.StringVar(&g.keyPrefix, "key-prefix", "", "prefix of every Redis key (env MUTT_KEY_PREFIX, default mutt)")
	pf.StringVar(&g.logLevel, "log-level", "", "debug, info, warn or error (env LOG_LEVEL)")
	pf.StringVar(&g.logFormat, "log-format", "", "json or text (env LOG_FORMAT)")
	root.AddCommand(
		newVersionCommand(g),
		newServeCommand(g),
		newRoleCommand(g, "ingestor", "Run the HTTP ingest API (port 8080)"),
		newRoleCommand(g, "alerter", "Run the rule engine on the ingest queue (metrics 8081, health 8082)"),
		newRoleCommand(g, "forwarder", "Deliver alerts to Moogsoft (metrics 8083, health 8084)"),
		newRoleCommand(g, "remediation", "Replay dead letters when it is safe (metrics 8086, health 8087)"),
		newRoleCommand(g, "webui", "Serve the web UI and REST API (port 8090)"),
		newSyslogCommand(g),
		newSNMPTrapCommand(g),
		newMigrateCommand(g),
		newSendCommand(g),
		newRulesCommand(g),
		newBenchCommand(g),
		newFakeMoogCommand(g),
		newDLQCommand(g),
		newBackupCommand(g),
		newRestoreCommand(g),
		newSLOCommand(g),
		newConfigCommand(g),
		newHealthCommand(g),
		newDoctorCommand(g),
		newRetentionCommand(g),
	)
	return root
}

// loadConfig reads the configuration: file, environment, then flags.
func (g *globalOptions) loadConfig() (config.Config, error) {
	cfg, err := config.Load(g.configFile, os.LookupEnv)
	if err != nil {
		return cfg, err
	}
	if g.redisURL != "" {
		cfg.Redis.URL = config.NewURL(g.redisURL)
	}
	if g.databaseURL != "" {
		cfg.Postgres.URL = config.NewURL(g.databaseURL)
	}
	if g.keyPrefix != "" {
		cfg.KeyPrefix = g.keyPrefix
	}
	if g.logLevel != "" {
		cfg.Log.Level = g.logLevel
	}
	if g.logFormat != "" {
		cfg.Log.Format = g.logFormat
	}
	for _, o := range g.overrides {
		o(&cfg)
	}
	cfg.Finish()
	if err := cfg.Validate(); err != nil {
		return cfg, fmt.Errorf("invalid configuration:\n%w", err)
	}
	return cfg, nil
}

func (g *globalOptions) logger(cfg config.Config) *slog.Logger {
	return obs.NewLogger(g.stderr, cfg.Log.Format, cfg.Log.Level).With("version", version.Version())
}

func newVersionCommand(g *globalOptions) *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the version and commit",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			fmt.Fprintf(g.stdout, "mutt %s (commit %s)\n", version.Version(), version.Commit())
			return nil
		},
	}
}
