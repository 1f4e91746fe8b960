package backup

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// rdbFixture writes MUTT-like keys into a private server and returns the
// names a full restore must give back unchanged.
func rdbFixture(t *testing.T, rdb *redis.Client) []string {
	t.Helper()
	ctx := t.Context()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatalf("creating fixture: %v", err)
		}
	}
	must(rdb.Set(ctx, "mutt:config:level", "info", 0).Err())
	must(rdb.HSet(ctx, "mutt:config:limits", "rate", "100", "burst", "20").Err())
	must(rdb.XAdd(ctx, &redis.XAddArgs{Stream: "mutt:dlq:moog", Values: []string{"payload", "a"}}).Err())
	must(rdb.XGroupCreate(ctx, "mutt:dlq:moog", "senders", "0").Err())
	must(rdb.Set(ctx, "mutt:unhandled:router1:abc", "3", time.Hour).Err())
	must(rdb.RPush(ctx, "other:list", "x", "y").Err())
	// Volatile state and a queue: back from the snapshot, then dropped.
	must(rdb.Set(ctx, "mutt:rate_limit:ingestor", "5", 0).Err())
	must(rdb.Set(ctx, "mutt:circuit_breaker:moog:state", "OPEN", 0).Err())
	must(rdb.XAdd(ctx, &redis.XAddArgs{Stream: "mutt:ingest_queue", Values: []string{"e", "1"}}).Err())
	return []string{"mutt:config:level", "mutt:config:limits", "mutt:dlq:moog", "mutt:unhandled:router1:abc", "other:list"}
}

func dumpKeys(t *testing.T, rdb *redis.Client, keys []string) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, k := range keys {
		v, err := rdb.Dump(t.Context(), k).Result()
		if err != nil {
			t.Fatalf("DUMP %s: %v", k, err)
		}
		out[k] = v
	}
	return out
}

func TestBackupRedisRDBAndFullRestore(t *testing.T) {
	s := startTestRedis(t, true)
	ctx := t.Context()
	keep := rdbFixture(t, s.Client)
	want := dumpKeys(t, s.Client, keep)
	root := t.TempDir()
	keys := recipientKeys(t)

	m, err := Run(ctx, RunOptions{Root: root, Keys: keys, Components: []string{ComponentRedis}, Host: "h",
		Redis: s.Client, RedisPatterns: DefaultRedisPatterns("mutt")})
	if err != nil {
		t.Fatal(err)
	}
	c := m.Component(ComponentRedis)
	if c.Status != StatusOK || len(c.Artifacts) != 2 {
		t.Fatalf("redis component: %s %q, %d artifacts", c.Status, c.Reason, len(c.Artifacts))
	}
	if c.Artifacts[0].Format != "jsonl" || c.Artifacts[1].Format != FormatRDB {
		t.Fatalf("artifact formats %q, %q; the logical export must stay first", c.Artifacts[0].Format, c.Artifacts[1].Format)
	}
	if !strings.HasPrefix(filepath.Base(c.Artifacts[1].Path), "dump_") || !strings.HasSuffix(c.Artifacts[1].Path, ".rdb.zst.age") {
		t.Fatalf("rdb artifact name %s", c.Artifacts[1].Path)
	}
	if c.Verify == nil || c.Verify.Status != StatusOK {
		t.Fatalf("quick verify: %+v", c.Verify)
	}
	last, _ := s.Client.LastSave(ctx).Result()
	src := c.Source
	if src["lastsave"] != last || src["rdb_version"].(int) < 9 || src["rdb_bytes"].(int64) != c.Artifacts[1].PlainBytes ||
		src["rdb_keys"] != int64(8) || src["aof_enabled"] != true {
		t.Fatalf("manifest source %v (LASTSAVE %d)", src, last)
	}
	// Nothing in plaintext beside the server's own file.
	err = filepath.Walk(root, func(p string, fi os.FileInfo, err error) error {
		if err == nil && !fi.IsDir() && !strings.HasSuffix(p, ".age") && !strings.HasSuffix(p, ".json") && !strings.HasSuffix(p, ".lock") {
			t.Errorf("unexpected file in the backup root: %s", p)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}

	// The damage the restore repairs.
	if err := s.Client.Set(ctx, "mutt:config:level", "debug", 0).Err(); err != nil {
		t.Fatal(err)
	}
	if err := s.Client.Del(ctx, "mutt:dlq:moog", "other:list").Err(); err != nil {
		t.Fatal(err)
	}
	if err := s.Client.Set(ctx, "mutt:config:added_later", "1", 0).Err(); err != nil {
		t.Fatal(err)
	}

	var progress strings.Builder
	res, err := RestoreRedisRDB(ctx, RDBRestoreOptions{
		Root: root, Manifest: m, Keys: keys, Redis: s.Client, Stop: s.Stop, Start: s.Start,
		Prefix: "mutt", Timeout: 30 * time.Second, Progress: &progress,
	})
	if err != nil {
		t.Fatalf("full restore: %v\n%s", err, progress.String())
	}
	if got := dumpKeys(t, s.Client, keep); !equalMaps(got, want) {
		t.Fatalf("restored values differ from the backup")
	}
	if n, _ := s.Client.Exists(ctx, "mutt:config:added_later").Result(); n != 0 {
		t.Fatal("a key created after the backup survived the full restore")
	}
	if n, _ := s.Client.Exists(ctx, "mutt:rate_limit:ingestor", "mutt:circuit_breaker:moog:state", "mutt:ingest_queue").Result(); n != 0 || res.Dropped != 3 {
		t.Fatalf("volatile keys left: %d, dropped %d", n, res.Dropped)
	}
	if !res.AOF || res.DBSize != 8 || res.SnapshotKeys != 8 || len(res.CountNotes) != 0 {
		t.Fatalf("result %+v", res)
	}
	// The previous snapshot and AOF directory are kept aside.
	var sawRDB, sawAOF bool
	for _, k := range res.Kept {
		if _, err := os.Stat(k); err != nil {
			t.Fatalf("kept file: %v", err)
		}
		sawRDB = sawRDB || strings.Contains(k, "dump.rdb.pre-restore-")
		sawAOF = sawAOF || strings.Contains(k, "appendonlydir.pre-restore-")
	}
	if !sawAOF {
		t.Fatalf("previous AOF directory not kept: %v", res.Kept)
	}
	_ = sawRDB // only present when the server had saved before the restore
	fi, err := os.Stat(filepath.Join(s.Dir, "dump.rdb"))
	if err != nil || fi.Mode().Perm() != 0o640 {
		t.Fatalf("restored dump.rdb: %v %v", fi, err)
	}
	// AOF is on again, persisted, and was rewritten from the restored data:
	// a restart loads it and gives the same keys back.
	if v, _ := s.Client.ConfigGet(ctx, "appendonly").Result(); v["appendonly"] != "yes" {
		t.Fatalf("appendonly after restore: %v", v)
	}
	conf, _ := os.ReadFile(s.Conf)
	if !strings.Contains(string(conf), "appendonly yes") {
		t.Fatalf("config file lost appendonly yes:\n%s", conf)
	}
	if err := runCommand(ctx, s.Stop); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(filepath.Join(s.Dir, "dump.rdb")); err != nil {
		t.Fatal(err)
	}
	if err := runCommand(ctx, s.Start); err != nil {
		t.Fatal(err)
	}
	if err := pollUntil(ctx, 15*time.Second, "restart", func() (bool, error) {
		p, err := readPersistence(ctx, s.Client)
		return err == nil && !p.loading, nil
	}); err != nil {
		t.Fatal(err)
	}
	if got := dumpKeys(t, s.Client, keep); !equalMaps(got, want) {
		t.Fatal("after a restart from the rewritten AOF the keys differ")
	}
}

func equalMaps(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

func TestRestoreRedisRDBRefuses(t *testing.T) {
	s := startTestRedis(t, false)
	ctx := t.Context()
	root := t.TempDir()
	keys := recipientKeys(t)
	if err := s.Client.Set(ctx, "mutt:config:a", "1", 0).Err(); err != nil {
		t.Fatal(err)
	}
	m, err := Run(ctx, RunOptions{Root: root, Keys: keys, Components: []string{ComponentRedis}, Host: "h",
		Redis: s.Client, RedisPatterns: DefaultRedisPatterns("mutt")})
	if err != nil {
		t.Fatal(err)
	}
	c := m.Component(ComponentRedis)
	if c.Status != StatusOK || len(c.Artifacts) != 2 {
		t.Fatalf("local server: %s %q %d artifacts", c.Status, c.Reason, len(c.Artifacts))
	}
	// Without its dump.rdb artifact a set cannot be fully restored.
	c.Artifacts = c.Artifacts[:1]
	_, err = RestoreRedisRDB(ctx, RDBRestoreOptions{Root: root, Manifest: m, Keys: keys, Redis: s.Client, Stop: s.Stop, Start: s.Start})
	if err == nil || !strings.Contains(err.Error(), "no dump.rdb artifact") {
		t.Fatalf("err = %v", err)
	}
	if s.Client.Ping(ctx).Err() != nil {
		t.Fatal("the server was stopped although the restore was refused")
	}
}

func TestBackupRedisRDBRemote(t *testing.T) {
	s := startTestRedis(t, false)
	ctx := t.Context()
	dir := s.Dir
	missing := filepath.Join(t.TempDir(), "elsewhere")
	if err := s.Client.Set(ctx, "mutt:config:a", "1", 0).Err(); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, redisDir string
		wantOK         bool
		wantArtifacts  int
		wantNote       string
	}{
		{"local", "", true, 2, ""},
		{"explicit dir", dir, true, 2, ""},
		{"explicit dir missing", missing, false, 0, "MUTT_BACKUP_REDIS_DIR"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := Run(ctx, RunOptions{Root: t.TempDir(), Keys: recipientKeys(t), Components: []string{ComponentRedis}, Host: "h",
				Redis: s.Client, RedisPatterns: DefaultRedisPatterns("mutt"), RedisDir: tt.redisDir})
			if err != nil {
				t.Fatal(err)
			}
			c := m.Component(ComponentRedis)
			if (c.Status == StatusOK) != tt.wantOK || len(c.Artifacts) != tt.wantArtifacts || !strings.Contains(c.Reason, tt.wantNote) {
				t.Fatalf("%s %q, %d artifacts", c.Status, c.Reason, len(c.Artifacts))
			}
		})
	}
	t.Run("remote", func(t *testing.T) {
		// The server's working directory vanishes from this host, as the
		// data directory of a Redis on another host is not here.
		gone := filepath.Join(t.TempDir(), "gone")
		if err := os.Mkdir(gone, 0o700); err != nil {
			t.Fatal(err)
		}
		if err := s.Client.ConfigSet(ctx, "dir", gone).Err(); err != nil {
			t.Fatal(err)
		}
		defer s.Client.ConfigSet(ctx, "dir", dir)
		if err := os.Remove(gone); err != nil {
			t.Fatal(err)
		}
		m, err := Run(ctx, RunOptions{Root: t.TempDir(), Keys: recipientKeys(t), Components: []string{ComponentRedis}, Host: "h",
			Redis: s.Client, RedisPatterns: DefaultRedisPatterns("mutt")})
		if err != nil {
			t.Fatal(err)
		}
		c := m.Component(ComponentRedis)
		if c.Status != StatusOK || len(c.Artifacts) != 1 || !strings.Contains(c.Reason, "dump.rdb skipped") || c.Source["rdb"] == nil {
			t.Fatalf("%s %q, %d artifacts, source %v", c.Status, c.Reason, len(c.Artifacts), c.Source)
		}
	})
}

func TestRestoreRedisRDBStopFailsSwitchesAOFBack(t *testing.T) {
	tests := []struct {
		name string
		// stop returns the stop command for the server.
		stop func(s *testRedisServer) []string
		// wantErr is a part of the error; wantConf of the config file after.
		wantErr  func(s *testRedisServer) string
		wantConf string
		wantUp   bool
	}{
		{
			name: "stop command fails, server still up",
			stop: func(*testRedisServer) []string { return []string{"false"} },
			wantErr: func(s *testRedisServer) string {
				return "AOF was switched back on and appendonly yes restored in " + s.Conf
			},
			wantConf: "appendonly yes",
			wantUp:   true,
		},
		{
			name: "stop command stops the server and then fails",
			stop: func(s *testRedisServer) []string {
				return []string{"sh", "-c", strings.Join(s.Stop, " ") + "; exit 1"}
			},
			wantErr:  func(s *testRedisServer) string { return "appendonly no is persisted in " + s.Conf + "; set it back" },
			wantConf: "appendonly no",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := startTestRedis(t, true)
			ctx := t.Context()
			if err := s.Client.Set(ctx, "mutt:config:a", "1", 0).Err(); err != nil {
				t.Fatal(err)
			}
			root, keys := t.TempDir(), recipientKeys(t)
			m, err := Run(ctx, RunOptions{Root: root, Keys: keys, Components: []string{ComponentRedis}, Host: "h",
				Redis: s.Client, RedisPatterns: DefaultRedisPatterns("mutt")})
			if err != nil {
				t.Fatal(err)
			}
			_, err = RestoreRedisRDB(ctx, RDBRestoreOptions{
				Root: root, Manifest: m, Keys: keys, Redis: s.Client, Stop: tt.stop(s), Start: s.Start,
				Prefix: "mutt", Timeout: 10 * time.Second,
			})
			if err == nil || !strings.Contains(err.Error(), "stopping the server") || !strings.Contains(err.Error(), tt.wantErr(s)) {
				t.Fatalf("err = %v, want it to contain %q", err, tt.wantErr(s))
			}
			conf, _ := os.ReadFile(s.Conf)
			if !strings.Contains(string(conf), tt.wantConf) {
				t.Fatalf("config file lacks %q:\n%s", tt.wantConf, conf)
			}
			if !tt.wantUp {
				return
			}
			if v, err := s.Client.ConfigGet(ctx, "appendonly").Result(); err != nil || v["appendonly"] != "yes" {
				t.Fatalf("appendonly after the failed restore: %v %v", v, err)
			}
			if v, _ := s.Client.Get(ctx, "mutt:config:a").Result(); v != "1" {
				t.Fatalf("live data touched: mutt:config:a = %q", v)
			}
			matches, _ := filepath.Glob(filepath.Join(s.Dir, ".dump.rdb.restore-*"))
			if len(matches) != 0 {
				t.Fatalf("decrypted snapshot left behind: %v", matches)
			}
		})
	}
}
