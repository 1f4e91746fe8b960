package doctor

import (
	"context"
	"fmt"
	"log/slog"
	"strconv"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/redis/go-redis/v9"

	"github.com/mutt-go/mutt/internal/alerter"
	"github.com/mutt-go/mutt/internal/backup"
	"github.com/mutt-go/mutt/internal/config"
	"github.com/mutt-go/mutt/internal/health"
	"github.com/mutt-go/mutt/internal/itest"
	"github.com/mutt-go/mutt/internal/secrets/vault"
	"github.com/mutt-go/mutt/internal/secrets/vaulttest"
	"github.com/mutt-go/mutt/internal/store"
)

// site is a healthy MUTT installation: a private Redis with the settings
// the delivery guarantee needs, a migrated database with its partitions
// ahead and a recent retention run, a verified backup and a Vault.
type site struct {
	t     *testing.T
	rdb   *redis.Client
	pool  *pgxpool.Pool
	root  string
	vault *vaulttest.Server
	opts  Options
}

func newSite(t *testing.T) *site {
	t.Helper()
	ctx := context.Background()
	rdb := itest.PrivateRedis(t, "--appendonly", "yes", "--appendfsync", "everysec", "--maxmemory-policy", "noeviction")
	pool, _ := itest.Pool(t)
	if err := store.Migrate(ctx, pool, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := store.EnsurePartitions(ctx, pool, time.Now(), 4); err != nil {
		t.Fatal(err)
	}
	if _, err := store.New(pool).RecordConfigChange(ctx, store.ConfigChange{
		ChangedBy: RetentionActor, Operation: store.OpCreate, TableName: "event_audit_log_2099_01", RecordID: 209901,
		New: map[string]any{"action": "create_partition"},
	}); err != nil {
		t.Fatal(err)
	}
	s := &site{t: t, rdb: rdb, pool: pool, root: t.TempDir(), vault: vaulttest.NewServer(t)}
	s.writeBackup(time.Now().Add(-2 * time.Hour))
	cfg := config.Default()
	cfg.KeyPrefix = "mutt"
	cfg.Finish()
	vcfg := s.vault.Config(t.TempDir())
	s.opts = Options{
		Config: cfg, Redis: rdb, Postgres: pool, BackupRoot: s.root,
		VaultTTL: func(ctx context.Context) (time.Duration, error) {
			c, err := vault.Login(ctx, vcfg, slog.New(slog.DiscardHandler))
			if err != nil {
				return 0, err
			}
			return c.TokenTTL(ctx)
		},
	}
	return s
}

// writeBackup writes the manifest of a set whose postgres component
// succeeded and verified, taken at at.
func (s *site) writeBackup(at time.Time) {
	s.t.Helper()
	at = at.UTC().Truncate(time.Second)
	m := &backup.Manifest{
		SetID: backup.NewSetID(at, "test", "daily"), Profile: "daily", Host: "test",
		StartedAt: at, FinishedAt: at.Add(time.Minute), Status: backup.StatusOK,
		Components: []backup.Component{{Name: backup.ComponentPostgres, Status: backup.StatusOK,
			Verify: &backup.Verify{Level: "quick", Status: backup.StatusOK, At: at.Add(2 * time.Minute)}}},
	}
	if _, err := backup.WriteManifest(s.root, m); err != nil {
		s.t.Fatal(err)
	}
}

func (s *site) run() Report {
	s.t.Helper()
	return Run(context.Background(), s.opts)
}

func findingOf(t *testing.T, r Report, id string) Finding {
	t.Helper()
	for _, f := range r.Findings {
		if f.ID == id {
			return f
		}
	}
	t.Fatalf("no finding %s in %+v", id, r)
	return Finding{}
}

func TestHealthySiteIsAllOK(t *testing.T) {
	s := newSite(t)
	r := s.run()
	for _, f := range r.Findings {
		if f.Status != health.StatusOK {
			t.Errorf("%s: %s %s (remedy %q)", f.ID, f.Status, f.Value, f.Remedy)
		}
	}
	if r.ExitCode() != ExitOK || len(r.Findings) != len(CheckIDs()) {
		t.Errorf("exit %d with %d findings, want 0 with %d", r.ExitCode(), len(r.Findings), len(CheckIDs()))
	}
}

// TestProvokedFindings breaks one thing at a time on a healthy site and
// checks that exactly the matching check reports it, with a remedy.
func TestProvokedFindings(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name    string
		id      string
		want    health.Status
		provoke func(t *testing.T, s *site)
	}{
		{"eviction policy", "redis.policy", health.StatusFail, func(t *testing.T, s *site) {
			s.rdb.ConfigSet(ctx, "maxmemory-policy", "allkeys-lru")
		}},
		{"AOF off", "redis.persistence", health.StatusWarn, func(t *testing.T, s *site) {
			s.rdb.ConfigSet(ctx, "appendonly", "no")
		}},
		{"memory at the limit", "redis.memory", health.StatusFail, func(t *testing.T, s *site) {
			used, _ := strconv.ParseInt(infoFields(s.rdb.Info(ctx, "memory").Val())["used_memory"], 10, 64)
			s.rdb.ConfigSet(ctx, "maxmemory", strconv.FormatInt(used+used/100, 10))
		}},
		{"pending entry idle for 10 minutes", "queue.pending", health.StatusWarn, func(t *testing.T, s *site) {
			key := s.opts.Config.Keys.IngestQueue
			s.rdb.XAdd(ctx, &redis.XAddArgs{Stream: key, Values: []any{"e", "{}"}})
			s.rdb.XGroupCreate(ctx, key, alerter.ConsumerGroup, "0")
			msgs := s.rdb.XReadGroup(ctx, &redis.XReadGroupArgs{Group: alerter.ConsumerGroup, Consumer: "dead-pod", Streams: []string{key, ">"}, Count: 1}).Val()
			id := msgs[0].Messages[0].ID
			// A consumer that died ten minutes ago: XCLAIM can set the idle time.
			if err := s.rdb.Do(ctx, "XCLAIM", key, alerter.ConsumerGroup, "dead-pod", 0, id, "IDLE", 10*60*1000).Err(); err != nil {
				t.Fatal(err)
			}
		}},
		{"dead letters growing", "queue.dlq", health.StatusWarn, func(t *testing.T, s *site) {
			for i := range 20 {
				s.rdb.XAdd(ctx, &redis.XAddArgs{Stream: s.opts.Config.Keys.MoogDLQ, Values: []any{"e", strconv.Itoa(i)}})
			}
		}},
		{"breaker open for 20 minutes", "cb.state", health.StatusFail, func(t *testing.T, s *site) {
			p := s.opts.Config.Keys.BreakerPrefix
			s.rdb.Set(ctx, p+":state", "OPEN", 0)
			s.rdb.Set(ctx, p+":open_time", fmt.Sprintf("%.6f", float64(time.Now().Add(-20*time.Minute).UnixMicro())/1e6), 0)
			s.rdb.Set(ctx, p+":failures", "10", 0)
		}},
		{"connections above the threshold", "pg.connections", health.StatusWarn, func(t *testing.T, s *site) {
			// Filling max_connections would starve every other test of the
			// shared server; a threshold below one connection stands in.
			s.opts.Thresholds = DefaultThresholds()
			s.opts.Thresholds.PGConnectionsWarn = 0.001
		}},
		{"current partition missing", "pg.partitions", health.StatusFail, func(t *testing.T, s *site) {
			if _, err := s.pool.Exec(ctx, "DROP TABLE "+partitionName(monthStart(time.Now()))); err != nil {
				t.Fatal(err)
			}
		}},
		{"partition three months ahead missing", "pg.partitions", health.StatusWarn, func(t *testing.T, s *site) {
			if _, err := s.pool.Exec(ctx, "DROP TABLE "+partitionName(monthStart(time.Now()).AddDate(0, 3, 0))); err != nil {
				t.Fatal(err)
			}
		}},
		{"short Vault token", "vault.token", health.StatusWarn, func(t *testing.T, s *site) {
			s.vault.SetTokenPolicy(time.Hour, 2*time.Hour, true)
		}},
		{"backup three days old", "backup.postgres", health.StatusFail, func(t *testing.T, s *site) {
			s.root = t.TempDir()
			s.opts.BackupRoot = s.root
			s.writeBackup(time.Now().Add(-72 * time.Hour))
		}},
		{"retention never ran", "retention.last", health.StatusWarn, func(t *testing.T, s *site) {
			if _, err := s.pool.Exec(ctx, "DELETE FROM config_audit_log"); err != nil {
				t.Fatal(err)
			}
		}},
		{"audit rows past the active period", "retention.lag", health.StatusWarn, func(t *testing.T, s *site) {
			if _, err := s.pool.Exec(ctx, `INSERT INTO alert_rules (match_string, match_type, priority, prod_handling, dev_handling, team_assignment)
				VALUES ('x', 'contains', 1, 'Ignore', 'Ignore', 'NETO')`); err != nil {
				t.Fatal(err)
			}
			if _, err := s.pool.Exec(ctx, `INSERT INTO event_audit_log (event_timestamp, hostname, matched_rule_id, handling_decision, event_id)
				SELECT now() - interval '200 days', 'h', id, 'Ignore', gen_random_uuid() FROM alert_rules LIMIT 1`); err != nil {
				t.Fatal(err)
			}
		}},
		{"host clock three seconds behind", "host.clock", health.StatusWarn, func(t *testing.T, s *site) {
			s.opts.Now = func() time.Time { return time.Now().Add(-3 * time.Second) }
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := newSite(t)
			tt.provoke(t, s)
			r := s.run()
			f := findingOf(t, r, tt.id)
			if f.Status != tt.want {
				t.Errorf("%s = %s (%s), want %s", tt.id, f.Status, f.Value, tt.want)
			}
			if f.Remedy == "" || f.Threshold == "" {
				t.Errorf("%s has no remedy or threshold: %+v", tt.id, f)
			}
			for _, other := range r.Findings {
				if other.ID != tt.id && other.Status != health.StatusOK {
					t.Errorf("%s also reports %s: %s", tt.name, other.ID, other.Value)
				}
			}
			wantExit := map[health.Status]int{health.StatusWarn: ExitWarning, health.StatusFail: ExitCritical}[tt.want]
			if r.ExitCode() != wantExit {
				t.Errorf("exit code %d, want %d", r.ExitCode(), wantExit)
			}
		})
	}
}

func TestOnlyRunsTheNamedChecks(t *testing.T) {
	s := newSite(t)
	s.opts.Only = []string{"host.clock", "redis.policy"}
	r := s.run()
	if len(r.Findings) != 2 || r.Findings[0].ID != "redis.policy" || r.Findings[1].ID != "host.clock" {
		t.Errorf("findings %+v, want redis.policy then host.clock", r.Findings)
	}
	if err := ValidateOnly([]string{"redis.policy", "nope"}); err == nil {
		t.Error("an unknown check ID was accepted")
	}
}

func TestMissingPostgresIsCritical(t *testing.T) {
	s := newSite(t)
	s.opts.Postgres = nil
	s.opts.PostgresError = fmt.Errorf("connecting: connection refused")
	r := s.run()
	if f := findingOf(t, r, "pg.connections"); f.Status != health.StatusFail {
		t.Errorf("pg.connections = %+v, want fail", f)
	}
	if r.ExitCode() != ExitCritical {
		t.Errorf("exit %d, want %d", r.ExitCode(), ExitCritical)
	}
}

func monthStart(t time.Time) time.Time {
	t = t.UTC()
	return time.Date(t.Year(), t.Month(), 1, 0, 0, 0, 0, time.UTC)
}
