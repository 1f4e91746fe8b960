package backup

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

func TestLock(t *testing.T) {
	root := filepath.Join(t.TempDir(), "backups")
	unlock, err := Lock(root)
	if err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(filepath.Join(root, ".lock")); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("lock file: %v %v", fi, err)
	}
	if _, err := Lock(root); !errors.Is(err, ErrLocked) {
		t.Fatalf("second Lock = %v, want ErrLocked", err)
	}
	other, err := Lock(t.TempDir())
	if err != nil {
		t.Fatalf("lock on another root: %v", err)
	}
	other()
	if err := unlock(); err != nil {
		t.Fatal(err)
	}
	if err := unlock(); err != nil {
		t.Fatalf("second unlock: %v", err)
	}
	unlock2, err := Lock(root)
	if err != nil {
		t.Fatalf("Lock after unlock = %v", err)
	}
	if err := unlock2(); err != nil {
		t.Fatal(err)
	}
}
