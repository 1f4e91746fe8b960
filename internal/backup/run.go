package backup

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// Component names of a backup set.
const (
	// ComponentPostgres is the full PostgreSQL dump.
	ComponentPostgres = "postgres"
	// ComponentPgConfig is the dump of the business tables (PgConfigTables).
	ComponentPgConfig = "pgconfig"
	// ComponentRedis is the logical export of MUTT's Redis keys.
	ComponentRedis = "redis"
	// ComponentConfig is MUTT's configuration files.
	ComponentConfig = "config"
	// ComponentLogs is MUTT's log files.
	ComponentLogs = "logs"
	// ComponentVault is MUTT's Vault secrets.
	ComponentVault = "vault"
	// ComponentPrometheus is the Prometheus data.
	ComponentPrometheus = "prometheus"
)

// reasonNotImplemented marks components this version cannot back up yet.
const reasonNotImplemented = "not implemented yet"

// reasonNotConfigured marks components whose source is not configured.
const reasonNotConfigured = "not configured"

// ProfileComponents returns the components of a backup profile (hourly,
// redis, daily, weekly, pre-upgrade, base) in the Redis + PostgreSQL mode
// and false for an unknown profile.
func ProfileComponents(profile string) ([]string, bool) {
	return ProfileComponentsFor(profile, StorageRedis)
}

// ProfileComponentsFor returns the components of a backup profile in the
// storage mode (StorageRedis or StorageEmbedded; empty means StorageRedis)
// and false for an unknown profile.
func ProfileComponentsFor(profile, storage string) ([]string, bool) {
	r := NewRegistry()
	if !slices.Contains(r.Profiles(), profile) {
		return nil, false
	}
	return r.ProfileComponents(profile, storage), true
}

// KnownComponent reports whether name is a component a set may hold.
func KnownComponent(name string) bool {
	_, ok := NewRegistry().Lookup(name)
	return ok
}

// PgConfigTables returns the business tables of the pgconfig component.
func PgConfigTables() []string {
	return []string{"alert_rules", "development_hosts", "device_teams", "config_audit_log"}
}

// RunOptions describes one backup run.
type RunOptions struct {
	// Root is the local backup root.
	Root string
	// Keys encrypt every artifact; mandatory.
	Keys *Keys
	// Profile names the set's profile and, without Components, its
	// components.
	Profile string
	// Components, when not empty, overrides the profile's components.
	Components []string
	// Label and Pinned are recorded in the manifest.
	Label  string
	Pinned bool
	// Host, ToolVersion and SchemaVersion are recorded in the manifest.
	Host          string
	ToolVersion   string
	SchemaVersion int64
	// Postgres says how to dump PostgreSQL; nil skips postgres and pgconfig
	// as not configured. Its Tables are ignored: each component sets its own.
	Postgres *PostgresDumpOptions
	// Redis is the client of the redis component; nil skips it as not
	// configured.
	Redis redis.UniversalClient
	// RedisPatterns are the key patterns of the redis component.
	RedisPatterns []string
	// RedisDir is the Redis data directory as seen from this host
	// (MUTT_BACKUP_REDIS_DIR); empty asks the server (CONFIG GET dir). The
	// redis component adds a dump.rdb artifact when it is readable here.
	RedisDir string
	// RedisSaveTimeout bounds the wait for BGSAVE; zero means
	// DefaultRedisSaveTimeout.
	RedisSaveTimeout time.Duration
	// Prometheus is the source of the prometheus component; nil skips it
	// as not configured.
	Prometheus *PrometheusSource
	// Config is what the config component archives; nil skips it as not
	// configured. Its Redis, when nil, defaults to Redis above.
	Config *ConfigSource
	// Vault reads the secrets of the vault component at VaultPaths; nil
	// skips it as not configured.
	Vault      VaultKV
	VaultPaths []string
	// LogDir is the directory of the logs component; empty skips it as not
	// configured.
	LogDir string
	// PgBase says how to take the pgbase component's base backup; nil
	// skips it as not configured.
	PgBase *PgBaseOptions
	// Unreachable maps a component to the error met while connecting to its
	// source before the run; such a component is recorded failed with that
	// error (which must hold no secret) and the others still run.
	Unreachable map[string]error
	// SigningKey, when set, signs the manifest (SignManifest) so that a
	// planted or altered set is detected by CheckSignature.
	SigningKey ed25519.PrivateKey
	// Storage is the storage mode (StorageRedis or StorageEmbedded) whose
	// components a profile takes; empty means StorageRedis.
	Storage string
	// SQLite is the source of the sqlite component; nil skips it as not
	// configured.
	SQLite *SQLiteSource
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Progress, when set, receives one line per finished component.
	Progress io.Writer
	// Bytes, when set, is called as an artifact is written with its
	// component and the bytes of source data read so far for it, so that a
	// terminal can show the run moving.
	Bytes func(component string, read int64)
}

// Run creates one backup set under o.Root: it takes the root's Lock, runs
// every component independently (a failure is recorded in the manifest and
// the other components still run), quick-verifies each artifact and writes
// the manifest last. The error is non-nil only when the run as a whole could
// not happen (bad options, lock held — wrapping ErrLocked —, manifest not
// writable); a failed component is reported in the manifest alone.
func Run(ctx context.Context, o RunOptions) (*Manifest, error) {
	if o.Keys == nil {
		return nil, errors.New("running backup: no encryption keys configured")
	}
	if o.Root == "" {
		return nil, errors.New("running backup: no backup root configured")
	}
	names := o.Components
	if len(names) == 0 {
		var ok bool
		if names, ok = ProfileComponentsFor(o.Profile, o.Storage); !ok {
			return nil, fmt.Errorf("running backup: unknown profile %q (want hourly, redis, daily, weekly, pre-upgrade or base)", o.Profile)
		}
		if len(names) == 0 {
			return nil, fmt.Errorf("running backup: profile %q takes no component in the %s storage mode", o.Profile, o.Storage)
		}
	}
	for _, n := range names {
		if !KnownComponent(n) {
			return nil, fmt.Errorf("running backup: unknown component %q", n)
		}
	}
	if o.Profile == "" {
		o.Profile = "custom"
	}
	now := o.Now
	if now == nil {
		now = time.Now
	}

	unlock, err := Lock(o.Root)
	if err != nil {
		return nil, fmt.Errorf("running backup: %w", err)
	}
	defer unlock()

	start := now().UTC()
	m := &Manifest{
		Format:        ManifestFormat,
		SetID:         NewSetID(start, o.Host, o.Profile),
		Profile:       o.Profile,
		Label:         o.Label,
		Pinned:        o.Pinned,
		Host:          o.Host,
		ToolVersion:   o.ToolVersion,
		SchemaVersion: o.SchemaVersion,
		StartedAt:     start,
		Encryption:    o.Keys.Encryption(),
	}
	seen := map[string]bool{}
	for _, name := range names {
		if seen[name] {
			continue
		}
		seen[name] = true
		c := o.runComponent(ctx, name, m.SetID, start, now)
		m.Components = append(m.Components, c)
		if o.Progress != nil {
			line := fmt.Sprintf("%-10s %s", c.Name, c.Status)
			if c.Reason != "" {
				line += ": " + c.Reason
			}
			fmt.Fprintln(o.Progress, line)
		}
	}
	m.FinishedAt = now().UTC()
	m.Status = SetStatus(m.Components)
	if o.SigningKey != nil {
		if err := SignManifest(m, o.SigningKey); err != nil {
			return m, fmt.Errorf("running backup: %w", err)
		}
	}
	if _, err := WriteManifest(o.Root, m); err != nil {
		return m, fmt.Errorf("running backup: %w", err)
	}
	return m, nil
}

// runComponent backs up one component and returns its manifest entry.
func (o *RunOptions) runComponent(ctx context.Context, name, setID string, start time.Time, now func() time.Time) Component {
	c := Component{Name: name, StartedAt: now().UTC()}
	o.backupComponent(ctx, &c, setID, start, now)
	c.FinishedAt = now().UTC()
	return c
}

// backupComponent fills c with the outcome of backing up c.Name.
func (o *RunOptions) backupComponent(ctx context.Context, c *Component, setID string, start time.Time, now func() time.Time) {
	name := c.Name
	if err := o.Unreachable[name]; err != nil {
		c.Status, c.Reason = StatusFailed, err.Error()
		return
	}
	stamp := start.Format(StampFormat)
	dir := ArtifactDir(name, setID, start)

	spec, ok := NewRegistry().Lookup(name)
	if !ok {
		c.Status, c.Reason = StatusSkipped, reasonNotImplemented
		return
	}
	err := spec.Backup(ctx, o, c, runSink{o: o, c: c, dir: dir, stamp: stamp})
	if errors.Is(err, errNotConfigured) {
		c.Status, c.Reason = StatusSkipped, reasonNotConfigured
		return
	}
	if err != nil {
		c.Status, c.Reason = StatusFailed, err.Error()
		c.Counts, c.Source = nil, nil
		o.discard(c)
		return
	}
	c.Status = StatusOK
	c.Verify, _ = spec.QuickVerify(o.Root, c, now())
}

// artifact streams one artifact written by produce into c. On any failure
// the artifact is aborted, so no partial file is left behind.
func (o *RunOptions) artifact(c *Component, rel string, compress bool, format string, produce func(io.Writer) error) error {
	w, err := CreateArtifact(o.Root, rel, o.Keys, compress)
	if err != nil {
		return err
	}
	var out io.Writer = w
	if o.Bytes != nil {
		// The count runs on across a component's artifacts.
		var done int64
		for _, a := range c.Artifacts {
			done += a.PlainBytes
		}
		out = &progressWriter{w: w, n: done, report: func(n int64) { o.Bytes(c.Name, n) }}
	}
	if err := produce(out); err != nil {
		w.Abort()
		return err
	}
	if err := w.Close(); err != nil {
		return err
	}
	info := w.Info()
	info.Format = format
	c.Artifacts = append(c.Artifacts, info)
	return nil
}

// discard removes the artifacts a failed component already finished, so a
// failed component leaves nothing behind, and forgets them.
func (o *RunOptions) discard(c *Component) {
	for _, a := range c.Artifacts {
		if rel := filepath.FromSlash(a.Path); filepath.IsLocal(rel) {
			os.Remove(filepath.Join(o.Root, rel))
		}
	}
	c.Artifacts = nil
}

// progressWriter passes writes through and reports the running total.
type progressWriter struct {
	w      io.Writer
	n      int64
	report func(int64)
}

func (p *progressWriter) Write(b []byte) (int, error) {
	n, err := p.w.Write(b)
	p.n += int64(n)
	p.report(p.n)
	return n, err
}

// quickVerify checks every artifact with VerifyArtifact and returns the
// quick verification result and one error per bad artifact.
func quickVerify(root string, arts []ArtifactInfo, at time.Time) (*Verify, []error) {
	v := &Verify{Level: VerifyQuick, Status: StatusOK, At: at.UTC()}
	var errs []error
	var bad []string
	for _, a := range arts {
		if err := VerifyArtifact(root, a); err != nil {
			errs = append(errs, err)
			bad = append(bad, err.Error())
		}
	}
	if len(bad) > 0 {
		v.Status = StatusFailed
		v.Detail = strings.Join(bad, "; ")
	} else {
		v.Detail = fmt.Sprintf("%d artifacts", len(arts))
	}
	return v, errs
}

// VerifyQuickSet quick-verifies every artifact of m against root, records
// the result in each component's Verify and returns one error per bad
// artifact. Components without artifacts are left alone. The caller writes
// the manifest back with WriteManifest.
func VerifyQuickSet(root string, m *Manifest, at time.Time) []error {
	var errs []error
	reg := NewRegistry()
	for i := range m.Components {
		c := &m.Components[i]
		if len(c.Artifacts) == 0 {
			continue
		}
		var v *Verify
		var bad []error
		if spec, ok := reg.Lookup(c.Name); ok {
			v, bad = spec.QuickVerify(root, c, at)
		} else {
			v, bad = quickVerify(root, c.Artifacts, at)
		}
		c.Verify = v
		errs = append(errs, bad...)
	}
	return errs
}
