package backup

import (
	"bytes"
	"context"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/redis/go-redis/v9"

	"github.com/mutt-go/mutt/internal/itest"
	"github.com/mutt-go/mutt/internal/store"
)

// memVault is an in-memory VaultKV: paths map to secrets, folders are
// derived from the paths.
type memVault struct {
	mu      sync.Mutex
	secrets map[string]map[string]any
	writes  int
}

var _ VaultKV = (*memVault)(nil)

func newMemVault(secrets map[string]map[string]any) *memVault {
	return &memVault{secrets: secrets}
}

func (v *memVault) ListKV(_ context.Context, p string) ([]string, error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	prefix := strings.Trim(p, "/") + "/"
	seen := map[string]bool{}
	for k := range v.secrets {
		rest, ok := strings.CutPrefix(k, prefix)
		if !ok {
			continue
		}
		if i := strings.IndexByte(rest, '/'); i >= 0 {
			rest = rest[:i+1]
		}
		seen[rest] = true
	}
	return slices.Sorted(maps.Keys(seen)), nil
}

func (v *memVault) ReadKV(_ context.Context, p string) (map[string]any, error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if d, ok := v.secrets[strings.Trim(p, "/")]; ok {
		return maps.Clone(d), nil
	}
	return nil, nil
}

func (v *memVault) WriteKV(_ context.Context, p string, data map[string]any) error {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.secrets[strings.Trim(p, "/")] = maps.Clone(data)
	v.writes++
	return nil
}

// drillFixture is a seeded MUTT installation: database, Redis keys under a
// prefix, config files under a temp root, a log directory and a Vault.
type drillFixture struct {
	dsn, prefix   string
	pool          *pgxpool.Pool
	rdb           *redis.Client
	configRoot    string
	configPaths   []ConfigPath
	logDir        string
	vault         *memVault
	backupRoot    string
	keys          *Keys
	liveDB        string
	vaultTemplate map[string]map[string]any
}

func newDrillFixture(t *testing.T, events int) *drillFixture {
	t.Helper()
	pgNeedTools(t)
	ctx := t.Context()
	pool, dsn := itest.Pool(t)
	if err := store.Migrate(ctx, pool, nil); err != nil {
		t.Fatalf("Migrate: %v", err)
	}
	for _, s := range []string{
		`INSERT INTO alert_rules (match_string, match_type, priority, prod_handling, dev_handling, team_assignment)
		 SELECT 'pattern ' || g, 'contains', g, 'Page_and_ticket', 'Ticket_only', 'team' || (g % 5) FROM generate_series(1, 60) g`,
		`INSERT INTO development_hosts SELECT 'dev-host-' || g FROM generate_series(1, 15) g`,
		`INSERT INTO device_teams SELECT 'router-' || g, 'team' || (g % 4) FROM generate_series(1, 25) g`,
		`INSERT INTO config_audit_log (changed_by, operation, table_name, record_id, new_values, reason)
		 SELECT 'ops' || (g % 3), 'CREATE', 'alert_rules', g, jsonb_build_object('id', g), 'seed' FROM generate_series(1, 150) g`,
		`INSERT INTO event_audit_log (event_id, event_timestamp, hostname, matched_rule_id, handling_decision, forwarded_to_moog, raw_message)
		 SELECT md5(g::text)::uuid, date_trunc('month', now()) + interval '1 second' * (g % 100000),
		        'host-' || (g % 50), 1 + g % 60, 'Page_and_ticket', g % 2 = 0, 'line ' || g
		 FROM generate_series(1, $1::int) g`,
		`INSERT INTO event_audit_log_archive (event_timestamp, hostname, matched_rule_id, handling_decision, raw_message, original_id)
		 SELECT now() - interval '400 days' - interval '1 hour' * g, 'old-' || g, 1, 'Ticket_only', 'archived ' || g, g
		 FROM generate_series(1, 50) g`,
	} {
		var args []any
		if strings.Contains(s, "$1") {
			args = append(args, events)
		}
		if _, err := pool.Exec(ctx, s, args...); err != nil {
			t.Fatalf("seeding: %v\n%s", err, s)
		}
	}
	rdb, prefix := itest.Redis(t)
	pipe := rdb.Pipeline()
	for i := range 12 {
		pipe.Set(ctx, fmt.Sprintf("%s:config:key_%02d", prefix, i), fmt.Sprintf("value %d", i), 0)
	}
	for _, q := range []string{"moog", "alerter", "dead"} {
		for i := range 30 {
			pipe.RPush(ctx, prefix+":dlq:"+q, fmt.Sprintf(`{"n":%d,"q":%q}`, i, q))
		}
	}
	pipe.Set(ctx, prefix+":unhandled:router1:0123456789abcdef", "3", time.Hour)
	pipe.Set(ctx, prefix+":unhandled:router1:0123456789abcdef:triggered", "1", time.Hour)
	if _, err := pipe.Exec(ctx); err != nil {
		t.Fatal(err)
	}

	f := &drillFixture{
		dsn: dsn, prefix: prefix, pool: pool, rdb: rdb,
		configRoot: t.TempDir(), logDir: t.TempDir(), backupRoot: t.TempDir(),
		keys: recipientKeys(t), liveDB: restoreDBName(t, dsn),
	}
	etc := filepath.Join(f.configRoot, "etc", "mutt")
	writeTree(t, filepath.Join(etc, "mutt.env"), "DB_HOST=db\nVAULT_ADDR=https://vault:8200\n", 0o600)
	writeTree(t, filepath.Join(etc, "secrets", "vault_secret_id"), "secret-id\n", 0o600)
	writeTree(t, filepath.Join(etc, "certs", "server.pem"), "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n", 0o644)
	if err := os.Symlink("server.pem", filepath.Join(etc, "certs", "current.pem")); err != nil {
		t.Fatal(err)
	}
	units := filepath.Join(f.configRoot, "etc", "systemd", "system")
	writeTree(t, filepath.Join(units, "mutt-alerter@.service"), "[Service]\nExecStart=/usr/bin/mutt serve alerter\n", 0o644)
	writeTree(t, filepath.Join(units, "other.service"), "not mutt\n", 0o644)
	old := time.Date(2025, 3, 4, 5, 6, 7, 0, time.UTC)
	for _, p := range []string{filepath.Join(etc, "mutt.env"), filepath.Join(units, "mutt-alerter@.service")} {
		if err := os.Chtimes(p, old, old); err != nil {
			t.Fatal(err)
		}
	}
	f.configPaths = []ConfigPath{
		{Path: etc, Required: true},
		{Path: filepath.Join(units, "mutt-*.service")},
		{Path: filepath.Join(f.configRoot, "etc", "prometheus", "prometheus.yml")},
	}
	writeTree(t, filepath.Join(f.logDir, "alerter.log"), strings.Repeat("log line\n", 1000), 0o640)
	writeTree(t, filepath.Join(f.logDir, "old", "alerter.log.1"), "rotated\n", 0o640)
	f.vaultTemplate = map[string]map[string]any{
		"mutt/prod":     {"DB_PASS_CURRENT": "pw1", "DB_PASS_NEXT": "pw2", "MOOG_API_KEY": "moog", "TLS_CERT": "-----BEGIN-----\nline\n"},
		"mutt/prod/tls": {"CLIENT_KEY": "key"},
	}
	f.vault = newMemVault(map[string]map[string]any{})
	for p, d := range f.vaultTemplate {
		f.vault.secrets[p] = maps.Clone(d)
	}
	t.Cleanup(func() {
		for _, n := range restoreDatabases(t, f.liveDB+"_") {
			pgDropDatabase(t, n)
		}
	})
	return f
}

func (f *drillFixture) runOptions() RunOptions {
	return RunOptions{
		Root: f.backupRoot, Keys: f.keys, Profile: "pre-upgrade",
		Components: []string{ComponentPostgres, ComponentRedis, ComponentConfig, ComponentVault, ComponentLogs},
		Host:       "drill-host", ToolVersion: "test", SchemaVersion: mustLatest(),
		Postgres:      &PostgresDumpOptions{DatabaseURL: f.dsn},
		Redis:         f.rdb,
		RedisPatterns: DefaultRedisPatterns(f.prefix),
		Config:        &ConfigSource{Paths: f.configPaths, Prefix: f.prefix + ":config"},
		Vault:         f.vault, VaultPaths: []string{"mutt/prod"},
		LogDir: f.logDir,
	}
}

// writeTree creates path's directory and writes the file.
func writeTree(t *testing.T, path, data string, mode os.FileMode) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	writeFile(t, path, data, mode)
}

func mustLatest() int64 {
	v, err := store.LatestVersion()
	if err != nil {
		panic(err)
	}
	return v
}

// tableSums returns count:md5 of every table of the database at dsn.
func tableSums(t *testing.T, dsn string) map[string]string {
	t.Helper()
	ctx := t.Context()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	names, err := userTables(ctx, conn)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, n := range names {
		c, sum, err := TableChecksum(ctx, conn, n)
		if err != nil {
			t.Fatal(err)
		}
		out[n] = fmt.Sprintf("%d:%s", c, sum)
	}
	return out
}

// keyDumps returns the DUMP of every key under prefix.
func keyDumps(t *testing.T, rdb *redis.Client, prefix string) map[string]string {
	t.Helper()
	ctx := t.Context()
	out := map[string]string{}
	iter := rdb.Scan(ctx, 0, prefix+":*", 1000).Iterator()
	for iter.Next(ctx) {
		v, err := rdb.Dump(ctx, iter.Val()).Result()
		if err != nil {
			t.Fatal(err)
		}
		out[iter.Val()] = v
	}
	if err := iter.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// fileState is a restored file's content, mode and modification time.
type fileState struct {
	data  string
	mode  os.FileMode
	mtime time.Time
	link  string
}

func treeState(t *testing.T, root string) map[string]fileState {
	t.Helper()
	out := map[string]fileState{}
	err := filepath.Walk(root, func(p string, fi os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		if strings.Contains(p, ".pre-restore-") {
			return nil
		}
		rel, _ := filepath.Rel(root, p)
		s := fileState{mode: fi.Mode()}
		switch {
		case fi.Mode()&os.ModeSymlink != 0:
			s.link, _ = os.Readlink(p)
		case fi.Mode().IsRegular():
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			s.data, s.mtime = string(b), fi.ModTime().UTC()
		default:
			return nil
		}
		out[rel] = s
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestDRDrillFullRestore(t *testing.T) {
	f := newDrillFixture(t, 100000)
	ctx := t.Context()
	began := time.Now()

	m, err := Run(ctx, f.runOptions())
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	for _, c := range m.Components {
		if c.Status != StatusOK || c.Verify == nil || c.Verify.Status != StatusOK {
			t.Fatalf("component %s: %s %s (verify %+v)", c.Name, c.Status, c.Reason, c.Verify)
		}
	}
	if got := m.Component(ComponentPostgres).Counts["event_audit_log"]; got != 100000 {
		t.Errorf("event_audit_log count %d, want 100000", got)
	}
	cfg := m.Component(ComponentConfig)
	if cfg.Counts["files"] != 4 || cfg.Counts["symlinks"] != 1 || cfg.Counts["absent"] != 1 || cfg.Counts["dynamic_config"] != 12 {
		t.Errorf("config counts %v", cfg.Counts)
	}
	vc := m.Component(ComponentVault)
	if vc.Counts["keys"] != 5 || vc.Counts["paths"] != 2 {
		t.Errorf("vault counts %v", vc.Counts)
	}
	raw, err := os.ReadFile(filepath.Join(f.backupRoot, mustManifestRel(t, m.SetID)))
	if err != nil {
		t.Fatal(err)
	}
	for _, secret := range []string{"pw1", "moog", "secret-id", "DB_HOST=db"} {
		if bytes.Contains(raw, []byte(secret)) {
			t.Errorf("manifest contains secret value %q", secret)
		}
	}
	if !bytes.Contains(raw, []byte("DB_PASS_CURRENT")) {
		t.Error("manifest does not list the vault key names")
	}

	// Deep verification restores into throw-away targets and leaves none.
	if errs := DeepVerify(ctx, DeepVerifyOptions{Root: f.backupRoot, Manifest: m, Keys: f.keys, DatabaseURL: f.dsn, Redis: f.rdb}); len(errs) > 0 {
		t.Fatalf("DeepVerify: %v", errs)
	}
	for _, c := range m.Components {
		if c.Verify.Level != VerifyDeep || c.Verify.Status != StatusOK {
			t.Errorf("%s verify = %+v", c.Name, c.Verify)
		}
	}
	if left := restoreDatabases(t, f.liveDB+"_verify_"); len(left) > 0 {
		t.Errorf("deep verify left databases %v", left)
	}
	if _, err := WriteManifest(f.backupRoot, m); err != nil {
		t.Fatal(err)
	}

	wantSums := tableSums(t, f.dsn)
	wantDumps := keyDumps(t, f.rdb, f.prefix)
	wantFiles := treeState(t, f.configRoot)
	if len(wantDumps) != 17 {
		t.Fatalf("seeded %d keys, want 17", len(wantDumps))
	}

	// The drill into scratch targets, while the source is intact.
	rep, err := Drill(ctx, DrillOptions{Root: f.backupRoot, Manifest: m, Keys: f.keys, DatabaseURL: f.dsn, Redis: f.rdb})
	if err != nil {
		t.Fatalf("Drill: %v", err)
	}
	if !rep.Passed {
		t.Errorf("drill did not pass: %+v", rep)
	}
	if len(rep.Tables) < 6 || rep.Keys.Matched != 17 {
		t.Errorf("drill compared %d tables and %d keys", len(rep.Tables), rep.Keys.Matched)
	}
	for _, tb := range rep.Tables {
		if tb.Result != "identical" {
			t.Errorf("drill table %+v", tb)
		}
	}
	if left := restoreDatabases(t, f.liveDB+"_drill_"); len(left) > 0 {
		t.Errorf("drill left databases %v", left)
	}

	// The disaster: every row, key and config file gone.
	names := slices.Sorted(maps.Keys(wantSums))
	quoted := make([]string, len(names))
	for i, n := range names {
		quoted[i] = pgx.Identifier{n}.Sanitize()
	}
	if _, err := f.pool.Exec(ctx, "TRUNCATE "+strings.Join(quoted, ", ")+" CASCADE"); err != nil {
		t.Fatal(err)
	}
	f.pool.Close()
	if err := itest.DeleteKeys(ctx, f.rdb, f.prefix+":*"); err != nil {
		t.Fatal(err)
	}
	if err := os.RemoveAll(filepath.Join(f.configRoot, "etc")); err != nil {
		t.Fatal(err)
	}
	f.vault.secrets = map[string]map[string]any{}

	var progress bytes.Buffer
	safety := f.runOptions()
	res, err := RestoreFull(ctx, RestoreOptions{
		Root: f.backupRoot, Manifest: m, Keys: f.keys, DatabaseURL: f.dsn,
		Redis: f.rdb, ConfigPrefix: f.prefix + ":config", ConfigTargetDir: "/",
		WithVault: true, Vault: f.vault, Safety: &safety, Progress: &progress,
	})
	if err != nil {
		t.Fatalf("RestoreFull: %v\n%s", err, progress.String())
	}
	t.Logf("full restore:\n%s total %s", progress.String(), res.Total)
	if res.SafetySet == "" || res.PreRestoreDB == "" {
		t.Errorf("no safety set or kept database: %+v", res)
	}
	steps := []string{}
	for _, s := range res.Steps {
		steps = append(steps, s.Component)
		if s.Status != StatusOK || !s.Met || s.RTO <= 0 || s.Target <= 0 {
			t.Errorf("step %+v", s)
		}
	}
	if want := []string{ComponentVault, ComponentPostgres, ComponentRedis, stepDynamicConfig, ComponentConfig}; !slices.Equal(steps, want) {
		t.Errorf("steps %v, want %v", steps, want)
	}
	if res.Total <= 0 || res.Total > time.Since(began) {
		t.Errorf("measured RTO %s", res.Total)
	}

	gotSums := tableSums(t, f.dsn)
	for _, n := range names {
		if gotSums[n] != wantSums[n] {
			t.Errorf("table %s: %s after restore, want %s", n, gotSums[n], wantSums[n])
		}
	}
	gotDumps := keyDumps(t, f.rdb, f.prefix)
	for k, want := range wantDumps {
		if gotDumps[k] != want {
			t.Errorf("key %s: DUMP differs after restore (present %t)", k, gotDumps[k] != "")
		}
	}
	gotFiles := treeState(t, f.configRoot)
	for p, want := range wantFiles {
		got := gotFiles[p]
		if p == "etc/systemd/system/other.service" {
			continue // not part of the backup
		}
		if got.data != want.data || got.mode != want.mode || got.link != want.link || !got.mtime.Equal(want.mtime) {
			t.Errorf("file %s: got %+v, want %+v", p, got, want)
		}
	}
	for p, want := range f.vaultTemplate {
		if !maps.Equal(f.vault.secrets[p], want) {
			t.Errorf("vault %s not restored", p)
		}
	}

	// "latest" never picks the safety set.
	latest, err := FindSet(f.backupRoot, "latest", ComponentPostgres)
	if err != nil || latest.SetID != m.SetID {
		t.Errorf("FindSet latest = %v, %v; want %s", latest, err, m.SetID)
	}
}

// mustManifestRel is the manifest path of a set, relative to the root.
func mustManifestRel(t *testing.T, id string) string {
	t.Helper()
	p, err := ManifestPath(id)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestCorruptArtifactRefused(t *testing.T) {
	f := newDrillFixture(t, 500)
	ctx := t.Context()
	m, err := Run(ctx, f.runOptions())
	if err != nil || m.Status != SetComplete {
		t.Fatalf("Run: %v, %+v", err, m)
	}
	wantSums := tableSums(t, f.dsn)
	wantDumps := keyDumps(t, f.rdb, f.prefix)
	for _, name := range []string{ComponentPostgres, ComponentRedis, ComponentConfig, ComponentVault, ComponentLogs} {
		t.Run(name, func(t *testing.T) {
			a := m.Component(name).Artifacts[0]
			p := filepath.Join(f.backupRoot, filepath.FromSlash(a.Path))
			orig, err := os.ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			bad := bytes.Clone(orig)
			bad[len(bad)/2] ^= 0x01
			if err := os.WriteFile(p, bad, 0o600); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() {
				if err := os.WriteFile(p, orig, 0o600); err != nil {
					t.Error(err)
				}
			})
			errs := DeepVerify(ctx, DeepVerifyOptions{Root: f.backupRoot, Manifest: m, Keys: f.keys, DatabaseURL: f.dsn, Redis: f.rdb, Components: []string{name}})
			if len(errs) != 1 || !strings.Contains(errs[0].Error(), a.Path) {
				t.Errorf("deep verify errors %v, want one naming %s", errs, a.Path)
			}
			if v := m.Component(name).Verify; v.Status != StatusFailed || v.Level != VerifyDeep {
				t.Errorf("verify recorded %+v", v)
			}
			if name == ComponentLogs {
				return // logs are archived, never restored
			}
			_, err = RestoreFull(ctx, RestoreOptions{
				Root: f.backupRoot, Manifest: m, Keys: f.keys, DatabaseURL: f.dsn,
				Redis: f.rdb, ConfigPrefix: f.prefix + ":config", WithVault: true, Vault: f.vault,
			})
			if err == nil || !strings.Contains(err.Error(), a.Path) || !strings.Contains(err.Error(), "nothing changed") {
				t.Errorf("RestoreFull error %v, want one naming %s", err, a.Path)
			}
			if got := tableSums(t, f.dsn); !maps.Equal(got, wantSums) {
				t.Error("database changed by a refused restore")
			}
			if got := keyDumps(t, f.rdb, f.prefix); !maps.Equal(got, wantDumps) {
				t.Error("redis changed by a refused restore")
			}
			if f.vault.writes != 0 {
				t.Error("vault written by a refused restore")
			}
		})
	}
	t.Run("single restores", func(t *testing.T) {
		for _, name := range []string{ComponentConfig, ComponentVault} {
			a := m.Component(name).Artifacts[0]
			p := filepath.Join(f.backupRoot, filepath.FromSlash(a.Path))
			orig, err := os.ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			bad := bytes.Clone(orig)
			bad[len(bad)-1] ^= 0x80
			if err := os.WriteFile(p, bad, 0o600); err != nil {
				t.Fatal(err)
			}
			defer os.WriteFile(p, orig, 0o600)
		}
		_, err := RestoreConfigFiles(ctx, ConfigRestoreOptions{Root: f.backupRoot, Manifest: m, Keys: f.keys, TargetDir: t.TempDir()})
		if err == nil || !strings.Contains(err.Error(), "mutt_config_") {
			t.Errorf("RestoreConfigFiles: %v", err)
		}
		_, err = RestoreDynamicConfig(ctx, DynamicConfigRestoreOptions{Root: f.backupRoot, Manifest: m, Keys: f.keys, Redis: f.rdb, Prefix: f.prefix + ":config"})
		if err == nil || !strings.Contains(err.Error(), "mutt_config_") {
			t.Errorf("RestoreDynamicConfig: %v", err)
		}
		_, err = RestoreVault(ctx, VaultRestoreOptions{Root: f.backupRoot, Manifest: m, Keys: f.keys, KV: f.vault})
		if err == nil || !strings.Contains(err.Error(), "vault_secrets_") {
			t.Errorf("RestoreVault: %v", err)
		}
	})
}
