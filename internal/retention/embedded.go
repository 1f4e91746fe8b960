package retention

import (
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	"github.com/google/uuid"

	"github.com/mutt-go/mutt/internal/backup"
	"github.com/mutt-go/mutt/internal/embedded/sqlstore"
	"github.com/mutt-go/mutt/internal/store"
)

// DefaultChunkRows is how many audit rows one delete transaction of the
// embedded store removes at most, so that the writer lock the alerter
// waits for is never held long.
const DefaultChunkRows = 10000

// EmbeddedOptions are what a run on the embedded store works on: the
// fields of Options but Pool and Redis, which it ignores (DLQs are the
// database's dead-letter queues; the backup gate reads BackupRoot for
// verified sets with a sqlite component), and the database.
type EmbeddedOptions struct {
	Options
	DB *sqlstore.DB
	// ChunkRows bounds the rows of one delete transaction (0: DefaultChunkRows).
	ChunkRows int
}

// embeddedRunner carries one embedded run's state between its steps.
type embeddedRunner struct {
	o    EmbeddedOptions
	res  *Result
	run  string // correlation id of the run's audit rows
	plan bool   // list the actions only: a dry run, or a refused one
}

// RunEmbedded enforces the policy once on the embedded store: every month
// of audit rows past the active period is archived (the same file as a
// dropped partition's, copied to the remotes) and then deleted,
// configuration audit rows past theirs archived and deleted, archive files
// past the archive period and dead letters past theirs deleted. Nothing is
// deleted while the newest verified sqlite backup is older than the gate:
// the run then lists what it would have done, none of it done, and returns
// an error wrapping ErrBackupGate. Every change is recorded in
// config_audit_log in the transaction that makes it.
func RunEmbedded(ctx context.Context, o EmbeddedOptions) (Result, error) {
	var err error
	if o.Logger, o.Now, err = prepare(o.Policy, o.Logger, o.Now); err != nil {
		return Result{}, err
	}
	if o.ChunkRows <= 0 {
		o.ChunkRows = DefaultChunkRows
	}
	res := Result{DryRun: o.DryRun, At: o.Now}
	unlock, err := lockFile(o.DB.Path() + ".retention.lock")
	if err != nil {
		return res, err
	}
	defer unlock()
	r := &embeddedRunner{o: o, res: &res, run: uuid.NewString(), plan: o.DryRun}
	gateErr := checkGate(&res, o.BackupRoot, backup.ComponentSQLite, o.Policy.BackupGate, o.Logger)
	if gateErr != nil && !errors.Is(gateErr, ErrBackupGate) {
		return res, gateErr
	}
	r.plan = r.plan || gateErr != nil
	for _, step := range []func(context.Context) error{r.oldMonths, r.oldArchive, r.oldConfigAudit, r.oldDeadLetters} {
		if err := step(ctx); err != nil {
			return res, err
		}
	}
	return res, gateErr
}

// lockFile takes an exclusive lock on path (created if needed) so that
// runs on one database never overlap; ErrLocked when another holds it.
func lockFile(path string) (func(), error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, fmt.Errorf("opening the retention lock %s: %w", path, err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		_ = f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, ErrLocked
		}
		return nil, fmt.Errorf("taking the retention lock %s: %w", path, err)
	}
	return func() { _ = f.Close() }, nil
}

func (r *embeddedRunner) add(a Action) { r.res.Actions = append(r.res.Actions, a) }

// csvOut writes the rows export emits as CSV into w.
func csvOut(w io.Writer, export func(emit func([]string) error) (sqlstore.Exported, error), ex *sqlstore.Exported) (int64, error) {
	cw := csv.NewWriter(w)
	var err error
	*ex, err = export(cw.Write)
	if err != nil {
		return 0, err
	}
	cw.Flush()
	return ex.Rows, cw.Error()
}

// freePath returns path, or when an archive is already there (left by an
// interrupted run, whose rows may be partly deleted) a name beside it that
// the archive period still reads: an archive is never overwritten.
func (r *embeddedRunner) freePath(path, base string) string {
	if _, err := os.Lstat(path); os.IsNotExist(err) {
		return path
	}
	return filepath.Join(filepath.Dir(path), base+"_before_"+r.o.Now.Format(stampFmt)+".csv.gz")
}

// oldMonths archives, then deletes, every month of audit rows whose whole
// month is older than the active period, as oldPartitions does with the
// monthly partitions.
func (r *embeddedRunner) oldMonths(ctx context.Context) error {
	cutoff := r.o.Now.AddDate(0, 0, -r.o.Policy.ActiveDays)
	months, err := r.o.DB.EventAuditMonths(ctx, monthStart(cutoff))
	if err != nil {
		return err
	}
	for _, m := range months {
		name := partitionName(m.Start)
		end := m.Start.AddDate(0, 1, 0)
		path := filepath.Join(r.o.ArchiveDir, eventDir, strconv.Itoa(m.Start.Year()), name+".csv.gz")
		if r.plan {
			r.add(Action{Kind: "archive_partition", Target: name, Rows: m.Rows, File: path})
			continue
		}
		var ex sqlstore.Exported
		a, err := writeArchive(ctx, r.o.ArchiveDir, r.o.Remotes, r.freePath(path, name), "the database", func(w io.Writer) (int64, error) {
			return csvOut(w, func(emit func([]string) error) (sqlstore.Exported, error) {
				return r.o.DB.ExportEventAudit(ctx, m.Start, end, emit)
			}, &ex)
		})
		if err != nil {
			return fmt.Errorf("archiving the audit rows of %s: %w", name, err)
		}
		c := change(store.OpDelete, "event_audit_log", m.Start, a.values(r.o.ArchiveDir),
			fmt.Sprintf("retention: audit rows of a month past the %d-day active period, archived then deleted", r.o.Policy.ActiveDays), r.run)
		n, err := r.o.DB.DeleteEventAudit(ctx, m.Start, end, ex.MaxID, r.o.ChunkRows, c)
		if err != nil {
			return err
		}
		if n != a.rows {
			return fmt.Errorf("deleted %d audit rows of %s, %d were archived to %s", n, name, a.rows, a.path)
		}
		r.add(Action{Kind: "archive_partition", Target: name, Rows: a.rows, File: a.path, SHA256: a.sha256, Done: true})
		r.o.Logger.Info("archived and deleted a month of audit rows", "month", name, "rows", a.rows, "file", a.path)
	}
	return nil
}

// oldArchive deletes archive files whose data is older than the archive
// period.
func (r *embeddedRunner) oldArchive(ctx context.Context) error {
	cutoff := r.o.Now.AddDate(-r.o.Policy.ArchiveYears, 0, 0)
	return purgeArchives(r.o.ArchiveDir, cutoff, r.plan, r.add, func(rel string) error {
		c := change(store.OpDelete, "archive_file", cutoff, map[string]any{"archive": rel},
			fmt.Sprintf("retention: archive past %d years deleted", r.o.Policy.ArchiveYears), r.run)
		if _, err := r.o.DB.RecordConfigChange(ctx, c); err != nil {
			return fmt.Errorf("recording the deletion of %s in config_audit_log: %w", rel, err)
		}
		return nil
	})
}

// oldConfigAudit archives, then deletes, configuration audit rows past
// their retention.
func (r *embeddedRunner) oldConfigAudit(ctx context.Context) error {
	cutoff := r.o.Now.AddDate(0, 0, -r.o.Policy.ConfigAuditDays)
	n, err := r.o.DB.CountConfigAuditBefore(ctx, cutoff)
	if err != nil || n == 0 {
		return err
	}
	base := "config_audit_log_before_" + cutoff.Format(stampFmt)
	path := filepath.Join(r.o.ArchiveDir, configDir, base+".csv.gz")
	if r.plan {
		r.add(Action{Kind: "archive_rows", Target: "config_audit_log", Rows: n, File: path})
		return nil
	}
	var ex sqlstore.Exported
	a, err := writeArchive(ctx, r.o.ArchiveDir, r.o.Remotes, path, "the database", func(w io.Writer) (int64, error) {
		return csvOut(w, func(emit func([]string) error) (sqlstore.Exported, error) {
			return r.o.DB.ExportConfigAudit(ctx, cutoff, emit)
		}, &ex)
	})
	if err != nil {
		return fmt.Errorf("archiving config_audit_log rows: %w", err)
	}
	c := change(store.OpDelete, "config_audit_log", cutoff, a.values(r.o.ArchiveDir),
		fmt.Sprintf("retention: configuration audit rows past %d days, archived then deleted", r.o.Policy.ConfigAuditDays), r.run)
	if _, err := r.o.DB.DeleteConfigAudit(ctx, cutoff, ex.MaxID, a.rows, c); err != nil {
		return err
	}
	r.add(Action{Kind: "archive_rows", Target: "config_audit_log", Rows: a.rows, File: a.path, SHA256: a.sha256, Done: true})
	r.o.Logger.Info("archived and deleted rows", "table", "config_audit_log", "rows", a.rows, "file", a.path)
	return nil
}

// oldDeadLetters deletes the dead letters parked before their retention.
func (r *embeddedRunner) oldDeadLetters(ctx context.Context) error {
	cutoff := r.o.Now.AddDate(0, 0, -r.o.Policy.DLQDays)
	for _, q := range r.o.DLQs {
		if r.plan {
			n, err := r.o.DB.CountDeadLettersBefore(ctx, q, cutoff)
			if err != nil {
				return err
			}
			if n > 0 {
				r.add(Action{Kind: "trim_dlq", Target: q, Rows: n})
			}
			continue
		}
		table := auditTable(q)
		n, err := r.o.DB.DeleteDeadLettersBefore(ctx, q, cutoff, func(n int64) store.ConfigChange {
			return change(store.OpDelete, table, cutoff, map[string]any{"entries": n, "before": cutoff.Format(time.RFC3339)},
				fmt.Sprintf("retention: dead-letter entries past %d days trimmed", r.o.Policy.DLQDays), r.run)
		})
		if err != nil {
			return err
		}
		if n > 0 {
			r.add(Action{Kind: "trim_dlq", Target: q, Rows: n, Done: true})
		}
	}
	return nil
}

// MeasureEmbeddedTables reads the size and oldest row of the embedded
// store's audit tables, for the capacity metrics.
func MeasureEmbeddedTables(ctx context.Context, db *sqlstore.DB) ([]TableStat, error) {
	stats, err := db.AuditTableStats(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]TableStat, len(stats))
	for i, s := range stats {
		out[i] = TableStat(s)
	}
	return out, nil
}
