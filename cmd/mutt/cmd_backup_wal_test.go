package main

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

// TestWALPushNeedsNoIdentity archives a segment with the identity file set
// to a path that cannot be read, as in PostgreSQL's environment when it
// shares mutt.env but not the private key: wal-push only encrypts, so it
// must succeed, and wal-fetch, which decrypts, must then use the identity.
func TestWALPushNeedsNoIdentity(t *testing.T) {
	dir, root := t.TempDir(), t.TempDir()
	recipients, identity := writeAgeKeys(t, dir)
	seg := filepath.Join(t.TempDir(), "000000010000000000000007")
	if err := os.WriteFile(seg, bytes.Repeat([]byte{'w'}, 64<<10), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("MUTT_BACKUP_ROOT", root)
	t.Setenv("MUTT_BACKUP_RECIPIENTS_FILE", recipients)
	t.Setenv("MUTT_BACKUP_PASSPHRASE_FILE", "")
	t.Setenv("MUTT_BACKUP_IDENTITY_FILE", filepath.Join(dir, "no-such-identity"))
	if code, out, errOut := runBackupCmd(t, "backup", "wal-push", seg); code != exitOK {
		t.Fatalf("wal-push with an unreadable identity file: exit %d\n%s\n%s", code, out, errOut)
	}
	restored := filepath.Join(t.TempDir(), "RECOVERYXLOG")
	if code, out, errOut := runBackupCmd(t, "backup", "wal-fetch", "--identity-file", identity,
		"000000010000000000000007", restored); code != exitOK {
		t.Fatalf("wal-fetch: exit %d\n%s\n%s", code, out, errOut)
	}
	got, err := os.ReadFile(restored)
	if err != nil || !bytes.Equal(got, bytes.Repeat([]byte{'w'}, 64<<10)) {
		t.Fatalf("fetched segment differs from the pushed one (err %v)", err)
	}
}
