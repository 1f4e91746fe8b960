package backup

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
)

// DirRemote is a RemoteStore on a mounted directory (a NAS share). Files are
// written to "*.partial", fsynced, checked against the expected size and
// SHA-256, renamed into place and the directory fsynced, so a file under its
// final name is always complete. A directory keeps no tags and no checksum
// metadata: Stat returns an empty SHA256.
type DirRemote struct {
	target RemoteTarget
	base   string // <dir>/<host>
}

var _ RemoteStore = (*DirRemote)(nil)

// NewDirRemote returns the directory remote of target for host. The target
// directory must exist (a NAS that is not mounted must not silently fill the
// local disk); the host directory below it is created on first upload.
func NewDirRemote(t RemoteTarget, host string) (*DirRemote, error) {
	if t.Scheme != "file" {
		return nil, fmt.Errorf("remote target %s is not a file:// target", t)
	}
	fi, err := os.Stat(t.Prefix)
	if err != nil {
		return nil, fmt.Errorf("remote target %s: %w (is the share mounted?)", t, err)
	}
	if !fi.IsDir() {
		return nil, fmt.Errorf("remote target %s: not a directory", t)
	}
	return &DirRemote{target: t, base: filepath.Join(t.Prefix, host)}, nil
}

// Target implements RemoteStore.
func (d *DirRemote) Target() string { return d.target.String() }

func (d *DirRemote) file(rel string) (string, error) {
	rel, err := remoteRel(rel)
	if err != nil {
		return "", err
	}
	return filepath.Join(d.base, filepath.FromSlash(rel)), nil
}

// Put implements RemoteStore; tags are ignored. When meta.SHA256 is set, a
// mismatch leaves nothing behind.
func (d *DirRemote) Put(ctx context.Context, rel string, r io.Reader, size int64, meta ObjectMeta) error {
	final, err := d.file(rel)
	if err != nil {
		return err
	}
	if err := d.put(ctx, final, r, size, meta.SHA256); err != nil {
		return fmt.Errorf("writing %s: %w", final, err)
	}
	return nil
}

func (d *DirRemote) put(ctx context.Context, final string, r io.Reader, size int64, want string) error {
	return writeFileAtomic(final, ctxReader{ctx, r}, func(n int64, sum string) error {
		if n != size {
			return fmt.Errorf("got %d bytes, want %d", n, size)
		}
		if want != "" && sum != want {
			return fmt.Errorf("%w: sha256 %s, want %s", ErrCorrupt, sum, want)
		}
		return nil
	})
}

// ctxReader stops a copy once ctx is done.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}

// Stat implements RemoteStore.
func (d *DirRemote) Stat(_ context.Context, rel string) (ObjectInfo, error) {
	p, err := d.file(rel)
	if err != nil {
		return ObjectInfo{}, err
	}
	fi, err := os.Stat(p)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return ObjectInfo{}, fmt.Errorf("checking %s: %w", p, ErrNotFound)
		}
		return ObjectInfo{}, fmt.Errorf("checking %s: %w", p, err)
	}
	return ObjectInfo{Path: rel, Size: fi.Size(), ModTime: fi.ModTime()}, nil
}

// Get implements RemoteStore.
func (d *DirRemote) Get(_ context.Context, rel string) (io.ReadCloser, error) {
	p, err := d.file(rel)
	if err != nil {
		return nil, err
	}
	f, err := os.Open(p)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("reading %s: %w", p, ErrNotFound)
		}
		return nil, fmt.Errorf("reading %s: %w", p, err)
	}
	return f, nil
}

// List implements RemoteStore; "*.partial" files are not listed.
func (d *DirRemote) List(_ context.Context, prefix string) ([]ObjectInfo, error) {
	start := d.base
	if dir := path.Dir(prefix); strings.Contains(prefix, "/") && dir != "." {
		start = filepath.Join(d.base, filepath.FromSlash(dir))
	}
	var out []ObjectInfo
	err := filepath.WalkDir(start, func(p string, e fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) && p == start {
				return fs.SkipAll
			}
			return err
		}
		if !e.Type().IsRegular() || strings.HasSuffix(e.Name(), ".partial") {
			return nil
		}
		rel, err := filepath.Rel(d.base, p)
		if err != nil {
			return err
		}
		rel = filepath.ToSlash(rel)
		if !strings.HasPrefix(rel, prefix) {
			return nil
		}
		fi, err := e.Info()
		if err != nil {
			return err
		}
		out = append(out, ObjectInfo{Path: rel, Size: fi.Size(), ModTime: fi.ModTime()})
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("listing %s: %w", start, err)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Path < out[j].Path })
	return out, nil
}

// Delete implements RemoteStore and removes the directories it leaves
// empty, up to the host directory.
func (d *DirRemote) Delete(_ context.Context, rel string) error {
	p, err := d.file(rel)
	if err != nil {
		return err
	}
	if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("deleting %s: %w", p, err)
	}
	for dir := path.Dir(rel); dir != "."; dir = path.Dir(dir) {
		if os.Remove(filepath.Join(d.base, filepath.FromSlash(dir))) != nil {
			break
		}
	}
	return nil
}
