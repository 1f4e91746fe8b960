package store

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

// VersionTable is the table in which the applied schema migrations are recorded.
const VersionTable = "mutt_schema_version"

// migrationLockID is the PostgreSQL advisory lock that serialises migrations.
// It differs from goose's default so that another application migrating the
// same database with goose neither waits for MUTT nor makes MUTT wait.
const migrationLockID int64 = 0x6d757474_00000001 // "mutt", 1

// ErrPartitionsIncomplete is wrapped by the error of Migrate when the schema
// is up to date but not every audit partition could be created. Rows of a
// missing month still land in the default partition, so a service may log
// this and start anyway.
var ErrPartitionsIncomplete = errors.New("audit partitions incomplete")

// Migrate applies the embedded schema migrations and then makes sure the audit
// partitions for this month and the next DefaultPartitionMonths-1 months
// exist. It is idempotent, and safe to run from several processes at once:
// migrations are applied under a session-level advisory lock, partitions under
// a transaction-level one. A nil logger discards the progress messages.
func Migrate(ctx context.Context, pool *pgxpool.Pool, logger *slog.Logger) error {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if err := migrateSchema(ctx, pool, logger); err != nil {
		return err
	}
	created, err := EnsurePartitions(ctx, pool, time.Now(), DefaultPartitionMonths)
	if len(created) > 0 {
		logger.Info("created audit partitions", "partitions", created)
	}
	if err != nil {
		return fmt.Errorf("migrating schema: %w: %w", ErrPartitionsIncomplete, err)
	}
	return nil
}

func migrateSchema(ctx context.Context, pool *pgxpool.Pool, logger *slog.Logger) (retErr error) {
	provider, err := newProvider(pool)
	if err != nil {
		return fmt.Errorf("migrating schema: %w", err)
	}
	defer func() {
		if err := provider.Close(); err != nil {
			retErr = errors.Join(retErr, fmt.Errorf("closing migration connection: %w", err))
		}
	}()
	results, err := provider.Up(ctx)
	for _, r := range results {
		if r.Error == nil {
			logger.Info("applied schema migration",
				"version", r.Source.Version, "file", r.Source.Path, "duration_ms", r.Duration.Milliseconds())
		}
	}
	if err != nil {
		return fmt.Errorf("migrating schema: %w", err)
	}
	return nil
}

// newProvider returns a goose provider over a database/sql view of pool. The
// caller must Close it, which returns its connections to pool but leaves pool
// open.
func newProvider(pool *pgxpool.Pool) (*goose.Provider, error) {
	migrations, err := fs.Sub(migrationFiles, "migrations")
	if err != nil {
		return nil, fmt.Errorf("opening embedded migrations: %w", err)
	}
	// Probe the lock every second, for up to five minutes: a concurrent
	// migration of this schema takes well under a second once it holds the lock.
	locker, err := lock.NewPostgresSessionLocker(
		lock.WithLockID(migrationLockID),
		lock.WithLockTimeout(1, 300),
		lock.WithUnlockTimeout(1, 60),
	)
	if err != nil {
		return nil, fmt.Errorf("creating migration lock: %w", err)
	}
	db := stdlib.OpenDBFromPool(pool)
	provider, err := goose.NewProvider(goose.DialectPostgres, db, migrations,
		goose.WithTableName(VersionTable),
		goose.WithSessionLocker(locker),
		goose.WithDisableGlobalRegistry(true),
	)
	if err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("loading migrations: %w", err)
	}
	return provider, nil
}

// SchemaVersion returns the version of the newest applied migration, or 0 when
// the database has never been migrated. It only reads.
func SchemaVersion(ctx context.Context, pool *pgxpool.Pool) (int64, error) {
	var exists bool
	if err := pool.QueryRow(ctx, "SELECT to_regclass($1) IS NOT NULL", VersionTable).Scan(&exists); err != nil {
		return 0, fmt.Errorf("reading schema version: %w", err)
	}
	if !exists {
		return 0, nil
	}
	var version int64
	// VersionTable is a constant identifier, so building the statement is safe.
	q := "SELECT COALESCE(max(version_id), 0) FROM " + VersionTable
	if err := pool.QueryRow(ctx, q).Scan(&version); err != nil {
		return 0, fmt.Errorf("reading schema version: %w", err)
	}
	return version, nil
}
