package backup

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/mutt-go/mutt/internal/itest"
)

// runSeedRedis writes a few keys of several classes under prefix p and
// returns the expected export counts.
func runSeedRedis(t *testing.T, rdb *redis.Client, p string) map[string]int64 {
	t.Helper()
	ctx := t.Context()
	pipe := rdb.Pipeline()
	for i := range 5 {
		pipe.Set(ctx, fmt.Sprintf("%s:config:rule%d", p, i), "v", 0)
	}
	pipe.RPush(ctx, p+":dlq:moog", "a", "b")
	pipe.Set(ctx, p+":unhandled:host1", "1", time.Hour)
	pipe.Set(ctx, p+":unhandled:host2", "2", time.Hour)
	pipe.Set(ctx, p+":unrelated", "not exported", 0)
	if _, err := pipe.Exec(ctx); err != nil {
		t.Fatalf("seeding redis: %v", err)
	}
	return map[string]int64{"keys": 8, RedisClassConfig: 5, RedisClassDLQ: 1, RedisClassUnhandled: 2}
}

// closedPort returns a local TCP port nothing listens on.
func closedPort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	return port
}

// noPartials fails the test when a "*.partial" file is left under root.
func noPartials(t *testing.T, root string) {
	t.Helper()
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if strings.HasSuffix(d.Name(), ".partial") {
			t.Errorf("partial file left behind: %s", p)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestRunProfiles(t *testing.T) {
	pgNeedTools(t)
	_, dsn := pgSeeded(t)
	rdb, prefix := itest.Redis(t)
	wantRedis := runSeedRedis(t, rdb, prefix)
	keys := recipientKeys(t)
	fullCounts := map[string]int64{
		"alert_rules": 60, "development_hosts": 15, "device_teams": 25,
		"config_audit_log": 120, "event_audit_log": 10000, "event_audit_log_archive": 200,
	}
	configCounts := map[string]int64{"alert_rules": 60, "development_hosts": 15, "device_teams": 25, "config_audit_log": 120}

	tests := []struct {
		name       string
		profile    string
		components []string
		wantStatus string
		want       map[string]string // component -> status
		wantCounts map[string]map[string]int64
	}{
		{
			name: "daily", profile: "daily", wantStatus: SetPartial,
			want: map[string]string{
				ComponentPostgres: StatusOK, ComponentRedis: StatusOK,
				ComponentConfig: StatusSkipped, ComponentLogs: StatusSkipped,
			},
			wantCounts: map[string]map[string]int64{ComponentPostgres: fullCounts, ComponentRedis: wantRedis},
		},
		{
			name: "hourly", profile: "hourly", wantStatus: SetComplete,
			want:       map[string]string{ComponentPgConfig: StatusOK},
			wantCounts: map[string]map[string]int64{ComponentPgConfig: configCounts},
		},
		{
			name: "components override the profile", profile: "pre-upgrade", components: []string{"redis"},
			wantStatus: SetComplete,
			want:       map[string]string{ComponentRedis: StatusOK},
			wantCounts: map[string]map[string]int64{ComponentRedis: wantRedis},
		},
		{
			name: "weekly without sources", profile: "weekly", wantStatus: SetFailed,
			want: map[string]string{ComponentVault: StatusSkipped, ComponentPrometheus: StatusSkipped},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := t.Context()
			root := t.TempDir()
			var progress bytes.Buffer
			m, err := Run(ctx, RunOptions{
				Root: root, Keys: keys, Profile: tt.profile, Components: tt.components,
				Label: "test", Pinned: true, Host: "test-host", ToolVersion: "t", SchemaVersion: 7,
				Postgres:      &PostgresDumpOptions{DatabaseURL: dsn},
				Redis:         rdb,
				RedisPatterns: DefaultRedisPatterns(prefix),
				Progress:      &progress,
			})
			if err != nil {
				t.Fatalf("Run: %v", err)
			}
			if m.Status != tt.wantStatus {
				t.Errorf("status = %s, want %s", m.Status, tt.wantStatus)
			}
			if len(m.Components) != len(tt.want) {
				t.Errorf("components = %d, want %d", len(m.Components), len(tt.want))
			}
			for name, status := range tt.want {
				c := m.Component(name)
				if c == nil {
					t.Errorf("component %s missing", name)
					continue
				}
				if c.Status != status {
					t.Errorf("%s status = %s (%s), want %s", name, c.Status, c.Reason, status)
				}
				want := reasonNotConfigured
				if status == StatusSkipped && c.Reason != want {
					t.Errorf("%s reason = %q, want %q", name, c.Reason, want)
				}
				if status != StatusOK {
					continue
				}
				if !m.Verified(name) {
					t.Errorf("%s not verified: %+v", name, c.Verify)
				}
				if !maps.Equal(c.Counts, tt.wantCounts[name]) {
					t.Errorf("%s counts = %v, want %v", name, c.Counts, tt.wantCounts[name])
				}
				// Redis adds dump.rdb when its data directory is readable here.
				if n := len(c.Artifacts); n != 1 && (name != ComponentRedis || n != 2) {
					t.Fatalf("%s artifacts = %d, want 1", name, len(c.Artifacts))
				}
				a := c.Artifacts[0]
				wantDir := ArtifactDir(name, m.SetID, m.StartedAt)
				if filepath.ToSlash(filepath.Dir(a.Path)) != wantDir {
					t.Errorf("%s artifact in %s, want %s", name, filepath.Dir(a.Path), wantDir)
				}
				r, err := OpenArtifact(root, a, keys)
				if err != nil {
					t.Fatalf("OpenArtifact %s: %v", a.Path, err)
				}
				data, err := io.ReadAll(r)
				if err != nil {
					t.Fatalf("reading %s: %v", a.Path, err)
				}
				if err := r.Close(); err != nil {
					t.Fatalf("closing %s: %v", a.Path, err)
				}
				if name == ComponentPostgres {
					scratch := itest.RandomName("mutt_restore_")
					t.Cleanup(func() { pgDropDatabase(t, scratch) })
					counts, err := RestorePostgres(ctx, itest.AdminDatabaseURL(), scratch, "", bytes.NewReader(data))
					if err != nil {
						t.Fatalf("RestorePostgres: %v", err)
					}
					if !maps.Equal(counts, fullCounts) {
						t.Errorf("restored counts = %v, want %v", counts, fullCounts)
					}
				}
			}
			if got := strings.Count(progress.String(), "\n"); got != len(tt.want) {
				t.Errorf("progress has %d lines, want %d:\n%s", got, len(tt.want), progress.String())
			}
			ms, err := ListManifests(root)
			if err != nil {
				t.Fatal(err)
			}
			if len(ms) != 1 || ms[0].SetID != m.SetID || ms[0].Status != m.Status || !ms[0].Pinned || ms[0].SchemaVersion != 7 {
				t.Errorf("stored manifests = %+v, want the one of %s", ms, m.SetID)
			}
			noPartials(t, root)
		})
	}
}

func TestRunComponentFailure(t *testing.T) {
	rdb, prefix := itest.Redis(t)
	runSeedRedis(t, rdb, prefix)
	keys := recipientKeys(t)
	const password = "pw-that-must-not-leak"
	badURL := fmt.Sprintf("postgres://mutt:%s@127.0.0.1:%d/mutt?connect_timeout=2", password, closedPort(t))

	tests := []struct {
		name        string
		postgres    *PostgresDumpOptions
		unreachable map[string]error
		wantStatus  string
		wantReason  string
	}{
		{name: "unreachable server", postgres: &PostgresDumpOptions{DatabaseURL: badURL}, wantStatus: StatusFailed},
		{name: "missing pg_dump", postgres: &PostgresDumpOptions{DatabaseURL: badURL, PgDump: "/nonexistent/pg_dump"}, wantStatus: StatusFailed},
		{name: "not configured", postgres: nil, wantStatus: StatusSkipped, wantReason: reasonNotConfigured},
		{
			name: "unreachable before the run", postgres: &PostgresDumpOptions{DatabaseURL: badURL},
			unreachable: map[string]error{ComponentPostgres: errors.New("connecting to PostgreSQL: refused")},
			wantStatus:  StatusFailed, wantReason: "connecting to PostgreSQL: refused",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := t.TempDir()
			m, err := Run(t.Context(), RunOptions{
				Root: root, Keys: keys, Profile: "pre-upgrade", Components: []string{ComponentPostgres, ComponentRedis},
				Host: "h", Postgres: tt.postgres, Redis: rdb, RedisPatterns: DefaultRedisPatterns(prefix),
				Unreachable: tt.unreachable,
			})
			if err != nil {
				t.Fatalf("Run: %v", err)
			}
			pg := m.Component(ComponentPostgres)
			if pg == nil || pg.Status != tt.wantStatus {
				t.Fatalf("postgres = %+v, want status %s", pg, tt.wantStatus)
			}
			if pg.Reason == "" || (tt.wantReason != "" && pg.Reason != tt.wantReason) {
				t.Errorf("postgres reason = %q, want %q", pg.Reason, tt.wantReason)
			}
			if strings.Contains(pg.Reason, password) {
				t.Errorf("reason leaks the password: %s", pg.Reason)
			}
			if len(pg.Artifacts) != 0 {
				t.Errorf("failed component lists artifacts %v", pg.Artifacts)
			}
			if r := m.Component(ComponentRedis); r == nil || r.Status != StatusOK {
				t.Errorf("redis = %+v, want ok", r)
			}
			if m.Status != SetPartial {
				t.Errorf("set status = %s, want %s", m.Status, SetPartial)
			}
			noPartials(t, root)
			if matches, _ := filepath.Glob(filepath.Join(root, ComponentPostgres, "*", "*", "*", "*", "*")); len(matches) != 0 {
				t.Errorf("failed component left files: %v", matches)
			}
		})
	}
}

func TestRunRefuses(t *testing.T) {
	keys := recipientKeys(t)
	locked := t.TempDir()
	unlock, err := Lock(locked)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = unlock() })

	tests := []struct {
		name    string
		opts    RunOptions
		wantErr error
		wantMsg string
	}{
		{name: "lock held", opts: RunOptions{Root: locked, Keys: keys, Profile: "redis"}, wantErr: ErrLocked},
		{name: "no keys", opts: RunOptions{Root: t.TempDir(), Profile: "redis"}, wantMsg: "no encryption keys"},
		{name: "unknown profile", opts: RunOptions{Root: t.TempDir(), Keys: keys, Profile: "monthly"}, wantMsg: `unknown profile "monthly"`},
		{name: "unknown component", opts: RunOptions{Root: t.TempDir(), Keys: keys, Components: []string{"mysql"}}, wantMsg: `unknown component "mysql"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := Run(t.Context(), tt.opts)
			if err == nil {
				t.Fatalf("Run succeeded with manifest %+v", m)
			}
			if tt.wantErr != nil && !errors.Is(err, tt.wantErr) {
				t.Errorf("error = %v, want %v", err, tt.wantErr)
			}
			if tt.wantMsg != "" && !strings.Contains(err.Error(), tt.wantMsg) {
				t.Errorf("error = %v, want it to contain %q", err, tt.wantMsg)
			}
			if ms, _ := ListManifests(tt.opts.Root); len(ms) != 0 {
				t.Errorf("a refused run wrote %d manifests", len(ms))
			}
		})
	}
}

func TestVerifyQuickSet(t *testing.T) {
	keys := recipientKeys(t)
	root := t.TempDir()
	w, err := CreateArtifact(root, "redis/x/a.jsonl.zst.age", keys, true)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write([]byte("data\n")); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	good := w.Info()
	bad := good
	bad.SHA256 = strings.Repeat("0", 64)

	tests := []struct {
		name     string
		arts     []ArtifactInfo
		wantErrs int
		want     string
	}{
		{name: "intact", arts: []ArtifactInfo{good}, want: StatusOK},
		{name: "checksum mismatch", arts: []ArtifactInfo{good, bad}, wantErrs: 1, want: StatusFailed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := &Manifest{Components: []Component{
				{Name: ComponentRedis, Status: StatusOK, Artifacts: tt.arts},
				{Name: ComponentVault, Status: StatusSkipped},
			}}
			errs := VerifyQuickSet(root, m, time.Now())
			if len(errs) != tt.wantErrs {
				t.Errorf("errors = %v, want %d", errs, tt.wantErrs)
			}
			for _, e := range errs {
				if !errors.Is(e, ErrCorrupt) || !strings.Contains(e.Error(), good.Path) {
					t.Errorf("error %v does not name the corrupt artifact", e)
				}
			}
			if v := m.Components[0].Verify; v == nil || v.Status != tt.want || v.Level != VerifyQuick {
				t.Errorf("verify = %+v, want quick %s", v, tt.want)
			}
			if m.Components[1].Verify != nil {
				t.Errorf("skipped component got a verification: %+v", m.Components[1].Verify)
			}
		})
	}
}

// TestRunReportsBytes checks that Run reports, per component, a growing
// count of bytes read, ending at the source data's size.
func TestRunReportsBytes(t *testing.T) {
	rdb, prefix := itest.Redis(t)
	runSeedRedis(t, rdb, prefix)
	var seen []int64
	m, err := Run(t.Context(), RunOptions{
		Root: t.TempDir(), Keys: recipientKeys(t), Profile: "redis", Host: "h",
		Redis: rdb, RedisPatterns: DefaultRedisPatterns(prefix),
		Bytes: func(component string, read int64) {
			if component != ComponentRedis {
				t.Errorf("bytes reported for %q", component)
			}
			seen = append(seen, read)
		},
	})
	if err != nil || m.Status != SetComplete {
		t.Fatalf("Run: %v, status %v", err, m)
	}
	if len(seen) == 0 {
		t.Fatal("no progress reported")
	}
	for i := 1; i < len(seen); i++ {
		if seen[i] <= seen[i-1] {
			t.Fatalf("progress went from %d to %d", seen[i-1], seen[i])
		}
	}
	var total int64
	for _, a := range m.Component(ComponentRedis).Artifacts {
		total += a.PlainBytes
	}
	if a := m.Component(ComponentRedis).Artifacts; len(a) == 0 || seen[len(seen)-1] != total {
		t.Errorf("last report %d, artifact %+v", seen[len(seen)-1], a)
	}
}
