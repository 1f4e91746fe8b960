// Package datadir owns the embedded mode's data directory: it creates it
// private to the user and holds its lock, so that one process at a time
// runs on one directory. The lock is an flock on LockFile that the kernel
// releases when the process ends, however it ends, so a SIGKILLed server
// never leaves a stale lock behind.
package datadir

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// LockFile is the lock file's name inside the data directory. Restores
// take it too, so they never replace a database under a running server.
const LockFile = "mutt.lock"

// ErrInUse is wrapped by Lock's error when another process holds the lock.
var ErrInUse = errors.New("data directory in use")

// Lock is a held data-directory lock.
type Lock struct {
	f    *os.File
	path string
}

// Acquire creates dir (mode 0700) when missing and takes its lock without
// waiting. When another process holds it, the error wraps ErrInUse and
// names the holder's pid, which the holder writes into the file.
func Acquire(dir string) (*Lock, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("creating data directory (MUTT_DATA_DIR) %s: %w", dir, err)
	}
	path := filepath.Join(dir, LockFile)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|syscall.O_NOFOLLOW|syscall.O_CLOEXEC, 0o600)
	if err != nil {
		return nil, fmt.Errorf("opening the data directory's lock %s: %w", path, err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		holder := readHolder(f)
		_ = f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("%w: %s is used by another mutt process%s; "+
				"embedded mode runs one process per data directory (stop it, or set MUTT_DATA_DIR to another directory)",
				ErrInUse, dir, holder)
		}
		return nil, fmt.Errorf("locking %s: %w", path, err)
	}
	if err := f.Truncate(0); err == nil {
		_, _ = f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
	}
	return &Lock{f: f, path: path}, nil
}

// readHolder returns " (pid N)" from the lock file, or "" when it holds
// no pid.
func readHolder(f *os.File) string {
	b := make([]byte, 32)
	n, _ := f.ReadAt(b, 0)
	pid := strings.TrimSpace(string(b[:n]))
	if _, err := strconv.Atoi(pid); err != nil {
		return ""
	}
	return " (pid " + pid + ")"
}

// Path returns the lock file's path.
func (l *Lock) Path() string { return l.path }

// Release gives the lock up. Safe to call twice.
func (l *Lock) Release() error {
	if l == nil || l.f == nil {
		return nil
	}
	err := l.f.Close()
	l.f = nil
	return err
}
