package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"os/user"
	"strings"
	"text/tabwriter"
	"unicode/utf8"

	"github.com/google/uuid"
	"github.com/spf13/cobra"

	"github.com/mutt-go/mutt/internal/app"
	"github.com/mutt-go/mutt/internal/config"
	"github.com/mutt-go/mutt/internal/configadmin"
	"github.com/mutt-go/mutt/internal/dynconfig"
	"github.com/mutt-go/mutt/internal/embedded/roles"
	"github.com/mutt-go/mutt/internal/store"
)

func newConfigCommand(g *globalOptions) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "config",
		Short: "Read and change the dynamic configuration; check the static one",
		Long: `Read and change the dynamic configuration: the values the services pick up without
a restart. Every change is checked against the key registry and recorded in
config_audit_log (table dynamic_config). In the Redis + PostgreSQL mode the values
are under <prefix>:config:<name> in Redis, the audit row in PostgreSQL, and each
change is announced on <prefix>:config:updates. In the embedded mode (MUTT_DATA_DIR)
value and audit row commit together in the data directory's database, and a running
mutt serve sees the change within a second. See docs/operations/dynamic-config.md
for every key.

validate checks the static configuration (file, environment, flags) the services
would start with.`,
	}
	cmd.AddCommand(newConfigListCommand(g), newConfigGetCommand(g), newConfigSetCommand(g),
		newConfigDeleteCommand(g), newConfigSeedCommand(g), newConfigValidateCommand(g))
	return cmd
}

// configSession is an open connection to the dynamic configuration. The
// audit database is connected only for changes.
type configSession struct {
	cfg   config.Config
	admin *configadmin.Admin
	close func()
}

// openConfig loads the configuration and opens the dynamic configuration
// (see configAdmin).
func (g *globalOptions) openConfig(ctx context.Context, withAudit bool) (*configSession, error) {
	cfg, err := g.loadConfig()
	if err != nil {
		return nil, err
	}
	return g.configAdmin(ctx, cfg, withAudit)
}

// configAdmin opens the dynamic configuration of cfg. In the embedded mode
// that is the database of the data directory, where a value and its audit
// row commit together and a running `mutt serve` polls for the change. In
// the Redis + PostgreSQL mode it connects to Redis and, with withAudit, to
// PostgreSQL, checking that the audit log can be written before anything
// changes.
func (g *globalOptions) configAdmin(ctx context.Context, cfg config.Config, withAudit bool) (*configSession, error) {
	logger := g.logger(cfg)
	if g.embedded(cfg) {
		db, err := openEmbeddedDB(ctx, cfg)
		if err != nil {
			return nil, err
		}
		return &configSession{cfg: cfg, admin: configadmin.NewFrom(roles.NewDynConfig(db), logger),
			close: func() { _ = db.Close() }}, nil
	}
	rdb, err := app.ConnectRedis(ctx, cfg.Redis, logger)
	if err != nil {
		return nil, err
	}
	s := &configSession{cfg: cfg, close: func() { _ = rdb.Close() }}
	var st *store.Store
	if withAudit {
		pool, err := app.ConnectPostgres(ctx, cfg.Postgres, logger)
		if err != nil {
			s.close()
			return nil, fmt.Errorf("nothing changed: the audit log is needed first: %w", err)
		}
		s.close = func() { pool.Close(); _ = rdb.Close() }
		st = store.New(pool)
		if err := st.CheckConfigAudit(ctx); err != nil {
			s.close()
			return nil, fmt.Errorf("nothing changed: %w", err)
		}
	}
	s.admin = configadmin.New(rdb, cfg.Keys.ConfigPrefix, st, logger)
	return s, nil
}

// configActor is who makes a change from the command line: cli:<os user>.
func configActor(reason string) store.Actor {
	name := ""
	if u, err := user.Current(); err == nil {
		name = u.Username
	}
	if name == "" {
		name = os.Getenv("USER")
	}
	if name == "" {
		name = "unknown"
	}
	who := "cli:" + name
	if utf8.RuneCountInString(who) > 100 {
		who = string([]rune(who)[:100])
	}
	return store.Actor{ChangedBy: who, Reason: strings.TrimSpace(reason), CorrelationID: uuid.NewString()}
}

func configArgs(n int, hint string) cobra.PositionalArgs {
	return func(_ *cobra.Command, args []string) error {
		if len(args) != n {
			return usageError{fmt.Errorf("want %d argument(s), got %d: %s", n, len(args), hint)}
		}
		return nil
	}
}

// configChangeError maps writer errors to exit codes: a refused value is a
// usage error, an unset key a plain failure.
func configChangeError(err error) error {
	if errors.Is(err, configadmin.ErrInvalidValue) {
		return usageError{err}
	}
	return err
}

// configChangeJSON is a change as --json writes it, the shape of the API's
// PUT answer plus the operation.
func configChangeJSON(c configadmin.Change, op string) map[string]any {
	m := map[string]any{"key": c.Name, "old_value": c.Old, "new_value": c.New, "operation": op}
	if op == store.OpDelete {
		m["new_value"] = nil
	}
	return m
}

// setOperation is the audit operation of a change that stored a value.
func setOperation(c configadmin.Change) string {
	if c.Old == nil {
		return store.OpCreate
	}
	return store.OpUpdate
}

func quoteOrUnset(v *string) string {
	if v == nil {
		return "(unset)"
	}
	return fmt.Sprintf("%q", *v)
}

// configRow is one line of `config list`.
type configRow struct {
	Name     string   `json:"name"`
	Value    *string  `json:"value"`
	Default  string   `json:"default,omitempty"`
	Kind     string   `json:"kind,omitempty"`
	Allowed  string   `json:"allowed,omitempty"`
	Roles    []string `json:"roles,omitempty"`
	Known    bool     `json:"known"`
	Reserved bool     `json:"reserved,omitempty"`
	Problem  string   `json:"problem,omitempty"`
}

// configRows lists the registry's keys in registry order, then the stored
// names the registry does not know, checking each stored value.
func configRows(entries []configadmin.Entry, onlySet bool) []configRow {
	stored := map[string]string{}
	for _, e := range entries {
		stored[e.Name] = e.Value
	}
	current := func(n string) (string, bool) { v, ok := stored[n]; return v, ok }
	var rows []configRow
	for _, k := range dynconfig.Keys() {
		r := configRow{Name: k.Name, Default: k.Default, Kind: string(k.Kind), Allowed: k.Bounds(), Roles: k.Roles,
			Known: true, Reserved: k.Reserved}
		if v, ok := stored[k.Name]; ok {
			r.Value = &v
			if err := dynconfig.ValidateWith(k.Name, v, current); err != nil {
				var ve *dynconfig.ValueError
				if errors.As(err, &ve) {
					r.Problem = "invalid: " + ve.Reason
				} else {
					r.Problem = "invalid: " + err.Error()
				}
			}
		} else if onlySet {
			continue
		}
		rows = append(rows, r)
	}
	for _, e := range entries {
		if !e.Known {
			v := e.Value
			rows = append(rows, configRow{Name: e.Name, Value: &v, Problem: "unknown key: read by nothing"})
		}
	}
	return rows
}

func newConfigListCommand(g *globalOptions) *cobra.Command {
	var asJSON, onlySet bool
	cmd := &cobra.Command{
		Use:   "list",
		Short: "Show every dynamic key: value, default, kind, readers, problems",
		Long: `Show every key of the registry with its stored value (- when unset, and the
services use the default), then the stored names the registry does not know. NOTE
marks values the services ignore because they break the registry's rules, unknown
keys, and reserved keys that nothing reads.`,
		Args: configArgs(0, "list takes no arguments"),
		RunE: func(cmd *cobra.Command, _ []string) error {
			s, err := g.openConfig(cmd.Context(), false)
			if err != nil {
				return err
			}
			defer s.close()
			entries, err := s.admin.List(cmd.Context())
			if err != nil {
				return err
			}
			rows := configRows(entries, onlySet)
			if asJSON {
				return writeJSON(g.stdout, rows)
			}
			tw := tabwriter.NewWriter(g.stdout, 0, 0, 2, ' ', 0)
			fmt.Fprintln(tw, "NAME\tVALUE\tDEFAULT\tKIND\tROLES\tNOTE")
			for _, r := range rows {
				value := "-"
				if r.Value != nil {
					value = *r.Value
				}
				note := r.Problem
				if note == "" && r.Reserved {
					note = "reserved: read by nothing"
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", r.Name, value, dlqOrDash(r.Default), dlqOrDash(r.Kind),
					dlqOrDash(strings.Join(r.Roles, ",")), note)
			}
			if err := tw.Flush(); err != nil {
				return fmt.Errorf("writing the list: %w", err)
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "a JSON array, one object per key")
	cmd.Flags().BoolVar(&onlySet, "set", false, "only keys with a stored value")
	return cmd
}

func newConfigGetCommand(g *globalOptions) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "get NAME",
		Short: "Print the stored value of one key (exit 1 when unset)",
		Args:  configArgs(1, "name the key, e.g. `mutt config get alerter_shed_mode`"),
		RunE: func(cmd *cobra.Command, args []string) error {
			name := args[0]
			s, err := g.openConfig(cmd.Context(), false)
			if err != nil {
				return err
			}
			defer s.close()
			v, found, err := s.admin.Get(cmd.Context(), name)
			if err != nil {
				return err
			}
			k, known := dynconfig.Lookup(name)
			if asJSON {
				m := map[string]any{"key": name, "value": nil, "known": known}
				if found {
					m["value"] = v
				}
				if known {
					m["default"] = k.Default
				}
				return writeJSON(g.stdout, m)
			}
			if !found {
				if known {
					return fmt.Errorf("%s is not set: the services use their default (%s)", name, k.Default)
				}
				return fmt.Errorf("%s is not set, and it is not a known key; run `mutt config list` to see them", name)
			}
			fmt.Fprintln(g.stdout, v)
			return nil
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, `{"key", "value" (null when unset), "known", "default"}`)
	return cmd
}

func newConfigSetCommand(g *globalOptions) *cobra.Command {
	var (
		asJSON bool
		reason string
	)
	cmd := &cobra.Command{
		Use:   "set NAME VALUE",
		Short: "Change one key, with an audit row, and tell the services",
		Example: `  mutt config set alerter_shed_mode defer --reason "INC-123: alert queue backlog"
  mutt config set slo_ingest_success_target 0.995`,
		Args: configArgs(2, "name the key and the value, e.g. `mutt config set unhandled_threshold 200`"),
		RunE: func(cmd *cobra.Command, args []string) error {
			name, value := args[0], args[1]
			// Refuse a bad value before connecting to anything.
			if k, known := dynconfig.Lookup(name); known {
				if err := k.Check(value); err != nil {
					why := err.Error()
					var ve *dynconfig.ValueError
					if errors.As(err, &ve) {
						why = ve.Reason
					}
					return usageError{fmt.Errorf("%w for %s: %s", configadmin.ErrInvalidValue, name, why)}
				}
			} else {
				fmt.Fprintf(g.stderr, "mutt: warning: %s is not a known key: it is stored, but nothing reads it\n", name)
			}
			s, err := g.openConfig(cmd.Context(), true)
			if err != nil {
				return err
			}
			defer s.close()
			c, err := s.admin.Set(cmd.Context(), name, value, configActor(reason))
			if err != nil {
				return configChangeError(err)
			}
			op := setOperation(c)
			if asJSON {
				return writeJSON(g.stdout, configChangeJSON(c, op))
			}
			fmt.Fprintf(g.stdout, "%s: %s → %q (%s, recorded in config_audit_log)\n", name, quoteOrUnset(c.Old), c.New, op)
			return nil
		},
	}
	cmd.Flags().StringVar(&reason, "reason", "", "why, for the audit log")
	cmd.Flags().BoolVar(&asJSON, "json", false, `{"key", "old_value", "new_value", "operation"}`)
	return cmd
}

func newConfigDeleteCommand(g *globalOptions) *cobra.Command {
	var (
		asJSON, yes bool
		reason      string
	)
	cmd := &cobra.Command{
		Use:     "delete NAME",
		Short:   "Remove one key (the services return to their default), with an audit row",
		Example: `  mutt config delete alerter_shed_mode --yes --reason "INC-123 over"`,
		Args:    configArgs(1, "name the key, e.g. `mutt config delete alerter_shed_mode`"),
		RunE: func(cmd *cobra.Command, args []string) error {
			name := args[0]
			s, err := g.openConfig(cmd.Context(), false)
			if err != nil {
				return err
			}
			v, found, err := s.admin.Get(cmd.Context(), name)
			s.close()
			if err != nil {
				return err
			}
			if !found {
				return fmt.Errorf("nothing changed: %s is not set; run `mutt config list --set` to see what is", name)
			}
			fallback := "their static setting"
			if k, ok := dynconfig.Lookup(name); ok {
				fallback = fmt.Sprintf("their static setting (default %s)", k.Default)
			}
			if err := confirm(cmd, g, yes, "delete",
				fmt.Sprintf("delete %s (now %q)? The services will use %s.", name, v, fallback)); err != nil {
				return err
			}
			s, err = g.openConfig(cmd.Context(), true)
			if err != nil {
				return err
			}
			defer s.close()
			c, err := s.admin.Delete(cmd.Context(), name, configActor(reason))
			if err != nil {
				return configChangeError(err)
			}
			if asJSON {
				return writeJSON(g.stdout, configChangeJSON(c, store.OpDelete))
			}
			fmt.Fprintf(g.stdout, "%s: deleted (was %s; DELETE recorded in config_audit_log)\n", name, quoteOrUnset(c.Old))
			return nil
		},
	}
	cmd.Flags().StringVar(&reason, "reason", "", "why, for the audit log")
	cmd.Flags().BoolVar(&yes, "yes", false, "do not ask for confirmation")
	cmd.Flags().BoolVar(&asJSON, "json", false, `{"key", "old_value", "new_value": null, "operation"}`)
	return cmd
}

func newConfigSeedCommand(g *globalOptions) *cobra.Command {
	var (
		asJSON, force, dryRun, yes bool
		reason                     string
	)
	cmd := &cobra.Command{
		Use:   "seed",
		Short: "Store the registry defaults of keys that are unset (all with --force)",
		Long: `Store the registry default of every key that is unset, each with an audit row, so
that operators see every setting in one place. With --force, also put back the
default of every key whose value differs. Reserved keys are never seeded.`,
		Example: `  mutt config seed --dry-run
  mutt config seed
  mutt config seed --force --yes --reason "back to defaults after the load test"`,
		Args: configArgs(0, "seed takes no arguments"),
		RunE: func(cmd *cobra.Command, _ []string) error {
			s, err := g.openConfig(cmd.Context(), false)
			if err != nil {
				return err
			}
			entries, err := s.admin.List(cmd.Context())
			s.close()
			if err != nil {
				return err
			}
			plan := seedPlan(entries, force)
			if len(plan) == 0 {
				fmt.Fprintln(g.stdout, "nothing to seed: every key is set")
				return nil
			}
			if dryRun || !asJSON {
				for _, c := range plan {
					fmt.Fprintf(g.stdout, "%s: %s → %q\n", c.Name, quoteOrUnset(c.Old), c.New)
				}
			}
			if dryRun {
				fmt.Fprintf(g.stdout, "dry run: %d keys would change; nothing changed\n", len(plan))
				return nil
			}
			if force {
				if err := confirm(cmd, g, yes, "seed --force",
					fmt.Sprintf("set %d keys to their defaults, overwriting values?", len(plan))); err != nil {
					return err
				}
			}
			s, err = g.openConfig(cmd.Context(), true)
			if err != nil {
				return err
			}
			defer s.close()
			if reason == "" {
				reason = "seeded with the registry defaults"
			}
			changes, err := s.admin.Seed(cmd.Context(), force, configActor(reason))
			if asJSON {
				out := make([]map[string]any, len(changes))
				for i, c := range changes {
					out[i] = configChangeJSON(c, setOperation(c))
				}
				if jerr := writeJSON(g.stdout, out); jerr != nil {
					return errors.Join(err, jerr)
				}
			} else {
				fmt.Fprintf(g.stdout, "seeded %d keys (recorded in config_audit_log)\n", len(changes))
			}
			return err
		},
	}
	cmd.Flags().BoolVar(&force, "force", false, "also overwrite values that differ from the default")
	cmd.Flags().BoolVar(&dryRun, "dry-run", false, "show what would change and change nothing")
	cmd.Flags().BoolVar(&yes, "yes", false, "do not ask for confirmation (needed for --force without a terminal)")
	cmd.Flags().StringVar(&reason, "reason", "", "why, for the audit log")
	cmd.Flags().BoolVar(&asJSON, "json", false, "the changes made as a JSON array")
	return cmd
}

// seedPlan is what Seed would change, from the stored entries.
func seedPlan(entries []configadmin.Entry, force bool) []configadmin.Change {
	stored := map[string]string{}
	for _, e := range entries {
		stored[e.Name] = e.Value
	}
	var plan []configadmin.Change
	for _, k := range dynconfig.Keys() {
		if k.Reserved || k.Default == "" {
			continue
		}
		v, ok := stored[k.Name]
		switch {
		case !ok:
			plan = append(plan, configadmin.Change{Name: k.Name, New: k.Default})
		case force && v != k.Default:
			plan = append(plan, configadmin.Change{Name: k.Name, Old: &v, New: k.Default})
		}
	}
	return plan
}

func newConfigValidateCommand(g *globalOptions) *cobra.Command {
	var (
		envFile      string
		checkDynamic bool
	)
	cmd := &cobra.Command{
		Use:   "validate",
		Short: "Check the static configuration, and with --check-dynamic every stored dynamic value",
		Long: `Load the configuration the services would start with (the --config file, the
environment, or --env-file over it, and the flags) and report every problem: exit 2
when there is any. With --check-dynamic, also check every stored dynamic value
(Redis, or the embedded database) against the key registry: exit 1 when one is invalid (the services ignore it).
Secret values are never printed.`,
		Example: `  mutt config validate --env-file /etc/mutt/mutt.env && systemctl restart mutt
  mutt config validate --check-dynamic`,
		Args: configArgs(0, "validate takes no arguments"),
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, problems := g.validateStatic(envFile)
			for _, p := range problems {
				fmt.Fprintf(g.stdout, "  %s\n", p)
			}
			if len(problems) > 0 {
				return exitCodeError{code: exitUsage, err: fmt.Errorf("the configuration has %d problem(s), listed above", len(problems))}
			}
			fmt.Fprintln(g.stdout, "static configuration: ok")
			if !checkDynamic {
				return nil
			}
			return g.validateDynamic(cmd.Context(), cfg)
		},
	}
	cmd.Flags().StringVar(&envFile, "env-file", "", "read KEY=VALUE lines from this file (e.g. /etc/mutt/mutt.env) over the environment")
	cmd.Flags().BoolVar(&checkDynamic, "check-dynamic", false, "also check every stored dynamic value")
	return cmd
}

// validateStatic loads the configuration as loadConfig does and returns
// every problem instead of the first.
func (g *globalOptions) validateStatic(envFile string) (config.Config, []string) {
	var problems []string
	lookup := os.LookupEnv
	if envFile != "" {
		vars, err := readEnvFile(envFile)
		if err != nil {
			return config.Config{}, []string{err.Error()}
		}
		if fi, err := os.Stat(envFile); err == nil && fi.Mode().Perm()&0o077 != 0 {
			problems = append(problems, fmt.Sprintf("%s: mode %04o lets others read it; it may hold secrets: chmod 600 %s",
				envFile, fi.Mode().Perm(), envFile))
		}
		lookup = func(name string) (string, bool) {
			if v, ok := vars[name]; ok {
				return v, true
			}
			return os.LookupEnv(name)
		}
	}
	cfg, err := config.Load(g.configFile, lookup)
	problems = append(problems, errorLines(err)...)
	if g.redisURL != "" {
		cfg.Redis.URL = config.NewURL(g.redisURL)
	}
	if g.databaseURL != "" {
		cfg.Postgres.URL = config.NewURL(g.databaseURL)
	}
	overrides := []struct {
		flag string
		dst  *string
	}{
		{g.keyPrefix, &cfg.KeyPrefix},
		{g.logLevel, &cfg.Log.Level}, {g.logFormat, &cfg.Log.Format},
	}
	for _, o := range overrides {
		if o.flag != "" {
			*o.dst = o.flag
		}
	}
	cfg.Finish()
	problems = append(problems, errorLines(cfg.Validate())...)
	return cfg, problems
}

// errorLines flattens joined errors into one line each.
func errorLines(err error) []string {
	if err == nil {
		return nil
	}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		var out []string
		for _, e := range j.Unwrap() {
			out = append(out, errorLines(e)...)
		}
		return out
	}
	return []string{err.Error()}
}

// readEnvFile reads KEY=VALUE lines as a systemd EnvironmentFile or a shell
// would: blank lines and # comments skipped, an optional "export ", and
// values optionally in single or double quotes.
func readEnvFile(path string) (map[string]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("reading env file: %w", err)
	}
	defer f.Close()
	vars := map[string]string{}
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		line = strings.TrimPrefix(line, "export ")
		name, value, ok := strings.Cut(line, "=")
		name = strings.TrimSpace(name)
		if !ok || name == "" || strings.ContainsAny(name, " \t") {
			return nil, fmt.Errorf("%s line %d: want NAME=VALUE", path, n)
		}
		value = strings.TrimSpace(value)
		if len(value) >= 2 && (value[0] == '"' || value[0] == '\'') && value[len(value)-1] == value[0] {
			value = value[1 : len(value)-1]
		}
		vars[name] = value
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("reading %s: %w", path, err)
	}
	return vars, nil
}

// validateDynamic checks every stored value against the registry.
func (g *globalOptions) validateDynamic(ctx context.Context, cfg config.Config) error {
	s, err := g.configAdmin(ctx, cfg, false)
	if err != nil {
		return err
	}
	defer s.close()
	entries, err := s.admin.List(ctx)
	if err != nil {
		return err
	}
	invalid, unknown := 0, 0
	for _, r := range configRows(entries, true) {
		switch {
		case !r.Known:
			unknown++
			fmt.Fprintf(g.stdout, "  %s: unknown key, read by nothing\n", r.Name)
		case strings.HasPrefix(r.Problem, "invalid"):
			invalid++
			fmt.Fprintf(g.stdout, "  %s = %q: %s\n", r.Name, *r.Value, r.Problem)
		}
	}
	set := len(entries) - unknown
	if invalid > 0 {
		return exitCodeError{code: exitFailure, err: fmt.Errorf("%d of %d dynamic values are invalid (the services ignore them); fix them with `mutt config set` or `mutt config delete`", invalid, set)}
	}
	fmt.Fprintf(g.stdout, "dynamic configuration: ok (%d values, %d unknown keys)\n", set, unknown)
	return nil
}
