package backup

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"
)

// writeFileAtomic writes the content of r to path (mode 0600, parent
// directories 0700) so that path either keeps its old content or holds all
// of the new: the bytes go to "<path>.partial", check (when not nil) sees
// their count and hex SHA-256 and may refuse them, and only then is the
// file fsynced, renamed over path and the directory fsynced. On any failure
// the partial file is removed.
func writeFileAtomic(path string, r io.Reader, check func(n int64, sha string) error) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	part := path + ".partial"
	f, err := os.OpenFile(part, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	h := sha256.New()
	n, err := io.Copy(io.MultiWriter(f, h), r)
	if err == nil && check != nil {
		err = check(n, hex.EncodeToString(h.Sum(nil)))
	}
	if err != nil {
		f.Close()
		os.Remove(part)
		return err
	}
	return commitPartial(f, part, path)
}

// commitPartial makes the fully written partial file f durable under final:
// fsync, close, rename, fsync of the directory. On failure before the
// rename the partial file is removed; a failing directory sync leaves final
// in place for the caller to judge.
func commitPartial(f *os.File, part, final string) error {
	err := f.Sync()
	if err != nil {
		err = fmt.Errorf("syncing %s: %w", part, err)
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(part, final)
	}
	if err != nil {
		os.Remove(part)
		return err
	}
	return syncDir(filepath.Dir(final))
}

// syncDir fsyncs a directory so that a rename inside it is durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("syncing directory %s: %w", dir, err)
	}
	return nil
}
