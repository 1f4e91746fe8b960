package backup

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
)

// DiskUsage returns the bytes of the regular files at rel (a file or a
// directory tree) under root; a missing path counts as zero.
func DiskUsage(root, rel string) (int64, error) {
	p, err := underRoot(root, rel)
	if err != nil {
		return 0, err
	}
	var n int64
	err = filepath.WalkDir(p, func(_ string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			return err
		}
		if d.Type().IsRegular() {
			info, err := d.Info()
			if err != nil {
				if errors.Is(err, fs.ErrNotExist) {
					return nil
				}
				return err
			}
			n += info.Size()
		}
		return nil
	})
	if err != nil {
		return n, fmt.Errorf("measuring %s: %w", rel, err)
	}
	return n, nil
}

// DeleteSets removes the sets ids (found in ms) from root: each set's
// artifact directories first, its manifest last, so that a failure half way
// leaves either a complete set or garbage FindGarbage will find, never a
// manifest pointing at missing files. Date directories left empty are
// removed. It carries on past a failing set and returns the bytes freed and
// every failure joined. The caller must hold the root's Lock.
func DeleteSets(root string, ms []*Manifest, ids []string) (freed int64, err error) {
	byID := make(map[string]*Manifest, len(ms))
	for _, m := range ms {
		byID[m.SetID] = m
	}
	var errs []error
	for _, id := range ids {
		m, ok := byID[id]
		if !ok {
			errs = append(errs, fmt.Errorf("deleting set %s: no such manifest", id))
			continue
		}
		n, err := deleteSet(root, m)
		freed += n
		if err != nil {
			errs = append(errs, fmt.Errorf("deleting set %s: %w", id, err))
		}
	}
	return freed, errors.Join(errs...)
}

func deleteSet(root string, m *Manifest) (int64, error) {
	var freed int64
	for _, dir := range SetDirs(m) {
		n, err := removePath(root, dir)
		freed += n
		if err != nil {
			return freed, err
		}
	}
	rel, err := ManifestPath(m.SetID)
	if err != nil {
		return freed, err
	}
	n, err := removePath(root, filepath.ToSlash(rel))
	return freed + n, err
}

// RemoveGarbage removes the paths FindGarbage listed (relative to root) and
// the date directories they leave empty. It carries on past a failure and
// returns the bytes freed and every failure joined. The caller must hold the
// root's Lock.
func RemoveGarbage(root string, paths []string) (freed int64, err error) {
	var errs []error
	for _, p := range paths {
		n, err := removePath(root, p)
		freed += n
		if err != nil {
			errs = append(errs, err)
		}
	}
	return freed, errors.Join(errs...)
}

// removePath deletes rel (file or tree) under root, then its parents up to,
// not including, the top-level directory (component or manifests) while
// they are empty.
func removePath(root, rel string) (int64, error) {
	p, err := underRoot(root, rel)
	if err != nil {
		return 0, err
	}
	n, err := DiskUsage(root, rel)
	if err != nil {
		return 0, err
	}
	if err := os.RemoveAll(p); err != nil {
		return 0, fmt.Errorf("removing %s: %w", rel, err)
	}
	for dir := path.Dir(path.Clean(rel)); strings.Contains(dir, "/"); dir = path.Dir(dir) {
		// Remove fails on a directory that still holds something, which is
		// where climbing stops.
		if os.Remove(filepath.Join(root, filepath.FromSlash(dir))) != nil {
			break
		}
	}
	return n, nil
}

// underRoot joins rel to root, refusing paths that would leave root or name
// root itself.
func underRoot(root, rel string) (string, error) {
	if root == "" {
		return "", errors.New("backup root is not set (MUTT_BACKUP_ROOT)")
	}
	clean := path.Clean(filepath.ToSlash(rel))
	if !filepath.IsLocal(filepath.FromSlash(clean)) || clean == "." {
		return "", fmt.Errorf("refusing to touch %q: not inside the backup root", rel)
	}
	return filepath.Join(root, filepath.FromSlash(clean)), nil
}
