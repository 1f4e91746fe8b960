package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"
	"github.com/redis/go-redis/v9"
	"github.com/spf13/cobra"

	"github.com/mutt-go/mutt/internal/app"
	"github.com/mutt-go/mutt/internal/config"
	"github.com/mutt-go/mutt/internal/queue"
	"github.com/mutt-go/mutt/internal/secrets"
	"github.com/mutt-go/mutt/internal/store"
)

// Audit trail of DLQ changes. A Redis queue has no row in PostgreSQL, but
// record_id is NOT NULL and the writer contract wants it ≥ 1: every DLQ
// change is filed under the fixed record 1 of the pseudo-table redis_dlq,
// and the queue itself is named in old_values.queue, which the GIN index
// on old_values makes searchable.
const (
	dlqAuditTable    = "redis_dlq"
	dlqAuditRecordID = 1
	// dlqAuditMaxIDs bounds the entry IDs copied into one audit row; count
	// always says how many there were.
	dlqAuditMaxIDs = 1000
)

// dlqPageSize is how many entries one XRANGE reads while selecting.
const dlqPageSize = 1000

// dlqErrorWidth is how much of an entry's error the list shows.
const dlqErrorWidth = 60

// dlqQueue is a dead-letter queue named on the command line.
type dlqQueue struct {
	name string // alerter, moog or dead
	key  string // its Redis key
	// target is where replayed entries go; "" for the dead queue, whose
	// entries go back where each one came from.
	target string
}

// resolveDLQ maps a queue argument (short name or full key) to its queue.
func resolveDLQ(k config.Keys, arg string) (dlqQueue, error) {
	queues := []dlqQueue{
		{name: "alerter", key: k.AlerterDLQ, target: k.IngestQueue},
		{name: "moog", key: k.MoogDLQ, target: k.AlertQueue},
		{name: "dead", key: k.DeadDLQ},
	}
	for _, q := range queues {
		if arg == q.name || arg == q.key {
			return q, nil
		}
	}
	return dlqQueue{}, usageError{fmt.Errorf("unknown queue %q: use alerter, moog or dead (or the keys %s, %s, %s)",
		arg, k.AlerterDLQ, k.MoogDLQ, k.DeadDLQ)}
}

// dlqDeadTarget decides where an entry of the dead queue goes back to: the
// work queue it failed from, which is its source, or, when it reached the
// dead queue through another DLQ, its origin, or failing that the queue
// that DLQ replays to. ok is false when the entry names no queue MUTT knows.
func dlqDeadTarget(k config.Keys, e queue.Entry) (target string, ok bool) {
	src := e.Fields["source"]
	switch src {
	case k.IngestQueue, k.AlertQueue:
		return src, true
	case k.AlerterDLQ, k.MoogDLQ, k.DeadDLQ:
		if o := e.Fields["origin"]; o == k.IngestQueue || o == k.AlertQueue {
			return o, true
		}
		switch src {
		case k.AlerterDLQ:
			return k.IngestQueue, true
		case k.MoogDLQ:
			return k.AlertQueue, true
		}
	}
	return "", false
}

var dlqIDPattern = regexp.MustCompile(`^[0-9]+(-[0-9]+)?$`)

// normalizeDLQID checks a stream entry ID and completes a bare millisecond
// time with sequence 0, as Redis does.
func normalizeDLQID(id string) (string, error) {
	if !dlqIDPattern.MatchString(id) {
		return "", usageError{fmt.Errorf("%q is not an entry ID (they look like 1736680200123-0); run `mutt dlq list` to see them", id)}
	}
	if !strings.Contains(id, "-") {
		id += "-0"
	}
	return id, nil
}

// parseDLQAge reads a duration in Go syntax (90s, 15m, 2h30m) or whole days (3d).
func parseDLQAge(flag, v string) (time.Duration, error) {
	var d time.Duration
	var err error
	if days, ok := strings.CutSuffix(v, "d"); ok {
		var n int64
		n, err = strconv.ParseInt(days, 10, 64)
		if err == nil && n > 1<<20 {
			err = errors.New("too many days")
		}
		d = time.Duration(n) * 24 * time.Hour
	} else {
		d, err = time.ParseDuration(v)
	}
	if err != nil || d < 0 {
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

// dlqSelector picks entries of a DLQ.
type dlqSelector struct {
	reasons map[string]bool // nil: any reason
	after   time.Time       // zero: no lower bound on the entry time
	before  time.Time       // zero: no upper bound (exclusive)
	ids     []string        // nil: scan the queue
	limit   int             // 0: no limit
	// dropPayload saves memory when only IDs and metadata are needed.
	dropPayload bool
}

// selector turns the flags into a dlqSelector, as of now.
func (f *dlqSelectFlags) selector(now time.Time) (dlqSelector, error) {
	s := dlqSelector{limit: f.limit}
	if f.limit < 0 {
		return s, usageError{fmt.Errorf("--limit must be 0 or more, got %d", f.limit)}
	}
	if len(f.reasons) > 0 {
		s.reasons = map[string]bool{}
		for _, r := range f.reasons {
			s.reasons[r] = true
		}
	}
	var older, newer time.Duration
	var err error
	if f.olderThan != "" {
		if older, err = parseDLQAge("older-than", f.olderThan); err != nil {
			return s, err
		}
		s.before = now.Add(-older)
	}
	if f.newerThan != "" {
		if newer, err = parseDLQAge("newer-than", f.newerThan); err != nil {
			return s, err
		}
		s.after = now.Add(-newer)
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
		if !slices.Contains(s.ids, id) {
			s.ids = append(s.ids, id)
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

func (s dlqSelector) match(e queue.Entry) bool {
	if s.reasons != nil && !s.reasons[e.Fields["reason"]] {
		return false
	}
	t := e.Time()
	if !s.after.IsZero() && t.Before(s.after.Truncate(time.Millisecond)) {
		return false
	}
	if !s.before.IsZero() && !t.Before(s.before) {
		return false
	}
	return true
}

// run returns the matching entries of key, oldest first, up to the limit,
// and how many match in all.
func (s dlqSelector) run(ctx context.Context, rdb redis.UniversalClient, q dlqQueue) ([]queue.Entry, int, error) {
	var out []queue.Entry
	matched := 0
	keep := func(e queue.Entry) {
		matched++
		if s.limit == 0 || len(out) < s.limit {
			if s.dropPayload {
				delete(e.Fields, queue.PayloadField)
			}
			out = append(out, e)
		}
	}
	if s.ids != nil {
		for _, id := range s.ids {
			e, err := lookupDLQEntry(ctx, rdb, q, id)
			if err != nil {
				return nil, 0, err
			}
			if s.match(e) {
				keep(e)
			}
		}
		sort.SliceStable(out, func(i, j int) bool { return dlqIDLess(out[i].ID, out[j].ID) })
		return out, matched, nil
	}
	start := "-"
	if !s.after.IsZero() {
		start = strconv.FormatInt(s.after.UnixMilli(), 10)
	}
	for {
		page, err := queue.Range(ctx, rdb, q.key, start, dlqPageSize)
		if err != nil {
			return nil, 0, dlqReadError(q, err)
		}
		for _, e := range page {
			if !s.before.IsZero() && !e.Time().Before(s.before) {
				return out, matched, nil
			}
			if s.match(e) {
				keep(e)
			}
		}
		if len(page) < dlqPageSize {
			return out, matched, nil
		}
		start = "(" + page[len(page)-1].ID
	}
}

// lookupDLQEntry reads one entry, with an error that says what to do when it
// is not there.
func lookupDLQEntry(ctx context.Context, rdb redis.UniversalClient, q dlqQueue, id string) (queue.Entry, error) {
	got, err := queue.Range(ctx, rdb, q.key, id, 1)
	if err != nil {
		return queue.Entry{}, dlqReadError(q, err)
	}
	if len(got) == 0 || got[0].ID != id {
		return queue.Entry{}, fmt.Errorf("no entry %s in %s; run `mutt dlq list %s` to see what is there", id, q.key, q.name)
	}
	return got[0], nil
}

// dlqReadError adds what to do when a DLQ key holds something other than a
// stream, such as a list left behind by an older MUTT.
func dlqReadError(q dlqQueue, err error) error {
	if strings.Contains(err.Error(), "WRONGTYPE") {
		return fmt.Errorf("%w: %s is not a Redis stream (a list from an older MUTT?); look at it with `redis-cli TYPE %s` and move or rename it",
			err, q.key, q.key)
	}
	return err
}

func dlqIDLess(a, b string) bool {
	am, as, _ := strings.Cut(a, "-")
	bm, bs, _ := strings.Cut(b, "-")
	ai, _ := strconv.ParseUint(am, 10, 64)
	bi, _ := strconv.ParseUint(bm, 10, 64)
	if ai != bi {
		return ai < bi
	}
	asq, _ := strconv.ParseUint(as, 10, 64)
	bsq, _ := strconv.ParseUint(bs, 10, 64)
	return asq < bsq
}

// dlqSession is what every dlq subcommand needs once its arguments are
// checked: the configuration, the queue and a Redis client.
type dlqSession struct {
	cfg config.Config
	q   dlqQueue
	rdb *redis.Client
}

// openDLQ loads the configuration and resolves the queue, then calls
// check, which validates the remaining arguments, before connecting to
// Redis, so that usage errors never wait on a server.
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
	rdb, err := app.ConnectRedis(ctx, cfg.Redis, g.logger(cfg))
	if err != nil {
		return nil, err
	}
	return &dlqSession{cfg: cfg, q: q, rdb: rdb}, nil
}

func newDLQCommand(g *globalOptions) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "dlq",
		Short: "Inspect, replay and purge the dead-letter queues",
		Long: `Inspect, replay and purge MUTT's dead-letter queues:

  alerter  events the alerter could not process; replayed to the ingest queue
  moog     alerts Moogsoft would not take; replayed to the alert queue
  dead     entries given up on; each is replayed to the queue it failed from

Every replay and purge is recorded in PostgreSQL (config_audit_log, table_name
redis_dlq). Nothing changes without --yes or a confirmation on a terminal.`,
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
			var s dlqSelector
			sess, err := g.openDLQ(cmd.Context(), args[0], func(config.Config) error {
				var err error
				s, err = sel.selector(now)
				return err
			})
			if err != nil {
				return err
			}
			defer sess.rdb.Close()
			entries, matched, err := s.run(cmd.Context(), sess.rdb, sess.q)
			if err != nil {
				return err
			}
			total, err := sess.rdb.XLen(cmd.Context(), sess.q.key).Result()
			if err != nil {
				return fmt.Errorf("measuring %s: %w", sess.q.key, err)
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
				fmt.Fprintf(countOut, "%d of %d matching entries shown (%s holds %d)\n", len(entries), matched, sess.q.key, total)
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
			defer sess.rdb.Close()
			e, err := lookupDLQEntry(cmd.Context(), sess.rdb, sess.q, id)
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
func (f *dlqChangeFlags) check(verb string, reasonRequired bool) (dlqSelector, error) {
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
	s.dropPayload = true
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
func (g *globalOptions) openDLQAudit(ctx context.Context, cfg config.Config) (*store.Store, func(), error) {
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
func (g *globalOptions) dlqAudit(ctx context.Context, st *store.Store, c store.ConfigChange, action string) error {
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

// dlqAuditSelection is old_values of a DLQ change: which entries.
func dlqAuditSelection(q dlqQueue, ids []string, f *dlqSelectFlags) map[string]any {
	m := map[string]any{
		"queue":   q.key,
		"count":   len(ids),
		"ids":     ids[:min(len(ids), dlqAuditMaxIDs)],
		"filters": f.describe(),
	}
	if len(ids) > dlqAuditMaxIDs {
		m["ids_truncated"] = true
	}
	return m
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
			var s dlqSelector
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
			defer sess.rdb.Close()
			entries, matched, err := s.run(ctx, sess.rdb, sess.q)
			if err != nil {
				return err
			}
			plan := planDLQReplay(sess.cfg.Keys, sess.q, entries, maxReplays)
			plan.write(g.stdout, sess.q, len(entries), matched, maxReplays)
			if plan.count() == 0 {
				fmt.Fprintln(g.stdout, "nothing to replay")
				return nil
			}
			if f.dryRun {
				fmt.Fprintln(g.stdout, "dry run: nothing changed")
				return nil
			}
			if err := confirm(cmd, g, f.yes, "replay", fmt.Sprintf("replay %d entries from %s to %s?", plan.count(), sess.q.key, plan.targetList())); err != nil {
				return err
			}
			st, closeDB, err := g.openDLQAudit(ctx, sess.cfg)
			if err != nil {
				return err
			}
			defer closeDB()
			var total queue.ReplayResult
			replayed := map[string]int{}
			var replayErr error
			for _, target := range plan.targets() {
				res, err := queue.Replay(ctx, sess.rdb, sess.q.key, target, sess.cfg.Keys.DeadDLQ, maxReplays, plan.byTarget[target])
				total.Replayed += res.Replayed
				total.Dead += res.Dead
				total.Missing += res.Missing
				replayed[target] += res.Replayed
				if err != nil {
					replayErr = err
					break
				}
			}
			fmt.Fprintf(g.stdout, "replayed %d, sent to %s %d (over %d replays), missing %d (no longer in %s)\n",
				total.Replayed, sess.cfg.Keys.DeadDLQ, total.Dead, maxReplays, total.Missing, sess.q.key)
			who, _ := f.changedBy()
			result := map[string]any{
				"action": "replay", "target": plan.targetKeys(), "replayed": total.Replayed, "dead": total.Dead,
				"missing": total.Missing, "max_replays": maxReplays,
			}
			if len(plan.byTarget) > 1 {
				result["replayed_to"] = replayed
			}
			if replayErr != nil {
				result["error"] = replayErr.Error()
			}
			aerr := g.dlqAudit(ctx, st, store.ConfigChange{
				ChangedBy: who, Operation: store.OpUpdate, TableName: dlqAuditTable, RecordID: dlqAuditRecordID,
				Old: dlqAuditSelection(sess.q, plan.ids(), &f.sel), New: result,
				Reason: f.reasonText, CorrelationID: uuid.NewString(),
			}, "replay")
			return errors.Join(replayErr, aerr)
		},
	}
	f.register(cmd)
	cmd.Flags().IntVar(&maxReplays, "max-replays", 0,
		"replays allowed per entry before it goes to the dead queue (default: the configured remediation max_replays)")
	return cmd
}

// dlqReplayPlan is where the selected entries go.
type dlqReplayPlan struct {
	byTarget   map[string][]string // target key → entry IDs, oldest first
	reasons    map[string]int      // reason → entries to replay
	unknown    []string            // dead-queue entries with no known source
	atLimit    []string            // dead-queue entries already replayed maxReplays times
	toDead     int                 // entries the replay will send to the dead queue
	maxReplays int
}

func planDLQReplay(k config.Keys, q dlqQueue, entries []queue.Entry, maxReplays int) dlqReplayPlan {
	p := dlqReplayPlan{byTarget: map[string][]string{}, reasons: map[string]int{}, maxReplays: maxReplays}
	for _, e := range entries {
		replays, _ := strconv.Atoi(e.Fields[queue.ReplaysField])
		target := q.target
		if target == "" {
			t, ok := dlqDeadTarget(k, e)
			if !ok {
				p.unknown = append(p.unknown, e.ID)
				continue
			}
			// Sending an entry of the dead queue to the dead queue again
			// would only lose where it came from.
			if replays >= maxReplays {
				p.atLimit = append(p.atLimit, e.ID)
				continue
			}
			target = t
		} else if replays >= maxReplays {
			p.toDead++
		}
		p.byTarget[target] = append(p.byTarget[target], e.ID)
		p.reasons[e.Fields["reason"]]++
	}
	return p
}

func (p dlqReplayPlan) count() int {
	n := 0
	for _, ids := range p.byTarget {
		n += len(ids)
	}
	return n
}

func (p dlqReplayPlan) targets() []string {
	keys := make([]string, 0, len(p.byTarget))
	for k := range p.byTarget {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// targetKeys is the audit log's target: one key, or several comma-separated.
func (p dlqReplayPlan) targetKeys() string { return strings.Join(p.targets(), ",") }

// targetList names the targets for a question: "k" or "k1 (7), k2 (5)".
func (p dlqReplayPlan) targetList() string {
	t := p.targets()
	if len(t) == 1 {
		return t[0]
	}
	parts := make([]string, len(t))
	for i, k := range t {
		parts[i] = fmt.Sprintf("%s (%d)", k, len(p.byTarget[k]))
	}
	return strings.Join(parts, ", ")
}

// ids are the IDs to replay, oldest first.
func (p dlqReplayPlan) ids() []string {
	var out []string
	for _, ids := range p.byTarget {
		out = append(out, ids...)
	}
	sort.Slice(out, func(i, j int) bool { return dlqIDLess(out[i], out[j]) })
	return out
}

func (p dlqReplayPlan) write(w io.Writer, q dlqQueue, selected, matched, maxReplays int) {
	fmt.Fprintf(w, "selected %d of %d matching entries in %s\n", selected, matched, q.key)
	for _, t := range p.targets() {
		fmt.Fprintf(w, "  replay %d to %s\n", len(p.byTarget[t]), t)
	}
	if p.toDead > 0 {
		fmt.Fprintf(w, "  of these, %d have been replayed %d times already and will go to the dead queue instead (raise --max-replays to replay them)\n",
			p.toDead, maxReplays)
	}
	if len(p.reasons) > 0 {
		fmt.Fprintf(w, "  by reason: %s\n", dlqCounts(p.reasons))
	}
	if len(p.atLimit) > 0 {
		fmt.Fprintf(w, "  skip %d already replayed %d times (pass --max-replays %d or more to replay them anyway): %s\n",
			len(p.atLimit), maxReplays, maxReplays+1, dlqAbbreviate(p.atLimit))
	}
	if len(p.unknown) > 0 {
		fmt.Fprintf(w, "  skip %d whose source queue is unknown (inspect them with `mutt dlq show %s ID`): %s\n",
			len(p.unknown), q.name, dlqAbbreviate(p.unknown))
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
			var s dlqSelector
			sess, err := g.openDLQ(ctx, args[0], func(config.Config) error {
				var err error
				s, err = f.check("purge", true)
				return err
			})
			if err != nil {
				return err
			}
			defer sess.rdb.Close()
			entries, matched, err := s.run(ctx, sess.rdb, sess.q)
			if err != nil {
				return err
			}
			ids := make([]string, len(entries))
			reasons := map[string]int{}
			for i, e := range entries {
				ids[i] = e.ID
				reasons[e.Fields["reason"]]++
			}
			fmt.Fprintf(g.stdout, "selected %d of %d matching entries in %s\n", len(ids), matched, sess.q.key)
			if len(ids) == 0 {
				fmt.Fprintln(g.stdout, "nothing to delete")
				return nil
			}
			fmt.Fprintf(g.stdout, "  delete %d for good\n  by reason: %s\n", len(ids), dlqCounts(reasons))
			if f.dryRun {
				fmt.Fprintln(g.stdout, "dry run: nothing changed")
				return nil
			}
			if err := confirm(cmd, g, f.yes, "purge", fmt.Sprintf("delete %d entries from %s for good?", len(ids), sess.q.key)); err != nil {
				return err
			}
			st, closeDB, err := g.openDLQAudit(ctx, sess.cfg)
			if err != nil {
				return err
			}
			defer closeDB()
			deleted, delErr := queue.Delete(ctx, sess.rdb, sess.q.key, ids)
			fmt.Fprintf(g.stdout, "deleted %d, missing %d (no longer in %s)\n", deleted, int64(len(ids))-deleted, sess.q.key)
			who, _ := f.changedBy()
			// A DELETE row keeps no new values, so what was done goes
			// with the selection into old_values.
			old := dlqAuditSelection(sess.q, ids, &f.sel)
			old["action"] = "purge"
			old["deleted"] = deleted
			if delErr != nil {
				old["error"] = delErr.Error()
			}
			aerr := g.dlqAudit(ctx, st, store.ConfigChange{
				ChangedBy: who, Operation: store.OpDelete, TableName: dlqAuditTable, RecordID: dlqAuditRecordID,
				Old: old, Reason: f.reasonText, CorrelationID: uuid.NewString(),
			}, "purge")
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
func dlqEntryJSON(q dlqQueue, e queue.Entry, now time.Time) map[string]any {
	m := map[string]any{
		"id": e.ID, "queue": q.key,
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
	raw := redactDLQPayload(e.Payload())
	if json.Valid(raw) {
		m["payload"] = json.RawMessage(raw)
	} else {
		m["payload"] = string(raw)
	}
	return m
}

func writeDLQEntry(w io.Writer, q dlqQueue, e queue.Entry, now time.Time) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "id:\t%s\n", e.ID)
	fmt.Fprintf(tw, "queue:\t%s\n", q.key)
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
	raw := redactDLQPayload(e.Payload())
	var pretty bytes.Buffer
	if json.Indent(&pretty, raw, "", "  ") == nil {
		raw = pretty.Bytes()
	}
	fmt.Fprintf(w, "payload:\n%s\n", raw)
	return nil
}

// dlqSensitiveKeys are payload members whose values are never shown: old
// alerts carried the Moogsoft API key in every message.
var dlqSensitiveKeys = map[string]bool{
	"api_key": true, "apikey": true, "password": true, "secret": true, "token": true, "authorization": true,
}

// dlqSensitiveKeyList is dlqSensitiveKeys for a quick scan of the raw payload.
var dlqSensitiveKeyList = []string{"api_key", "apikey", "password", "secret", "token", "authorization"}

// redactDLQPayload replaces the values of sensitive members of a JSON object
// payload, at any depth, with a fingerprint that tells keys apart without
// revealing them. Other payloads come back unchanged.
func redactDLQPayload(raw []byte) []byte {
	lower := bytes.ToLower(raw)
	if !slices.ContainsFunc(dlqSensitiveKeyList, func(k string) bool { return bytes.Contains(lower, []byte(k)) }) {
		return raw
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return raw
	}
	if !redactDLQ(v) {
		return raw
	}
	out, err := json.Marshal(v)
	if err != nil {
		return raw
	}
	return out
}

// redactDLQ walks v and reports whether it replaced anything.
func redactDLQ(v any) bool {
	changed := false
	switch t := v.(type) {
	case map[string]any:
		for k, val := range t {
			if dlqSensitiveKeys[strings.ToLower(k)] {
				s, _ := val.(string)
				if s == "" {
					continue
				}
				t[k] = "[REDACTED sha256:" + secrets.New(s).Fingerprint() + "]"
				changed = true
				continue
			}
			changed = redactDLQ(val) || changed
		}
	case []any:
		for _, val := range t {
			changed = redactDLQ(val) || changed
		}
	}
	return changed
}
