package main

import (
	"context"
	"encoding/json"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"filippo.io/age"
	"github.com/jackc/pgx/v5"
	"github.com/redis/go-redis/v9"

	"github.com/mutt-go/mutt/internal/backup"
	"github.com/mutt-go/mutt/internal/itest"
)

// restoreTables are the MUTT tables whose contents a restore must give back.
var restoreTables = backup.PostgresCriticalTables()

// drillEnv is a backupEnv with a bigger data set: rules, hosts, teams,
// 20,000 audit rows, config keys and DLQ streams.
type drillEnv struct {
	*backupEnv
	dsn string
	rdb *redis.Client
}

func newDrillEnv(t *testing.T) *drillEnv {
	t.Helper()
	e := newBackupEnv(t)
	dsn := os.Getenv("DATABASE_URL")
	ctx := t.Context()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	for _, s := range []string{
		`INSERT INTO alert_rules (match_string, priority, prod_handling, dev_handling, team_assignment)
		 SELECT 'pattern ' || g, g, 'Page_and_ticket', 'Ignore', 'team' || (g % 4) FROM generate_series(1, 60) g`,
		`INSERT INTO event_audit_log (event_timestamp, hostname, matched_rule_id, handling_decision, forwarded_to_moog, raw_message, event_id)
		 SELECT timestamptz '2026-01-01 00:00:00+00' + g * interval '1 minute', 'router-' || (g % 50),
		        (SELECT min(id) FROM alert_rules) + g % 60, 'Page_and_ticket', g % 2 = 0, 'message ' || g,
		        md5(g::text)::uuid
		 FROM generate_series(1, 20000) g`,
		`INSERT INTO event_audit_log_archive (event_timestamp, hostname, matched_rule_id, handling_decision, raw_message)
		 SELECT timestamptz '2025-01-01 00:00:00+00' + g * interval '1 hour', 'old-' || g, 1, 'Ignore', 'archived ' || g
		 FROM generate_series(1, 30) g`,
	} {
		if _, err := conn.Exec(ctx, s); err != nil {
			t.Fatalf("seeding: %v", err)
		}
	}
	opts, err := redis.ParseURL(itest.RedisURL())
	if err != nil {
		t.Fatal(err)
	}
	rdb := redis.NewClient(opts)
	t.Cleanup(func() { _ = rdb.Close() })
	for i, v := range []string{"info", "debug", "warn"} {
		if err := rdb.Set(ctx, e.prefix+":config:level_"+string(rune('a'+i)), v, 0).Err(); err != nil {
			t.Fatal(err)
		}
	}
	if err := rdb.HSet(ctx, e.prefix+":config:limits", "rate", "100", "burst", "20").Err(); err != nil {
		t.Fatal(err)
	}
	for _, stream := range []string{"alerter", "moog_stream"} {
		for i := range 25 {
			if err := rdb.XAdd(ctx, &redis.XAddArgs{Stream: e.prefix + ":dlq:" + stream, Values: map[string]any{"n": i, "payload": "event"}}).Err(); err != nil {
				t.Fatal(err)
			}
		}
	}
	return &drillEnv{backupEnv: e, dsn: dsn, rdb: rdb}
}

// checksums returns the md5 of every MUTT table's rows, read through a new
// connection to the database the test's DATABASE_URL names.
func (d *drillEnv) checksums(t *testing.T) map[string]string {
	t.Helper()
	ctx := t.Context()
	conn, err := pgx.Connect(ctx, d.dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	sums := map[string]string{}
	for _, table := range restoreTables {
		var sum, n string
		q := "SELECT coalesce(md5(string_agg(t::text, ',' ORDER BY t::text)), ''), count(*)::text FROM " + pgx.Identifier{table}.Sanitize() + " t"
		if err := conn.QueryRow(ctx, q).Scan(&sum, &n); err != nil {
			t.Fatalf("checksum of %s: %v", table, err)
		}
		sums[table] = n + ":" + sum
	}
	return sums
}

// dumps returns the DUMP of every config and DLQ key.
func (d *drillEnv) dumps(t *testing.T) map[string]string {
	t.Helper()
	ctx := t.Context()
	out := map[string]string{}
	for _, pattern := range []string{d.prefix + ":config:*", d.prefix + ":dlq:*"} {
		iter := d.rdb.Scan(ctx, 0, pattern, 100).Iterator()
		for iter.Next(ctx) {
			v, err := d.rdb.Dump(ctx, iter.Val()).Result()
			if err != nil {
				t.Fatalf("DUMP %s: %v", iter.Val(), err)
			}
			out[iter.Val()] = v
		}
		if err := iter.Err(); err != nil {
			t.Fatal(err)
		}
	}
	return out
}

// dropKept drops the database the restore kept as *_pre_restore_* when the
// test ends.
func dropKept(t *testing.T, dsn string) {
	t.Helper()
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatal(err)
	}
	prefix := strings.TrimPrefix(u.Path, "/") + "_pre_restore_"
	t.Cleanup(func() {
		ctx := context.Background()
		conn, err := pgx.Connect(ctx, itest.AdminDatabaseURL())
		if err != nil {
			t.Errorf("connecting to drop kept databases: %v", err)
			return
		}
		defer conn.Close(ctx)
		rows, err := conn.Query(ctx, "SELECT datname FROM pg_database WHERE starts_with(datname, $1)", prefix)
		if err != nil {
			t.Errorf("listing kept databases: %v", err)
			return
		}
		names, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			t.Errorf("listing kept databases: %v", err)
			return
		}
		for _, n := range names {
			if _, err := conn.Exec(ctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{n}.Sanitize()+" WITH (FORCE)"); err != nil {
				t.Errorf("dropping %s: %v", n, err)
			}
		}
	})
}

func mustRun(t *testing.T, args ...string) string {
	t.Helper()
	code, out, errOut := runBackupCmd(t, args...)
	if code != exitOK {
		t.Fatalf("mutt %s: exit %d\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), code, out, errOut)
	}
	return out
}

// configFixture writes a small /etc/mutt-like tree and points
// MUTT_BACKUP_CONFIG_PATHS and MUTT_BACKUP_LOG_DIR at it.
func configFixture(t *testing.T) (root, env string) {
	t.Helper()
	root = t.TempDir()
	env = filepath.Join(root, "etc", "mutt", "mutt.env")
	if err := os.MkdirAll(filepath.Dir(env), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(env, []byte("DB_HOST=db\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	logs := filepath.Join(root, "log")
	if err := os.MkdirAll(logs, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(logs, "alerter.log"), []byte("started\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("MUTT_BACKUP_CONFIG_PATHS", filepath.Join(root, "etc", "mutt")+":required,"+filepath.Join(root, "absent.yml"))
	t.Setenv("MUTT_BACKUP_LOG_DIR", logs)
	return root, env
}

func TestRestoreDrill(t *testing.T) {
	d := newDrillEnv(t)
	dropKept(t, d.dsn)
	_, env := configFixture(t)
	ctx := t.Context()
	wantSums := d.checksums(t)
	wantDumps := d.dumps(t)
	if len(wantDumps) != 8 {
		t.Fatalf("seeded %d keys, want 8: %v", len(wantDumps), wantDumps)
	}
	mustRun(t, "backup", "run", "--components", "postgres,redis,config,logs", "--yes")
	out := mustRun(t, "backup", "verify", "latest", "--deep")
	for _, want := range []string{"deep postgres: ok", "deep redis: ok", "deep config: ok", "deep logs: ok"} {
		if !strings.Contains(out, want) {
			t.Errorf("verify --deep output lacks %q:\n%s", want, out)
		}
	}

	t.Run("drill", func(t *testing.T) {
		out := mustRun(t, "restore", "drill", "--json")
		var rep backup.DrillReport
		if err := json.Unmarshal([]byte(out), &rep); err != nil {
			t.Fatalf("drill --json: %v\n%s", err, out)
		}
		if !rep.Passed || rep.Keys.Matched < 8 || len(rep.Steps) != 3 {
			t.Errorf("drill report: %+v", rep)
		}
		out = mustRun(t, "restore", "drill")
		for _, want := range []string{"RTO: postgres", "RTO: redis", "RTO: full", "RPO: ", "drill passed"} {
			if !strings.Contains(out, want) {
				t.Errorf("drill output lacks %q:\n%s", want, out)
			}
		}
	})

	// The disaster: every row, every key and the env file gone.
	conn, err := pgx.Connect(ctx, d.dsn)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Exec(ctx, "TRUNCATE "+strings.Join(restoreTables, ", ")+" CASCADE"); err != nil {
		t.Fatal(err)
	}
	conn.Close(ctx)
	for k := range wantDumps {
		if err := d.rdb.Del(ctx, k).Err(); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Remove(env); err != nil {
		t.Fatal(err)
	}

	out = mustRun(t, "restore", "full", "latest", "--yes")
	for _, want := range []string{"pre-restore safety set", "RTO: postgres", "RTO: redis", "RTO: dynamic-config", "RTO: config", "RTO: full", "_pre_restore_"} {
		if !strings.Contains(out, want) {
			t.Errorf("restore full output lacks %q:\n%s", want, out)
		}
	}
	t.Logf("restore full:\n%s", out)

	gotSums := d.checksums(t)
	for _, table := range restoreTables {
		if gotSums[table] != wantSums[table] {
			t.Errorf("%s: checksum %s after restore, want %s", table, gotSums[table], wantSums[table])
		}
	}
	gotDumps := d.dumps(t)
	for k, want := range wantDumps {
		if gotDumps[k] != want {
			t.Errorf("key %s: DUMP differs after restore (present: %t)", k, gotDumps[k] != "")
		}
	}
	if b, err := os.ReadFile(env); err != nil || string(b) != "DB_HOST=db\n" {
		t.Errorf("env file after restore: %q, %v", b, err)
	}

	t.Run("single components", func(t *testing.T) {
		if err := os.WriteFile(env, []byte("DB_HOST=elsewhere\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		out := mustRun(t, "restore", "config", "latest", "--files", "*.env", "--yes")
		if !strings.Contains(out, "changed") || !strings.Contains(out, "RTO: config") {
			t.Errorf("restore config output:\n%s", out)
		}
		if b, _ := os.ReadFile(env); string(b) != "DB_HOST=db\n" {
			t.Errorf("env file %q", b)
		}
		if err := d.rdb.Set(ctx, d.prefix+":config:level_a", "changed", 0).Err(); err != nil {
			t.Fatal(err)
		}
		out = mustRun(t, "restore", "dynamic-config", "latest", "--yes")
		if !strings.Contains(out, "set 1 keys") || !strings.Contains(out, "RTO: dynamic config") {
			t.Errorf("restore dynamic-config output:\n%s", out)
		}
		code, _, errOut := runBackupCmd(t, "restore", "vault", "latest", "--yes")
		if code == exitOK || !strings.Contains(errOut, "vault") {
			t.Errorf("restore vault without a vault component: exit %d, %s", code, errOut)
		}
	})
}

func TestRestoreRefuses(t *testing.T) {
	d := newDrillEnv(t)
	dropKept(t, d.dsn)
	wantSums := d.checksums(t)
	mustRun(t, "backup", "run", "--components", "postgres,redis", "--yes")
	ctx := t.Context()

	corrupt := func(t *testing.T) {
		m, err := backup.ReadManifest(filepath.Join(d.root, mustManifestPath(t, d.root)))
		if err != nil {
			t.Fatal(err)
		}
		a := m.Component(backup.ComponentPostgres).Artifacts[0]
		p := filepath.Join(d.root, filepath.FromSlash(a.Path))
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		b[len(b)/2] ^= 0x01
		if err := os.WriteFile(p, b, 0o600); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			b[len(b)/2] ^= 0x01
			if err := os.WriteFile(p, b, 0o600); err != nil {
				t.Error(err)
			}
		})
	}
	wrongKey := func(t *testing.T) {
		id, err := age.GenerateX25519Identity()
		if err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(t.TempDir(), "identity")
		if err := os.WriteFile(p, []byte(id.String()+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		t.Setenv("MUTT_BACKUP_IDENTITY_FILE", p)
	}
	liveConsumer := func(t *testing.T) {
		stream := d.prefix + ":ingest_queue"
		if err := d.rdb.XGroupCreateMkStream(ctx, stream, "alerter", "$").Err(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { d.rdb.Del(context.Background(), stream) })
		if err := d.rdb.XAdd(ctx, &redis.XAddArgs{Stream: stream, Values: map[string]any{"event": "syslog"}}).Err(); err != nil {
			t.Fatal(err)
		}
		err := d.rdb.XReadGroup(ctx, &redis.XReadGroupArgs{Group: "alerter", Consumer: "alerter-pod-1", Streams: []string{stream, ">"}, Count: 1, Block: -1}).Err()
		if err != nil && err != redis.Nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		name     string
		setup    func(t *testing.T)
		args     []string
		wantCode int
		wantErr  string
	}{
		{"flipped byte", corrupt, []string{"restore", "postgres", "latest", "--yes"}, exitFailure, "mutt_postgres_"},
		{"wrong key postgres", wrongKey, []string{"restore", "postgres", "latest", "--yes"}, exitFailure, "mutt_postgres_"},
		{"wrong key redis", wrongKey, []string{"restore", "redis", "latest", "--yes"}, exitFailure, "redis_keys_"},
		{"live consumer", liveConsumer, []string{"restore", "postgres", "latest", "--yes"}, exitUsage, "alerter-pod-1"},
		{"live consumer redis", liveConsumer, []string{"restore", "redis", "latest", "--yes"}, exitUsage, "--force"},
		{"no terminal", nil, []string{"restore", "redis", "latest"}, exitUsage, "--yes"},
		{"bad mode", nil, []string{"restore", "redis", "latest", "--mode", "append", "--yes"}, exitUsage, "mode"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.setup != nil {
				tt.setup(t)
			}
			code, out, errOut := runBackupCmd(t, tt.args...)
			if code != tt.wantCode || !strings.Contains(errOut, tt.wantErr) {
				t.Errorf("exit %d, want %d with %q\nstdout:\n%s\nstderr:\n%s", code, tt.wantCode, tt.wantErr, out, errOut)
			}
			got := d.checksums(t)
			for _, table := range restoreTables {
				if got[table] != wantSums[table] {
					t.Errorf("%s changed by a refused restore", table)
				}
			}
		})
	}

	t.Run("force despite live consumer", func(t *testing.T) {
		liveConsumer(t)
		out := mustRun(t, "restore", "redis", "latest", "--force", "--yes")
		if !strings.Contains(out, "kept 8 existing") {
			t.Errorf("merge restore over unchanged keys:\n%s", out)
		}
	})
}

// mustManifestPath is the manifest of the newest set, relative to root.
func mustManifestPath(t *testing.T, root string) string {
	t.Helper()
	ms, err := backup.ListManifests(root)
	if err != nil || len(ms) == 0 {
		t.Fatalf("listing sets: %v (%d)", err, len(ms))
	}
	p, err := backup.ManifestPath(ms[0].SetID)
	if err != nil {
		t.Fatal(err)
	}
	return p
}
