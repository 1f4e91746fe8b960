package backup

import (
	"errors"
	"fmt"
	"maps"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Environment variable names of the settings whose names other code
// quotes.
const (
	// EnvRoot names the backup root.
	EnvRoot = "MUTT_BACKUP_ROOT"
	// EnvRetentionPrefix starts the local retention of one component
	// (MUTT_BACKUP_RETENTION_<COMPONENT>).
	EnvRetentionPrefix = "MUTT_BACKUP_RETENTION_"
	// EnvRemoteRetentionPrefix and EnvRemoteTransitionPrefix start the
	// remote retention and storage class change of one component.
	EnvRemoteRetentionPrefix  = "MUTT_BACKUP_REMOTE_RETENTION_"
	EnvRemoteTransitionPrefix = "MUTT_BACKUP_REMOTE_TRANSITION_"
)

// DefaultRoot is the local backup root when MUTT_BACKUP_ROOT is unset.
const DefaultRoot = "/var/backups/mutt"

// DefaultKeepMin is how many verified sets per component prune keeps when
// MUTT_BACKUP_KEEP_MIN is unset.
const DefaultKeepMin = 3

// maxRetentionDays keeps a retention in days within time.Duration's range.
const maxRetentionDays = 100000

// Settings are the MUTT_BACKUP_* settings of backup and restore, read from
// the environment only (no secret may show in the process list), with
// their defaults filled in. LoadSettings never fails: what does not parse
// is kept for Validate, which names every bad variable at once.
type Settings struct {
	// Root is the local backup root (MUTT_BACKUP_ROOT).
	Root string
	// RecipientsFile, PassphraseFile and IdentityFile are the age keys
	// (MUTT_BACKUP_RECIPIENTS_FILE, _PASSPHRASE_FILE, _IDENTITY_FILE).
	RecipientsFile, PassphraseFile, IdentityFile string
	// SigningKeyFile signs new manifests and TrustedKeysFile lists the keys
	// whose signatures are accepted (MUTT_BACKUP_SIGNING_KEY_FILE,
	// _TRUSTED_KEYS_FILE).
	SigningKeyFile, TrustedKeysFile string
	// PgDump, PgBaseBackup, PgRestore and PgBin name the PostgreSQL tools;
	// empty means the ones in PATH (MUTT_BACKUP_PG_DUMP, _PG_BASEBACKUP,
	// _PG_RESTORE, _PG_BIN).
	PgDump, PgBaseBackup, PgRestore, PgBin string
	// WALLagMax is the archiving lag past which status fails
	// (MUTT_BACKUP_WAL_LAG_MAX).
	WALLagMax time.Duration
	// Retention is the local retention per component
	// (MUTT_BACKUP_RETENTION_<COMPONENT>, a duration or whole days).
	Retention map[string]time.Duration
	// KeepMin is the number of verified sets per component prune never
	// goes below (MUTT_BACKUP_KEEP_MIN).
	KeepMin int
	// MetricsFile is the node_exporter textfile (MUTT_BACKUP_METRICS_FILE).
	MetricsFile string
	// NotifyURL is told about failed runs, and about good ones too with
	// NotifyOnSuccess (MUTT_BACKUP_NOTIFY_URL, _NOTIFY_ON_SUCCESS).
	NotifyURL       string
	NotifyOnSuccess bool
	// Remotes are the remote targets (MUTT_BACKUP_REMOTES, a comma list).
	Remotes []string
	// S3 holds the S3 endpoint settings without credentials
	// (MUTT_BACKUP_S3_ENDPOINT, _S3_REGION or AWS_REGION,
	// _S3_STORAGE_CLASS, _S3_INSECURE).
	S3 S3Options
	// RemoteLifecycle is the remote retention per component
	// (MUTT_BACKUP_REMOTE_RETENTION_<C>, MUTT_BACKUP_REMOTE_TRANSITION_<C>).
	RemoteLifecycle map[string]ComponentLifecycle
	// RedisDir is the Redis data directory as seen here; empty asks the
	// server (MUTT_BACKUP_REDIS_DIR).
	RedisDir string
	// RedisSaveTimeout bounds the wait for BGSAVE
	// (MUTT_BACKUP_REDIS_SAVE_TIMEOUT).
	RedisSaveTimeout time.Duration
	// RedisServer is the redis-server of a private scratch server
	// (MUTT_BACKUP_REDIS_SERVER).
	RedisServer string
	// RedisService is the systemd unit a full Redis restore stops and
	// starts, unless RedisStopCmd and RedisStartCmd replace systemctl
	// (MUTT_BACKUP_REDIS_SERVICE, _REDIS_STOP_CMD, _REDIS_START_CMD).
	RedisService                string
	RedisStopCmd, RedisStartCmd []string
	// ConfigPaths is what the config component archives
	// (MUTT_BACKUP_CONFIG_PATHS).
	ConfigPaths []ConfigPath
	// LogDir is the directory of the logs component; empty means
	// DefaultLogDir when it exists (MUTT_BACKUP_LOG_DIR).
	LogDir string
	// PrometheusURL enables the prometheus component, whose data directory
	// on this host is PrometheusDataDir (MUTT_BACKUP_PROMETHEUS_URL,
	// _PROMETHEUS_DATA_DIR).
	PrometheusURL, PrometheusDataDir string
	// VaultRoleID and VaultSecretIDFile are the backup's AppRole, empty
	// meaning the services' one; VaultPaths are the KV paths of the vault
	// component, empty meaning the services' secret path
	// (MUTT_BACKUP_VAULT_ROLE_ID, _VAULT_SECRET_ID_FILE, _VAULT_PATHS).
	VaultRoleID, VaultSecretIDFile string
	VaultPaths                     []string

	// problems are the settings that did not parse, in reading order.
	problems []SettingError
}

// SettingError is one bad setting: the variable, the rule it breaks and
// the value it has.
type SettingError struct {
	Name, Rule, Value string
}

// Error implements error.
func (e SettingError) Error() string {
	return fmt.Sprintf("%s: %s, got %q", e.Name, e.Rule, e.Value)
}

// SettingsError lists every bad setting found by Validate.
type SettingsError struct {
	Problems []SettingError
}

// Error implements error.
func (e *SettingsError) Error() string {
	parts := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		parts[i] = p.Error()
	}
	return "backup settings: " + strings.Join(parts, "; ")
}

// envReader reads settings and remembers the ones that do not parse.
type envReader struct {
	getenv func(string) string
	s      *Settings
}

// str returns the trimmed value of name, or def when it is empty.
func (r envReader) str(name, def string) string {
	if v := strings.TrimSpace(r.getenv(name)); v != "" {
		return v
	}
	return def
}

// bad records that name breaks rule with value v.
func (r envReader) bad(name, rule, v string) {
	r.s.problems = append(r.s.problems, SettingError{Name: name, Rule: rule, Value: v})
}

// duration reads a positive Go duration.
func (r envReader) duration(name string, def time.Duration) time.Duration {
	v := r.str(name, "")
	if v == "" {
		return def
	}
	d, err := time.ParseDuration(v)
	if err != nil || d <= 0 {
		r.bad(name, "must be a positive duration such as 5m", v)
		return def
	}
	return d
}

// boolean reads true or false.
func (r envReader) boolean(name string) bool {
	v := r.str(name, "")
	if v == "" {
		return false
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		r.bad(name, "must be true or false", v)
	}
	return b
}

// list reads a comma list, dropping empty entries.
func (r envReader) list(name string) []string {
	var out []string
	for _, p := range strings.Split(r.getenv(name), ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// httpURL reads an http or https URL.
func (r envReader) httpURL(name string) string {
	v := r.str(name, "")
	if v == "" {
		return ""
	}
	if u, err := url.Parse(v); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		r.bad(name, "must be an http:// or https:// URL", v)
	}
	return v
}

// retention reads a retention: a Go duration ("720h") or whole days
// ("30d").
func (r envReader) retention(name string, def time.Duration) time.Duration {
	v := r.str(name, "")
	if v == "" {
		return def
	}
	d, err := ParseRetention(v)
	if err != nil {
		r.bad(name, err.Error(), v)
		return def
	}
	return d
}

// ParseRetention parses a retention: a positive Go duration ("720h") or a
// positive number of whole days ("30d").
func ParseRetention(v string) (time.Duration, error) {
	var d time.Duration
	if days, ok := strings.CutSuffix(v, "d"); ok {
		n, err := strconv.Atoi(days)
		if err != nil {
			return 0, errors.New("must be a duration such as 720h or a number of days such as 30d")
		}
		if n > maxRetentionDays {
			return 0, fmt.Errorf("must be at most %d days", maxRetentionDays)
		}
		d = time.Duration(n) * 24 * time.Hour
	} else {
		var err error
		if d, err = time.ParseDuration(v); err != nil {
			return 0, errors.New("must be a duration such as 720h or a number of days such as 30d")
		}
	}
	if d <= 0 {
		return 0, errors.New("must be positive")
	}
	return d, nil
}

// LoadSettings reads the backup settings through getenv (os.Getenv in
// production) over their defaults. Call Validate before using them.
func LoadSettings(getenv func(string) string) Settings {
	s := Settings{}
	r := envReader{getenv: getenv, s: &s}
	s.Root = r.str(EnvRoot, DefaultRoot)
	s.RecipientsFile = r.getenv(settingRecipients)
	s.PassphraseFile = r.getenv(settingPassphrase)
	s.IdentityFile = r.getenv(settingIdentity)
	s.SigningKeyFile = r.str("MUTT_BACKUP_SIGNING_KEY_FILE", "")
	s.TrustedKeysFile = r.str("MUTT_BACKUP_TRUSTED_KEYS_FILE", "")
	s.PgDump = r.getenv("MUTT_BACKUP_PG_DUMP")
	s.PgBaseBackup = r.getenv("MUTT_BACKUP_PG_BASEBACKUP")
	s.PgRestore = r.getenv("MUTT_BACKUP_PG_RESTORE")
	s.PgBin = r.getenv("MUTT_BACKUP_PG_BIN")
	s.WALLagMax = r.duration("MUTT_BACKUP_WAL_LAG_MAX", DefaultWALLagMax)
	s.Retention = map[string]time.Duration{}
	for _, spec := range NewRegistry().specs {
		name := spec.Name()
		s.Retention[name] = r.retention(EnvRetentionPrefix+strings.ToUpper(name), spec.Retention())
	}
	s.KeepMin = DefaultKeepMin
	if v := r.str("MUTT_BACKUP_KEEP_MIN", ""); v != "" {
		if n, err := strconv.Atoi(v); err != nil || n < 1 {
			r.bad("MUTT_BACKUP_KEEP_MIN", "must be a whole number of at least 1", v)
		} else {
			s.KeepMin = n
		}
	}
	s.MetricsFile = r.str("MUTT_BACKUP_METRICS_FILE", DefaultMetricsFile)
	s.NotifyURL = r.httpURL("MUTT_BACKUP_NOTIFY_URL")
	s.NotifyOnSuccess = r.boolean("MUTT_BACKUP_NOTIFY_ON_SUCCESS")
	s.Remotes = r.list("MUTT_BACKUP_REMOTES")
	for _, t := range s.Remotes {
		if _, err := ParseRemoteTarget(t); err != nil {
			r.bad("MUTT_BACKUP_REMOTES", "every target must be s3://bucket[/prefix] or file:///absolute/dir", t)
		}
	}
	s.S3 = S3Options{
		Endpoint:     r.str("MUTT_BACKUP_S3_ENDPOINT", ""),
		Region:       r.str("MUTT_BACKUP_S3_REGION", r.str("AWS_REGION", "")),
		StorageClass: r.str("MUTT_BACKUP_S3_STORAGE_CLASS", ""),
		Insecure:     r.boolean("MUTT_BACKUP_S3_INSECURE"),
	}
	s.RemoteLifecycle = r.remoteLifecycle()
	s.RedisDir = r.getenv("MUTT_BACKUP_REDIS_DIR")
	s.RedisSaveTimeout = r.duration("MUTT_BACKUP_REDIS_SAVE_TIMEOUT", DefaultRedisSaveTimeout)
	s.RedisServer = r.getenv("MUTT_BACKUP_REDIS_SERVER")
	s.RedisService = r.str("MUTT_BACKUP_REDIS_SERVICE", DefaultRedisService)
	s.RedisStopCmd = strings.Fields(r.getenv("MUTT_BACKUP_REDIS_STOP_CMD"))
	s.RedisStartCmd = strings.Fields(r.getenv("MUTT_BACKUP_REDIS_START_CMD"))
	s.ConfigPaths = DefaultConfigPaths()
	if v := r.str("MUTT_BACKUP_CONFIG_PATHS", ""); v != "" {
		paths, err := ParseConfigPaths(v)
		if err != nil {
			r.bad("MUTT_BACKUP_CONFIG_PATHS", err.Error(), v)
		} else {
			s.ConfigPaths = paths
		}
	}
	s.LogDir = r.getenv("MUTT_BACKUP_LOG_DIR")
	s.PrometheusURL = r.httpURL("MUTT_BACKUP_PROMETHEUS_URL")
	s.PrometheusDataDir = r.str("MUTT_BACKUP_PROMETHEUS_DATA_DIR", DefaultPrometheusDataDir)
	s.VaultRoleID = r.str("MUTT_BACKUP_VAULT_ROLE_ID", "")
	s.VaultSecretIDFile = r.str("MUTT_BACKUP_VAULT_SECRET_ID_FILE", "")
	s.VaultPaths = r.list("MUTT_BACKUP_VAULT_PATHS")
	return s
}

// remoteLifecycle reads the remote retention and transition of every
// component over DefaultRemoteLifecycle.
func (r envReader) remoteLifecycle() map[string]ComponentLifecycle {
	out := DefaultRemoteLifecycle()
	for _, c := range slices.Sorted(maps.Keys(out)) {
		pol := out[c]
		upper := strings.ToUpper(c)
		if name := EnvRemoteRetentionPrefix + upper; r.str(name, "") != "" {
			if d := r.retention(name, 0); d > 0 {
				pol.ExpireDays = wholeDays(d)
			}
		}
		name := EnvRemoteTransitionPrefix + upper
		switch v := r.str(name, ""); v {
		case "":
		case "none":
			pol.TransitionDays, pol.TransitionClass = 0, ""
		default:
			after, class, ok := strings.Cut(v, ":")
			d, err := ParseRetention(after)
			if !ok || err != nil || class == "" {
				r.bad(name, "must be <days>d:<STORAGE_CLASS> such as 90d:GLACIER, or none", v)
				continue
			}
			pol.TransitionDays, pol.TransitionClass = wholeDays(d), strings.ToUpper(class)
		}
		out[c] = pol
	}
	return out
}

// wholeDays rounds d up to whole days, as S3 lifecycle rules count.
func wholeDays(d time.Duration) int {
	const day = 24 * time.Hour
	return int((d + day - 1) / day)
}

// Validate returns a *SettingsError naming every setting that did not
// parse and the rule it breaks, or nil.
func (s Settings) Validate() error {
	if len(s.problems) == 0 {
		return nil
	}
	return &SettingsError{Problems: append([]SettingError(nil), s.problems...)}
}

// Keys loads the encryption keys the settings name (LoadKeys).
func (s Settings) Keys() (*Keys, error) {
	return LoadKeys(s.RecipientsFile, s.PassphraseFile, s.IdentityFile)
}

// LogSource is the directory the logs component archives: LogDir, or
// DefaultLogDir when that exists; empty leaves the component unconfigured.
func (s Settings) LogSource() string {
	if s.LogDir != "" {
		return s.LogDir
	}
	if fi, err := os.Stat(DefaultLogDir); err == nil && fi.IsDir() {
		return DefaultLogDir
	}
	return ""
}

// PrometheusSource is the source of the prometheus component; nil when
// PrometheusURL is unset.
func (s Settings) PrometheusSource() *PrometheusSource {
	if s.PrometheusURL == "" {
		return nil
	}
	return &PrometheusSource{URL: s.PrometheusURL, DataDir: s.PrometheusDataDir}
}
