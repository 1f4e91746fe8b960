package main

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mutt-go/mutt/internal/backup"
)

// signingEnv makes a signing key with `mutt backup keygen --signing`, puts
// its public line into a trusted keys file and points the environment at
// both. It returns the key id.
func signingEnv(t *testing.T, dir string) string {
	t.Helper()
	key := filepath.Join(dir, "signing.key")
	out := mustRun(t, "backup", "keygen", "--signing", "--out", key)
	line := strings.TrimSpace(out)
	if !strings.HasPrefix(line, backup.SignaturePrefix) {
		t.Fatalf("keygen printed %q, want an ed25519: line", out)
	}
	trusted := filepath.Join(dir, "trusted-keys")
	if err := os.WriteFile(trusted, []byte("# hosts whose sets we restore\n"+line+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Setenv("MUTT_BACKUP_SIGNING_KEY_FILE", key)
	t.Setenv("MUTT_BACKUP_TRUSTED_KEYS_FILE", trusted)
	k, err := backup.LoadSigningKey(key)
	if err != nil {
		t.Fatal(err)
	}
	tk, err := backup.ParseTrustedKeys([]byte(line))
	if err != nil {
		t.Fatalf("keygen's line does not parse: %v", err)
	}
	m := &backup.Manifest{Format: backup.ManifestFormat, SetID: "20260301T020000Z-h-daily-0001"}
	if err := backup.SignManifest(m, k); err != nil {
		t.Fatal(err)
	}
	if err := tk.CheckSignature(m); err != nil {
		t.Fatalf("keygen's key and line do not round-trip: %v", err)
	}
	return strings.SplitN(m.Signature, ":", 3)[1]
}

func TestBackupKeygenRefusals(t *testing.T) {
	dir := t.TempDir()
	key := filepath.Join(dir, "k")
	mustRun(t, "backup", "keygen", "--signing", "--out", key)
	before, err := os.ReadFile(key)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name     string
		args     []string
		wantCode int
		wantErr  string
	}{
		{"existing file", []string{"backup", "keygen", "--signing", "--out", key}, exitFailure, "already exists"},
		{"no --signing", []string{"backup", "keygen", "--out", filepath.Join(dir, "x")}, exitUsage, "--signing"},
		{"no --out", []string{"backup", "keygen", "--signing"}, exitUsage, "--out"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out, errOut := runBackupCmd(t, tt.args...)
			if code != tt.wantCode || !strings.Contains(errOut, tt.wantErr) {
				t.Errorf("exit %d, want %d with %q\nstdout:\n%s\nstderr:\n%s", code, tt.wantCode, tt.wantErr, out, errOut)
			}
		})
	}
	if after, err := os.ReadFile(key); err != nil || string(after) != string(before) {
		t.Errorf("existing key changed by a refused keygen: %v", err)
	}
}

func TestBackupSignedSets(t *testing.T) {
	d := newDrillEnv(t)
	dropKept(t, d.dsn)
	id := signingEnv(t, d.dir)
	mustRun(t, "backup", "run", "--components", "postgres,redis", "--yes", "--no-sync")
	rel := mustManifestPath(t, d.root)
	m, err := backup.ReadManifest(filepath.Join(d.root, rel))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(m.Signature, "ed25519:"+id+":") {
		t.Fatalf("manifest signature %q, want one by key %s", m.Signature, id)
	}

	if out := mustRun(t, "backup", "show", "latest"); !strings.Contains(out, "signed by "+id+", trusted") {
		t.Errorf("backup show:\n%s", out)
	}
	code, out, errOut := runBackupCmd(t, "backup", "verify")
	if code != exitOK || strings.Contains(errOut, "not checked") {
		t.Errorf("verify of a signed set: exit %d\n%s\n%s", code, out, errOut)
	}
	// Sync rewrites remotes, verify rewrote verify results: the pulled
	// set is still trusted.
	target := "file://" + t.TempDir()
	t.Setenv("MUTT_BACKUP_REMOTES", target)
	mustRun(t, "backup", "sync")
	empty := t.TempDir()
	mustRun(t, "backup", "pull", "latest", "--from", target, "--host", hostName(), "--root", empty)
	mustRun(t, "backup", "verify", "--root", empty)

	code, out, _ = runBackupCmd(t, "backup", "status", "--json")
	var rep backup.StatusReport
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("status --json (exit %d): %v\n%s", code, err, out)
	}
	found := false
	for _, c := range rep.Checks {
		if c.Name == "signing" {
			found = true
			if c.Status != backup.CheckPass {
				t.Errorf("signing check: %+v", c)
			}
		}
	}
	if !found {
		t.Errorf("status has no signing check: %+v", rep.Checks)
	}
	mustRun(t, "restore", "redis", "latest", "--yes", "--force")

	// Plant an artifact: other ciphertext at the same path, with the
	// manifest's size and SHA-256 edited to match, so every artifact check
	// passes and only the signature can tell.
	wantSums := d.checksums(t)
	a := m.Component(backup.ComponentPostgres).Artifacts[0]
	p := filepath.Join(d.root, filepath.FromSlash(a.Path))
	genuine, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	planted := append([]byte(nil), genuine...)
	planted[len(planted)-1] ^= 0x01
	if err := os.WriteFile(p, planted, 0o600); err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(filepath.Join(d.root, rel))
	if err != nil {
		t.Fatal(err)
	}
	plantedSHA := sha256Hex(planted)
	edited := strings.Replace(string(raw), a.SHA256, plantedSHA, 1)
	if edited == string(raw) {
		t.Fatal("the manifest does not hold the artifact's sha256")
	}
	if err := os.WriteFile(filepath.Join(d.root, rel), []byte(edited), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{
		{"restore", "postgres", "latest", "--yes", "--force"},
		{"restore", "redis", "latest", "--yes", "--force"},
		{"restore", "full", "latest", "--yes", "--force", "--no-safety-backup"},
		{"restore", "drill", "latest"},
		{"backup", "verify", "latest"},
	} {
		t.Run("planted "+args[0]+" "+args[1], func(t *testing.T) {
			code, out, errOut := runBackupCmd(t, args...)
			if code != exitFailure || !strings.Contains(errOut, "signature") || !strings.Contains(errOut, m.SetID) {
				t.Errorf("exit %d, want %d naming the signature of %s\nstdout:\n%s\nstderr:\n%s", code, exitFailure, m.SetID, out, errOut)
			}
			got := d.checksums(t)
			for _, table := range restoreTables {
				if got[table] != wantSums[table] {
					t.Errorf("%s changed by a refused restore", table)
				}
			}
		})
	}
	if out := mustRun(t, "backup", "show", m.SetID); !strings.Contains(out, "invalid") {
		t.Errorf("backup show of the planted set:\n%s", out)
	}
	after, err := os.ReadFile(filepath.Join(d.root, rel))
	if err != nil || string(after) != edited {
		t.Errorf("a refused command rewrote the manifest: %v", err)
	}

	// Without trusted keys the commands warn once and go ahead (the set
	// is internally consistent, so quick verify passes).
	t.Run("no trusted keys", func(t *testing.T) {
		t.Setenv("MUTT_BACKUP_TRUSTED_KEYS_FILE", "")
		code, out, errOut := runBackupCmd(t, "backup", "verify", "--all")
		const warning = "manifest signatures are not checked: set MUTT_BACKUP_TRUSTED_KEYS_FILE"
		if code != exitOK || strings.Count(errOut, warning) != 1 {
			t.Errorf("verify without trusted keys: exit %d, want 0 and one warning\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
		}
	})
	if err := os.WriteFile(p, genuine, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(d.root, rel), raw, 0o600); err != nil {
		t.Fatal(err)
	}

	t.Run("unsigned set", func(t *testing.T) {
		t.Setenv("MUTT_BACKUP_SIGNING_KEY_FILE", "")
		mustRun(t, "backup", "run", "--components", "redis", "--yes", "--no-sync")
		code, out, errOut := runBackupCmd(t, "restore", "redis", "latest", "--yes", "--force")
		if code != exitFailure || !strings.Contains(errOut, "unsigned") || !strings.Contains(errOut, "signature") {
			t.Errorf("restore of an unsigned set: exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
		}
		if out := mustRun(t, "backup", "show", "latest"); !strings.Contains(out, "signature:  unsigned") {
			t.Errorf("backup show of an unsigned set:\n%s", out)
		}
	})

	t.Run("signing key readable by others", func(t *testing.T) {
		key := os.Getenv("MUTT_BACKUP_SIGNING_KEY_FILE")
		if err := os.Chmod(key, 0o644); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = os.Chmod(key, 0o600) })
		code, out, errOut := runBackupCmd(t, "backup", "run", "--components", "redis", "--yes", "--no-sync")
		if code != exitUsage || !strings.Contains(errOut, "0644") || !strings.Contains(errOut, "MUTT_BACKUP_SIGNING_KEY_FILE") {
			t.Errorf("run with a 0644 signing key: exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
		}
	})
}

func sha256Hex(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}
