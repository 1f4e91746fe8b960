package backup

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"
)

// ManifestFormat identifies version 1 of the manifest document.
const ManifestFormat = "mutt-backup-manifest/1"

// Set statuses.
const (
	// SetComplete means every component is ok.
	SetComplete = "complete"
	// SetPartial means some components failed or were skipped.
	SetPartial = "partial"
	// SetFailed means no component produced a usable backup.
	SetFailed = "failed"
)

// Component and verification statuses.
const (
	// StatusOK is a successful component or verification.
	StatusOK = "ok"
	// StatusFailed is a failed component or verification.
	StatusFailed = "failed"
	// StatusSkipped is a component that did not run; Reason says why.
	StatusSkipped = "skipped"
)

// Verification levels.
const (
	// VerifyQuick checks sizes, checksums and structure without decrypting.
	VerifyQuick = "quick"
	// VerifyDeep decrypts and test-restores.
	VerifyDeep = "deep"
)

// Manifest is the JSON document describing one backup set. It is the only
// source of truth about a set: artifacts without a manifest are garbage.
type Manifest struct {
	Format        string      `json:"format"`
	SetID         string      `json:"set_id"`
	Profile       string      `json:"profile"`
	Label         string      `json:"label"`
	Pinned        bool        `json:"pinned"`
	Host          string      `json:"host"`
	ToolVersion   string      `json:"tool_version"`
	SchemaVersion int64       `json:"schema_version"`
	StartedAt     time.Time   `json:"started_at"`
	FinishedAt    time.Time   `json:"finished_at"`
	Status        string      `json:"status"`
	Encryption    Encryption  `json:"encryption"`
	Components    []Component `json:"components"`
	Remotes       []Remote    `json:"remotes,omitempty"`
	Signature     string      `json:"signature,omitempty"`
}

// Encryption records how a set's artifacts are encrypted; Recipients holds
// fingerprints only, never keys or passphrases.
type Encryption struct {
	Scheme     string   `json:"scheme"`
	Recipients []string `json:"recipients,omitempty"`
}

// Component is the outcome of one component within a set.
type Component struct {
	Name       string           `json:"name"`
	Status     string           `json:"status"`
	Reason     string           `json:"reason,omitempty"`
	Source     map[string]any   `json:"source,omitempty"`
	Counts     map[string]int64 `json:"counts,omitempty"`
	Artifacts  []ArtifactInfo   `json:"artifacts,omitempty"`
	Verify     *Verify          `json:"verify,omitempty"`
	StartedAt  time.Time        `json:"started_at,omitzero"`
	FinishedAt time.Time        `json:"finished_at,omitzero"`
}

// Verify is the latest verification result of a component.
type Verify struct {
	Level  string    `json:"level"`
	Status string    `json:"status"`
	At     time.Time `json:"at"`
	Detail string    `json:"detail,omitempty"`
}

// Remote records the copy of a set on one remote target.
type Remote struct {
	Target   string    `json:"target"`
	Status   string    `json:"status"`
	SyncedAt time.Time `json:"synced_at,omitzero"`
}

// Component returns the named component of m, or nil.
func (m *Manifest) Component(name string) *Component {
	for i := range m.Components {
		if m.Components[i].Name == name {
			return &m.Components[i]
		}
	}
	return nil
}

// Verified reports whether component name is ok in m and its last
// verification succeeded; only such sets count towards the keep-min floor.
func (m *Manifest) Verified(name string) bool {
	c := m.Component(name)
	return c != nil && c.Status == StatusOK && c.Verify != nil && c.Verify.Status == StatusOK
}

// Time returns the set's start time: StartedAt, or the time encoded in the
// set id when StartedAt is missing.
func (m *Manifest) Time() time.Time {
	if !m.StartedAt.IsZero() {
		return m.StartedAt.UTC()
	}
	t, _ := SetTime(m.SetID)
	return t
}

// SetStatus derives a set's status from its components: SetFailed when none
// is ok, SetPartial when any failed or was skipped, SetComplete otherwise.
func SetStatus(cs []Component) string {
	okCount := 0
	for _, c := range cs {
		if c.Status == StatusOK {
			okCount++
		}
	}
	switch {
	case okCount == 0:
		return SetFailed
	case okCount < len(cs):
		return SetPartial
	}
	return SetComplete
}

// WriteManifest writes m to <root>/manifests/YYYY/MM/DD/<set-id>.json through
// a fsynced partial file and a rename. It must be called after every artifact
// of the set is closed; rewriting it later (verification results) is atomic.
// It never signs: Run signs a new set once, and later rewrites (sync, pull,
// verify) change only fields outside the signed part, so the signature
// stays valid; re-signing there would bless a manifest altered on disk.
func WriteManifest(root string, m *Manifest) (string, error) {
	rel, err := ManifestPath(m.SetID)
	if err != nil {
		return "", fmt.Errorf("writing manifest: %w", err)
	}
	if m.Format == "" {
		m.Format = ManifestFormat
	}
	if err := ensureRoot(root); err != nil {
		return "", err
	}
	data, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return "", fmt.Errorf("writing manifest %s: %w", m.SetID, err)
	}
	path := filepath.Join(root, rel)
	if err := writeFileAtomic(path, bytes.NewReader(append(data, '\n')), nil); err != nil {
		return "", fmt.Errorf("writing manifest %s: %w", m.SetID, err)
	}
	return path, nil
}

// ReadManifest reads and checks one manifest file.
func ReadManifest(path string) (*Manifest, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading manifest: %w", err)
	}
	var m Manifest
	if err := json.Unmarshal(data, &m); err != nil {
		return nil, fmt.Errorf("reading manifest %s: %w", path, err)
	}
	if m.Format != ManifestFormat {
		return nil, fmt.Errorf("reading manifest %s: unsupported format %q (want %q)", path, m.Format, ManifestFormat)
	}
	if _, err := SetTime(m.SetID); err != nil {
		return nil, fmt.Errorf("reading manifest %s: %w", path, err)
	}
	return &m, nil
}

// ListManifests reads every manifest under root, newest first. Partial files
// are ignored; an unreadable manifest is an error naming it, because acting
// (pruning, restoring "latest") on an incomplete catalogue is unsafe. A root
// without manifests yields an empty list.
func ListManifests(root string) ([]*Manifest, error) {
	dir := filepath.Join(root, manifestsDir)
	var ms []*Manifest
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) && path == dir {
				return fs.SkipDir
			}
			return err
		}
		if d.IsDir() || !strings.HasSuffix(d.Name(), ".json") {
			return nil
		}
		m, err := ReadManifest(path)
		if err != nil {
			return err
		}
		ms = append(ms, m)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("listing manifests: %w", err)
	}
	SortNewestFirst(ms)
	return ms, nil
}

// SortNewestFirst orders manifests by set time, newest first, set id breaking
// ties so the order is stable.
func SortNewestFirst(ms []*Manifest) {
	sort.SliceStable(ms, func(i, j int) bool {
		ti, tj := ms[i].Time(), ms[j].Time()
		if !ti.Equal(tj) {
			return ti.After(tj)
		}
		return ms[i].SetID > ms[j].SetID
	})
}
