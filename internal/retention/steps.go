package retention

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/mutt-go/mutt/internal/store"
)

// Archive layout under ArchiveDir:
//
//	event_audit_log/YYYY/event_audit_log_YYYY_MM.csv.gz        one dropped partition
//	event_audit_log/default/event_audit_log_default_before_<t>.csv.gz  old rows of the default partition
//	config_audit_log/config_audit_log_before_<t>.csv.gz          purged configuration audit rows
//
// each with a <file>.sha256 beside it. <t> is YYYYMMDDTHHMMSSZ.
const (
	eventDir  = "event_audit_log"
	configDir = "config_audit_log"
	stampFmt  = "20060102T150405Z"
)

func sqlTime(t time.Time) string { return "'" + t.UTC().Format(time.RFC3339Nano) + "'::timestamptz" }

// oldPartitions archives and drops every monthly partition whose whole
// month is older than the active period.
func (r *runner) oldPartitions(ctx context.Context) error {
	parts, err := r.partitions(ctx)
	if err != nil {
		return err
	}
	cutoff := r.activeCutoff()
	names := make([]string, 0, len(parts))
	for n, m := range parts {
		if !m.AddDate(0, 1, 0).After(cutoff) {
			names = append(names, n)
		}
	}
	slices.Sort(names)
	for _, name := range names {
		month := parts[name]
		ident := pgx.Identifier{name}.Sanitize()
		path := filepath.Join(r.o.ArchiveDir, eventDir, strconv.Itoa(month.Year()), name+".csv.gz")
		if r.o.DryRun {
			n, err := r.count(ctx, "SELECT count(*) FROM "+ident)
			if err != nil {
				return err
			}
			r.add(Action{Kind: "archive_partition", Target: name, Rows: n, File: path})
			continue
		}
		a, err := r.exportCSV(ctx, "SELECT * FROM "+ident+" ORDER BY event_timestamp, id", path)
		if err != nil {
			return fmt.Errorf("archiving partition %s: %w", name, err)
		}
		err = r.inTx(ctx, func(tx pgx.Tx) error {
			var n int64
			if err := tx.QueryRow(ctx, "SELECT count(*) FROM "+ident).Scan(&n); err != nil {
				return err
			}
			if n != a.rows {
				return fmt.Errorf("partition %s holds %d rows, %d were archived: it changed meanwhile; run again", name, n, a.rows)
			}
			if _, err := tx.Exec(ctx, "DROP TABLE "+ident); err != nil {
				return err
			}
			return r.record(ctx, tx, store.OpDelete, name, month, a.values(r.o.ArchiveDir),
				fmt.Sprintf("retention: audit partition past the %d-day active period, archived then dropped", r.o.Policy.ActiveDays))
		})
		if err != nil {
			return fmt.Errorf("dropping partition %s: %w", name, err)
		}
		r.add(Action{Kind: "archive_partition", Target: name, Rows: a.rows, File: a.path, SHA256: a.sha256, Done: true})
		r.o.Logger.Info("archived and dropped audit partition", "partition", name, "rows", a.rows, "file", a.path)
	}
	return nil
}

// oldDefaultRows archives and deletes the rows of the default partition
// older than the active period (events of months that had no partition).
func (r *runner) oldDefaultRows(ctx context.Context) error {
	cutoff := r.activeCutoff()
	path := filepath.Join(r.o.ArchiveDir, eventDir, "default", "event_audit_log_default_before_"+cutoff.Format(stampFmt)+".csv.gz")
	return r.archiveAndDelete(ctx, "event_audit_log_default", "event_timestamp", cutoff, path,
		fmt.Sprintf("retention: default-partition audit rows past the %d-day active period, archived then deleted", r.o.Policy.ActiveDays))
}

// oldConfigAudit archives and deletes configuration audit rows past their
// retention.
func (r *runner) oldConfigAudit(ctx context.Context) error {
	cutoff := r.o.Now.AddDate(0, 0, -r.o.Policy.ConfigAuditDays)
	path := filepath.Join(r.o.ArchiveDir, configDir, "config_audit_log_before_"+cutoff.Format(stampFmt)+".csv.gz")
	return r.archiveAndDelete(ctx, "config_audit_log", "changed_at", cutoff, path,
		fmt.Sprintf("retention: configuration audit rows past %d days, archived then deleted", r.o.Policy.ConfigAuditDays))
}

// archiveAndDelete archives the rows of table whose column is before
// cutoff to path, then deletes exactly those rows with the audit row in
// the same transaction. Nothing happens when there are none.
func (r *runner) archiveAndDelete(ctx context.Context, table, column string, cutoff time.Time, path, reason string) error {
	where := " FROM " + pgx.Identifier{table}.Sanitize() + " WHERE " + pgx.Identifier{column}.Sanitize() + " < " + sqlTime(cutoff)
	n, err := r.count(ctx, "SELECT count(*)"+where)
	if err != nil || n == 0 {
		return err
	}
	if r.o.DryRun {
		r.add(Action{Kind: "archive_rows", Target: table, Rows: n, File: path})
		return nil
	}
	a, err := r.exportCSV(ctx, "SELECT *"+where+" ORDER BY "+pgx.Identifier{column}.Sanitize(), path)
	if err != nil {
		return fmt.Errorf("archiving %s rows: %w", table, err)
	}
	err = r.inTx(ctx, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, "DELETE"+where)
		if err != nil {
			return err
		}
		if tag.RowsAffected() != a.rows {
			return fmt.Errorf("%d %s rows matched, %d were archived: they changed meanwhile; run again", tag.RowsAffected(), table, a.rows)
		}
		return r.record(ctx, tx, store.OpDelete, table, cutoff, a.values(r.o.ArchiveDir), reason)
	})
	if err != nil {
		return fmt.Errorf("deleting archived %s rows: %w", table, err)
	}
	r.add(Action{Kind: "archive_rows", Target: table, Rows: a.rows, File: a.path, SHA256: a.sha256, Done: true})
	r.o.Logger.Info("archived and deleted rows", "table", table, "rows", a.rows, "file", a.path)
	return nil
}

// values is what the audit row of an archive records.
func (a archived) values(root string) map[string]any {
	rel, err := filepath.Rel(root, a.path)
	if err != nil {
		rel = a.path
	}
	return map[string]any{"rows": a.rows, "archive": rel, "sha256": a.sha256, "bytes": a.bytes}
}

// archiveName reads the time up to which an archive file holds data.
var archiveName = regexp.MustCompile(`^(?:event_audit_log_(\d{4})_(\d{2})|.*_before_(\d{8}T\d{6}Z))\.csv\.gz$`)

// oldArchive deletes archive files, and rows of the archive table, whose
// data is older than the archive period.
func (r *runner) oldArchive(ctx context.Context) error {
	cutoff := r.o.Now.AddDate(-r.o.Policy.ArchiveYears, 0, 0)
	err := purgeArchives(r.o.ArchiveDir, cutoff, r.o.DryRun, r.add, func(rel string) error {
		return r.record(ctx, nil, store.OpDelete, "archive_file", cutoff, map[string]any{"archive": rel},
			fmt.Sprintf("retention: archive past %d years deleted", r.o.Policy.ArchiveYears))
	})
	if err != nil {
		return err
	}
	where := " FROM event_audit_log_archive WHERE event_timestamp < " + sqlTime(cutoff)
	n, err := r.count(ctx, "SELECT count(*)"+where)
	if err != nil || n == 0 {
		return err
	}
	if r.o.DryRun {
		r.add(Action{Kind: "delete_rows", Target: "event_audit_log_archive", Rows: n})
		return nil
	}
	err = r.inTx(ctx, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, "DELETE"+where)
		if err != nil {
			return err
		}
		n = tag.RowsAffected()
		return r.record(ctx, tx, store.OpDelete, "event_audit_log_archive", cutoff, map[string]any{"rows": n},
			fmt.Sprintf("retention: archived audit rows past %d years deleted", r.o.Policy.ArchiveYears))
	})
	if err != nil {
		return fmt.Errorf("deleting old event_audit_log_archive rows: %w", err)
	}
	r.add(Action{Kind: "delete_rows", Target: "event_audit_log_archive", Rows: n, Done: true})
	return nil
}

// oldDeadLetters trims dead-letter entries older than their retention.
// Stream IDs begin with the entry's creation time in milliseconds, so the
// cut is one XTRIM MINID.
func (r *runner) oldDeadLetters(ctx context.Context) error {
	if r.o.Redis == nil {
		return nil
	}
	cutoff := r.o.Now.AddDate(0, 0, -r.o.Policy.DLQDays)
	minID := strconv.FormatInt(cutoff.UnixMilli(), 10)
	for _, key := range r.o.DLQs {
		if r.o.DryRun {
			var n int64
			start := "-"
			for {
				page, err := r.o.Redis.XRangeN(ctx, key, start, "("+minID, 1000).Result()
				if err != nil {
					return fmt.Errorf("counting old entries of %s: %w", key, err)
				}
				n += int64(len(page))
				if len(page) < 1000 {
					break
				}
				start = "(" + page[len(page)-1].ID
			}
			if n > 0 {
				r.add(Action{Kind: "trim_dlq", Target: key, Rows: n})
			}
			continue
		}
		n, err := r.o.Redis.XTrimMinID(ctx, key, minID).Result()
		if err != nil {
			return fmt.Errorf("trimming %s: %w", key, err)
		}
		if n == 0 {
			continue
		}
		table := auditTable(key)
		if err := r.record(ctx, nil, store.OpDelete, table, cutoff, map[string]any{"entries": n, "before": cutoff.Format(time.RFC3339)},
			fmt.Sprintf("retention: dead-letter entries past %d days trimmed", r.o.Policy.DLQDays)); err != nil {
			return err
		}
		r.add(Action{Kind: "trim_dlq", Target: key, Rows: n, Done: true})
	}
	return nil
}

func (r *runner) count(ctx context.Context, query string) (int64, error) {
	var n int64
	if err := r.o.Pool.QueryRow(ctx, query).Scan(&n); err != nil {
		return 0, fmt.Errorf("%s: %w", strings.SplitN(query, " WHERE", 2)[0], err)
	}
	return n, nil
}

// inTx runs f in a transaction with a lock timeout, so that a drop or a
// delete waiting behind the alerter's inserts gives up instead of queuing
// every later insert behind itself.
func (r *runner) inTx(ctx context.Context, f func(pgx.Tx) error) error {
	tx, err := r.o.Pool.Begin(ctx)
	if err != nil {
		return err
	}
	defer func() { _ = tx.Rollback(context.WithoutCancel(ctx)) }()
	if _, err := tx.Exec(ctx, "SET LOCAL lock_timeout = '10s'"); err != nil {
		return err
	}
	if err := f(tx); err != nil {
		return err
	}
	return tx.Commit(ctx)
}

// purgeArchives deletes the archive files under root whose data ends
// before cutoff (in a dry run it only lists them), calling record with
// each deleted file's path relative to root and adding an action for each.
func purgeArchives(root string, cutoff time.Time, dryRun bool, add func(Action), record func(rel string) error) error {
	var files []string
	for _, sub := range []string{eventDir, configDir} {
		err := filepath.WalkDir(filepath.Join(root, sub), func(path string, d os.DirEntry, err error) error {
			if os.IsNotExist(err) {
				return filepath.SkipDir
			}
			if err != nil || d.IsDir() || d.Type()&os.ModeSymlink != 0 {
				return err
			}
			m := archiveName.FindStringSubmatch(d.Name())
			if m == nil {
				return nil
			}
			var end time.Time
			if m[1] != "" {
				y, _ := strconv.Atoi(m[1])
				mo, _ := strconv.Atoi(m[2])
				end = time.Date(y, time.Month(mo), 1, 0, 0, 0, 0, time.UTC).AddDate(0, 1, 0)
			} else if end, err = time.Parse(stampFmt, m[3]); err != nil {
				return nil
			}
			if !end.After(cutoff) {
				files = append(files, path)
			}
			return nil
		})
		if err != nil {
			return fmt.Errorf("listing archive files: %w", err)
		}
	}
	slices.Sort(files)
	for _, f := range files {
		rel, _ := filepath.Rel(root, f)
		if dryRun {
			add(Action{Kind: "delete_file", Target: rel, File: f})
			continue
		}
		if err := os.Remove(f); err != nil {
			return fmt.Errorf("deleting archive %s: %w", f, err)
		}
		_ = os.Remove(f + ".sha256")
		if err := record(rel); err != nil {
			return err
		}
		add(Action{Kind: "delete_file", Target: rel, File: f, Done: true})
	}
	return nil
}

// auditTable is the table_name of a dead-letter queue's audit rows: its
// key, shortened from the left to the column's 50 characters.
func auditTable(key string) string {
	if len(key) > 50 {
		return "…" + key[len(key)-49:]
	}
	return key
}
