package backup

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"
)

// envOf is a getenv over a map.
func envOf(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

func TestLoadSettingsDefaults(t *testing.T) {
	s := LoadSettings(envOf(nil))
	if err := s.Validate(); err != nil {
		t.Fatal(err)
	}
	if s.Root != DefaultRoot || s.KeepMin != DefaultKeepMin || s.MetricsFile != DefaultMetricsFile ||
		s.WALLagMax != DefaultWALLagMax || s.RedisSaveTimeout != DefaultRedisSaveTimeout ||
		s.RedisService != DefaultRedisService || s.PrometheusDataDir != DefaultPrometheusDataDir {
		t.Errorf("defaults = %+v", s)
	}
	want := map[string]time.Duration{
		ComponentPostgres: 30 * day, ComponentPgConfig: 7 * day, ComponentRedis: 7 * day,
		ComponentConfig: 90 * day, ComponentVault: 90 * day, ComponentLogs: 90 * day,
		ComponentPrometheus: 30 * day, ComponentPgBase: 14 * day, ComponentSQLite: 30 * day,
	}
	for c, d := range want {
		if s.Retention[c] != d {
			t.Errorf("retention of %s = %s, want %s", c, s.Retention[c], d)
		}
	}
	if len(s.ConfigPaths) == 0 || s.PrometheusSource() != nil || s.NotifyOnSuccess {
		t.Errorf("config paths %v, prometheus %v, notify on success %v", s.ConfigPaths, s.PrometheusSource(), s.NotifyOnSuccess)
	}
	if got := s.RemoteLifecycle[ComponentPostgres]; got != DefaultRemoteLifecycle()[ComponentPostgres] {
		t.Errorf("remote lifecycle of postgres = %+v", got)
	}
}

func TestLoadSettingsValues(t *testing.T) {
	s := LoadSettings(envOf(map[string]string{
		"MUTT_BACKUP_ROOT":                        "/srv/backups",
		"MUTT_BACKUP_RETENTION_SQLITE":            "10d",
		"MUTT_BACKUP_RETENTION_REDIS":             "36h",
		"MUTT_BACKUP_KEEP_MIN":                    " 5 ",
		"MUTT_BACKUP_REMOTES":                     "s3://bucket/mutt, ,file:///mnt/nas/mutt",
		"MUTT_BACKUP_NOTIFY_ON_SUCCESS":           "true",
		"MUTT_BACKUP_REDIS_STOP_CMD":              "/usr/local/bin/redis-stop --now",
		"MUTT_BACKUP_REMOTE_TRANSITION_POSTGRES":  "30d:deep_archive",
		"MUTT_BACKUP_REMOTE_RETENTION_REDIS":      "60d",
		"MUTT_BACKUP_PROMETHEUS_URL":              "http://127.0.0.1:9090",
		"AWS_REGION":                              "eu-west-1",
		"MUTT_BACKUP_VAULT_PATHS":                 "secret/mutt,secret/mutt-backup",
		"MUTT_BACKUP_REMOTE_TRANSITION_CONFIG":    "none",
		"MUTT_BACKUP_REDIS_SAVE_TIMEOUT":          "90s",
		"MUTT_BACKUP_WAL_LAG_MAX":                 "1m",
		"MUTT_BACKUP_S3_INSECURE":                 "false",
		"MUTT_BACKUP_SIGNING_KEY_FILE":            " /etc/mutt/signing.pem ",
		"MUTT_BACKUP_PROMETHEUS_DATA_DIR":         "/data/prometheus",
		"MUTT_BACKUP_REMOTE_RETENTION_PROMETHEUS": "720h",
	}))
	if err := s.Validate(); err != nil {
		t.Fatal(err)
	}
	if s.Root != "/srv/backups" || s.Retention[ComponentSQLite] != 10*day || s.Retention[ComponentRedis] != 36*time.Hour || s.KeepMin != 5 {
		t.Errorf("root %q, retention %v, keep-min %d", s.Root, s.Retention, s.KeepMin)
	}
	if !slices.Equal(s.Remotes, []string{"s3://bucket/mutt", "file:///mnt/nas/mutt"}) || !s.NotifyOnSuccess {
		t.Errorf("remotes %v, notify on success %v", s.Remotes, s.NotifyOnSuccess)
	}
	if !slices.Equal(s.RedisStopCmd, []string{"/usr/local/bin/redis-stop", "--now"}) || s.RedisSaveTimeout != 90*time.Second || s.WALLagMax != time.Minute {
		t.Errorf("stop %v, save timeout %s, lag %s", s.RedisStopCmd, s.RedisSaveTimeout, s.WALLagMax)
	}
	pg, cfg := s.RemoteLifecycle[ComponentPostgres], s.RemoteLifecycle[ComponentConfig]
	if pg.TransitionDays != 30 || pg.TransitionClass != "DEEP_ARCHIVE" || cfg.TransitionClass != "" || s.RemoteLifecycle[ComponentRedis].ExpireDays != 60 ||
		s.RemoteLifecycle[ComponentPrometheus].ExpireDays != 30 {
		t.Errorf("remote lifecycle = %+v", s.RemoteLifecycle)
	}
	if p := s.PrometheusSource(); p == nil || p.DataDir != "/data/prometheus" || s.S3.Region != "eu-west-1" || s.SigningKeyFile != "/etc/mutt/signing.pem" {
		t.Errorf("prometheus %+v, region %q, signing key %q", p, s.S3.Region, s.SigningKeyFile)
	}
}

// TestSettingsValidate checks that every bad variable is named with its
// rule and value, all of them in one error.
func TestSettingsValidate(t *testing.T) {
	tests := []struct {
		name, value, want string
	}{
		{"MUTT_BACKUP_RETENTION_POSTGRES", "soon", `MUTT_BACKUP_RETENTION_POSTGRES: must be a duration such as 720h or a number of days such as 30d, got "soon"`},
		{"MUTT_BACKUP_RETENTION_SQLITE", "0d", `MUTT_BACKUP_RETENTION_SQLITE: must be positive, got "0d"`},
		{"MUTT_BACKUP_RETENTION_VAULT", "999999d", `MUTT_BACKUP_RETENTION_VAULT: must be at most 100000 days, got "999999d"`},
		{"MUTT_BACKUP_KEEP_MIN", "x", `MUTT_BACKUP_KEEP_MIN: must be a whole number of at least 1, got "x"`},
		{"MUTT_BACKUP_KEEP_MIN", "0", `MUTT_BACKUP_KEEP_MIN: must be a whole number of at least 1, got "0"`},
		{"MUTT_BACKUP_WAL_LAG_MAX", "-1m", `MUTT_BACKUP_WAL_LAG_MAX: must be a positive duration such as 5m, got "-1m"`},
		{"MUTT_BACKUP_REDIS_SAVE_TIMEOUT", "ten", `MUTT_BACKUP_REDIS_SAVE_TIMEOUT: must be a positive duration such as 5m, got "ten"`},
		{"MUTT_BACKUP_NOTIFY_ON_SUCCESS", "sometimes", `MUTT_BACKUP_NOTIFY_ON_SUCCESS: must be true or false, got "sometimes"`},
		{"MUTT_BACKUP_S3_INSECURE", "maybe", `MUTT_BACKUP_S3_INSECURE: must be true or false, got "maybe"`},
		{"MUTT_BACKUP_NOTIFY_URL", "hooks.example.com/x", `MUTT_BACKUP_NOTIFY_URL: must be an http:// or https:// URL, got "hooks.example.com/x"`},
		{"MUTT_BACKUP_PROMETHEUS_URL", "ftp://prom", `MUTT_BACKUP_PROMETHEUS_URL: must be an http:// or https:// URL, got "ftp://prom"`},
		{"MUTT_BACKUP_REMOTES", "rsync://host/x", `MUTT_BACKUP_REMOTES: every target must be s3://bucket[/prefix] or file:///absolute/dir, got "rsync://host/x"`},
		{"MUTT_BACKUP_REMOTE_TRANSITION_POSTGRES", "soon", `MUTT_BACKUP_REMOTE_TRANSITION_POSTGRES: must be <days>d:<STORAGE_CLASS> such as 90d:GLACIER, or none, got "soon"`},
		{"MUTT_BACKUP_REMOTE_RETENTION_REDIS", "-3d", `MUTT_BACKUP_REMOTE_RETENTION_REDIS: must be positive, got "-3d"`},
		{"MUTT_BACKUP_CONFIG_PATHS", "relative/path", `MUTT_BACKUP_CONFIG_PATHS: `},
	}
	all := map[string]string{}
	for _, tt := range tests {
		t.Run(tt.name+"="+tt.value, func(t *testing.T) {
			err := LoadSettings(envOf(map[string]string{tt.name: tt.value})).Validate()
			var se *SettingsError
			if !errors.As(err, &se) || len(se.Problems) != 1 {
				t.Fatalf("Validate() = %v, want one problem", err)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Validate() = %v, want %s", err, tt.want)
			}
		})
		all[tt.name] = tt.value
	}
	err := LoadSettings(envOf(all)).Validate()
	var se *SettingsError
	if !errors.As(err, &se) || len(se.Problems) != len(all) {
		t.Fatalf("all at once: %v, want %d problems", err, len(all))
	}
	for name := range all {
		if !strings.Contains(err.Error(), name+": ") {
			t.Errorf("all at once: %s is not named in %v", name, err)
		}
	}
}
