package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestBackupInit creates a demo identity and backup root, runs init again
// (the identity is kept), and checks the files, their modes and the
// printed settings.
func TestBackupInit(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "demo")
	var out, errOut bytes.Buffer
	if code := run([]string{"backup", "init", "--dir", dir}, &out, &errOut); code != exitOK {
		t.Fatalf("exit %d: %s", code, errOut.String())
	}
	first, err := os.ReadFile(filepath.Join(dir, "identity"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"export MUTT_BACKUP_ROOT='" + filepath.Join(dir, "backups") + "'",
		"export MUTT_BACKUP_IDENTITY_FILE='" + filepath.Join(dir, "identity") + "'",
		"export MUTT_BACKUP_RECIPIENTS_FILE='" + filepath.Join(dir, "recipients") + "'"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
	for name, mode := range map[string]os.FileMode{"identity": 0o600, "recipients": 0o644, "backups": 0o700 | os.ModeDir} {
		fi, err := os.Stat(filepath.Join(dir, name))
		if err != nil || fi.Mode() != mode {
			t.Errorf("%s: mode %v, %v; want %v", name, fi.Mode(), err, mode)
		}
	}
	out.Reset()
	if code := run([]string{"backup", "init", "--dir", dir}, &out, &errOut); code != exitOK {
		t.Fatalf("second init: exit %d: %s", code, errOut.String())
	}
	again, _ := os.ReadFile(filepath.Join(dir, "identity"))
	if !bytes.Equal(first, again) || !strings.Contains(errOut.String(), "kept the age identity") {
		t.Errorf("a second init replaced the identity (stderr %q)", errOut.String())
	}
	if code := run([]string{"backup", "init"}, &out, &errOut); code != exitUsage {
		t.Errorf("init without --dir: exit %d, want %d", code, exitUsage)
	}
}
