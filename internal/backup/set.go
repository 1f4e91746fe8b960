package backup

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"time"
)

const (
	manifestsDir = "manifests"
	setTimeFmt   = "20060102T150405Z"
	// StampFormat is the UTC timestamp in artifact names
	// ("mutt_postgres_<stamp>.dump.age").
	StampFormat = "20060102_150405"
	// OrphanGrace is how long artifacts without a manifest are left alone,
	// since a run in progress has not written its manifest yet.
	OrphanGrace = 24 * time.Hour
)

// NewSetID returns "YYYYMMDDTHHMMSSZ-<host>-<profile>-<4 hex>" for a set
// started at now (converted to UTC). Characters other than letters, digits,
// dots and dashes in host and profile become dashes so the id is a safe file
// name.
func NewSetID(now time.Time, host, profile string) string {
	var b [2]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails on supported platforms
	return now.UTC().Format(setTimeFmt) + "-" + safeName(host) + "-" + safeName(profile) + "-" + hex.EncodeToString(b[:])
}

func safeName(s string) string {
	if s == "" {
		return "unknown"
	}
	return strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '.', r == '-':
			return r
		}
		return '-'
	}, s)
}

// SetTime parses the UTC start time encoded at the front of a set id.
func SetTime(setID string) (time.Time, error) {
	if len(setID) < len(setTimeFmt) || strings.ContainsAny(setID, `/\`) || setID == "." || setID == ".." {
		return time.Time{}, fmt.Errorf("invalid set id %q", setID)
	}
	t, err := time.Parse(setTimeFmt, setID[:len(setTimeFmt)])
	if err != nil {
		return time.Time{}, fmt.Errorf("invalid set id %q: %w", setID, err)
	}
	return t, nil
}

// ManifestPath returns the manifest's path relative to the backup root,
// manifests/YYYY/MM/DD/<set-id>.json, the date taken from the set id.
func ManifestPath(setID string) (string, error) {
	t, err := SetTime(setID)
	if err != nil {
		return "", err
	}
	return filepath.Join(manifestsDir, t.Format("2006/01/02"), setID+".json"), nil
}

// ArtifactDir returns <component>/YYYY/MM/DD/<set-id>, relative to the backup
// root with forward slashes; t is the set's start time.
func ArtifactDir(component, setID string, t time.Time) string {
	return path.Join(component, t.UTC().Format("2006/01/02"), setID)
}

// PrunePlan is the outcome of PlanPrune: which sets to delete and why each
// of the others is kept.
type PrunePlan struct {
	Delete []PruneDecision
	Keep   []PruneDecision
}

// PruneDecision is the verdict on one set with a human-readable reason.
type PruneDecision struct {
	SetID  string
	Reason string
}

// DeleteIDs returns the ids of the sets to delete.
func (p PrunePlan) DeleteIDs() []string {
	ids := make([]string, len(p.Delete))
	for i, d := range p.Delete {
		ids[i] = d.SetID
	}
	return ids
}

// PlanPrune decides which sets are past retention. A set is deleted only when
// every component it holds (anything not skipped) is older than that
// component's retention; a component without a retention entry is kept
// forever. Whatever the age, it never deletes a pinned set, the newest
// verified set of any component, or a set that is among the keepMin newest
// verified sets of any component. It does no I/O.
func PlanPrune(ms []*Manifest, retention map[string]time.Duration, keepMin int, now time.Time) PrunePlan {
	keepMin = max(keepMin, 1)
	sorted := append([]*Manifest(nil), ms...)
	SortNewestFirst(sorted)

	// protected[setID] = reason, from the keep-min floor per component.
	protected := map[string]string{}
	verifiedSeen := map[string]int{}
	for _, m := range sorted {
		for _, c := range m.Components {
			if !m.Verified(c.Name) {
				continue
			}
			verifiedSeen[c.Name]++
			if n := verifiedSeen[c.Name]; n <= keepMin {
				if _, ok := protected[m.SetID]; !ok {
					if n == 1 {
						protected[m.SetID] = "newest verified " + c.Name + " set"
					} else {
						protected[m.SetID] = fmt.Sprintf("keep-min: verified %s set %d of %d", c.Name, n, keepMin)
					}
				}
			}
		}
	}

	var plan PrunePlan
	for _, m := range sorted {
		if m.Pinned {
			plan.Keep = append(plan.Keep, PruneDecision{m.SetID, "pinned"})
			continue
		}
		if r, ok := protected[m.SetID]; ok {
			plan.Keep = append(plan.Keep, PruneDecision{m.SetID, r})
			continue
		}
		if r := retained(m, retention, now); r != "" {
			plan.Keep = append(plan.Keep, PruneDecision{m.SetID, r})
			continue
		}
		plan.Delete = append(plan.Delete, PruneDecision{m.SetID, "past retention"})
	}
	return plan
}

// retained returns why m is still within retention, or "" if it is not.
func retained(m *Manifest, retention map[string]time.Duration, now time.Time) string {
	age := now.Sub(m.Time())
	held := 0
	for _, c := range m.Components {
		if c.Status == StatusSkipped && len(c.Artifacts) == 0 {
			continue
		}
		held++
		keep, ok := retention[c.Name]
		if !ok {
			return "no retention configured for " + c.Name
		}
		if age < keep {
			return "within " + c.Name + " retention"
		}
	}
	if held == 0 {
		// Nothing to restore from: keep it only as long as the longest
		// retention so the failure stays visible in listings.
		var longest time.Duration
		for _, d := range retention {
			longest = max(longest, d)
		}
		if age < longest {
			return "empty set within retention"
		}
	}
	return ""
}

// FindGarbage lists, relative to root, the files and directories prune may
// remove besides whole sets: "*.partial" files last modified more than
// PartialMaxAge before now, and artifact set directories
// (<component>/YYYY/MM/DD/<set-id>) that no manifest in ms refers to and
// whose set is older than OrphanGrace. The caller must hold the root's
// Lock, so no backup run is writing; the age keeps the partial files of
// writers that do not take the lock (a pull, a WAL push) safe as well,
// since a file being written is modified all the time.
func FindGarbage(root string, ms []*Manifest, now time.Time) ([]string, error) {
	known := map[string]bool{}
	for _, m := range ms {
		known[m.SetID] = true
	}
	var out []string
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) && p == root {
				return fs.SkipAll
			}
			return err
		}
		rel, err := filepath.Rel(root, p)
		if err != nil {
			return err
		}
		rel = filepath.ToSlash(rel)
		if !d.IsDir() {
			if !strings.HasSuffix(d.Name(), ".partial") {
				return nil
			}
			info, err := d.Info()
			if errors.Is(err, fs.ErrNotExist) {
				return nil // finished (renamed) or removed meanwhile
			}
			if err != nil {
				return err
			}
			if now.Sub(info.ModTime()) > PartialMaxAge {
				out = append(out, rel)
			}
			return nil
		}
		parts := strings.Split(rel, "/")
		if len(parts) != 5 || parts[0] == manifestsDir {
			return nil
		}
		// <component>/YYYY/MM/DD/<set-id>
		id := parts[4]
		if known[id] {
			return nil // still descend: stray partial files inside count
		}
		t, terr := SetTime(id)
		if terr != nil {
			info, ierr := d.Info()
			if ierr != nil {
				return ierr
			}
			t = info.ModTime()
		}
		if now.Sub(t) > OrphanGrace {
			out = append(out, rel)
			return fs.SkipDir
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("scanning %s for garbage: %w", root, err)
	}
	sort.Strings(out)
	return out, nil
}

// SetDirs returns the artifact directories of m relative to root: the
// directories holding its artifacts, from the manifest entries.
func SetDirs(m *Manifest) []string {
	seen := map[string]bool{}
	var dirs []string
	for _, c := range m.Components {
		for _, a := range c.Artifacts {
			d := path.Dir(a.Path)
			if !seen[d] {
				seen[d] = true
				dirs = append(dirs, d)
			}
		}
	}
	sort.Strings(dirs)
	return dirs
}
