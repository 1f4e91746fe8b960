package backup

import (
	"bytes"
	"context"
	"fmt"
	"maps"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/mutt-go/mutt/internal/itest"
	"github.com/mutt-go/mutt/internal/store"
)

// pgNeedTools skips the test when the PostgreSQL client tools are missing.
func pgNeedTools(t testing.TB) {
	t.Helper()
	for _, tool := range []string{"pg_dump", "pg_restore"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s not in PATH (install postgresql-client to run this test): %v", tool, err)
		}
	}
}

// pgSeeded returns a migrated database filled with business data and
// 10,000 audit rows spread over several partitions.
func pgSeeded(t testing.TB) (*pgxpool.Pool, string) {
	t.Helper()
	ctx := t.Context()
	pool, dsn := itest.Pool(t)
	if err := store.Migrate(ctx, pool, nil); err != nil {
		t.Fatalf("Migrate: %v", err)
	}
	stmts := []string{
		`INSERT INTO alert_rules (match_string, match_type, priority, prod_handling, dev_handling, team_assignment)
		 SELECT 'pattern ' || g, 'contains', g, 'Page_and_ticket', 'Ticket_only', 'team' || (g % 5) FROM generate_series(1, 60) g`,
		`INSERT INTO development_hosts SELECT 'dev-host-' || g FROM generate_series(1, 15) g`,
		`INSERT INTO device_teams SELECT 'router-' || g, 'team' || (g % 4) FROM generate_series(1, 25) g`,
		`INSERT INTO config_audit_log (changed_by, operation, table_name, record_id, new_values, reason)
		 SELECT 'ops' || (g % 3), 'CREATE', 'alert_rules', g, jsonb_build_object('id', g, 'note', 'it''s "quoted"'), 'seed'
		 FROM generate_series(1, 120) g`,
		// Current month, a month ahead and far past (default partition).
		`INSERT INTO event_audit_log (event_id, event_timestamp, hostname, matched_rule_id, handling_decision, forwarded_to_moog, raw_message)
		 SELECT gen_random_uuid(),
		        CASE g % 3 WHEN 0 THEN now() - interval '1 minute' * g
		                   WHEN 1 THEN date_trunc('month', now()) + interval '1 month' + interval '1 second' * g
		                   ELSE timestamptz '2001-02-03 04:05:06+00' + interval '1 second' * g END,
		        'host-' || (g % 50), 1 + g % 60, 'Page_and_ticket', g % 2 = 0,
		        '{"message":"line ' || g || E'\ttab\\nnewline"}'
		 FROM generate_series(1, 10000) g`,
		`INSERT INTO event_audit_log_archive (event_timestamp, hostname, matched_rule_id, handling_decision, raw_message, original_id)
		 SELECT now() - interval '400 days' - interval '1 hour' * g, 'old-' || g, 1, 'Ticket_only', 'archived ' || g, g
		 FROM generate_series(1, 200) g`,
	}
	for _, s := range stmts {
		if _, err := pool.Exec(ctx, s); err != nil {
			t.Fatalf("seeding: %v\n%s", err, s)
		}
	}
	return pool, dsn
}

// pgQueryer is what the checksum helper reads through.
type pgQueryer interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// pgChecksums returns an md5 of every table's rows (in a fixed order) and of
// every sequence's position in the public schema.
func pgChecksums(t *testing.T, ctx context.Context, q pgQueryer) map[string]string {
	t.Helper()
	rows, err := q.Query(ctx, `SELECT c.relname::text, c.relkind::text FROM pg_class c
		JOIN pg_namespace n ON n.oid = c.relnamespace
		WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p', 'S') ORDER BY 1`)
	if err != nil {
		t.Fatalf("listing tables: %v", err)
	}
	type rel struct{ Name, Kind string }
	rels, err := pgx.CollectRows(rows, pgx.RowToStructByPos[rel])
	if err != nil {
		t.Fatalf("listing tables: %v", err)
	}
	sums := map[string]string{}
	for _, r := range rels {
		ident := pgx.Identifier{r.Name}.Sanitize()
		sql := `SELECT md5(coalesce(string_agg(x::text, ',' ORDER BY x::text), '')) FROM ` + ident + ` x`
		if r.Kind == "S" {
			sql = `SELECT md5(last_value::text || is_called::text) FROM ` + ident
		}
		var sum string
		if err := q.QueryRow(ctx, sql).Scan(&sum); err != nil {
			t.Fatalf("checksumming %s: %v", r.Name, err)
		}
		sums[r.Name] = sum
	}
	if len(sums) < 10 {
		t.Fatalf("only %d relations found: %v", len(sums), sums)
	}
	return sums
}

func TestDumpRestorePostgres(t *testing.T) {
	pgNeedTools(t)
	tests := []struct {
		name string
		// changeAfterSnapshot writes to the live database after the snapshot
		// was exported and before pg_dump starts.
		changeAfterSnapshot string
		wantLiveExtra       map[string]int64
	}{
		{name: "quiet database"},
		{
			name: "writes after the snapshot are in neither counts nor dump",
			changeAfterSnapshot: `
				INSERT INTO alert_rules (match_string, prod_handling, dev_handling, team_assignment)
				  SELECT 'late ' || g, 'p', 'd', 't' FROM generate_series(1, 7) g;
				INSERT INTO device_teams VALUES ('late-router', 'late');
				DELETE FROM development_hosts WHERE hostname = 'dev-host-1';
				INSERT INTO event_audit_log (event_id, event_timestamp, hostname, matched_rule_id, handling_decision)
				  SELECT gen_random_uuid(), now(), 'late', 1, 'x' FROM generate_series(1, 50);`,
			wantLiveExtra: map[string]int64{"alert_rules": 7, "device_teams": 1, "development_hosts": -1, "event_audit_log": 50},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := t.Context()
			pool, dsn := pgSeeded(t)
			var atSnapshot map[string]string
			hook := func(ctx context.Context) error {
				atSnapshot = pgChecksums(t, ctx, pool)
				if tt.changeAfterSnapshot == "" {
					return nil
				}
				_, err := pool.Exec(ctx, tt.changeAfterSnapshot)
				return err
			}
			var archive bytes.Buffer
			res, err := dumpPostgres(ctx, PostgresDumpOptions{DatabaseURL: dsn}, &archive, hook)
			if err != nil {
				t.Fatalf("DumpPostgres: %v", err)
			}
			wantCounts := map[string]int64{
				"alert_rules": 60, "development_hosts": 15, "device_teams": 25,
				"config_audit_log": 120, "event_audit_log": 10000, "event_audit_log_archive": 200,
			}
			if !maps.Equal(res.Counts, wantCounts) {
				t.Errorf("dump counts = %v, want %v", res.Counts, wantCounts)
			}
			if res.Bytes != int64(archive.Len()) || res.Bytes == 0 {
				t.Errorf("Bytes = %d, archive has %d", res.Bytes, archive.Len())
			}
			if res.ServerVersion == "" || time.Since(res.SnapshotAt) > time.Minute || time.Since(res.SnapshotAt) < 0 {
				t.Errorf("ServerVersion %q, SnapshotAt %v", res.ServerVersion, res.SnapshotAt)
			}
			live, err := pgCountRows(ctx, pool, PostgresCriticalTables(), false)
			if err != nil {
				t.Fatal(err)
			}
			for table, n := range wantCounts {
				if live[table] != n+tt.wantLiveExtra[table] {
					t.Errorf("live %s = %d, want %d", table, live[table], n+tt.wantLiveExtra[table])
				}
			}

			scratch := itest.RandomName("mutt_restore_")
			t.Cleanup(func() { pgDropDatabase(t, scratch) })
			counts, err := RestorePostgres(ctx, itest.AdminDatabaseURL(), scratch, "", bytes.NewReader(archive.Bytes()))
			if err != nil {
				t.Fatalf("RestorePostgres: %v", err)
			}
			if !maps.Equal(counts, res.Counts) {
				t.Errorf("restored counts = %v, dump counts %v", counts, res.Counts)
			}
			restored, err := pgx.Connect(ctx, pgWithDatabase(itest.AdminDatabaseURL(), scratch))
			if err != nil {
				t.Fatalf("connecting to restored database: %v", err)
			}
			defer restored.Close(context.WithoutCancel(ctx))
			got := pgChecksums(t, ctx, restored)
			for name, sum := range atSnapshot {
				// Sequences are outside MVCC: pg_dump saves their current
				// position, which late writes moved ahead. Ahead is harmless.
				if tt.changeAfterSnapshot != "" && strings.HasSuffix(name, "_seq") {
					continue
				}
				if got[name] != sum {
					t.Errorf("%s differs after restore", name)
				}
			}
			for name := range got {
				if _, ok := atSnapshot[name]; !ok {
					t.Errorf("restored database has extra relation %s", name)
				}
			}
		})
	}
}

func TestDumpPostgresTables(t *testing.T) {
	pgNeedTools(t)
	ctx := t.Context()
	_, dsn := pgSeeded(t)
	var archive bytes.Buffer
	tables := []string{"alert_rules", "development_hosts", "device_teams", "config_audit_log"}
	res, err := DumpPostgres(ctx, PostgresDumpOptions{DatabaseURL: dsn, Tables: tables}, &archive)
	if err != nil {
		t.Fatalf("DumpPostgres: %v", err)
	}
	want := map[string]int64{"alert_rules": 60, "development_hosts": 15, "device_teams": 25, "config_audit_log": 120}
	if !maps.Equal(res.Counts, want) {
		t.Errorf("counts = %v, want %v", res.Counts, want)
	}
	scratch := itest.RandomName("mutt_restore_")
	t.Cleanup(func() { pgDropDatabase(t, scratch) })
	counts, err := RestorePostgres(ctx, itest.AdminDatabaseURL(), scratch, "", &archive)
	if err != nil {
		t.Fatalf("RestorePostgres: %v", err)
	}
	if !maps.Equal(counts, want) {
		t.Errorf("restored counts = %v, want %v (only the dumped tables)", counts, want)
	}
}

func TestRestorePostgresFailureDropsScratch(t *testing.T) {
	pgNeedTools(t)
	ctx := t.Context()
	tests := []struct {
		name    string
		archive []byte
	}{
		{name: "not an archive", archive: []byte("this is not a pg_dump archive\n")},
		{name: "empty input", archive: nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			scratch := itest.RandomName("mutt_restore_")
			t.Cleanup(func() { pgDropDatabase(t, scratch) })
			if _, err := RestorePostgres(ctx, itest.AdminDatabaseURL(), scratch, "", bytes.NewReader(tt.archive)); err == nil {
				t.Fatal("RestorePostgres accepted a bad archive")
			}
			conn, err := pgx.Connect(ctx, itest.AdminDatabaseURL())
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close(ctx)
			var exists bool
			if err := conn.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)`, scratch).Scan(&exists); err != nil {
				t.Fatal(err)
			}
			if exists {
				t.Errorf("scratch database %s left behind after a failed restore", scratch)
			}
		})
	}
}

func TestRestorePostgresRefusesExistingDatabase(t *testing.T) {
	pgNeedTools(t)
	pool, dsn := itest.Pool(t)
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatal(err)
	}
	existing := strings.TrimPrefix(u.Path, "/")
	if _, err := pool.Exec(t.Context(), `CREATE TABLE keep_me (x int); INSERT INTO keep_me VALUES (42)`); err != nil {
		t.Fatal(err)
	}
	_, err = RestorePostgres(t.Context(), itest.AdminDatabaseURL(), existing, "", strings.NewReader("x"))
	if err == nil {
		t.Fatal("RestorePostgres restored into an existing database")
	}
	var x int
	if err := pool.QueryRow(t.Context(), `SELECT x FROM keep_me`).Scan(&x); err != nil || x != 42 {
		t.Errorf("existing database was touched: x=%d err=%v", x, err)
	}
}

func TestPostgresErrorsHidePassword(t *testing.T) {
	const secret = "s3cr3t-PW-9f7"
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()

	// A pg_dump stand-in that prints its arguments and whether the password
	// arrived through the environment, then fails.
	dir := t.TempDir()
	fake := filepath.Join(dir, "pg_dump")
	script := "#!/bin/sh\necho \"argv: $*\" >&2\n[ \"$PGPASSWORD\" = '" + secret + "' ] && echo 'pgpassword=match' >&2\nexit 3\n"
	if err := os.WriteFile(fake, []byte(script), 0o700); err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name    string
		run     func(t *testing.T) error
		wantMsg string
	}{
		{
			name: "dump, URL, closed port",
			run: func(t *testing.T) error {
				_, err := DumpPostgres(ctx, PostgresDumpOptions{DatabaseURL: "postgres://mutt:" + secret + "@127.0.0.1:1/mutt?sslmode=disable", PgDump: fake}, &bytes.Buffer{})
				return err
			},
			wantMsg: "127.0.0.1",
		},
		{
			name: "dump, password in the query, closed port",
			run: func(t *testing.T) error {
				_, err := DumpPostgres(ctx, PostgresDumpOptions{DatabaseURL: "postgres://mutt@127.0.0.1:1/mutt?sslmode=disable&password=" + secret, PgDump: fake}, &bytes.Buffer{})
				return err
			},
			wantMsg: "connecting",
		},
		{
			name: "dump, keyword/value, closed port",
			run: func(t *testing.T) error {
				_, err := DumpPostgres(ctx, PostgresDumpOptions{DatabaseURL: "host=127.0.0.1 port=1 user=mutt dbname=mutt sslmode=disable password='" + secret + "'", PgDump: fake}, &bytes.Buffer{})
				return err
			},
			wantMsg: "connecting",
		},
		{
			name: "restore, closed port",
			run: func(t *testing.T) error {
				_, err := RestorePostgres(ctx, "postgres://postgres:"+secret+"@127.0.0.1:1/postgres?sslmode=disable", "mutt_restore_x", fake, strings.NewReader(""))
				return err
			},
			wantMsg: "connecting",
		},
		{
			name: "dump, malformed URL",
			run: func(t *testing.T) error {
				_, err := DumpPostgres(ctx, PostgresDumpOptions{DatabaseURL: "postgres://mutt:" + secret + "@127.0.0.1:99999999/%zz", PgDump: fake}, &bytes.Buffer{})
				return err
			},
			wantMsg: "parse",
		},
		{
			name: "pg_dump itself fails; password only in its environment",
			run: func(t *testing.T) error {
				pool, dsn := itest.Pool(t)
				if err := store.Migrate(ctx, pool, nil); err != nil {
					t.Fatalf("Migrate: %v", err)
				}
				u, err := url.Parse(dsn)
				if err != nil {
					t.Fatal(err)
				}
				u.User = url.UserPassword(u.User.Username(), secret)
				conn, err := pgx.Connect(ctx, u.String())
				if err != nil {
					t.Skipf("the test server does not accept an arbitrary password (needs trust auth): %v", err)
				}
				conn.Close(ctx)
				_, err = DumpPostgres(ctx, PostgresDumpOptions{DatabaseURL: u.String(), PgDump: fake}, &bytes.Buffer{})
				return err
			},
			wantMsg: "pgpassword=match",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.run(t)
			if err == nil {
				t.Fatal("expected an error")
			}
			if strings.Contains(err.Error(), secret) {
				t.Errorf("error text contains the password: %v", err)
			}
			if !strings.Contains(err.Error(), tt.wantMsg) {
				t.Errorf("error %q does not mention %q", err, tt.wantMsg)
			}
		})
	}
}

func TestPgChildConn(t *testing.T) {
	tests := []struct {
		name, in, db, wantConn, wantPassword string
	}{
		{"url", "postgres://u:p%40ss@h:5432/mutt?sslmode=require", "", "postgres://u@h:5432/mutt?sslmode=require", "p@ss"},
		{"url new db", "postgresql://u:pw@h/mutt", "mutt_restore_1", "postgresql://u@h/mutt_restore_1", "pw"},
		{"url query password", "postgres://u@h/mutt?password=pw&sslmode=disable", "", "postgres://u@h/mutt?sslmode=disable", "pw"},
		{"url no password", "postgres://u@h/mutt", "", "postgres://u@h/mutt", ""},
		{"keywords", "host=h user=u password='a b\\'c' dbname=mutt", "", "host='h' user='u' dbname='mutt'", "a b'c"},
		{"keywords new db", "host=h password=pw", "scratch", "host='h' dbname='scratch'", "pw"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			conn, pw, err := pgChildConn(tt.in, tt.db)
			if err != nil {
				t.Fatal(err)
			}
			if conn != tt.wantConn || pw != tt.wantPassword {
				t.Errorf("pgChildConn(%q) = %q, %q; want %q, %q", tt.in, conn, pw, tt.wantConn, tt.wantPassword)
			}
		})
	}
}

// pgDropDatabase removes a database a test restored into, if it exists.
func pgDropDatabase(t testing.TB, name string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, itest.AdminDatabaseURL())
	if err != nil {
		t.Errorf("connecting to drop %s: %v", name, err)
		return
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, fmt.Sprintf("DROP DATABASE IF EXISTS %s WITH (FORCE)", pgx.Identifier{name}.Sanitize())); err != nil {
		t.Errorf("dropping %s: %v", name, err)
	}
}

func BenchmarkDumpPostgres(b *testing.B) {
	pgNeedTools(b)
	_, dsn := pgSeeded(b)
	var archive bytes.Buffer
	for b.Loop() {
		archive.Reset()
		if _, err := DumpPostgres(b.Context(), PostgresDumpOptions{DatabaseURL: dsn}, &archive); err != nil {
			b.Fatal(err)
		}
	}
	b.SetBytes(int64(archive.Len()))
}

func BenchmarkRestorePostgres(b *testing.B) {
	pgNeedTools(b)
	_, dsn := pgSeeded(b)
	var archive bytes.Buffer
	if _, err := DumpPostgres(b.Context(), PostgresDumpOptions{DatabaseURL: dsn}, &archive); err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(archive.Len()))
	for b.Loop() {
		scratch := itest.RandomName("mutt_restore_")
		_, err := RestorePostgres(b.Context(), itest.AdminDatabaseURL(), scratch, "", bytes.NewReader(archive.Bytes()))
		b.StopTimer()
		pgDropDatabase(b, scratch)
		b.StartTimer()
		if err != nil {
			b.Fatal(err)
		}
	}
}
