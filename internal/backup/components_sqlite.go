package backup

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	// The pure-Go SQLite driver the embedded store uses.
	_ "modernc.org/sqlite"

	"github.com/mutt-go/mutt/internal/embedded/datadir"
)

// ComponentSQLite is the embedded mode's database file.
const ComponentSQLite = "sqlite"

// SQLiteDatabaseFile is the embedded database's name inside the data
// directory (the storage configuration's DatabaseFile).
const SQLiteDatabaseFile = "mutt.db"

// FormatSQLite is the artifact format of a SQLite database image.
const FormatSQLite = "sqlite"

// SQLiteSource is the database the sqlite component backs up.
type SQLiteSource struct {
	// DatabaseFile is the embedded database's path (MUTT_DATA_DIR/mutt.db).
	DatabaseFile string
}

// sqliteComponent implements ComponentSpec for ComponentSQLite.
type sqliteComponent struct{ checksummed }

var _ ComponentSpec = sqliteComponent{}

// Name implements ComponentSpec.
func (sqliteComponent) Name() string { return ComponentSQLite }

// Profiles implements ComponentSpec: every profile that takes the queues
// or the database in the Redis + PostgreSQL mode, the hourly one of the
// business tables included, since the one file holds all of them.
func (sqliteComponent) Profiles() []string {
	return []string{"hourly", "redis", "daily", "pre-upgrade"}
}

// Storage implements ComponentSpec.
func (sqliteComponent) Storage() string { return StorageEmbedded }

// Retention implements ComponentSpec: as long as the PostgreSQL dumps it
// stands in for.
func (sqliteComponent) Retention() time.Duration { return 30 * day }

// Objectives implements ComponentSpec: the file holds the queues, so it
// has Redis's recovery point and PostgreSQL's recovery time.
func (sqliteComponent) Objectives() Objectives {
	return Objectives{RTO: RTOPostgres, RPO: 6 * time.Hour}
}

// Backup implements ComponentSpec: VACUUM INTO writes a consistent copy of
// the live database (readers and the writer go on) beside it, readable
// only by its owner like the database itself; the copy is compressed and
// encrypted into the set and removed.
func (sqliteComponent) Backup(ctx context.Context, o *RunOptions, c *Component, sink ArtifactSink) error {
	if o.SQLite == nil || o.SQLite.DatabaseFile == "" {
		return errNotConfigured
	}
	src := o.SQLite.DatabaseFile
	if _, err := os.Stat(src); err != nil {
		return fmt.Errorf("backing up the embedded database: %w", err)
	}
	tmp, err := vacuumInto(ctx, src)
	if err != nil {
		return err
	}
	defer os.Remove(tmp)
	info, err := inspectSQLite(ctx, tmp)
	if err != nil {
		return err
	}
	f, err := os.Open(tmp)
	if err != nil {
		return fmt.Errorf("reading the database copy: %w", err)
	}
	defer f.Close()
	err = sink.Artifact("mutt_sqlite_"+sink.Stamp()+".db.zst.age", true, FormatSQLite, func(w io.Writer) error {
		_, err := io.Copy(w, f)
		return err
	})
	if err != nil {
		return err
	}
	c.Counts = info.Counts
	c.Source = map[string]any{"file": src, "sqlite_version": info.Version, "schema_version": info.Schema}
	return nil
}

// vacuumInto writes a consistent copy of the database at src to a new file
// in its directory and returns the copy's path. Copies a crashed run left
// behind more than PartialMaxAge ago are removed first.
func vacuumInto(ctx context.Context, src string) (string, error) {
	prefix := filepath.Join(filepath.Dir(src), "."+filepath.Base(src)+".backup-")
	if old, err := filepath.Glob(prefix + "*"); err == nil {
		for _, p := range old {
			if fi, err := os.Lstat(p); err == nil && fi.Mode().IsRegular() && time.Since(fi.ModTime()) > PartialMaxAge {
				os.Remove(p)
			}
		}
	}
	tmp := prefix + randHex(4)
	db, err := openSQLite(src, true)
	if err != nil {
		return "", err
	}
	defer db.Close()
	if _, err := db.ExecContext(ctx, "VACUUM INTO ?", tmp); err != nil {
		os.Remove(tmp)
		return "", fmt.Errorf("copying %s with VACUUM INTO: %w", src, err)
	}
	return tmp, nil
}

// openSQLite opens the database file at p, which must exist, without
// creating anything; readOnly keeps the connection from writing.
func openSQLite(p string, readOnly bool) (*sql.DB, error) {
	q := url.Values{}
	q.Add("_pragma", "busy_timeout(10000)")
	if readOnly {
		q.Set("mode", "ro")
	} else {
		q.Set("mode", "rw")
	}
	db, err := sql.Open("sqlite", "file:"+(&url.URL{Path: p}).EscapedPath()+"?"+q.Encode())
	if err != nil {
		return nil, fmt.Errorf("opening %s: %w", p, err)
	}
	db.SetMaxOpenConns(1)
	return db, nil
}

// sqliteInfo is what the manifest records of a database image.
type sqliteInfo struct {
	Counts  map[string]int64
	Version string
	Schema  int64
}

// inspectSQLite runs PRAGMA integrity_check on the database file at p and
// counts the rows of every table.
func inspectSQLite(ctx context.Context, p string) (sqliteInfo, error) {
	info := sqliteInfo{Counts: map[string]int64{}}
	db, err := openSQLite(p, true)
	if err != nil {
		return info, err
	}
	defer db.Close()
	var res string
	if err := db.QueryRowContext(ctx, "PRAGMA integrity_check").Scan(&res); err != nil {
		return info, fmt.Errorf("checking the integrity of %s: %w", p, err)
	}
	if res != "ok" {
		return info, fmt.Errorf("integrity check of %s failed: %s", p, res)
	}
	if err := db.QueryRowContext(ctx, "SELECT sqlite_version()").Scan(&info.Version); err != nil {
		return info, fmt.Errorf("reading the SQLite version: %w", err)
	}
	rows, err := db.QueryContext(ctx, "SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name")
	if err != nil {
		return info, fmt.Errorf("listing the tables of %s: %w", p, err)
	}
	var tables []string
	for rows.Next() {
		var t string
		if err := rows.Scan(&t); err != nil {
			rows.Close()
			return info, fmt.Errorf("listing the tables of %s: %w", p, err)
		}
		tables = append(tables, t)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return info, fmt.Errorf("listing the tables of %s: %w", p, err)
	}
	for _, t := range tables {
		var n int64
		// Table names come from the schema, not from outside; quoted as
		// identifiers since they cannot be parameters.
		if err := db.QueryRowContext(ctx, "SELECT count(*) FROM "+sqliteIdent(t)).Scan(&n); err != nil {
			return info, fmt.Errorf("counting %s: %w", t, err)
		}
		info.Counts[t] = n
		if t == "schema_migrations" {
			if err := db.QueryRowContext(ctx, "SELECT coalesce(max(version), 0) FROM schema_migrations").Scan(&info.Schema); err != nil {
				return info, fmt.Errorf("reading the schema version: %w", err)
			}
		}
	}
	return info, nil
}

// sqliteIdent quotes a SQLite identifier.
func sqliteIdent(s string) string { return `"` + strings.ReplaceAll(s, `"`, `""`) + `"` }

// extractSQLite decrypts c's database image into a new file of dir (an
// os.Root, so nothing is written through a link out of it) and returns its
// name inside dir.
func extractSQLite(root string, c *Component, keys *Keys, dir *os.Root) (string, error) {
	name := "." + SQLiteDatabaseFile + ".restore-" + randHex(4)
	f, err := dir.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return "", fmt.Errorf("creating the restored copy: %w", err)
	}
	r, err := OpenArtifact(root, c.Artifacts[0], keys)
	if err == nil {
		_, err = io.Copy(f, r)
		if cerr := r.Close(); err == nil {
			err = cerr
		}
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		_ = dir.Remove(name)
		return "", fmt.Errorf("decrypting %s: %w", c.Artifacts[0].Path, err)
	}
	return name, nil
}

// checkSQLiteCopy checks the image at p (integrity, then the row counts
// against the manifest) and says what it found.
func checkSQLiteCopy(ctx context.Context, p string, c *Component) (string, error) {
	info, err := inspectSQLite(ctx, p)
	if err != nil {
		return "", err
	}
	if diff := countDiff(c.Counts, info.Counts); diff != "" {
		return "", fmt.Errorf("%w: %s", ErrCountMismatch, diff)
	}
	return fmt.Sprintf("integrity ok; %d table counts match", len(c.Counts)), nil
}

// DeepVerify implements ComponentSpec: the image is decrypted into a
// scratch directory, opened, checked with PRAGMA integrity_check and its
// row counts compared with the manifest.
func (sqliteComponent) DeepVerify(ctx context.Context, o DeepVerifyOptions, c *Component) (string, error) {
	dir, err := os.MkdirTemp("", "mutt-verify-sqlite-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(dir)
	r, err := os.OpenRoot(dir)
	if err != nil {
		return "", err
	}
	defer r.Close()
	name, err := extractSQLite(o.Root, c, o.Keys, r)
	if err != nil {
		return "", err
	}
	return checkSQLiteCopy(ctx, filepath.Join(dir, name), c)
}

// Restore implements ComponentSpec: under the data directory's lock (so it
// refuses while mutt serve runs there), the image is decrypted beside the
// live database, checked, and renamed over it; the previous database and
// its WAL are kept as "mutt.db.pre_restore_<stamp>". Nothing in the data
// directory is written through a symbolic link.
func (sqliteComponent) Restore(ctx context.Context, o RestoreOptions) (string, error) {
	res, err := RestoreSQLite(ctx, o)
	if err != nil {
		return "", err
	}
	detail := fmt.Sprintf("restored into %s; %d table counts match", res.Database, res.Tables)
	if res.PreRestore != "" {
		detail += "; the previous database is kept as " + res.PreRestore
	}
	return detail, nil
}

// SQLiteRestoreResult is the outcome of RestoreSQLite.
type SQLiteRestoreResult struct {
	// Database is the restored database file.
	Database string `json:"database"`
	// PreRestore is the path the previous database was kept under; empty
	// when there was none.
	PreRestore string `json:"pre_restore,omitempty"`
	// Tables is the number of tables whose counts were checked.
	Tables int `json:"tables"`
}

// RestoreSQLite restores the sqlite component of o.Manifest into the data
// directory o.DataDir (see sqliteComponent.Restore). A damaged artifact, a
// failed integrity check or a count mismatch leaves the live database as
// it was.
func RestoreSQLite(ctx context.Context, o RestoreOptions) (SQLiteRestoreResult, error) {
	var res SQLiteRestoreResult
	if o.DataDir == "" {
		return res, errors.New("restoring sqlite: no data directory (MUTT_DATA_DIR)")
	}
	c, err := VerifyComponent(o.Root, o.Manifest, ComponentSQLite)
	if err != nil {
		return res, fmt.Errorf("restoring sqlite: %w", err)
	}
	if !o.Keys.CanDecrypt() {
		return res, fmt.Errorf("restoring sqlite: %w (set %s)", ErrNoIdentity, settingIdentity)
	}
	lock, err := datadir.Acquire(o.DataDir)
	if err != nil {
		return res, fmt.Errorf("restoring sqlite: %w", err)
	}
	defer lock.Release()
	dir, err := os.OpenRoot(o.DataDir)
	if err != nil {
		return res, fmt.Errorf("restoring sqlite: %w", err)
	}
	defer dir.Close()
	live := SQLiteDatabaseFile
	existing := map[string]bool{}
	for _, n := range []string{live, live + "-wal", live + "-shm"} {
		fi, err := dir.Lstat(n)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return res, fmt.Errorf("restoring sqlite: %w", err)
		}
		if !fi.Mode().IsRegular() {
			return res, fmt.Errorf("restoring sqlite: %s is not a regular file (a link is never followed); move it away first", filepath.Join(o.DataDir, n))
		}
		existing[n] = true
	}
	tmp, err := extractSQLite(o.Root, c, o.Keys, dir)
	if err != nil {
		return res, fmt.Errorf("restoring sqlite: %w", err)
	}
	defer func() {
		for _, n := range []string{tmp, tmp + "-wal", tmp + "-shm"} {
			_ = dir.Remove(n)
		}
	}()
	if _, err := checkSQLiteCopy(ctx, filepath.Join(o.DataDir, tmp), c); err != nil {
		return res, fmt.Errorf("restoring sqlite: nothing changed: %w", err)
	}
	now := time.Now
	if o.Now != nil {
		now = o.Now
	}
	if existing[live] {
		old := live + ".pre_restore_" + now().UTC().Format(StampFormat) + "_" + randHex(2)
		// A hard link keeps the old database while the rename below
		// replaces the name in one step; its WAL moves with it, so that
		// SQLite never replays the old WAL onto the restored file.
		err := dir.Link(live, old)
		if err != nil {
			// A file system without hard links: the rename keeps it.
			err = dir.Rename(live, old)
		}
		if err != nil {
			return res, fmt.Errorf("restoring sqlite: keeping the previous database: %w", err)
		}
		for _, sfx := range []string{"-wal", "-shm"} {
			if existing[live+sfx] {
				if err := dir.Rename(live+sfx, old+sfx); err != nil {
					return res, fmt.Errorf("restoring sqlite: moving the previous %s away: %w", sfx, err)
				}
			}
		}
		res.PreRestore = filepath.Join(o.DataDir, old)
	}
	if err := dir.Rename(tmp, live); err != nil {
		return res, fmt.Errorf("restoring sqlite: %w", err)
	}
	if err := syncDir(o.DataDir); err != nil {
		return res, fmt.Errorf("restoring sqlite: %w", err)
	}
	res.Database = filepath.Join(o.DataDir, live)
	res.Tables = len(c.Counts)
	return res, nil
}
