package backup

import (
	"context"
	"errors"
	"fmt"
	"io"
	"path"
	"slices"
	"time"
)

// ComponentSpec is one kind of backup component: its name, the profiles
// that take it and the storage mode it belongs to, how it is backed up,
// quick-verified, test-restored and restored. Every component implements it
// in its own components_*.go file and registers once in the Registry that
// NewRegistry builds; callers iterate the registry instead of switching
// over names.
type ComponentSpec interface {
	// Name is the component's name in manifests and on the command line.
	Name() string
	// Profiles lists the backup profiles that include the component.
	Profiles() []string
	// Storage is the storage mode whose data the component holds
	// (StorageRedis or StorageEmbedded), or "" when it belongs to both;
	// a profile takes only the components of the mode it runs in.
	Storage() string
	// Objectives are the component's recovery time and point objectives.
	Objectives() Objectives
	// Retention is how long local sets keep the component when
	// MUTT_BACKUP_RETENTION_<NAME> does not say otherwise.
	Retention() time.Duration
	// Backup writes the component's artifacts for one run through
	// a.Artifact and fills c's counts and source. It returns
	// errNotConfigured when o holds no source for it.
	Backup(ctx context.Context, o *RunOptions, c *Component, a ArtifactSink) error
	// QuickVerify checks c's artifacts under root without decrypting
	// them and returns the result and one error per bad artifact.
	QuickVerify(root string, c *Component, at time.Time) (*Verify, []error)
	// DeepVerify test-restores c of set o.Manifest into a throw-away
	// target and returns what it checked.
	DeepVerify(ctx context.Context, o DeepVerifyOptions, c *Component) (string, error)
	// Restore puts the component of set o.Manifest back into its live
	// target and returns what it did; a component restored by its own
	// command returns an error wrapping ErrNoGenericRestore that names it.
	Restore(ctx context.Context, o RestoreOptions) (string, error)
}

// Storage modes a component belongs to; the values are those of the
// configuration's storage mode (MUTT_STORAGE).
const (
	// StorageRedis is the Redis + PostgreSQL mode.
	StorageRedis = "redis"
	// StorageEmbedded is the single-process SQLite mode.
	StorageEmbedded = "embedded"
)

// Objectives are a component's recovery time (RTO) and recovery point
// (RPO) objectives; zero means none.
type Objectives struct {
	RTO, RPO time.Duration
}

// day is the unit of the default retentions.
const day = 24 * time.Hour

// ErrNoGenericRestore is wrapped by Restore of components that are
// restored by a command of their own (or not at all).
var ErrNoGenericRestore = errors.New("no generic restore")

// ArtifactSink is how a component writes an artifact of the set being
// taken: rel is the file name inside the set's directory of the component,
// compress and format go to the manifest, produce writes the plaintext.
type ArtifactSink interface {
	Artifact(rel string, compress bool, format string, produce func(w io.Writer) error) error
	// Stamp is the set's start time as artifact names carry it
	// (StampFormat).
	Stamp() string
}

// runSink is the ArtifactSink of one component of one run.
type runSink struct {
	o     *RunOptions
	c     *Component
	dir   string
	stamp string
}

// Artifact implements ArtifactSink.
func (s runSink) Artifact(rel string, compress bool, format string, produce func(io.Writer) error) error {
	return s.o.artifact(s.c, path.Join(s.dir, rel), compress, format, produce)
}

// Stamp implements ArtifactSink.
func (s runSink) Stamp() string { return s.stamp }

// errNoDeepVerify is returned by DeepVerify of a component without a test
// restore: its quick verification stays its last result.
var errNoDeepVerify = errors.New("no deep verification")

// errNotConfigured makes Run record a component as skipped, not
// configured.
var errNotConfigured = errors.New(reasonNotConfigured)

// checksummed gives a component the quick verification every artifact
// has: size and SHA-256 of the stored file against the manifest.
type checksummed struct{}

// QuickVerify implements ComponentSpec.
func (checksummed) QuickVerify(root string, c *Component, at time.Time) (*Verify, []error) {
	return quickVerify(root, c.Artifacts, at)
}

// restoredElsewhere gives a component a Restore that names the command
// (or procedure) that restores it instead.
type restoredElsewhere struct{ how string }

// Restore implements ComponentSpec.
func (r restoredElsewhere) Restore(context.Context, RestoreOptions) (string, error) {
	return "", fmt.Errorf("%w: %s", ErrNoGenericRestore, r.how)
}

// Registry holds the registered components in registration order, which
// is the order of a profile's components in a set.
type Registry struct {
	specs []ComponentSpec
}

// NewRegistry returns the registry of the components this version
// implements.
func NewRegistry() *Registry {
	r := &Registry{}
	r.Register(pgDump{name: ComponentPgConfig, tables: PgConfigTables()})
	r.Register(pgDump{name: ComponentPostgres})
	r.Register(sqliteComponent{})
	r.Register(redisComponent{})
	r.Register(configComponent{})
	r.Register(logsComponent{restoredElsewhere: restoredElsewhere{how: logsRestoreHow}})
	r.Register(vaultComponent{})
	r.Register(prometheusComponent{restoredElsewhere: restoredElsewhere{how: prometheusRestoreHow}})
	r.Register(pgBase{restoredElsewhere: restoredElsewhere{how: pgBaseRestoreHow}})
	return r
}

// Register adds c; a second component of the same name replaces the first
// in its place.
func (r *Registry) Register(c ComponentSpec) {
	for i, s := range r.specs {
		if s.Name() == c.Name() {
			r.specs[i] = c
			return
		}
	}
	r.specs = append(r.specs, c)
}

// Lookup returns the component called name.
func (r *Registry) Lookup(name string) (ComponentSpec, bool) {
	for _, s := range r.specs {
		if s.Name() == name {
			return s, true
		}
	}
	return nil, false
}

// Names returns the registered component names in registration order.
func (r *Registry) Names() []string {
	out := make([]string, 0, len(r.specs))
	for _, s := range r.specs {
		out = append(out, s.Name())
	}
	return out
}

// Profiles returns every profile some registered component belongs to.
func (r *Registry) Profiles() []string {
	var out []string
	for _, s := range r.specs {
		for _, p := range s.Profiles() {
			if !slices.Contains(out, p) {
				out = append(out, p)
			}
		}
	}
	return out
}

// ProfileComponents returns the registered components of profile that
// belong to the storage mode (empty means StorageRedis).
func (r *Registry) ProfileComponents(profile, storage string) []string {
	if storage == "" {
		storage = StorageRedis
	}
	var out []string
	for _, s := range r.specs {
		if slices.Contains(s.Profiles(), profile) && (s.Storage() == "" || s.Storage() == storage) {
			out = append(out, s.Name())
		}
	}
	return out
}
