package retention

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"strconv"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/redis/go-redis/v9"

	"github.com/mutt-go/mutt/internal/backup"
	"github.com/mutt-go/mutt/internal/store"
)

// Actor is the changed_by of every config_audit_log row a run writes.
const Actor = "mutt-retention"

// Policy is how long each kind of data is kept.
type Policy struct {
	// ActiveDays is how long audit rows stay in event_audit_log
	// (RETENTION_EVENT_AUDIT_DAYS, 90). A monthly partition is archived and
	// dropped once its whole month is older.
	ActiveDays int
	// ArchiveYears is how long archive files and event_audit_log_archive
	// rows are kept (EVENT_ARCHIVE_RETENTION_YEARS, 7).
	ArchiveYears int
	// ConfigAuditDays is how long config_audit_log rows are kept
	// (CONFIG_AUDIT_RETENTION_DAYS, 365: the compliance line).
	ConfigAuditDays int
	// DLQDays is how long dead-letter entries are kept (RETENTION_DLQ_DAYS, 30).
	DLQDays int
	// PartitionsAhead is how many monthly audit partitions after the
	// current one must exist (RETENTION_PRECREATE_MONTHS, 3).
	PartitionsAhead int
	// BackupGate is the oldest the newest verified database backup may be
	// for anything to be dropped or deleted (26 h).
	BackupGate time.Duration
}

// DefaultPolicy is the operations guide's policy.
func DefaultPolicy() Policy {
	return Policy{ActiveDays: 90, ArchiveYears: 7, ConfigAuditDays: 365, DLQDays: 30, PartitionsAhead: 3, BackupGate: 26 * time.Hour}
}

// MinDays is the shortest retention a policy may set: anything shorter is
// more likely a unit mistake than a decision.
const MinDays = 7

// Validate names the first field out of range.
func (p Policy) Validate() error {
	for _, f := range []struct {
		name string
		v    int
	}{{"RETENTION_EVENT_AUDIT_DAYS", p.ActiveDays}, {"CONFIG_AUDIT_RETENTION_DAYS", p.ConfigAuditDays}, {"RETENTION_DLQ_DAYS", p.DLQDays}} {
		if f.v < MinDays {
			return fmt.Errorf("%s must be at least %d days, got %d", f.name, MinDays, f.v)
		}
	}
	if p.ArchiveYears < 1 {
		return fmt.Errorf("EVENT_ARCHIVE_RETENTION_YEARS must be at least 1, got %d", p.ArchiveYears)
	}
	if p.ArchiveYears*365 < p.ActiveDays {
		return fmt.Errorf("EVENT_ARCHIVE_RETENTION_YEARS (%d) must cover RETENTION_EVENT_AUDIT_DAYS (%d)", p.ArchiveYears, p.ActiveDays)
	}
	if p.PartitionsAhead < 1 || p.PartitionsAhead > 24 {
		return fmt.Errorf("RETENTION_PRECREATE_MONTHS must be from 1 to 24, got %d", p.PartitionsAhead)
	}
	if p.BackupGate <= 0 {
		return fmt.Errorf("the backup gate must be positive, got %s", p.BackupGate)
	}
	return nil
}

// Options are what a run works on.
type Options struct {
	Policy Policy
	Pool   *pgxpool.Pool
	// Redis and DLQs are the dead-letter streams to trim; nil Redis skips them.
	Redis redis.UniversalClient
	DLQs  []string
	// ArchiveDir receives the compressed archive files.
	ArchiveDir string
	// Remotes receive a copy of every archive file (under archive/, beside
	// the backup sets) before anything it holds is dropped.
	Remotes []backup.RemoteStore
	// BackupRoot is where the backup gate looks for verified sets.
	BackupRoot string
	DryRun     bool
	Now        time.Time
	Logger     *slog.Logger
}

// Action is one thing a run did, or would do in a dry run.
type Action struct {
	Kind   string `json:"kind"`   // create_partition, archive_partition, archive_rows, delete_file, delete_rows, trim_dlq
	Target string `json:"target"` // partition, table, file or stream
	Rows   int64  `json:"rows"`
	File   string `json:"file,omitempty"`
	SHA256 string `json:"sha256,omitempty"`
	Done   bool   `json:"done"`
}

// Result is the outcome of a run.
type Result struct {
	DryRun  bool      `json:"dry_run"`
	At      time.Time `json:"at"`
	Actions []Action  `json:"actions"`
	// Backup is the newest verified database backup the gate looked at.
	Backup Backup `json:"backup"`
	// Refused says why nothing was dropped or deleted; "" when the gate passed.
	Refused string `json:"refused,omitempty"`
}

// ErrBackupGate is returned (wrapped) when the run refused to drop or
// delete anything because no recent verified database backup exists.
var ErrBackupGate = errors.New("refusing to drop or delete: no verified database backup within the gate")

// ErrLocked is returned when another run holds the retention lock.
var ErrLocked = errors.New("another retention run is in progress")

// lockID is the session advisory lock that keeps runs from overlapping.
const lockID int64 = 0x6d757474_00000008 // "mutt", 8

// partitionRE matches the monthly audit partitions.
var partitionRE = regexp.MustCompile(`^event_audit_log_([0-9]{4})_([0-9]{2})$`)

// Run enforces the policy once. Partitions ahead are created first, even
// when the backup gate then refuses the destructive steps; every change is
// recorded in config_audit_log. A dry run changes nothing and returns the
// actions a real run would take.
func Run(ctx context.Context, o Options) (Result, error) {
	var err error
	if o.Logger, o.Now, err = prepare(o.Policy, o.Logger, o.Now); err != nil {
		return Result{}, err
	}
	res := Result{DryRun: o.DryRun, At: o.Now}
	conn, err := o.Pool.Acquire(ctx)
	if err != nil {
		return res, fmt.Errorf("connecting for the retention lock: %w", err)
	}
	defer conn.Release()
	var locked bool
	if err := conn.QueryRow(ctx, "SELECT pg_try_advisory_lock($1)", lockID).Scan(&locked); err != nil {
		return res, fmt.Errorf("taking the retention lock: %w", err)
	}
	if !locked {
		return res, ErrLocked
	}
	defer func() { _, _ = conn.Exec(context.WithoutCancel(ctx), "SELECT pg_advisory_unlock($1)", lockID) }()

	r := &runner{o: o, res: &res, audit: store.New(o.Pool), run: uuid.NewString()}
	if err := r.partitionsAhead(ctx); err != nil {
		return res, err
	}
	if err := checkGate(&res, o.BackupRoot, backup.ComponentPostgres, o.Policy.BackupGate, o.Logger); err != nil {
		return res, err
	}
	steps := []func(context.Context) error{r.oldPartitions, r.oldDefaultRows, r.oldArchive, r.oldConfigAudit, r.oldDeadLetters}
	for _, step := range steps {
		if err := step(ctx); err != nil {
			return res, err
		}
	}
	return res, nil
}

// prepare validates a run's policy and fills in its logger (discarding)
// and its time (now, in UTC).
func prepare(p Policy, logger *slog.Logger, now time.Time) (*slog.Logger, time.Time, error) {
	if err := p.Validate(); err != nil {
		return nil, time.Time{}, fmt.Errorf("retention policy: %w", err)
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if now.IsZero() {
		now = time.Now()
	}
	return logger, now.UTC(), nil
}

// runner carries one run's state between its steps.
type runner struct {
	o     Options
	res   *Result
	audit *store.Store
	run   string // correlation id of the run's audit rows
}

func (r *runner) add(a Action) { r.res.Actions = append(r.res.Actions, a) }

// record writes the audit row of an action inside tx (or on its own when
// tx is nil).
func (r *runner) record(ctx context.Context, tx pgx.Tx, op, table string, month time.Time, values map[string]any, reason string) error {
	c := change(op, table, month, values, reason, r.run)
	var err error
	if tx != nil {
		_, err = store.RecordConfigChangeTx(ctx, tx, c)
	} else {
		_, err = r.audit.RecordConfigChange(ctx, c)
	}
	if err != nil {
		return fmt.Errorf("recording %s of %s in config_audit_log: %w", op, table, err)
	}
	return nil
}

// change is the config_audit_log row of one action of run: values are the
// old values of a delete, the new ones otherwise.
func change(op, table string, month time.Time, values map[string]any, reason, run string) store.ConfigChange {
	c := store.ConfigChange{ChangedBy: Actor, Operation: op, TableName: table, RecordID: monthID(month), Reason: reason, CorrelationID: run}
	if op == store.OpDelete {
		c.Old = values
	} else {
		c.New = values
	}
	return c
}

// monthID is the audit record id of a month: YYYYMM.
func monthID(t time.Time) int64 {
	return int64(t.Year()*100 + int(t.Month()))
}

func monthStart(t time.Time) time.Time {
	return time.Date(t.Year(), t.Month(), 1, 0, 0, 0, 0, time.UTC)
}

// partitions lists the monthly audit partitions by their month.
func (r *runner) partitions(ctx context.Context) (map[string]time.Time, error) {
	rows, err := r.o.Pool.Query(ctx, `
		SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
		WHERE i.inhparent = 'event_audit_log'::regclass`)
	if err != nil {
		return nil, fmt.Errorf("listing audit partitions: %w", err)
	}
	names, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("listing audit partitions: %w", err)
	}
	out := map[string]time.Time{}
	for _, n := range names {
		m := partitionRE.FindStringSubmatch(n)
		if m == nil {
			continue
		}
		y, _ := strconv.Atoi(m[1])
		mo, _ := strconv.Atoi(m[2])
		out[n] = time.Date(y, time.Month(mo), 1, 0, 0, 0, 0, time.UTC)
	}
	return out, nil
}

func (r *runner) partitionsAhead(ctx context.Context) error {
	have, err := r.partitions(ctx)
	if err != nil {
		return err
	}
	first := monthStart(r.o.Now)
	var missing []time.Time
	for i := 0; i <= r.o.Policy.PartitionsAhead; i++ {
		m := first.AddDate(0, i, 0)
		if _, ok := have[partitionName(m)]; !ok {
			missing = append(missing, m)
		}
	}
	if r.o.DryRun {
		for _, m := range missing {
			r.add(Action{Kind: "create_partition", Target: partitionName(m)})
		}
		return nil
	}
	created, err := store.EnsurePartitions(ctx, r.o.Pool, r.o.Now, r.o.Policy.PartitionsAhead+1)
	for _, name := range created {
		r.add(Action{Kind: "create_partition", Target: name, Done: true})
		m := partitionRE.FindStringSubmatch(name)
		y, _ := strconv.Atoi(m[1])
		mo, _ := strconv.Atoi(m[2])
		if aerr := r.record(ctx, nil, store.OpCreate, name, time.Date(y, time.Month(mo), 1, 0, 0, 0, 0, time.UTC),
			map[string]any{"action": "create_partition"}, "retention: monthly audit partition created ahead"); aerr != nil {
			return aerr
		}
	}
	if err != nil {
		return fmt.Errorf("creating audit partitions ahead: %w", err)
	}
	return nil
}

// partitionName is the audit partition of the month starting at m.
func partitionName(m time.Time) string {
	return fmt.Sprintf("event_audit_log_%04d_%02d", m.Year(), int(m.Month()))
}

// activeCutoff is the oldest time an audit row may have and stay live.
func (r *runner) activeCutoff() time.Time {
	return r.o.Now.AddDate(0, 0, -r.o.Policy.ActiveDays)
}
