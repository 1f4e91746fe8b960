package backup

import (
	"context"
	"errors"
	"io"
	"path"
	"slices"
	"sort"
)

// ComponentSpec is one kind of backup component: its name, the profiles
// that take it, how it is backed up and how a set's copy is test-restored.
// Every component implements it and registers once in the Registry that
// NewRegistry builds; callers iterate the registry instead of switching
// over names. (The components written before the registry are still
// dispatched by name in run.go and deep.go and move here one at a time.)
type ComponentSpec interface {
	// Name is the component's name in manifests and on the command line.
	Name() string
	// Profiles lists the backup profiles that include the component.
	Profiles() []string
	// Backup writes the component's artifacts for one run through
	// a.Artifact and fills c's counts and source. It returns
	// errNotConfigured when o holds no source for it.
	Backup(ctx context.Context, o *RunOptions, c *Component, a ArtifactSink) error
	// DeepVerify test-restores c of set o.Manifest into a throw-away
	// target and returns what it checked.
	DeepVerify(ctx context.Context, o DeepVerifyOptions, c *Component) (string, error)
}

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

// errNotConfigured makes Run record a component as skipped, not
// configured.
var errNotConfigured = errors.New(reasonNotConfigured)

// Registry holds the registered components by name.
type Registry struct {
	byName map[string]ComponentSpec
}

// NewRegistry returns the registry of the components this version
// implements through ComponentSpec.
func NewRegistry() *Registry {
	r := &Registry{byName: map[string]ComponentSpec{}}
	r.Register(pgBase{})
	r.Register(logsComponent{})
	return r
}

// Register adds c; a second component of the same name replaces the first.
func (r *Registry) Register(c ComponentSpec) { r.byName[c.Name()] = c }

// Lookup returns the component called name.
func (r *Registry) Lookup(name string) (ComponentSpec, bool) {
	c, ok := r.byName[name]
	return c, ok
}

// Names returns the registered component names, sorted.
func (r *Registry) Names() []string {
	out := make([]string, 0, len(r.byName))
	for n := range r.byName {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// ProfileComponents returns the registered components of profile.
func (r *Registry) ProfileComponents(profile string) []string {
	var out []string
	for _, n := range r.Names() {
		if slices.Contains(r.byName[n].Profiles(), profile) {
			out = append(out, n)
		}
	}
	return out
}
