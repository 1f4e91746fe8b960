package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"
	"github.com/spf13/cobra"

	"github.com/mutt-go/mutt/internal/app"
	"github.com/mutt-go/mutt/internal/config"
	"github.com/mutt-go/mutt/internal/dlqadmin"
	"github.com/mutt-go/mutt/internal/embedded/roles"
	"github.com/mutt-go/mutt/internal/embedded/sqlstore"
	"github.com/mutt-go/mutt/internal/queue"
	"github.com/mutt-go/mutt/internal/store"
)

// dlqErrorWidth is how much of an entry's error the list shows.
const dlqErrorWidth = 60

// dlqIDPattern matches a stream entry ID.
var dlqIDPattern = dlqadmin.IDPattern

// resolveDLQ maps a queue argument (short name or full key) to its queue.
func resolveDLQ(k config.Keys, arg string) (dlqadmin.Queue, error) {
	q, err := dlqadmin.Resolve(k, arg)
	if err != nil {
		return q, usageError{err}
	}
	return q, nil
}

// dlqDeadTarget decides where an entry of the dead queue goes back to.
func dlqDeadTarget(k config.Keys, e queue.Entry) (string, bool) { return dlqadmin.DeadTarget(k, e) }

// normalizeDLQID checks a stream entry ID and completes a bare millisecond
// time with sequence 0, as Redis does.
func normalizeDLQID(id string) (string, error) {
	n, err := dlqadmin.NormalizeID(id)
	if err != nil {
		return "", usageError{fmt.Errorf("%w; run `mutt dlq list` to see them", err)}
	}
	return n, nil
}

// parseDLQAge reads a duration in Go syntax (90s, 15m, 2h30m) or whole days (3d).
func parseDLQAge(flag, v string) (time.Duration, error) {
	d, err := dlqadmin.ParseAge(v)
	if err != nil {
		return 0, usageError{fmt.Errorf("--%s %q: want a positive duration such as 30m, 12h or 7d", flag, v)}
	}
	return d, nil
}

// dlqSelectFlags are the selection flags shared by list, replay and purge.
type dlqSelectFlags struct {
	reasons   []string
	olderThan string
	newerThan string
	limit     int
	ids       []string // replay and purge only
	all       bool     // replay and purge only
}

func (f *dlqSelectFlags) register(cmd *cobra.Command, change bool) {
	fs := cmd.Flags()
	fs.StringArrayVar(&f.reasons, "reason", nil, "only entries with this reason (repeatable)")
	fs.StringVar(&f.olderThan, "older-than", "", "only entries that reached the queue longer ago than this (30m, 12h, 7d)")
	fs.StringVar(&f.newerThan, "newer-than", "", "only entries that reached the queue within this (30m, 12h, 7d)")
	if change {
		fs.IntVar(&f.limit, "limit", 0, "at most this many entries, oldest first (default: no limit)")
		fs.StringArrayVar(&f.ids, "id", nil, "this entry (repeatable)")
		fs.BoolVar(&f.all, "all", false, "every entry of the queue, when no other selection is given")
	} else {
		fs.IntVar(&f.limit, "limit", 50, "show at most this many entries, oldest first (0: all)")
	}
}

// selector turns the flags into a selector, as of now.
func (f *dlqSelectFlags) selector(now time.Time) (dlqadmin.Selector, error) {
	s := dlqadmin.Selector{Limit: f.limit}
	if f.limit < 0 {
		return s, usageError{fmt.Errorf("--limit must be 0 or more, got %d", f.limit)}
	}
	if len(f.reasons) > 0 {
		s.Reasons = map[string]bool{}
		for _, r := range f.reasons {
			s.Reasons[r] = true
		}
	}
	var older, newer time.Duration
	var err error
	if f.olderThan != "" {
		if older, err = parseDLQAge("older-than", f.olderThan); err != nil {
			return s, err
		}
		s.Before = now.Add(-older)
	}
	if f.newerThan != "" {
		if newer, err = parseDLQAge("newer-than", f.newerThan); err != nil {
			return s, err
		}
		s.After = now.Add(-newer)
	}
	if f.olderThan != "" && f.newerThan != "" && older >= newer {
		return s, usageError{fmt.Errorf("--older-than %s and --newer-than %s select nothing: the first must be shorter than the second",
			f.olderThan, f.newerThan)}
	}
	for _, id := range f.ids {
		id, err := normalizeDLQID(id)
		if err != nil {
			return s, err
		}
		if !slices.Contains(s.IDs, id) {
			s.IDs = append(s.IDs, id)
		}
	}
	return s, nil
}

// filtered reports whether anything narrows the selection down.
func (f *dlqSelectFlags) filtered() bool {
	return len(f.reasons) > 0 || f.olderThan != "" || f.newerThan != "" || f.limit > 0 || len(f.ids) > 0
}

// describe is the selection as recorded in the audit row.
func (f *dlqSelectFlags) describe() map[string]any {
	m := map[string]any{}
	if len(f.reasons) > 0 {
		m["reasons"] = f.reasons
	}
	if f.olderThan != "" {
		m["older_than"] = f.olderThan
	}
	if f.newerThan != "" {
		m["newer_than"] = f.newerThan
	}
	if f.limit > 0 {
		m["limit"] = f.limit
	}
	if len(f.ids) > 0 {
		m["by_id"] = true
	}
	if f.all {
		m["all"] = true
	}
	return m
}

// selectDLQ runs s on q, saying what to do when a named entry is missing.
func selectDLQ(ctx context.Context, b dlqadmin.Backend, s dlqadmin.Selector, q dlqadmin.Queue) ([]queue.Entry, int, error) {
	entries, matched, err := s.SelectFrom(ctx, b, q)
	return entries, matched, dlqHint(q, err)
}

// lookupDLQEntry reads one entry, with an error that says what to do when it
// is not there.
func lookupDLQEntry(ctx context.Context, b dlqadmin.Backend, q dlqadmin.Queue, id string) (queue.Entry, error) {
	e, err := b.Lookup(ctx, q.Key, id)
	return e, dlqHint(q, err)
}

// dlqHint adds to a missing-entry error the command that shows what is there.
func dlqHint(q dlqadmin.Queue, err error) error {
	if errors.Is(err, dlqadmin.ErrNoEntry) {
		return fmt.Errorf("%w; run `mutt dlq list %s` to see what is there", err, q.Name)
	}
	return err
}

// dlqSession is what every dlq subcommand needs once its arguments are
// checked: the configuration, the queue and the storage of the queues.
type dlqSession struct {
	cfg config.Config
	q   dlqadmin.Queue
	b   dlqadmin.Backend
	// openAudit makes the audit log ready before a change: PostgreSQL in
	// the Redis mode, the database already open in the embedded mode.
	openAudit func(context.Context) (dlqadmin.AuditWriter, func(), error)
	close     func()
}

// openDLQ loads the configuration and resolves the queue, then calls
// check, which validates the remaining arguments, before opening the
// storage of the queues (Redis, or the embedded database when the settings
// name no Redis), so that usage errors never wait on a server.
func (g *globalOptions) openDLQ(ctx context.Context, arg string, check func(config.Config) error) (*dlqSession, error) {
	cfg, err := g.loadConfig()
	if err != nil {
		return nil, err
	}
	q, err := resolveDLQ(cfg.Keys, arg)
	if err != nil {
		return nil, err
	}
	if check != nil {
		if err := check(cfg); err != nil {
			return nil, err
		}
	}
	if cfg.UsesRedis() || g.redisURL != "" {
		rdb, err := app.ConnectRedis(ctx, cfg.Redis, g.logger(cfg))
		if err != nil {
			return nil, err
		}
		return &dlqSession{cfg: cfg, q: q, b: dlqadmin.NewRedis(rdb), close: func() { _ = rdb.Close() },
			openAudit: func(ctx context.Context) (dlqadmin.AuditWriter, func(), error) { return g.openDLQAudit(ctx, cfg) },
		}, nil
	}
	if _, err := cfg.StorageMode(); err != nil {
		return nil, err
	}
	db, err := openEmbeddedDB(ctx, cfg)
	if err != nil {
		return nil, err
	}
	b := roles.NewDLQ(db)
	return &dlqSession{cfg: cfg, q: q, b: b, close: func() { _ = db.Close() },
		openAudit: func(context.Context) (dlqadmin.AuditWriter, func(), error) { return b, func() {}, nil },
	}, nil
}

// openEmbeddedDB opens the embedded database of the data directory; one
// that is not there is an error rather than a new, empty database. Every
// command that works on an embedded data directory opens it so.
func openEmbeddedDB(ctx context.Context, cfg config.Config) (*sqlstore.DB, error) {
	path := cfg.Storage.DatabaseFile()
	if _, err := os.Stat(path); err != nil {
		return nil, fmt.Errorf("opening the embedded database: %w; set MUTT_DATA_DIR to the data directory of `mutt serve`, "+
			"or REDIS_URL and DATABASE_URL for the Redis + PostgreSQL mode", err)
	}
	db, err := sqlstore.Open(ctx, path)
	if err != nil {
		return nil, fmt.Errorf("opening the embedded database: %w", err)
	}
	return db, nil
}

// embedded reports whether cfg selects the embedded mode: no Redis or
// PostgreSQL setting in the file, the environment or the flags. Mixed
// settings are not embedded, so the commands keep their Redis +
// PostgreSQL behaviour and its errors.
func (g *globalOptions) embedded(cfg config.Config) bool {
	mode, err := cfg.StorageMode()
	return err == nil && mode == config.StorageEmbedded && g.redisURL == "" && g.databaseURL == ""
}

func newDLQCommand(g *globalOptions) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "dlq",
		Short: "Inspect, replay and purge the dead-letter queues",
		Long: `Inspect, replay and purge MUTT's dead-letter queues:

  alerter  events the alerter could not process; replayed to the ingest queue
  moog     alerts Moogsoft would not take; replayed to the alert queue
  dead     entries given up on; each is replayed to the queue it failed from

Every replay and purge is recorded in config_audit_log (table_name redis_dlq):
in PostgreSQL in the Redis + PostgreSQL mode, in the embedded database in the
embedded mode (MUTT_DATA_DIR). Nothing changes without --yes or a confirmation
on a terminal.`,
	}
	cmd.AddCommand(newDLQListCommand(g), newDLQShowCommand(g), newDLQReplayCommand(g), newDLQPurgeCommand(g))
	return cmd
}

func newDLQListCommand(g *globalOptions) *cobra.Command {
	var (
		sel    dlqSelectFlags
		asJSON bool
	)
	cmd := &cobra.Command{
		Use:   "list alerter|moog|dead",
		Short: "List the entries of a dead-letter queue, oldest first",
		Example: `  mutt dlq list moog
  mutt dlq list alerter --reason invalid_event --older-than 2h
  mutt dlq list dead --limit 0 --json | jq .payload`,
		Args: dlqArgs(1, "name the queue: alerter, moog or dead"),
		RunE: func(cmd *cobra.Command, args []string) error {
			now := time.Now()
			var s dlqadmin.Selector
			sess, err := g.openDLQ(cmd.Context(), args[0], func(config.Config) error {
				var err error
				s, err = sel.selector(now)
				return err
			})
			if err != nil {
				return err
			}
			defer sess.close()
			entries, matched, err := selectDLQ(cmd.Context(), sess.b, s, sess.q)
			if err != nil {
				return err
			}
			total, err := sess.b.Len(cmd.Context(), sess.q.Key)
			if err != nil {
				return err
			}
			countOut := g.stdout
			if asJSON {
				// Standard output stays one JSON object per line.
				countOut = g.stderr
				enc := json.NewEncoder(g.stdout)
				for _, e := range entries {
					if err := enc.Encode(dlqEntryJSON(sess.q, e, now)); err != nil {
						return fmt.Errorf("writing entry %s: %w", e.ID, err)
					}
				}
			} else if err := writeDLQTable(g.stdout, entries, now); err != nil {
				return err
			}
			if len(sel.reasons) > 0 || sel.olderThan != "" || sel.newerThan != "" {
				fmt.Fprintf(countOut, "%d of %d matching entries shown (%s holds %d)\n", len(entries), matched, sess.q.Key, total)
			} else {
				fmt.Fprintf(countOut, "%d of %d entries shown\n", len(entries), total)
			}
			return nil
		},
	}
	sel.register(cmd, false)
	cmd.Flags().BoolVar(&asJSON, "json", false, "one JSON object per entry, payload included")
	return cmd
}

func newDLQShowCommand(g *globalOptions) *cobra.Command {
	return &cobra.Command{
		Use:     "show alerter|moog|dead ID",
		Short:   "Show every field of one entry, the payload pretty-printed",
		Example: `  mutt dlq show moog 1736680200123-0`,
		Args:    dlqArgs(2, "name the queue and the entry ID, e.g. `mutt dlq show moog 1736680200123-0`"),
		RunE: func(cmd *cobra.Command, args []string) error {
			var id string
			sess, err := g.openDLQ(cmd.Context(), args[0], func(config.Config) error {
				var err error
				id, err = normalizeDLQID(args[1])
				return err
			})
			if err != nil {
				return err
			}
			defer sess.close()
			e, err := lookupDLQEntry(cmd.Context(), sess.b, sess.q, id)
			if err != nil {
				return err
			}
			return writeDLQEntry(g.stdout, sess.q, e, time.Now())
		},
	}
}

// dlqArgs is cobra.ExactArgs with a usage error that says what to type.
func dlqArgs(n int, hint string) cobra.PositionalArgs {
	return func(_ *cobra.Command, args []string) error {
		if len(args) != n {
			return usageError{fmt.Errorf("want %d argument(s), got %d: %s", n, len(args), hint)}
		}
		return nil
	}
}

// dlqChangeFlags are the flags of replay and purge besides the selection.
type dlqChangeFlags struct {
	sel        dlqSelectFlags
	dryRun     bool
	yes        bool
	actor      string
	reasonText string
}

func (f *dlqChangeFlags) register(cmd *cobra.Command) {
	f.sel.register(cmd, true)
	fs := cmd.Flags()
	fs.BoolVar(&f.dryRun, "dry-run", false, "show what would be done and stop")
	fs.BoolVarP(&f.yes, "yes", "y", false, "do it without asking (required when standard input is not a terminal)")
	fs.StringVar(&f.actor, "actor", "", "who is doing this, for the audit log (default: $USER, else cli)")
	fs.StringVar(&f.reasonText, "reason-text", "", "why, for the audit log")
}

// check validates what can be validated before anything is read.
func (f *dlqChangeFlags) check(verb string, reasonRequired bool) (dlqadmin.Selector, error) {
	s, err := f.sel.selector(time.Now())
	if err != nil {
		return s, err
	}
	if !f.sel.filtered() && !f.sel.all {
		return s, usageError{fmt.Errorf("say which entries to %s: --id, --reason, --older-than, --newer-than or --limit, or --all for every one", verb)}
	}
	if !f.dryRun {
		if reasonRequired && strings.TrimSpace(f.reasonText) == "" {
			return s, usageError{fmt.Errorf("--reason-text is required: say why the entries are deleted, for the audit log")}
		}
		if _, err := f.changedBy(); err != nil {
			return s, err
		}
	}
	s.DropPayload = true
	return s, nil
}

// changedBy is the audit log's changed_by: --actor, else $USER, else cli.
func (f *dlqChangeFlags) changedBy() (string, error) {
	who := strings.TrimSpace(f.actor)
	if who == "" {
		who = strings.TrimSpace(os.Getenv("USER"))
	}
	if who == "" {
		who = "cli"
	}
	if n := utf8.RuneCountInString(who); n > 100 {
		return "", usageError{fmt.Errorf("--actor (or $USER) must be at most 100 characters, got %d", n)}
	}
	return who, nil
}

// openDLQAudit connects to PostgreSQL and checks the audit table before any
// change, so that a change is not made that could not be recorded.
func (g *globalOptions) openDLQAudit(ctx context.Context, cfg config.Config) (dlqadmin.AuditWriter, func(), error) {
	pool, err := app.ConnectPostgres(ctx, cfg.Postgres, g.logger(cfg))
	if err != nil {
		return nil, nil, fmt.Errorf("nothing changed: the audit log is needed first: %w", err)
	}
	st := store.New(pool)
	if err := st.CheckConfigAudit(ctx); err != nil {
		pool.Close()
		return nil, nil, fmt.Errorf("nothing changed: %w", err)
	}
	return st, pool.Close, nil
}

// dlqAudit writes the row of a change that was made. When it cannot, it
// prints the row for the operator to file and fails loudly.
func (g *globalOptions) dlqAudit(ctx context.Context, st dlqadmin.AuditWriter, c store.ConfigChange, action string) error {
	// The change is made: an interrupt now must not cost its record.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 15*time.Second)
	defer cancel()
	id, err := st.RecordConfigChange(ctx, c)
	if err == nil {
		fmt.Fprintf(g.stdout, "recorded in config_audit_log as id %d (correlation id %s)\n", id, c.CorrelationID)
		return nil
	}
	row, _ := json.MarshalIndent(map[string]any{
		"changed_by": c.ChangedBy, "operation": c.Operation, "table_name": c.TableName, "record_id": c.RecordID,
		"old_values": c.Old, "new_values": c.New, "reason": c.Reason, "correlation_id": c.CorrelationID,
		"changed_at": time.Now().UTC().Format(time.RFC3339),
	}, "", "  ")
	fmt.Fprintf(g.stderr, "mutt: WARNING: the %s was done but it is NOT in the audit log: %v\n", action, err)
	fmt.Fprintf(g.stderr, "mutt: file this row in config_audit_log by hand:\n%s\n", row)
	return fmt.Errorf("%s done but not audited: %w (the row to file is printed above)", action, err)
}

func newDLQReplayCommand(g *globalOptions) *cobra.Command {
	var (
		f          dlqChangeFlags
		maxReplays int
	)
	cmd := &cobra.Command{
		Use:   "replay alerter|moog|dead",
		Short: "Send entries back to the queue they failed from",
		Long: `Send the selected entries back to be processed again: the alerter DLQ to the
ingest queue, the Moogsoft DLQ to the alert queue (with the delivery attempts reset),
the dead queue to the queue each entry came from. Each replay raises the entry's
replay counter; an entry already replayed --max-replays times goes to the dead queue
instead (entries of the dead queue at the limit are left where they are).`,
		Example: `  mutt dlq replay moog --reason http_5xx --dry-run
  mutt dlq replay moog --reason http_5xx --yes --reason-text "Moogsoft outage INC-123 over"
  mutt dlq replay dead --id 1736680200123-0 --max-replays 10 --yes`,
		Args: dlqArgs(1, "name the queue: alerter, moog or dead"),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			var s dlqadmin.Selector
			sess, err := g.openDLQ(ctx, args[0], func(cfg config.Config) error {
				var err error
				if s, err = f.check("replay", false); err != nil {
					return err
				}
				if !cmd.Flags().Changed("max-replays") {
					maxReplays = cfg.Remediation.MaxReplays
				}
				if maxReplays < 0 {
					return usageError{fmt.Errorf("--max-replays must be 0 or more, got %d", maxReplays)}
				}
				return nil
			})
			if err != nil {
				return err
			}
			defer sess.close()
			entries, matched, err := selectDLQ(ctx, sess.b, s, sess.q)
			if err != nil {
				return err
			}
			plan := dlqadmin.PlanReplay(sess.cfg.Keys, sess.q, entries, maxReplays)
			writeDLQPlan(g.stdout, plan, sess.q, len(entries), matched)
			if plan.Count() == 0 {
				fmt.Fprintln(g.stdout, "nothing to replay")
				return nil
			}
			if f.dryRun {
				fmt.Fprintln(g.stdout, "dry run: nothing changed")
				return nil
			}
			if err := confirm(cmd, g, f.yes, "replay", fmt.Sprintf("replay %d entries from %s to %s?", plan.Count(), sess.q.Key, plan.TargetList())); err != nil {
				return err
			}
			st, closeDB, err := sess.openAudit(ctx)
			if err != nil {
				return err
			}
			defer closeDB()
			out, replayErr := dlqadmin.ReplayOn(ctx, sess.b, sess.cfg.Keys, sess.q, plan)
			fmt.Fprintf(g.stdout, "replayed %d, sent to %s %d (over %d replays), missing %d (no longer in %s)\n",
				out.Replayed, sess.cfg.Keys.DeadDLQ, out.Dead, maxReplays, out.Missing, sess.q.Key)
			who, _ := f.changedBy()
			aerr := g.dlqAudit(ctx, st, dlqadmin.ReplayChange(sess.q, plan, f.sel.describe(), out, replayErr,
				store.Actor{ChangedBy: who, Reason: f.reasonText, CorrelationID: uuid.NewString()}), "replay")
			return errors.Join(replayErr, aerr)
		},
	}
	f.register(cmd)
	cmd.Flags().IntVar(&maxReplays, "max-replays", 0,
		"replays allowed per entry before it goes to the dead queue (default: the configured remediation max_replays)")
	return cmd
}

// writeDLQPlan shows what a replay would do.
func writeDLQPlan(w io.Writer, p dlqadmin.Plan, q dlqadmin.Queue, selected, matched int) {
	maxReplays := p.MaxReplays
	fmt.Fprintf(w, "selected %d of %d matching entries in %s\n", selected, matched, q.Key)
	for _, t := range p.Targets() {
		fmt.Fprintf(w, "  replay %d to %s\n", len(p.ByTarget[t]), t)
	}
	if p.ToDead > 0 {
		fmt.Fprintf(w, "  of these, %d have been replayed %d times already and will go to the dead queue instead (raise --max-replays to replay them)\n",
			p.ToDead, maxReplays)
	}
	if len(p.Reasons) > 0 {
		fmt.Fprintf(w, "  by reason: %s\n", dlqCounts(p.Reasons))
	}
	if len(p.AtLimit) > 0 {
		fmt.Fprintf(w, "  skip %d already replayed %d times (pass --max-replays %d or more to replay them anyway): %s\n",
			len(p.AtLimit), maxReplays, maxReplays+1, dlqAbbreviate(p.AtLimit))
	}
	if len(p.Unknown) > 0 {
		fmt.Fprintf(w, "  skip %d whose source queue is unknown (inspect them with `mutt dlq show %s ID`): %s\n",
			len(p.Unknown), q.Name, dlqAbbreviate(p.Unknown))
	}
}

func dlqCounts(m map[string]int) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		name := k
		if name == "" {
			name = "(none)"
		}
		parts[i] = fmt.Sprintf("%s %d", name, m[k])
	}
	return strings.Join(parts, ", ")
}

func dlqAbbreviate(ids []string) string {
	if len(ids) <= 5 {
		return strings.Join(ids, " ")
	}
	return strings.Join(ids[:5], " ") + fmt.Sprintf(" … (%d more)", len(ids)-5)
}

func newDLQPurgeCommand(g *globalOptions) *cobra.Command {
	var f dlqChangeFlags
	cmd := &cobra.Command{
		Use:   "purge alerter|moog|dead",
		Short: "Delete entries for good",
		Example: `  mutt dlq purge dead --older-than 30d --dry-run
  mutt dlq purge dead --older-than 30d --yes --reason-text "retention: older than 30 days"`,
		Args: dlqArgs(1, "name the queue: alerter, moog or dead"),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			var s dlqadmin.Selector
			sess, err := g.openDLQ(ctx, args[0], func(config.Config) error {
				var err error
				s, err = f.check("purge", true)
				return err
			})
			if err != nil {
				return err
			}
			defer sess.close()
			entries, matched, err := selectDLQ(ctx, sess.b, s, sess.q)
			if err != nil {
				return err
			}
			ids := make([]string, len(entries))
			reasons := map[string]int{}
			for i, e := range entries {
				ids[i] = e.ID
				reasons[e.Fields["reason"]]++
			}
			fmt.Fprintf(g.stdout, "selected %d of %d matching entries in %s\n", len(ids), matched, sess.q.Key)
			if len(ids) == 0 {
				fmt.Fprintln(g.stdout, "nothing to delete")
				return nil
			}
			fmt.Fprintf(g.stdout, "  delete %d for good\n  by reason: %s\n", len(ids), dlqCounts(reasons))
			if f.dryRun {
				fmt.Fprintln(g.stdout, "dry run: nothing changed")
				return nil
			}
			if err := confirm(cmd, g, f.yes, "purge", fmt.Sprintf("delete %d entries from %s for good?", len(ids), sess.q.Key)); err != nil {
				return err
			}
			st, closeDB, err := sess.openAudit(ctx)
			if err != nil {
				return err
			}
			defer closeDB()
			deleted, delErr := sess.b.Purge(ctx, sess.q.Key, ids)
			fmt.Fprintf(g.stdout, "deleted %d, missing %d (no longer in %s)\n", deleted, int64(len(ids))-deleted, sess.q.Key)
			who, _ := f.changedBy()
			aerr := g.dlqAudit(ctx, st, dlqadmin.PurgeChange(sess.q, ids, f.sel.describe(), dlqadmin.Purged{Deleted: deleted, Err: delErr},
				store.Actor{ChangedBy: who, Reason: f.reasonText, CorrelationID: uuid.NewString()}), "purge")
			return errors.Join(delErr, aerr)
		},
	}
	f.register(cmd)
	return cmd
}

// Fields of an entry shown first, in this order; others follow sorted.
var dlqFieldOrder = []string{"reason", "error", "status", "attempts", "deliveries", "replays",
	"source", "source_id", "origin", "origin_id", "failed_at"}

// dlqNumericFields are written as numbers in JSON.
var dlqNumericFields = map[string]bool{"status": true, "attempts": true, "deliveries": true, "replays": true}

func writeDLQTable(w io.Writer, entries []queue.Entry, now time.Time) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tAGE\tREASON\tREPLAYS\tATTEMPTS\tDELIVERIES\tSTATUS\tERROR")
	for _, e := range entries {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", e.ID, dlqAge(now.Sub(e.Time())),
			dlqOrDash(e.Fields["reason"]), dlqOrDash(e.Fields["replays"]), dlqOrDash(e.Fields["attempts"]),
			dlqOrDash(e.Fields["deliveries"]), dlqOrDash(e.Fields["status"]), dlqShorten(e.Fields["error"], dlqErrorWidth))
	}
	if err := tw.Flush(); err != nil {
		return fmt.Errorf("writing the list: %w", err)
	}
	return nil
}

func dlqOrDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// dlqShorten puts s on one line and cuts it to n characters.
func dlqShorten(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	if utf8.RuneCountInString(s) <= n {
		return dlqOrDash(s)
	}
	r := []rune(s)
	return string(r[:n-1]) + "…"
}

func dlqAge(d time.Duration) string {
	switch {
	case d < 0:
		return "0s"
	case d < time.Minute:
		return fmt.Sprintf("%ds", int(d.Seconds()))
	case d < time.Hour:
		return fmt.Sprintf("%dm%02ds", int(d.Minutes()), int(d.Seconds())%60)
	case d < 48*time.Hour:
		return fmt.Sprintf("%dh%02dm", int(d.Hours()), int(d.Minutes())%60)
	}
	return fmt.Sprintf("%dd%02dh", int(d.Hours())/24, int(d.Hours())%24)
}

// dlqEntryJSON is an entry as `list --json` writes it: its fields (counters
// as numbers), where and when, and the payload as JSON when it is JSON.
func dlqEntryJSON(q dlqadmin.Queue, e queue.Entry, now time.Time) map[string]any {
	m := map[string]any{
		"id": e.ID, "queue": q.Key,
		"written_at":  e.Time().Format(time.RFC3339Nano),
		"age_seconds": int64(now.Sub(e.Time()).Seconds()),
	}
	for k, v := range e.Fields {
		if k == queue.PayloadField {
			continue
		}
		if n, err := strconv.ParseInt(v, 10, 64); err == nil && dlqNumericFields[k] {
			m[k] = n
			continue
		}
		m[k] = v
	}
	raw := dlqadmin.RedactPayload(e.Payload())
	if json.Valid(raw) {
		m["payload"] = json.RawMessage(raw)
	} else {
		m["payload"] = string(raw)
	}
	return m
}

func writeDLQEntry(w io.Writer, q dlqadmin.Queue, e queue.Entry, now time.Time) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "id:\t%s\n", e.ID)
	fmt.Fprintf(tw, "queue:\t%s\n", q.Key)
	fmt.Fprintf(tw, "written_at:\t%s (%s ago)\n", e.Time().Format(time.RFC3339Nano), dlqAge(now.Sub(e.Time())))
	seen := map[string]bool{queue.PayloadField: true}
	for _, k := range dlqFieldOrder {
		if v, ok := e.Fields[k]; ok {
			fmt.Fprintf(tw, "%s:\t%s\n", k, v)
			seen[k] = true
		}
	}
	var rest []string
	for k := range e.Fields {
		if !seen[k] {
			rest = append(rest, k)
		}
	}
	sort.Strings(rest)
	for _, k := range rest {
		fmt.Fprintf(tw, "%s:\t%s\n", k, e.Fields[k])
	}
	if err := tw.Flush(); err != nil {
		return fmt.Errorf("writing entry %s: %w", e.ID, err)
	}
	raw := dlqadmin.RedactPayload(e.Payload())
	var pretty bytes.Buffer
	if json.Indent(&pretty, raw, "", "  ") == nil {
		raw = pretty.Bytes()
	}
	fmt.Fprintf(w, "payload:\n%s\n", raw)
	return nil
}
