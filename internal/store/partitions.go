package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// DefaultPartitionMonths is how many monthly audit partitions Migrate makes
// sure exist, counting the current month as the first.
const DefaultPartitionMonths = 3

// maxPartitionMonths bounds monthsAhead so that a typo cannot create hundreds
// of tables.
const maxPartitionMonths = 120

// partitionLockID is the transaction-level advisory lock taken around the
// creation of one partition, so that concurrent callers create each partition
// once and know which of them did.
const partitionLockID int64 = 0x6d757474_00000002 // "mutt", 2

// partitionDDLLockTimeout bounds how long partition creation waits for locks
// on the audit table. Waiting DDL queues every later insert behind it, so it
// is better to fail and let the next run try again.
const partitionDDLLockTimeout = "10s"

// EnsurePartitions creates the monthly partitions event_audit_log_YYYY_MM for
// the UTC month of now and the following monthsAhead-1 months, skipping those
// that exist, and returns the names it created in month order. Each partition
// is created in its own transaction; one that cannot be created (for example
// because the default partition already holds rows of its month) is reported
// in the returned error while the others are still created.
func EnsurePartitions(ctx context.Context, pool *pgxpool.Pool, now time.Time, monthsAhead int) ([]string, error) {
	if monthsAhead < 1 || monthsAhead > maxPartitionMonths {
		return nil, fmt.Errorf("ensuring audit partitions: months ahead must be between 1 and %d, got %d",
			maxPartitionMonths, monthsAhead)
	}
	existing, err := partitionNames(ctx, pool)
	if err != nil {
		return nil, fmt.Errorf("ensuring audit partitions: %w", err)
	}
	now = now.UTC()
	first := time.Date(now.Year(), now.Month(), 1, 0, 0, 0, 0, time.UTC)
	var (
		created []string
		errs    []error
	)
	for i := range monthsAhead {
		month := first.AddDate(0, i, 0)
		name := partitionName(month)
		if existing[name] {
			continue
		}
		ok, err := createPartition(ctx, pool, month, name)
		if err != nil {
			errs = append(errs, fmt.Errorf("creating partition %s: %w", name, err))
			if ctx.Err() != nil {
				break
			}
			continue
		}
		if ok {
			created = append(created, name)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return created, fmt.Errorf("ensuring audit partitions: %w", err)
	}
	return created, nil
}

// partitionName returns the name of the partition holding the UTC month of t.
func partitionName(t time.Time) string {
	t = t.UTC()
	return fmt.Sprintf("event_audit_log_%04d_%02d", t.Year(), int(t.Month()))
}

// partitionNames returns the names of all partitions of event_audit_log.
func partitionNames(ctx context.Context, pool *pgxpool.Pool) (map[string]bool, error) {
	rows, err := pool.Query(ctx, `
		SELECT c.relname
		FROM pg_inherits i
		JOIN pg_class c ON c.oid = i.inhrelid
		WHERE i.inhparent = 'event_audit_log'::regclass`)
	if err != nil {
		return nil, fmt.Errorf("listing partitions: %w", err)
	}
	defer rows.Close()
	names := make(map[string]bool)
	for rows.Next() {
		var name string
		if err := rows.Scan(&name); err != nil {
			return nil, fmt.Errorf("listing partitions: %w", err)
		}
		names[name] = true
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("listing partitions: %w", err)
	}
	return names, nil
}

// createPartition creates the partition name for month unless it is a
// partition by the time the lock is held, and reports whether it created it.
// Unlike create_monthly_partition it does not use IF NOT EXISTS, so a
// table of that name that is not a partition is reported instead of being
// silently taken for one.
func createPartition(ctx context.Context, pool *pgxpool.Pool, month time.Time, name string) (bool, error) {
	tx, err := pool.Begin(ctx)
	if err != nil {
		return false, err
	}
	// Rollback after Commit is a no-op; on every error path it is the cleanup.
	defer func() { _ = tx.Rollback(context.WithoutCancel(ctx)) }()

	// The bounds below carry an explicit UTC offset; the session time zone is
	// pinned as well so that nothing in the DDL depends on the server's or the
	// role's setting. The lock timeout is set after the advisory lock is held:
	// waiting for another caller's creation is fine, waiting on the audit
	// table's locks is not.
	setup := fmt.Sprintf("SET LOCAL TimeZone = 'UTC'; SELECT pg_advisory_xact_lock(%d); SET LOCAL lock_timeout = '%s'",
		partitionLockID, partitionDDLLockTimeout)
	if _, err := tx.Exec(ctx, setup); err != nil {
		return false, err
	}
	var exists bool
	err = tx.QueryRow(ctx, `
		SELECT EXISTS (
			SELECT 1
			FROM pg_inherits i
			JOIN pg_class c ON c.oid = i.inhrelid
			WHERE i.inhparent = 'event_audit_log'::regclass AND c.relname = $1)`, name).Scan(&exists)
	if err != nil {
		return false, err
	}
	if exists {
		return false, nil
	}
	ddl := fmt.Sprintf("CREATE TABLE %s PARTITION OF event_audit_log FOR VALUES FROM ('%s 00:00:00+00') TO ('%s 00:00:00+00')",
		pgx.Identifier{name}.Sanitize(), month.Format(time.DateOnly), month.AddDate(0, 1, 0).Format(time.DateOnly))
	if _, err := tx.Exec(ctx, ddl); err != nil {
		return false, err
	}
	if err := tx.Commit(ctx); err != nil {
		return false, err
	}
	return true, nil
}
