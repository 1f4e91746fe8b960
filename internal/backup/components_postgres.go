package backup

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"os/exec"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// PostgresCriticalTables returns the tables whose exact row counts a
// PostgreSQL dump records and a restore must reproduce.
func PostgresCriticalTables() []string {
	return []string{
		"alert_rules",
		"development_hosts",
		"device_teams",
		"config_audit_log",
		"event_audit_log",
		"event_audit_log_archive",
	}
}

// PostgresDumpOptions says what DumpPostgres dumps and with which tool.
type PostgresDumpOptions struct {
	// DatabaseURL is the MUTT database, as a URL or keyword/value string.
	DatabaseURL string
	// PgDump is the pg_dump executable; empty means the one found in PATH.
	PgDump string
	// Tables restricts the dump to these tables (pg_dump -t patterns); empty
	// dumps the whole database. With a restriction only these tables are
	// counted, without one the PostgresCriticalTables are.
	Tables []string
}

// PostgresDumpResult describes a finished dump.
type PostgresDumpResult struct {
	// ServerVersion is the server's server_version setting.
	ServerVersion string
	// SnapshotAt is the server time at which the dump's snapshot was taken.
	SnapshotAt time.Time
	// Counts are the exact row counts of the counted tables, read in the
	// snapshot the dump was taken from.
	Counts map[string]int64
	// Bytes is the size of the custom-format archive written.
	Bytes int64
}

// pgStderrLimit bounds how much of a client tool's error output is kept for
// the error message.
const pgStderrLimit = 8 << 10

// DumpPostgres writes a pg_dump custom-format archive of the database to w
// and returns the row counts of the counted tables from the same snapshot:
// a REPEATABLE READ transaction exports its snapshot, counts inside it and
// stays open while pg_dump runs with --snapshot, so the counts and the
// archive describe exactly the same data. The password travels to pg_dump in
// its environment, never on its command line, and no error text contains it.
func DumpPostgres(ctx context.Context, opts PostgresDumpOptions, w io.Writer) (PostgresDumpResult, error) {
	return dumpPostgres(ctx, opts, w, nil)
}

// dumpPostgres is DumpPostgres with a hook run between the snapshot export
// (counts taken) and the start of pg_dump, so tests can change the database
// in that window.
func dumpPostgres(ctx context.Context, opts PostgresDumpOptions, w io.Writer, afterSnapshot func(context.Context) error) (PostgresDumpResult, error) {
	var res PostgresDumpResult
	conn, password, err := pgChildConn(opts.DatabaseURL, "")
	if err != nil {
		return res, fmt.Errorf("dumping postgres: %w", err)
	}
	fail := func(what string, err error) (PostgresDumpResult, error) {
		return res, pgScrub(fmt.Errorf("dumping postgres %s: %s: %w", pgDescribe(conn), what, err), password)
	}
	tool, err := pgTool(opts.PgDump, "pg_dump")
	if err != nil {
		return fail("locating pg_dump", err)
	}
	db, err := pgx.Connect(ctx, opts.DatabaseURL)
	if err != nil {
		return fail("connecting", err)
	}
	defer db.Close(context.WithoutCancel(ctx))
	tx, err := db.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly})
	if err != nil {
		return fail("starting snapshot transaction", err)
	}
	// A read-only transaction has nothing to commit; ending it releases the
	// exported snapshot, which pg_dump no longer needs by then.
	defer func() { _ = tx.Rollback(context.WithoutCancel(ctx)) }()

	var snapshot string
	err = tx.QueryRow(ctx, `SELECT pg_export_snapshot(), statement_timestamp(), current_setting('server_version')`).
		Scan(&snapshot, &res.SnapshotAt, &res.ServerVersion)
	if err != nil {
		return fail("exporting snapshot", err)
	}
	tables := opts.Tables
	if len(tables) == 0 {
		tables = PostgresCriticalTables()
	}
	res.Counts, err = pgCountRows(ctx, tx, tables, false)
	if err != nil {
		return fail("counting rows", err)
	}
	if afterSnapshot != nil {
		if err := afterSnapshot(ctx); err != nil {
			return fail("after snapshot", err)
		}
	}

	args := []string{"--format=custom", "--no-password", "--snapshot=" + snapshot, "--dbname=" + conn}
	for _, t := range opts.Tables {
		args = append(args, "--table="+t)
	}
	cw := &pgCountingWriter{w: w}
	if err := pgRun(ctx, tool, args, password, nil, cw); err != nil {
		res.Bytes = cw.n
		if cw.err != nil {
			return fail("writing the dump", cw.err)
		}
		return fail("running pg_dump", err)
	}
	res.Bytes = cw.n
	return res, nil
}

// RestorePostgres creates the database newDB on the server of adminURL,
// restores the custom-format archive read from r into it with pg_restore
// (no owner or privilege statements, stopping at the first error) and
// returns the row counts of the critical tables present in it. It never
// touches an existing database: if newDB exists the restore fails. On failure
// the new database is dropped again; on success swapping it in is the
// caller's decision. pgRestore empty means the pg_restore found in PATH.
func RestorePostgres(ctx context.Context, adminURL, newDB string, pgRestore string, r io.Reader) (counts map[string]int64, err error) {
	if newDB == "" || len(newDB) > 63 {
		return nil, fmt.Errorf("restoring postgres: database name %q must have 1 to 63 bytes", newDB)
	}
	adminConn, password, err := pgChildConn(adminURL, "")
	if err != nil {
		return nil, fmt.Errorf("restoring postgres: %w", err)
	}
	target, _, err := pgChildConn(adminURL, newDB)
	if err != nil {
		return nil, fmt.Errorf("restoring postgres: %w", err)
	}
	fail := func(what string, err error) (map[string]int64, error) {
		return nil, pgScrub(fmt.Errorf("restoring postgres into %s: %s: %w", pgDescribe(target), what, err), password)
	}
	tool, err := pgTool(pgRestore, "pg_restore")
	if err != nil {
		return fail("locating pg_restore", err)
	}
	admin, err := pgx.Connect(ctx, adminURL)
	if err != nil {
		return nil, pgScrub(fmt.Errorf("restoring postgres: connecting to %s: %w", pgDescribe(adminConn), err), password)
	}
	defer admin.Close(context.WithoutCancel(ctx))
	ident := pgx.Identifier{newDB}.Sanitize()
	if _, err := admin.Exec(ctx, "CREATE DATABASE "+ident); err != nil {
		return fail("creating database", err)
	}
	defer func() {
		if err == nil {
			return
		}
		// The half-restored database is useless and must not be mistaken for
		// a good one later.
		dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		defer cancel()
		if _, derr := admin.Exec(dctx, "DROP DATABASE IF EXISTS "+ident+" WITH (FORCE)"); derr != nil {
			err = errors.Join(err, pgScrub(fmt.Errorf("dropping scratch database %s: %w", newDB, derr), password))
		}
	}()

	args := []string{"--format=custom", "--no-password", "--no-owner", "--no-privileges", "--exit-on-error", "--dbname=" + target}
	if err := pgRun(ctx, tool, args, password, r, io.Discard); err != nil {
		return fail("running pg_restore", err)
	}

	db, err := pgx.Connect(ctx, pgWithDatabase(adminURL, newDB))
	if err != nil {
		return fail("connecting", err)
	}
	defer db.Close(context.WithoutCancel(ctx))
	counts, err = pgCountRows(ctx, db, PostgresCriticalTables(), true)
	if err != nil {
		return fail("counting rows", err)
	}
	return counts, nil
}

// pgQuerier is what pgCountRows needs from a connection or transaction.
type pgQuerier interface {
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// pgCountRows counts the rows of each table. A missing table is an error
// unless skipMissing is set, in which case it is left out of the result.
func pgCountRows(ctx context.Context, q pgQuerier, tables []string, skipMissing bool) (map[string]int64, error) {
	counts := make(map[string]int64, len(tables))
	for _, t := range tables {
		var exists bool
		if err := q.QueryRow(ctx, `SELECT to_regclass($1) IS NOT NULL`, t).Scan(&exists); err != nil {
			return nil, fmt.Errorf("looking up table %s: %w", t, err)
		}
		if !exists {
			if skipMissing {
				continue
			}
			return nil, fmt.Errorf("table %s does not exist", t)
		}
		var n int64
		ident := pgx.Identifier(strings.Split(t, ".")).Sanitize()
		if err := q.QueryRow(ctx, "SELECT count(*) FROM "+ident).Scan(&n); err != nil {
			return nil, fmt.Errorf("counting rows of %s: %w", t, err)
		}
		counts[t] = n
	}
	return counts, nil
}

// pgTool resolves the path of a PostgreSQL client program.
func pgTool(path, name string) (string, error) {
	if path == "" {
		path = name
	}
	p, err := exec.LookPath(path)
	if err != nil {
		return "", fmt.Errorf("%s not found (install the PostgreSQL client tools or configure the path): %w", name, err)
	}
	return p, nil
}

// pgRun runs a client tool with the password in PGPASSWORD, stdin from in
// (none if nil) and stdout to out. Its error carries the tail of the tool's
// standard error.
func pgRun(ctx context.Context, tool string, args []string, password string, in io.Reader, out io.Writer) error {
	cmd := exec.CommandContext(ctx, tool, args...)
	cmd.Env = os.Environ()
	if password != "" {
		cmd.Env = append(cmd.Env, "PGPASSWORD="+password)
	}
	cmd.Stdin = in
	cmd.Stdout = out
	stderr := &pgTailBuffer{limit: pgStderrLimit}
	cmd.Stderr = stderr
	err := cmd.Run()
	if err == nil {
		return nil
	}
	if ctx.Err() != nil {
		return fmt.Errorf("%w (%w)", ctx.Err(), err)
	}
	msg := strings.TrimSpace(stderr.String())
	if msg == "" {
		return err
	}
	return fmt.Errorf("%w: %s", err, msg)
}

// pgTailBuffer keeps the last limit bytes written to it.
type pgTailBuffer struct {
	buf   bytes.Buffer
	limit int
}

func (b *pgTailBuffer) Write(p []byte) (int, error) {
	n := len(p)
	b.buf.Write(p)
	if extra := b.buf.Len() - b.limit; extra > 0 {
		b.buf.Next(extra)
	}
	return n, nil
}

func (b *pgTailBuffer) String() string { return b.buf.String() }

// pgCountingWriter counts the bytes that reach w and keeps the first write
// error: when the artifact cannot be written (disk full) pg_dump dies of
// SIGPIPE, and that error alone would hide the cause.
type pgCountingWriter struct {
	w   io.Writer
	n   int64
	err error
}

func (c *pgCountingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	if err != nil && c.err == nil {
		c.err = err
	}
	return n, err
}

// pgScrub returns err with every occurrence of secret in its text replaced;
// errors.Is and errors.As still see the original chain.
func pgScrub(err error, secret string) error {
	if err == nil || secret == "" || !strings.Contains(err.Error(), secret) {
		return err
	}
	return &pgScrubbedError{msg: strings.ReplaceAll(err.Error(), secret, "xxxxx"), err: err}
}

type pgScrubbedError struct {
	msg string
	err error
}

func (e *pgScrubbedError) Error() string { return e.msg }
func (e *pgScrubbedError) Unwrap() error { return e.err }

// pgDescribe names a password-free connection string for messages.
func pgDescribe(conn string) string {
	if u, err := url.Parse(conn); err == nil && (u.Scheme == "postgres" || u.Scheme == "postgresql") {
		return u.Redacted()
	}
	return strings.TrimSpace(conn)
}

// pgWithDatabase returns connString pointing at database db, password kept
// (it is only given to pgx, never shown).
func pgWithDatabase(connString, db string) string {
	if u, err := url.Parse(connString); err == nil && (u.Scheme == "postgres" || u.Scheme == "postgresql") {
		u.Path = "/" + db
		u.RawPath = ""
		q := u.Query()
		if q.Has("dbname") {
			q.Set("dbname", db)
			u.RawQuery = q.Encode()
		}
		return u.String()
	}
	kv, err := pgParseKeywords(connString)
	if err != nil {
		return connString
	}
	kv = pgSetKeyword(kv, "dbname", db)
	return pgFormatKeywords(kv)
}

// pgChildConn turns a connection string (URL or keyword/value) into the
// password-free string given to a client tool, optionally pointing at
// database db, and the password to hand over through PGPASSWORD.
func pgChildConn(connString, db string) (conn, password string, err error) {
	if strings.HasPrefix(connString, "postgres://") || strings.HasPrefix(connString, "postgresql://") {
		u, err := url.Parse(connString)
		if err != nil {
			// url's error quotes the whole string, password included.
			return "", "", errors.New("connection URL does not parse")
		}
		if u.User != nil {
			password, _ = u.User.Password()
			u.User = url.User(u.User.Username())
		}
		q := u.Query()
		if p := q.Get("password"); p != "" {
			password = p
		}
		q.Del("password")
		if db != "" {
			u.Path = "/" + db
			u.RawPath = ""
			if q.Has("dbname") {
				q.Set("dbname", db)
			}
		}
		u.RawQuery = q.Encode()
		return u.String(), password, nil
	}
	kv, err := pgParseKeywords(connString)
	if err != nil {
		return "", "", err
	}
	var out [][2]string
	for _, p := range kv {
		if p[0] == "password" {
			password = p[1]
			continue
		}
		out = append(out, p)
	}
	if db != "" {
		out = pgSetKeyword(out, "dbname", db)
	}
	return pgFormatKeywords(out), password, nil
}

// pgParseKeywords parses a libpq keyword/value connection string.
func pgParseKeywords(s string) ([][2]string, error) {
	var out [][2]string
	i := 0
	skipSpace := func() {
		for i < len(s) && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r') {
			i++
		}
	}
	for {
		skipSpace()
		if i >= len(s) {
			return out, nil
		}
		start := i
		for i < len(s) && s[i] != '=' && s[i] != ' ' && s[i] != '\t' {
			i++
		}
		key := s[start:i]
		skipSpace()
		if i >= len(s) || s[i] != '=' || key == "" {
			return nil, fmt.Errorf("connection string: keyword %q has no value", key)
		}
		i++
		skipSpace()
		var val strings.Builder
		if i < len(s) && s[i] == '\'' {
			i++
			closed := false
			for i < len(s) {
				c := s[i]
				if c == '\\' && i+1 < len(s) {
					val.WriteByte(s[i+1])
					i += 2
					continue
				}
				i++
				if c == '\'' {
					closed = true
					break
				}
				val.WriteByte(c)
			}
			if !closed {
				return nil, fmt.Errorf("connection string: unterminated quote in the value of %q", key)
			}
		} else {
			for i < len(s) && s[i] != ' ' && s[i] != '\t' && s[i] != '\n' && s[i] != '\r' {
				if s[i] == '\\' && i+1 < len(s) {
					i++
				}
				val.WriteByte(s[i])
				i++
			}
		}
		out = append(out, [2]string{key, val.String()})
	}
}

func pgSetKeyword(kv [][2]string, key, val string) [][2]string {
	for i := range kv {
		if kv[i][0] == key {
			kv[i][1] = val
			return kv
		}
	}
	return append(kv, [2]string{key, val})
}

func pgFormatKeywords(kv [][2]string) string {
	parts := make([]string, 0, len(kv))
	for _, p := range kv {
		v := strings.ReplaceAll(p[1], `\`, `\\`)
		v = strings.ReplaceAll(v, `'`, `\'`)
		parts = append(parts, p[0]+"='"+v+"'")
	}
	return strings.Join(parts, " ")
}

// pgDump implements ComponentSpec for ComponentPostgres (every table) and
// ComponentPgConfig (tables, the business tables).
type pgDump struct {
	checksummed
	name   string
	tables []string
}

var _ ComponentSpec = pgDump{}

// Name implements ComponentSpec.
func (p pgDump) Name() string { return p.name }

// Profiles implements ComponentSpec.
func (p pgDump) Profiles() []string {
	if p.name == ComponentPgConfig {
		return []string{"hourly"}
	}
	return []string{"daily", "pre-upgrade"}
}

// Storage implements ComponentSpec.
func (pgDump) Storage() string { return StorageRedis }

// Retention implements ComponentSpec: a month of full dumps, a week of
// hourly business-table dumps.
func (p pgDump) Retention() time.Duration {
	if p.name == ComponentPgConfig {
		return 7 * day
	}
	return 30 * day
}

// Objectives implements ComponentSpec.
func (pgDump) Objectives() Objectives { return Objectives{RTO: RTOPostgres, RPO: 24 * time.Hour} }

// Backup implements ComponentSpec: pg_dump -Fc of one exported snapshot.
func (p pgDump) Backup(ctx context.Context, o *RunOptions, c *Component, sink ArtifactSink) error {
	if o.Postgres == nil {
		return errNotConfigured
	}
	opts := *o.Postgres
	opts.Tables = p.tables
	return sink.Artifact("mutt_"+p.name+"_"+sink.Stamp()+".dump.age", false, "pg-custom", func(w io.Writer) error {
		res, err := DumpPostgres(ctx, opts, w)
		if err != nil {
			return err
		}
		c.Counts = res.Counts
		c.Source = map[string]any{
			"server_version": res.ServerVersion,
			"snapshot_at":    res.SnapshotAt.UTC(),
		}
		return nil
	})
}

// DeepVerify implements ComponentSpec: the dump is restored into a
// throw-away database and the row counts compared.
func (pgDump) DeepVerify(ctx context.Context, o DeepVerifyOptions, c *Component) (string, error) {
	return deepPostgres(ctx, o, c)
}

// Restore implements ComponentSpec: postgres is restored beside the live
// database and swapped in (RestorePostgresSet); pgconfig is not restored on
// its own.
func (p pgDump) Restore(ctx context.Context, o RestoreOptions) (string, error) {
	if p.name == ComponentPgConfig {
		return restoredElsewhere{how: "the pgconfig dump is not restored on its own; restore the postgres component of a daily set (mutt restore postgres)"}.Restore(ctx, o)
	}
	res, err := RestorePostgresSet(ctx, PostgresRestoreOptions{Root: o.Root, Manifest: o.Manifest, Keys: o.Keys, DatabaseURL: o.DatabaseURL, PgRestore: o.PgRestore, Now: o.Now})
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("%d table counts match the manifest; the previous database is kept as %s", len(res.Counts), res.PreRestore), nil
}
