package sqlstore

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	mqueue "github.com/mutt-go/mutt/internal/queue"
	"github.com/mutt-go/mutt/internal/store"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

// ErrStorageFull means the disk (or the file size limit) left no room for a
// write. Nothing of the failed transaction was written; ingest answers it
// with 503 and the caller may retry once space is freed.
var ErrStorageFull = fmt.Errorf("embedded database: %w", mqueue.ErrStorageFull)

// readConns is how many connections serve reads beside the one writer.
const readConns = 4

// DB is one SQLite database in WAL mode holding the store and the queues.
// It is safe for concurrent use. Writes are serialised on one connection
// (SQLite has one writer at a time); reads run on a small pool of their own
// and see the last committed transaction.
type DB struct {
	w, r *sql.DB
	path string
	now  func() time.Time
	// appended wakes consumers waiting for entries (see Appended).
	appended notifier
}

// Open opens (creating if needed) the database file at path, switches it to
// WAL mode with full sync, turns foreign keys on and applies the embedded
// migrations that are not applied yet. A new file is created readable by
// its owner only (SQLite gives its -wal and -shm files the same mode), and
// a path that is a symbolic link is refused: the database never lands
// outside the directory it was given.
func Open(ctx context.Context, path string) (*DB, error) {
	if err := ensureFile(path); err != nil {
		return nil, err
	}
	w, err := sql.Open("sqlite", dsn(path, false))
	if err != nil {
		return nil, fmt.Errorf("opening %s: %w", path, err)
	}
	w.SetMaxOpenConns(1)
	w.SetMaxIdleConns(1)
	w.SetConnMaxLifetime(0)
	r, err := sql.Open("sqlite", dsn(path, true))
	if err != nil {
		_ = w.Close()
		return nil, fmt.Errorf("opening %s for reading: %w", path, err)
	}
	r.SetMaxOpenConns(readConns)
	r.SetMaxIdleConns(readConns)
	d := &DB{w: w, r: r, path: path, now: time.Now}
	if err := d.migrate(ctx); err != nil {
		_ = d.Close()
		return nil, err
	}
	return d, nil
}

// dsn is the driver's connection string: every connection gets the same
// pragmas, so a reconnect after an error keeps WAL, sync and foreign keys.
func dsn(p string, readOnly bool) string {
	q := url.Values{}
	for _, pr := range []string{
		"journal_mode(WAL)", "synchronous(FULL)", "busy_timeout(10000)", "foreign_keys(1)",
	} {
		q.Add("_pragma", pr)
	}
	if readOnly {
		q.Add("_pragma", "query_only(1)")
	} else {
		q.Set("_txlock", "immediate")
	}
	return "file:" + (&url.URL{Path: p}).EscapedPath() + "?" + q.Encode()
}

// Close closes both connection pools; it is safe to call twice.
func (d *DB) Close() error {
	return errors.Join(d.r.Close(), d.w.Close())
}

// Path returns the database file's path.
func (d *DB) Path() string { return d.path }

// Ping checks that the database answers a query and is writable.
func (d *DB) Ping(ctx context.Context) error {
	var one int
	if err := d.w.QueryRowContext(ctx, "SELECT 1").Scan(&one); err != nil {
		return fmt.Errorf("pinging sqlite: %w", err)
	}
	return nil
}

// IntegrityCheck runs PRAGMA integrity_check and returns an error naming the
// first problem it reports, or nil when the database is sound.
func (d *DB) IntegrityCheck(ctx context.Context) error {
	var res string
	if err := d.r.QueryRowContext(ctx, "PRAGMA integrity_check").Scan(&res); err != nil {
		return fmt.Errorf("checking integrity: %w", err)
	}
	if res != "ok" {
		return fmt.Errorf("integrity check failed: %s", res)
	}
	return nil
}

// inTx runs fn in a write transaction (BEGIN IMMEDIATE on the writer) that
// commits when fn returns nil and rolls back otherwise.
func (d *DB) inTx(ctx context.Context, fn func(*sql.Tx) error) error {
	tx, err := d.w.BeginTx(ctx, nil)
	if err != nil {
		return classify(fmt.Errorf("beginning transaction: %w", err))
	}
	if err := fn(tx); err != nil {
		_ = tx.Rollback()
		return err
	}
	if err := tx.Commit(); err != nil {
		return classify(fmt.Errorf("committing: %w", err))
	}
	return nil
}

// migrate applies the embedded migrations in version order, each in its
// own transaction with its row in schema_migrations, so that running it
// again (or from a second process) applies nothing twice.
func (d *DB) migrate(ctx context.Context) error {
	if _, err := d.w.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
    version    INTEGER PRIMARY KEY,
    applied_at INTEGER NOT NULL)`); err != nil {
		return fmt.Errorf("creating schema_migrations: %w", err)
	}
	names, err := fs.Glob(migrationFiles, "migrations/*.sql")
	if err != nil {
		return fmt.Errorf("listing migrations: %w", err)
	}
	sort.Strings(names)
	for _, name := range names {
		base := path.Base(name)
		num, _, ok := strings.Cut(base, "_")
		version, err := strconv.Atoi(num)
		if !ok || err != nil {
			return fmt.Errorf("migration %s: name must start with a number and an underscore", base)
		}
		body, err := migrationFiles.ReadFile(name)
		if err != nil {
			return fmt.Errorf("reading migration %s: %w", base, err)
		}
		err = d.inTx(ctx, func(tx *sql.Tx) error {
			var n int
			if err := tx.QueryRowContext(ctx, "SELECT count(*) FROM schema_migrations WHERE version = ?", version).Scan(&n); err != nil {
				return err
			}
			if n > 0 {
				return nil
			}
			if _, err := tx.ExecContext(ctx, string(body)); err != nil {
				return err
			}
			_, err := tx.ExecContext(ctx, "INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)",
				version, d.now().UnixMicro())
			return err
		})
		if err != nil {
			return fmt.Errorf("applying migration %s: %w", base, err)
		}
	}
	return nil
}

// SchemaVersion returns the newest applied migration's version.
func (d *DB) SchemaVersion(ctx context.Context) (int, error) {
	var v int
	if err := d.r.QueryRowContext(ctx, "SELECT coalesce(max(version), 0) FROM schema_migrations").Scan(&v); err != nil {
		return 0, fmt.Errorf("reading schema version: %w", err)
	}
	return v, nil
}

// micros and fromMicros convert between time.Time and the stored INTEGER
// microseconds since the epoch (PostgreSQL's TIMESTAMPTZ precision).
func micros(t time.Time) int64 { return t.UnixMicro() }

func fromMicros(us int64) time.Time { return time.UnixMicro(us).UTC() }

// rowError marks an error caused by the data of a row (a constraint, a bad
// value) rather than by the database, as store.IsRowError does for
// PostgreSQL: retrying the same rows can never succeed.
type rowError struct{ err error }

func (e *rowError) Error() string { return e.err.Error() }
func (e *rowError) Unwrap() error { return e.err }

// RowError reports true: a caller that knows no SQLite (the alerter, via a
// store-neutral check for this method) can tell a row error from any other.
func (e *rowError) RowError() bool { return true }

// classify maps SQLite's constraint and disk errors to the store package's
// sentinel errors and to ErrStorageFull, keeping the original wrapped;
// other errors are returned as they are.
func classify(err error) error {
	if err == nil {
		return nil
	}
	var se *sqlite.Error
	if !errors.As(err, &se) {
		return err
	}
	code := se.Code()
	switch code {
	case sqlite3.SQLITE_CONSTRAINT_UNIQUE, sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY:
		return &rowError{fmt.Errorf("%w: %w", store.ErrConflict, err)}
	case sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY, sqlite3.SQLITE_CONSTRAINT_TRIGGER:
		// ON DELETE RESTRICT reports as a trigger constraint; the schema has
		// no triggers of its own.
		return &rowError{fmt.Errorf("%w: %w", store.ErrReferenced, err)}
	case sqlite3.SQLITE_CONSTRAINT_CHECK, sqlite3.SQLITE_CONSTRAINT_NOTNULL:
		return &rowError{fmt.Errorf("%w: %w", store.ErrInvalidConfigChange, err)}
	}
	switch code & 0xff {
	case sqlite3.SQLITE_FULL:
		return fmt.Errorf("%w: %w", ErrStorageFull, err)
	case sqlite3.SQLITE_IOERR:
		// A write refused by RLIMIT_FSIZE or a full device can surface as
		// an I/O error of the write or the fsync.
		if code == sqlite3.SQLITE_IOERR_WRITE || code == sqlite3.SQLITE_IOERR_FSYNC || code == sqlite3.SQLITE_IOERR_SHMSIZE {
			return fmt.Errorf("%w: %w", ErrStorageFull, err)
		}
	case sqlite3.SQLITE_CONSTRAINT:
		return &rowError{fmt.Errorf("%w: %w", store.ErrInvalidConfigChange, err)}
	}
	return err
}

// ensureFile creates the database file with mode 0600 when it does not
// exist, and refuses a symbolic link in its place.
func ensureFile(path string) error {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|syscall.O_NOFOLLOW, 0o600)
	if err != nil {
		if fi, lerr := os.Lstat(path); lerr == nil && fi.Mode()&os.ModeSymlink != 0 {
			return fmt.Errorf("opening %s: it is a symbolic link; the embedded database must be a regular file", path)
		}
		return fmt.Errorf("opening %s: %w", path, err)
	}
	return f.Close()
}
