package backup

import (
	"context"
	"errors"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/redis/go-redis/v9"

	"github.com/mutt-go/mutt/internal/itest"
)

// restoreDBName is the database name of dsn.
func restoreDBName(t *testing.T, dsn string) string {
	t.Helper()
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimPrefix(u.Path, "/")
}

// restoreDatabases lists the databases whose names start with prefix.
func restoreDatabases(t *testing.T, prefix string) []string {
	t.Helper()
	// Also called from cleanups, after the test's context is gone.
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, itest.AdminDatabaseURL())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	rows, err := conn.Query(ctx, "SELECT datname FROM pg_database WHERE starts_with(datname, $1) ORDER BY 1", prefix)
	if err != nil {
		t.Fatal(err)
	}
	names, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	return names
}

func TestRestorePostgresSet(t *testing.T) {
	pgNeedTools(t)
	ctx := t.Context()
	_, dsn := pgSeeded(t)
	live := restoreDBName(t, dsn)
	t.Cleanup(func() {
		for _, n := range restoreDatabases(t, live+"_") {
			pgDropDatabase(t, n)
		}
	})
	keys := recipientKeys(t)
	root := t.TempDir()
	m, err := Run(ctx, RunOptions{
		Root: root, Keys: keys, Components: []string{ComponentPostgres}, Profile: "custom",
		Postgres: &PostgresDumpOptions{DatabaseURL: dsn},
	})
	if err != nil || m.Status != SetComplete {
		t.Fatalf("Run: %v (%+v)", err, m)
	}
	checksums := func() map[string]string {
		conn, err := pgx.Connect(ctx, dsn)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close(ctx)
		return pgChecksums(t, ctx, conn)
	}
	want := checksums()

	wrongCounts := *m
	wrongCounts.Components = []Component{*m.Component(ComponentPostgres)}
	wrongCounts.Components[0].Counts = map[string]int64{"alert_rules": 61, "development_hosts": 15}
	otherKeys := recipientKeys(t)

	stamp := time.Date(2026, 3, 4, 5, 6, 0, 0, time.UTC)
	tests := []struct {
		name    string
		m       *Manifest
		keys    *Keys
		before  func(t *testing.T)
		wantErr error
		wantMsg string
	}{
		{name: "count mismatch", m: &wrongCounts, keys: keys, wantErr: ErrCountMismatch, wantMsg: "alert_rules: manifest 61, restored 60"},
		{name: "wrong key", m: m, keys: otherKeys, wantErr: ErrWrongKey, wantMsg: "mutt_postgres_"},
		{name: "restored", m: m, keys: keys},
		{name: "live database gone", m: m, keys: keys, before: func(t *testing.T) { pgDropDatabase(t, live) }},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			now := stamp.Add(time.Duration(i) * time.Minute)
			if tt.before != nil {
				tt.before(t)
			}
			res, err := RestorePostgresSet(ctx, PostgresRestoreOptions{
				Root: root, Manifest: tt.m, Keys: tt.keys, DatabaseURL: dsn, Now: func() time.Time { return now },
			})
			if scratch := restoreDatabases(t, live+"_restore_"); len(scratch) != 0 {
				t.Errorf("scratch databases left: %v", scratch)
			}
			got := checksums()
			for table, sum := range want {
				if got[table] != sum {
					t.Errorf("%s: checksum %s, want %s", table, got[table], sum)
				}
			}
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) || !strings.Contains(err.Error(), tt.wantMsg) {
					t.Fatalf("err = %v, want %v with %q", err, tt.wantErr, tt.wantMsg)
				}
				if kept := restoreDatabases(t, live+"_pre_restore_"); len(kept) != 0 {
					t.Errorf("a failed restore renamed the live database: %v", kept)
				}
				return
			}
			if err != nil {
				t.Fatalf("RestorePostgresSet: %v", err)
			}
			wantOld := regexp.MustCompile("^" + regexp.QuoteMeta(live+"_pre_restore_"+now.Format(StampFormat)) + "_[0-9a-f]{4}$")
			if tt.before != nil {
				if res.PreRestore != "" {
					t.Errorf("PreRestore = %q, want none when the live database was gone", res.PreRestore)
				}
			} else if !wantOld.MatchString(res.PreRestore) {
				t.Errorf("PreRestore = %q, want it to match %s", res.PreRestore, wantOld)
			}
			if res.Database != live || res.Counts["event_audit_log"] != 10000 {
				t.Errorf("result = %+v", res)
			}
			if kept := restoreDatabases(t, res.PreRestore); res.PreRestore != "" && len(kept) != 1 {
				t.Errorf("old database %s not kept: %v", res.PreRestore, kept)
			}
		})
	}
}

func TestVerifyComponent(t *testing.T) {
	keys := recipientKeys(t)
	root := t.TempDir()
	data := testData(4096, 7)
	good := writeArtifact(t, root, "redis/a.jsonl.age", keys, false, data)
	bad := writeArtifact(t, root, "redis/b.jsonl.age", keys, false, data)
	p := filepath.Join(root, filepath.FromSlash(bad.Path))
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	b[len(b)-10] ^= 0x40
	if err := os.WriteFile(p, b, 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		c       Component
		wantMsg string
	}{
		{name: "good", c: Component{Name: ComponentRedis, Status: StatusOK, Artifacts: []ArtifactInfo{good}}},
		{name: "flipped byte", c: Component{Name: ComponentRedis, Status: StatusOK, Artifacts: []ArtifactInfo{good, bad}}, wantMsg: "redis/b.jsonl.age"},
		{name: "failed component", c: Component{Name: ComponentRedis, Status: StatusFailed}, wantMsg: "no successful redis component"},
		{name: "no artifact", c: Component{Name: ComponentRedis, Status: StatusOK}, wantMsg: "has no artifact"},
		{name: "absent", c: Component{Name: ComponentPostgres, Status: StatusOK}, wantMsg: "no successful redis component"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := &Manifest{SetID: "20260101T000000Z-h-custom-0000", Components: []Component{tt.c}}
			c, err := VerifyComponent(root, m, ComponentRedis)
			if tt.wantMsg == "" {
				if err != nil || c == nil || c.Name != ComponentRedis {
					t.Fatalf("VerifyComponent = %v, %v", c, err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantMsg) {
				t.Fatalf("err = %v, want %q", err, tt.wantMsg)
			}
		})
	}
}

func TestLiveConsumers(t *testing.T) {
	ctx := t.Context()
	rdb, p := itest.Redis(t)
	active, idle, empty := p+":ingest_queue", p+":alert_queue", p+":empty_queue"
	for _, s := range []string{active, idle, empty} {
		if err := rdb.XGroupCreateMkStream(ctx, s, "g", "$").Err(); err != nil {
			t.Fatal(err)
		}
	}
	for _, s := range []string{active, idle} {
		if err := rdb.XAdd(ctx, &redis.XAddArgs{Stream: s, Values: map[string]any{"k": "v"}}).Err(); err != nil {
			t.Fatal(err)
		}
		if err := rdb.XReadGroup(ctx, &redis.XReadGroupArgs{Group: "g", Consumer: "pod-1", Streams: []string{s, ">"}, Count: 1, Block: -1}).Err(); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		name   string
		groups []QueueGroup
		idle   time.Duration
		want   []string
	}{
		{name: "active consumer", groups: []QueueGroup{{active, "g"}}, idle: time.Hour, want: []string{active + "/g/pod-1"}},
		{name: "idle longer than the window", groups: []QueueGroup{{idle, "g"}}, idle: 0},
		{name: "group without consumers", groups: []QueueGroup{{empty, "g"}}, idle: time.Hour},
		{name: "no such group", groups: []QueueGroup{{active, "other"}}, idle: time.Hour},
		{name: "no such stream", groups: []QueueGroup{{p + ":missing", "g"}}, idle: time.Hour},
		{name: "several", groups: []QueueGroup{{active, "g"}, {idle, "g"}}, idle: time.Hour, want: []string{active + "/g/pod-1", idle + "/g/pod-1"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := LiveConsumers(ctx, rdb, tt.groups, tt.idle)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(tt.want) {
				t.Fatalf("LiveConsumers = %v, want %v", got, tt.want)
			}
			for i := range got {
				if !strings.HasPrefix(got[i], tt.want[i]+" (idle ") {
					t.Errorf("consumer %d = %q, want %q", i, got[i], tt.want[i])
				}
			}
		})
	}
}

func TestCountDiff(t *testing.T) {
	tests := []struct {
		name      string
		want, got map[string]int64
		diff      string
	}{
		{name: "equal", want: map[string]int64{"a": 1, "b": 0}, got: map[string]int64{"a": 1}},
		{name: "differs", want: map[string]int64{"a": 1, "b": 2}, got: map[string]int64{"a": 1, "b": 3}, diff: "b: manifest 2, restored 3"},
		{name: "missing table", want: map[string]int64{"a": 4}, got: map[string]int64{}, diff: "a: manifest 4, restored 0"},
		{name: "extra restored table ignored", want: map[string]int64{}, got: map[string]int64{"a": 4}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := countDiff(tt.want, tt.got); got != tt.diff {
				t.Errorf("countDiff = %q, want %q", got, tt.diff)
			}
		})
	}
}
