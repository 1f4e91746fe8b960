package backup

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"syscall"
)

// ErrLocked reports that another backup run holds the root's lock (exit code
// 75 in the command layer).
var ErrLocked = errors.New("backup root locked by another run")

// Lock takes the exclusive, non-blocking run lock of root (flock on
// <root>/.lock) so that runs, prunes and verifications never overlap. The
// lock follows the open file, so it is released by the kernel if the process
// dies. unlock is safe to call more than once.
func Lock(root string) (unlock func() error, err error) {
	if err := ensureRoot(root); err != nil {
		return nil, err
	}
	path := filepath.Join(root, ".lock")
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("opening lock %s: %w", path, err)
	}
	for {
		err = syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if !errors.Is(err, syscall.EINTR) {
			break
		}
	}
	if err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("locking %s: %w", root, ErrLocked)
		}
		return nil, fmt.Errorf("locking %s: %w", root, err)
	}
	var once sync.Once
	var uerr error
	return func() error {
		once.Do(func() {
			// Closing the descriptor releases the flock.
			uerr = f.Close()
			if uerr != nil {
				uerr = fmt.Errorf("unlocking %s: %w", root, uerr)
			}
		})
		return uerr
	}, nil
}
