package backup

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// statusOf returns the status of the named check, or "" when absent.
func statusOf(rep StatusReport, name string) Check {
	for _, c := range rep.Checks {
		if c.Name == name {
			return c
		}
	}
	return Check{}
}

// healthyRoot builds a root where every implemented component has a fresh,
// verified, deep-verified, synced set, the others are skipped as not
// implemented, and a drill and an alert test happened recently.
func healthyRoot(t *testing.T, now time.Time) string {
	t.Helper()
	root := t.TempDir()
	if err := os.Chmod(root, 0o700); err != nil {
		t.Fatal(err)
	}
	for i := 3; i >= 0; i-- {
		start := now.Add(-time.Duration(i)*time.Hour - 7*time.Hour)
		if i == 0 {
			start = now.Add(-time.Hour)
		}
		deep := func(c Component) Component {
			c.Verify = &Verify{Level: VerifyDeep, Status: StatusOK, At: now.Add(-10 * time.Minute)}
			return c
		}
		m := fakeSet(t, root, start, "daily",
			deep(okComponent(ComponentPostgres, 1000, start)), deep(okComponent(ComponentPgConfig, 100, start)),
			deep(okComponent(ComponentRedis, 300, start)),
			Component{Name: ComponentConfig, Status: StatusSkipped, Reason: reasonNotImplemented},
			Component{Name: ComponentLogs, Status: StatusSkipped, Reason: reasonNotImplemented},
			Component{Name: ComponentVault, Status: StatusSkipped, Reason: reasonNotImplemented},
			Component{Name: ComponentPrometheus, Status: StatusSkipped, Reason: reasonNotImplemented},
		)
		m.Remotes = []Remote{{Target: "file:///mnt/nas/mutt", Status: StatusOK, SyncedAt: start.Add(time.Minute)}}
		if _, err := WriteManifest(root, m); err != nil {
			t.Fatal(err)
		}
	}
	if err := WriteDrillRecord(root, DrillRecord{At: now.Add(-30 * 24 * time.Hour), RTOSeconds: map[string]float64{"total": 600}, TargetsMet: true}); err != nil {
		t.Fatal(err)
	}
	if err := WriteAlertTest(root, AlertTest{At: now.Add(-24 * time.Hour), Until: now.Add(-23 * time.Hour)}); err != nil {
		t.Fatal(err)
	}
	return root
}

func TestCheckStatus(t *testing.T) {
	now := time.Now().UTC()
	day := 24 * time.Hour
	keyDir := t.TempDir()
	goodKey := filepath.Join(keyDir, "passphrase")
	if err := os.WriteFile(goodKey, []byte("x"), 0o400); err != nil {
		t.Fatal(err)
	}
	looseKey := filepath.Join(keyDir, "identity")
	if err := os.WriteFile(looseKey, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name     string
		level    string
		mutate   func(t *testing.T, root string, o *StatusOptions)
		wantOK   bool
		wantFail []string // checks that must fail
		wantPass []string // checks that must pass
	}{
		{
			name: "healthy daily", wantOK: true,
			wantPass: []string{"backup:postgres", "verify:postgres", "backup:pgconfig", "backup:redis", "disk", "partial-files",
				"permissions:root", "permissions:passphrase", "encryption"},
		},
		{name: "healthy quarterly", level: LevelQuarterly, wantOK: true,
			wantPass: []string{"remote-sync:file:///mnt/nas/mutt", "size:postgres", "deep-verify:redis", "encrypted-sets", "retention", "dr-drill", "dr-drill-rto", "alert-test"}},
		{
			name: "empty root", mutate: func(t *testing.T, _ string, o *StatusOptions) { o.Root = t.TempDir() },
			wantFail: []string{"backup:postgres", "verify:postgres", "backup:redis"},
		},
		{
			name: "stale pgconfig", mutate: func(_ *testing.T, _ string, o *StatusOptions) { o.Now = o.Now.Add(2 * time.Hour) },
			wantFail: []string{"backup:pgconfig"}, wantPass: []string{"backup:postgres", "backup:redis"},
		},
		{
			name: "newest postgres failed its verification",
			mutate: func(t *testing.T, root string, o *StatusOptions) {
				c := okComponent(ComponentPostgres, 1000, o.Now)
				c.Verify.Status, c.Verify.Detail = StatusFailed, "sha256 mismatch"
				fakeSet(t, root, o.Now.Add(-time.Minute), "daily", c)
			},
			wantFail: []string{"verify:postgres"},
		},
		{
			name: "old partial file, loose root and key",
			mutate: func(t *testing.T, root string, o *StatusOptions) {
				p := filepath.Join(root, "postgres", "x.dump.age.partial")
				if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(p, []byte("x"), 0o600); err != nil {
					t.Fatal(err)
				}
				old := o.Now.Add(-25 * time.Hour)
				if err := os.Chtimes(p, old, old); err != nil {
					t.Fatal(err)
				}
				if err := os.Chmod(root, 0o755); err != nil {
					t.Fatal(err)
				}
				o.KeyFiles = append(o.KeyFiles, looseKey)
			},
			wantFail: []string{"partial-files", "permissions:root", "permissions:identity"},
		},
		{
			name: "no encryption",
			mutate: func(_ *testing.T, _ string, o *StatusOptions) {
				o.EncryptionError = errors.New("set MUTT_BACKUP_RECIPIENTS_FILE")
			},
			wantFail: []string{"encryption"},
		},
		{
			name: "weekly: unsynced remote and size anomaly", level: LevelWeekly,
			mutate: func(t *testing.T, root string, o *StatusOptions) {
				o.Remotes = append(o.Remotes, "s3://mutt-backups-prod/")
				fakeSet(t, root, o.Now.Add(-time.Minute), "redis", okComponent(ComponentRedis, 10, o.Now))
			},
			wantFail: []string{"remote-sync:s3://mutt-backups-prod/", "size:redis"},
			wantPass: []string{"remote-sync:file:///mnt/nas/mutt", "size:postgres"},
		},
		{
			name: "weekly: the whole-instance RDB does not count in the size", level: LevelWeekly,
			mutate: func(t *testing.T, root string, o *StatusOptions) {
				c := okComponent(ComponentRedis, 300, o.Now)
				c.Artifacts = append(c.Artifacts, ArtifactInfo{Path: "redis/x/dump.rdb.zst.age", Bytes: 1 << 20, Format: FormatRDB})
				fakeSet(t, root, o.Now.Add(-time.Minute), "redis", c)
			},
			wantOK: true, wantPass: []string{"size:redis"},
		},
		{
			name: "monthly: deep verify too old", level: LevelMonthly,
			mutate:   func(_ *testing.T, _ string, o *StatusOptions) { o.Now = o.Now.Add(36 * day) },
			wantFail: []string{"deep-verify:postgres", "backup:postgres"},
		},
		{
			name: "monthly: retention not applied", level: LevelMonthly,
			mutate: func(t *testing.T, root string, o *StatusOptions) {
				o.Retention = map[string]time.Duration{ComponentRedis: 7 * day, ComponentPostgres: 30 * day, ComponentPgConfig: 7 * day}
				fakeSet(t, root, o.Now.Add(-20*day), "redis", okComponent(ComponentRedis, 300, o.Now.Add(-20*day)))
			},
			wantFail: []string{"retention"},
		},
		{
			name: "quarterly: drill and alert test overdue", level: LevelQuarterly,
			mutate: func(t *testing.T, root string, o *StatusOptions) {
				if err := os.RemoveAll(filepath.Join(root, drillsDir)); err != nil {
					t.Fatal(err)
				}
				if err := WriteAlertTest(root, AlertTest{At: o.Now.Add(-100 * day), Until: o.Now.Add(-100 * day)}); err != nil {
					t.Fatal(err)
				}
			},
			wantFail: []string{"dr-drill", "alert-test"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := healthyRoot(t, now)
			o := StatusOptions{
				Root: root, Level: tt.level, Now: now, KeyFiles: []string{goodKey},
				Remotes: []string{"file:///mnt/nas/mutt"}, KeepMin: 1,
				Retention: map[string]time.Duration{ComponentPostgres: 30 * day, ComponentPgConfig: 7 * day, ComponentRedis: 7 * day},
			}
			if tt.mutate != nil {
				tt.mutate(t, root, &o)
			}
			rep, err := CheckStatus(o)
			if err != nil {
				t.Fatal(err)
			}
			var lines []string
			for _, c := range rep.Checks {
				lines = append(lines, c.Status+" "+c.Name+": "+c.Detail)
				if c.Name == "" || c.Detail == "" {
					t.Errorf("check without name or detail: %+v", c)
				}
			}
			report := strings.Join(lines, "\n")
			if rep.OK != tt.wantOK {
				t.Errorf("OK = %t, want %t\n%s", rep.OK, tt.wantOK, report)
			}
			for _, n := range tt.wantFail {
				if c := statusOf(rep, n); c.Status != CheckFail {
					t.Errorf("check %s = %q, want fail\n%s", n, c.Status, report)
				}
			}
			for _, n := range tt.wantPass {
				if c := statusOf(rep, n); c.Status != CheckPass {
					t.Errorf("check %s = %q, want pass\n%s", n, c.Status, report)
				}
			}
			if c := statusOf(rep, "backup:vault"); c.Status != CheckSkip && c.Status != CheckFail {
				t.Errorf("backup:vault = %+v, want skipped (not implemented)", c)
			}
		})
	}
	if _, err := CheckStatus(StatusOptions{Root: t.TempDir(), Level: "yearly", Now: now}); err == nil {
		t.Error("unknown level accepted")
	}
}
