package backup

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// ErrLinkInPath reports a restore that would have written through a
// symbolic link (or through something that is not a directory) below its
// target directory.
var ErrLinkInPath = errors.New("path goes through a symbolic link or a non-directory")

// confinedDir writes below one directory without ever following a symbolic
// link: every path is walked one component at a time with openat and
// O_NOFOLLOW from a descriptor of the target, so a link planted in the
// target (by an earlier restore or by anyone else, before or during this
// one) makes the operation fail instead of writing where the link points.
// Links the archive holds are created as links; nothing is written through
// them. Metadata is set on descriptors or with AT_SYMLINK_NOFOLLOW, never by
// a path that could resolve through a link. It remembers the directories it
// created so that a failed restore can remove them again.
//
// Paths given to its methods are relative, slash-separated and local
// (filepath.IsLocal); the caller checks that.
type confinedDir struct {
	// dir is the target as given, for messages.
	dir string
	fd  int
	// created lists, in creation order, the directories this run made
	// ("" is the target itself).
	created []string
}

// openConfined opens dir, creating it (one level, mode 0700) when create
// is set and it does not exist. A missing dir without create gives a nil
// confinedDir and no error: everything below it is absent.
func openConfined(dir string, create bool) (*confinedDir, error) {
	c := &confinedDir{dir: dir}
	// The target itself is the operator's choice and may be a link.
	fd, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if errors.Is(err, unix.ENOENT) {
		if !create {
			return nil, nil
		}
		if err := unix.Mkdir(dir, 0o700); err != nil {
			return nil, fmt.Errorf("creating %s: %w", dir, err)
		}
		c.created = append(c.created, "")
		fd, err = unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	}
	if err != nil {
		return nil, fmt.Errorf("opening %s: %w", dir, err)
	}
	c.fd = fd
	return c, nil
}

// Close releases the target's descriptor; safe on nil and twice.
func (c *confinedDir) Close() error {
	if c == nil || c.fd < 0 {
		return nil
	}
	err := unix.Close(c.fd)
	c.fd = -1
	return err
}

// abs names rel on disk, for messages and results.
func (c *confinedDir) abs(rel string) string {
	return filepath.Join(c.dir, filepath.FromSlash(rel))
}

// openDir returns a descriptor of directory rel, walking every component
// with O_NOFOLLOW. With create, missing components are made (mode 0700) and
// remembered; without, a missing component gives fs.ErrNotExist. A
// component that is a link or not a directory gives ErrLinkInPath.
func (c *confinedDir) openDir(rel string, create bool) (int, error) {
	fd, err := unix.Dup(c.fd)
	if err != nil {
		return -1, fmt.Errorf("opening %s: %w", c.dir, err)
	}
	if rel == "" || rel == "." {
		return fd, nil
	}
	done := ""
	for _, name := range strings.Split(rel, "/") {
		done = path.Join(done, name)
		next, err := unix.Openat(fd, name, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
		if errors.Is(err, unix.ENOENT) && create {
			if err = unix.Mkdirat(fd, name, 0o700); err == nil {
				c.created = append(c.created, done)
				next, err = unix.Openat(fd, name, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
			}
		}
		unix.Close(fd)
		switch {
		case errors.Is(err, unix.ENOENT):
			return -1, fmt.Errorf("%s: %w", c.abs(done), fs.ErrNotExist)
		case errors.Is(err, unix.ELOOP), errors.Is(err, unix.ENOTDIR):
			return -1, fmt.Errorf("%s is a symbolic link or not a directory; a restore never writes through one: %w", c.abs(done), ErrLinkInPath)
		case err != nil:
			return -1, fmt.Errorf("opening %s: %w", c.abs(done), err)
		}
		fd = next
	}
	return fd, nil
}

// splitRel returns the parent directory and the last component of rel.
func splitRel(rel string) (dir, leaf string) {
	dir, leaf = path.Split(rel)
	return strings.TrimSuffix(dir, "/"), leaf
}

// lstat describes rel itself (a link is not followed); a missing rel or
// parent gives exists false. A parent that is a link gives ErrLinkInPath.
func (c *confinedDir) lstat(rel string) (st unix.Stat_t, exists bool, err error) {
	if c == nil {
		return st, false, nil
	}
	dir, leaf := splitRel(rel)
	fd, err := c.openDir(dir, false)
	if errors.Is(err, fs.ErrNotExist) {
		return st, false, nil
	}
	if err != nil {
		return st, false, err
	}
	defer unix.Close(fd)
	err = unix.Fstatat(fd, leaf, &st, unix.AT_SYMLINK_NOFOLLOW)
	if errors.Is(err, unix.ENOENT) {
		return st, false, nil
	}
	if err != nil {
		return st, false, fmt.Errorf("checking %s: %w", c.abs(rel), err)
	}
	return st, true, nil
}

// readlink returns the target of link rel.
func (c *confinedDir) readlink(rel string) (string, error) {
	dir, leaf := splitRel(rel)
	fd, err := c.openDir(dir, false)
	if err != nil {
		return "", err
	}
	defer unix.Close(fd)
	buf := make([]byte, unix.PathMax)
	n, err := unix.Readlinkat(fd, leaf, buf)
	if err != nil {
		return "", fmt.Errorf("reading link %s: %w", c.abs(rel), err)
	}
	return string(buf[:n]), nil
}

// fileSHA256 returns the hex SHA-256 of regular file rel, opened without
// following a link.
func (c *confinedDir) fileSHA256(rel string) (string, error) {
	dir, leaf := splitRel(rel)
	fd, err := c.openDir(dir, false)
	if err != nil {
		return "", err
	}
	ffd, err := unix.Openat(fd, leaf, unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	unix.Close(fd)
	if err != nil {
		return "", fmt.Errorf("reading %s: %w", c.abs(rel), err)
	}
	f := os.NewFile(uintptr(ffd), c.abs(rel))
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", fmt.Errorf("reading %s: %w", c.abs(rel), err)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// mkdirAll makes directory rel and its parents, never through a link.
func (c *confinedDir) mkdirAll(rel string) error {
	fd, err := c.openDir(rel, true)
	if err != nil {
		return err
	}
	return unix.Close(fd)
}

// stage writes a new entry beside rel under a fresh temporary name, with
// mode, owner and times of meta already set on it, and returns that name
// (relative, like rel). data is a regular file's content; link, when not
// empty, makes a symbolic link instead.
func (c *confinedDir) stage(rel string, data []byte, link string, meta entryMeta) (string, error) {
	dir, leaf := splitRel(rel)
	fd, err := c.openDir(dir, true)
	if err != nil {
		return "", err
	}
	defer unix.Close(fd)
	tmp := ".mutt-restore-" + leaf + "-" + randHex(4)
	tmpRel := path.Join(dir, tmp)
	if link != "" {
		if err := unix.Symlinkat(link, fd, tmp); err != nil {
			return "", fmt.Errorf("staging %s: %w", c.abs(rel), err)
		}
		if err := meta.applyAt(fd, tmp, true); err != nil {
			unix.Unlinkat(fd, tmp, 0)
			return "", fmt.Errorf("staging %s: %w", c.abs(rel), err)
		}
		return tmpRel, nil
	}
	ffd, err := unix.Openat(fd, tmp, unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o600)
	if err != nil {
		return "", fmt.Errorf("staging %s: %w", c.abs(rel), err)
	}
	f := os.NewFile(uintptr(ffd), c.abs(tmpRel))
	_, err = f.Write(data)
	if err == nil {
		err = meta.applyFile(f)
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		// Times last: the writes above changed them.
		err = meta.timesAt(fd, tmp)
	}
	if err != nil {
		unix.Unlinkat(fd, tmp, 0)
		return "", fmt.Errorf("staging %s: %w", c.abs(rel), err)
	}
	return tmpRel, nil
}

// install keeps the current rel (when keep is not empty) as a hard link
// named keep beside it and renames the staged tmp over rel, then syncs the
// directory. Renaming replaces rel itself, a link included; nothing is
// written through one. On failure rel is unchanged and neither tmp nor the
// kept link remains.
func (c *confinedDir) install(tmp, rel, keep string) error {
	dir, leaf := splitRel(rel)
	_, tmpLeaf := splitRel(tmp)
	fd, err := c.openDir(dir, false)
	if err != nil {
		c.remove(tmp)
		return err
	}
	defer unix.Close(fd)
	if keep != "" {
		if err := unix.Linkat(fd, leaf, fd, keep, 0); err != nil {
			unix.Unlinkat(fd, tmpLeaf, 0)
			return fmt.Errorf("keeping the previous version as %s: %w", c.abs(path.Join(dir, keep)), err)
		}
	}
	if err := unix.Renameat(fd, tmpLeaf, fd, leaf); err != nil {
		unix.Unlinkat(fd, tmpLeaf, 0)
		if keep != "" {
			unix.Unlinkat(fd, keep, 0)
		}
		return err
	}
	if err := unix.Fsync(fd); err != nil {
		return fmt.Errorf("installed, but syncing its directory: %w", err)
	}
	return nil
}

// remove unlinks the file or link rel; errors are ignored (clean-up).
func (c *confinedDir) remove(rel string) {
	dir, leaf := splitRel(rel)
	if fd, err := c.openDir(dir, false); err == nil {
		unix.Unlinkat(fd, leaf, 0)
		unix.Close(fd)
	}
}

// removeCreated removes the directories this run created, deepest first,
// as long as they are empty: what a failed restore must not leave behind.
func (c *confinedDir) removeCreated() {
	for i := len(c.created) - 1; i >= 0; i-- {
		rel := c.created[i]
		if rel == "" {
			unix.Rmdir(c.dir)
			continue
		}
		dir, leaf := splitRel(rel)
		if fd, err := c.openDir(dir, false); err == nil {
			unix.Unlinkat(fd, leaf, unix.AT_REMOVEDIR)
			unix.Close(fd)
		}
	}
	c.created = nil
}

// setDirMeta applies meta to directory rel through a descriptor opened
// without following a link.
func (c *confinedDir) setDirMeta(rel string, meta entryMeta) error {
	fd, err := c.openDir(rel, false)
	if err != nil {
		return err
	}
	f := os.NewFile(uintptr(fd), c.abs(rel))
	defer f.Close()
	if err := meta.applyFile(f); err != nil {
		return fmt.Errorf("%s: %w", c.abs(rel), err)
	}
	dir, leaf := splitRel(rel)
	if leaf == "" {
		return nil
	}
	pfd, err := c.openDir(dir, false)
	if err != nil {
		return err
	}
	defer unix.Close(pfd)
	if err := meta.timesAt(pfd, leaf); err != nil {
		return fmt.Errorf("%s: %w", c.abs(rel), err)
	}
	return nil
}

// entryMeta is the metadata an archive entry carries.
type entryMeta struct {
	mode     fs.FileMode
	uid, gid int
	mtime    time.Time
}

// applyFile sets the owner (when running as root) and the mode on an open
// file.
func (m entryMeta) applyFile(f *os.File) error {
	if os.Geteuid() == 0 {
		if err := f.Chown(m.uid, m.gid); err != nil {
			return fmt.Errorf("setting owner: %w", err)
		}
	}
	if err := f.Chmod(m.mode.Perm()); err != nil {
		return fmt.Errorf("setting mode: %w", err)
	}
	return nil
}

// applyAt sets the owner (when root) and times of name in dirfd without
// following a link; used for staged links, whose mode means nothing.
func (m entryMeta) applyAt(dirfd int, name string, link bool) error {
	if os.Geteuid() == 0 {
		if err := unix.Fchownat(dirfd, name, m.uid, m.gid, unix.AT_SYMLINK_NOFOLLOW); err != nil {
			return fmt.Errorf("setting owner: %w", err)
		}
	}
	if link {
		return nil
	}
	return m.timesAt(dirfd, name)
}

// timesAt sets the access and modification times of name in dirfd to the
// archived modification time, without following a link.
func (m entryMeta) timesAt(dirfd int, name string) error {
	ts, err := unix.TimeToTimespec(m.mtime)
	if err != nil {
		return fmt.Errorf("setting times: %w", err)
	}
	if err := unix.UtimesNanoAt(dirfd, name, []unix.Timespec{ts, ts}, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return fmt.Errorf("setting times: %w", err)
	}
	return nil
}
