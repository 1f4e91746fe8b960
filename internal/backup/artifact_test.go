package backup

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math/rand"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"filippo.io/age"
)

// testKeys holds key files written for one test.
type testKeys struct {
	recipients, passphrase, identity string
}

func writeFile(t testing.TB, path, data string, mode os.FileMode) string {
	t.Helper()
	if err := os.WriteFile(path, []byte(data), mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, mode); err != nil {
		t.Fatal(err)
	}
	return path
}

func newIdentityFiles(t *testing.T) testKeys {
	t.Helper()
	id, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	return testKeys{
		recipients: writeFile(t, filepath.Join(dir, "recipients"), "# operations team\n"+id.Recipient().String()+"\n", 0o644),
		identity:   writeFile(t, filepath.Join(dir, "identity"), id.String()+"\n", 0o600),
	}
}

func recipientKeys(t *testing.T) *Keys {
	t.Helper()
	f := newIdentityFiles(t)
	k, err := LoadKeys(f.recipients, "", f.identity)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// passphraseKeys loads passphrase keys with a low scrypt work factor so the
// race-enabled tests stay fast; the default applies in production.
func passphraseKeys(t *testing.T, pass string) *Keys {
	t.Helper()
	p := writeFile(t, filepath.Join(t.TempDir(), "pass"), pass+"\n", 0o400)
	k, err := LoadKeys("", p, "")
	if err != nil {
		t.Fatal(err)
	}
	k.recipients[0].(*age.ScryptRecipient).SetWorkFactor(10)
	return k
}

func TestLoadKeys(t *testing.T) {
	good := newIdentityFiles(t)
	dir := t.TempDir()
	tests := []struct {
		name                   string
		recipients, pass, id   string
		wantErr                string
		wantScheme             string
		wantDecrypt            bool
		wantRecipientPrintsLen int
	}{
		{name: "none", wantErr: "MUTT_BACKUP_RECIPIENTS_FILE"},
		{name: "both", recipients: good.recipients, pass: writeFile(t, filepath.Join(dir, "p1"), "x", 0o400), wantErr: "mutually exclusive"},
		{name: "recipients only", recipients: good.recipients, wantScheme: SchemeX25519, wantRecipientPrintsLen: 1},
		{name: "recipients and identity", recipients: good.recipients, id: good.identity, wantScheme: SchemeX25519, wantDecrypt: true, wantRecipientPrintsLen: 1},
		{name: "missing recipients file", recipients: filepath.Join(dir, "nope"), wantErr: "MUTT_BACKUP_RECIPIENTS_FILE"},
		{name: "bad recipient line", recipients: writeFile(t, filepath.Join(dir, "r2"), "# c\nage1notakey\n", 0o644), wantErr: "line 2"},
		{name: "only comments", recipients: writeFile(t, filepath.Join(dir, "r3"), "# nothing\n\n", 0o644), wantErr: "no age1"},
		{name: "passphrase 0400", pass: writeFile(t, filepath.Join(dir, "p2"), "correct horse\n", 0o400), wantScheme: SchemeScrypt, wantDecrypt: true},
		{name: "passphrase 0600", pass: writeFile(t, filepath.Join(dir, "p3"), "correct horse", 0o600), wantScheme: SchemeScrypt, wantDecrypt: true},
		{name: "passphrase group readable", pass: writeFile(t, filepath.Join(dir, "p4"), "correct horse", 0o640), wantErr: "MUTT_BACKUP_PASSPHRASE_FILE"},
		{name: "passphrase world readable", pass: writeFile(t, filepath.Join(dir, "p5"), "correct horse", 0o604), wantErr: "group or others"},
		{name: "empty passphrase", pass: writeFile(t, filepath.Join(dir, "p6"), "\n", 0o400), wantErr: "empty"},
		{name: "missing identity", recipients: good.recipients, id: filepath.Join(dir, "nope"), wantErr: "MUTT_BACKUP_IDENTITY_FILE"},
		{name: "bad identity", recipients: good.recipients, id: writeFile(t, filepath.Join(dir, "i2"), "AGE-SECRET-KEY-1XYZ\n", 0o600), wantErr: "MUTT_BACKUP_IDENTITY_FILE"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			k, err := LoadKeys(tt.recipients, tt.pass, tt.id)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if k.Scheme() != tt.wantScheme || k.CanDecrypt() != tt.wantDecrypt {
				t.Errorf("scheme %q decrypt %v, want %q %v", k.Scheme(), k.CanDecrypt(), tt.wantScheme, tt.wantDecrypt)
			}
			enc := k.Encryption()
			if len(enc.Recipients) != tt.wantRecipientPrintsLen {
				t.Errorf("recipients %v", enc.Recipients)
			}
			for _, r := range enc.Recipients {
				if strings.HasPrefix(r, "age1") || !strings.HasPrefix(r, "sha256:") {
					t.Errorf("recipient %q is not a fingerprint", r)
				}
			}
		})
	}
}

// testData returns n bytes mixing random and repetitive content, so both
// compressed and uncompressed paths see realistic input.
func testData(n int, seed int64) []byte {
	rng := rand.New(rand.NewSource(seed))
	var b bytes.Buffer
	for b.Len() < n {
		if rng.Intn(2) == 0 {
			chunk := make([]byte, 1+rng.Intn(4096))
			rng.Read(chunk)
			b.Write(chunk)
		} else {
			b.WriteString(strings.Repeat("INSERT INTO event_audit_log VALUES (42, 'link down');\n", 1+rng.Intn(50)))
		}
	}
	return b.Bytes()[:n]
}

func writeArtifact(t *testing.T, root, rel string, k *Keys, compress bool, data []byte) ArtifactInfo {
	t.Helper()
	w, err := CreateArtifact(root, rel, k, compress)
	if err != nil {
		t.Fatal(err)
	}
	// Uneven chunks exercise the streaming path.
	for rest := data; len(rest) > 0; {
		n := min(len(rest), 100_003)
		if _, err := w.Write(rest[:n]); err != nil {
			t.Fatal(err)
		}
		rest = rest[n:]
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return w.Info()
}

func readArtifact(root string, a ArtifactInfo, k *Keys) ([]byte, error) {
	r, err := OpenArtifact(root, a, k)
	if err != nil {
		return nil, err
	}
	got, err := io.ReadAll(r)
	if cerr := r.Close(); err == nil {
		err = cerr
	}
	return got, err
}

func TestArtifactRoundTrip(t *testing.T) {
	data := testData(5<<20, 1)
	rk := recipientKeys(t)
	pk := passphraseKeys(t, "correct horse battery staple")
	tests := []struct {
		name     string
		keys     *Keys
		compress bool
		rel      string
	}{
		{"recipients compressed", rk, true, "redis/2025/11/10/set/dump_20251110_020000.rdb.zst.age"},
		{"recipients plain", rk, false, "postgres/2025/11/10/set/mutt_postgres_20251110_020000.dump.age"},
		{"passphrase compressed", pk, true, "config/2025/11/10/set/mutt_config_20251110_020000.tar.zst.age"},
		{"passphrase plain", pk, false, "vault/2025/11/10/set/vault_secrets_20251110_020000.json.age"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := filepath.Join(t.TempDir(), "backups")
			info := writeArtifact(t, root, tt.rel, tt.keys, tt.compress, data)
			if info.Path != tt.rel || info.PlainBytes != int64(len(data)) || info.Compressed != tt.compress {
				t.Errorf("info = %+v", info)
			}
			if info.PlainSHA256 != sha256hex(data) {
				t.Errorf("plain sha256 %s, want %s", info.PlainSHA256, sha256hex(data))
			}
			fi, err := os.Stat(filepath.Join(root, tt.rel))
			if err != nil {
				t.Fatal(err)
			}
			if fi.Size() != info.Bytes || fi.Mode().Perm() != 0o600 {
				t.Errorf("file size %d mode %v, info bytes %d", fi.Size(), fi.Mode().Perm(), info.Bytes)
			}
			if tt.compress && info.Bytes >= int64(len(data)) {
				t.Errorf("compressed artifact is %d bytes for %d bytes of input", info.Bytes, len(data))
			}
			if ri, _ := os.Stat(root); ri.Mode().Perm() != 0o700 {
				t.Errorf("root mode %v, want 0700", ri.Mode().Perm())
			}
			if err := VerifyArtifact(root, info); err != nil {
				t.Fatal(err)
			}
			got, err := readArtifact(root, info, tt.keys)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, data) {
				t.Fatalf("round trip differs: %d bytes, want %d", len(got), len(data))
			}
			assertNoPartial(t, root)
		})
	}
}

func TestFormatFromName(t *testing.T) {
	tests := []struct{ name, want string }{
		{"x/mutt_postgres_20251110_020000.dump.age", "dump"},
		{"x/dump_20251110_020000.rdb.zst.age", "rdb"},
		{"x/redis_keys_20251110_020000.jsonl.zst.age", "jsonl"},
		{"x/noext.age", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := formatFromName(tt.name); got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

func assertNoPartial(t *testing.T, root string) {
	t.Helper()
	filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err == nil && strings.HasSuffix(p, ".partial") {
			t.Errorf("partial file left: %s", p)
		}
		return nil
	})
}

func TestArtifactTamper(t *testing.T) {
	k := recipientKeys(t)
	root := t.TempDir()
	rel := "config/2025/11/10/set/mutt_config_20251110_020000.tar.zst.age"
	info := writeArtifact(t, root, rel, k, true, testData(200_000, 2))
	path := filepath.Join(root, rel)
	orig, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		offset int
	}{
		{"first byte", 0},
		{"inside header", 40},
		{"header mac", bytes.Index(orig, []byte("\n---")) + 6},
		{"payload nonce", bytes.Index(orig, []byte("\n---")) + 50},
		{"middle", len(orig) / 2},
		{"last byte", len(orig) - 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			bad := bytes.Clone(orig)
			bad[tt.offset] ^= 0x01
			if err := os.WriteFile(path, bad, 0o600); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { os.WriteFile(path, orig, 0o600) })
			err := VerifyArtifact(root, info)
			if !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), rel) {
				t.Errorf("VerifyArtifact = %v, want ErrCorrupt naming %s", err, rel)
			}
			r, err := OpenArtifact(root, info, k)
			if r != nil || !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), rel) {
				t.Errorf("OpenArtifact = %v, %v; want no reader and ErrCorrupt naming %s", r, err, rel)
			}
		})
	}
	t.Run("truncated", func(t *testing.T) {
		if err := os.WriteFile(path, orig[:len(orig)-10], 0o600); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { os.WriteFile(path, orig, 0o600) })
		if err := VerifyArtifact(root, info); !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), "size") {
			t.Errorf("VerifyArtifact = %v", err)
		}
	})
	t.Run("missing", func(t *testing.T) {
		missing := info
		missing.Path = "config/2025/11/10/set/other.age"
		if err := VerifyArtifact(root, missing); !errors.Is(err, fs.ErrNotExist) || !strings.Contains(err.Error(), missing.Path) {
			t.Errorf("VerifyArtifact = %v", err)
		}
	})
	t.Run("not an age file", func(t *testing.T) {
		junk := []byte("this is not an age file at all\n")
		rel := "config/2025/11/10/set/junk.age"
		os.WriteFile(filepath.Join(root, rel), junk, 0o600)
		err := VerifyArtifact(root, ArtifactInfo{Path: rel, Bytes: int64(len(junk)), SHA256: sha256hex(junk)})
		if !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), rel) {
			t.Errorf("VerifyArtifact = %v", err)
		}
	})
	t.Run("escaping path", func(t *testing.T) {
		if err := VerifyArtifact(root, ArtifactInfo{Path: "../../etc/passwd"}); err == nil {
			t.Error("path outside the root accepted")
		}
	})
	t.Run("intact after restore", func(t *testing.T) {
		if err := VerifyArtifact(root, info); err != nil {
			t.Fatal(err)
		}
	})
}

func TestOpenArtifactKeys(t *testing.T) {
	data := testData(50_000, 3)
	right := recipientKeys(t)
	wrong := recipientKeys(t)
	encryptOnly, err := LoadKeys(newIdentityFiles(t).recipients, "", "")
	if err != nil {
		t.Fatal(err)
	}
	pass := passphraseKeys(t, "right passphrase")
	wrongPass := passphraseKeys(t, "wrong passphrase")
	tests := []struct {
		name      string
		write     *Keys
		read      *Keys
		wantErr   error
		wantInErr string
	}{
		{name: "right identity", write: right, read: right},
		{name: "wrong identity", write: right, read: wrong, wantErr: ErrWrongKey, wantInErr: "wrong decryption key"},
		{name: "right passphrase", write: pass, read: pass},
		{name: "wrong passphrase", write: pass, read: wrongPass, wantErr: ErrWrongKey, wantInErr: "incorrect passphrase"},
		{name: "passphrase for recipient file", write: right, read: pass, wantErr: ErrWrongKey},
		{name: "identity for passphrase file", write: pass, read: right, wantErr: ErrWrongKey},
		{name: "no identity", write: encryptOnly, read: encryptOnly, wantErr: ErrNoIdentity, wantInErr: "MUTT_BACKUP_IDENTITY_FILE"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := t.TempDir()
			info := writeArtifact(t, root, "c/a.json.age", tt.write, false, data)
			got, err := readArtifact(root, info, tt.read)
			if tt.wantErr == nil {
				if err != nil || !bytes.Equal(got, data) {
					t.Fatalf("err %v, equal %v", err, bytes.Equal(got, data))
				}
				return
			}
			if !errors.Is(err, tt.wantErr) || !strings.Contains(err.Error(), tt.wantInErr) || !strings.Contains(err.Error(), "c/a.json.age") {
				t.Fatalf("err = %v, want %v containing %q", err, tt.wantErr, tt.wantInErr)
			}
		})
	}
}

func TestOpenArtifactPlainMismatch(t *testing.T) {
	k := recipientKeys(t)
	root := t.TempDir()
	info := writeArtifact(t, root, "c/a.jsonl.zst.age", k, true, testData(300_000, 4))
	tests := []struct {
		name   string
		mutate func(*ArtifactInfo)
		read   int
	}{
		{"hash read fully", func(a *ArtifactInfo) { a.PlainSHA256 = strings.Repeat("0", 64) }, -1},
		{"hash closed early", func(a *ArtifactInfo) { a.PlainSHA256 = strings.Repeat("0", 64) }, 10},
		{"size", func(a *ArtifactInfo) { a.PlainBytes++ }, -1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := info
			tt.mutate(&a)
			r, err := OpenArtifact(root, a, k)
			if err != nil {
				t.Fatal(err)
			}
			if tt.read < 0 {
				io.Copy(io.Discard, r)
			} else {
				io.ReadFull(r, make([]byte, tt.read))
			}
			if err := r.Close(); !errors.Is(err, ErrCorrupt) {
				t.Fatalf("Close = %v, want ErrCorrupt", err)
			}
		})
	}
	t.Run("closed early but intact", func(t *testing.T) {
		r, err := OpenArtifact(root, info, k)
		if err != nil {
			t.Fatal(err)
		}
		io.ReadFull(r, make([]byte, 10))
		if err := r.Close(); err != nil {
			t.Fatalf("Close = %v", err)
		}
		if err := r.Close(); err != nil {
			t.Fatalf("second Close = %v", err)
		}
	})
}

func TestArtifactAbort(t *testing.T) {
	k := recipientKeys(t)
	root := t.TempDir()
	rel := "logs/2025/11/10/set/mutt_logs_20251110_020000.tar.zst.age"
	w, err := CreateArtifact(root, rel, k, true)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, rel+".partial")); err != nil {
		t.Fatalf("partial file missing while writing: %v", err)
	}
	if _, err := w.Write(testData(100_000, 5)); err != nil {
		t.Fatal(err)
	}
	w.Abort()
	w.Abort()
	assertNoPartial(t, root)
	if _, err := os.Stat(filepath.Join(root, rel)); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("final file exists after Abort: %v", err)
	}
	if _, err := w.Write([]byte("x")); err == nil {
		t.Error("Write after Abort succeeded")
	}
	// Abort after a successful Close keeps the artifact.
	info := writeArtifact(t, root, rel, k, true, []byte("kept"))
	w2, _ := CreateArtifact(root, "logs/other.age", k, false)
	w2.Close()
	w2.Abort()
	if err := VerifyArtifact(root, info); err != nil {
		t.Fatal(err)
	}
	if err := VerifyArtifact(root, w2.Info()); err != nil {
		t.Fatalf("Abort after Close removed the artifact: %v", err)
	}
}

func TestCreateArtifactRejects(t *testing.T) {
	k := recipientKeys(t)
	root := t.TempDir()
	writeArtifact(t, root, "c/exists.age", k, false, []byte("x"))
	tests := []struct {
		name, rel string
		keys      *Keys
		want      string
	}{
		{"absolute", "/tmp/x.age", k, "relative"},
		{"escaping", "../x.age", k, "relative"},
		{"dot", ".", k, "relative"},
		{"exists", "c/exists.age", k, "already exists"},
		{"no keys", "c/new.age", nil, "recipients"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w, err := CreateArtifact(root, tt.rel, tt.keys, false)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("CreateArtifact = %v, %v; want error containing %q", w, err, tt.want)
			}
		})
	}
}

func TestNoPlaintextOnDisk(t *testing.T) {
	canary := []byte("MUTT-CANARY-db_password=hunter2-")
	data := bytes.Repeat(canary, 20_000)
	for _, compress := range []bool{false, true} {
		for name, k := range map[string]*Keys{"recipients": recipientKeys(t), "passphrase": passphraseKeys(t, "pw")} {
			root := t.TempDir()
			setID := NewSetID(fixedNow, "mutt-prod-01", "daily")
			rel := ArtifactDir("vault", setID, fixedNow) + "/vault_secrets_20251110_020000.json.age"
			info := writeArtifact(t, root, rel, k, compress, data)
			m := &Manifest{SetID: setID, Components: []Component{{Name: "vault", Status: StatusOK, Artifacts: []ArtifactInfo{info}}}}
			if _, err := WriteManifest(root, m); err != nil {
				t.Fatal(err)
			}
			files := 0
			filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
				if err != nil || d.IsDir() {
					return err
				}
				files++
				b, err := os.ReadFile(p)
				if err != nil {
					t.Fatal(err)
				}
				if bytes.Contains(b, canary[:16]) {
					t.Errorf("%s compress=%v: plaintext found in %s", name, compress, p)
				}
				return nil
			})
			if files < 2 {
				t.Fatalf("expected artifact and manifest, found %d files", files)
			}
		}
	}
}

func BenchmarkArtifactWrite(b *testing.B) {
	data := testData(8<<20, 7)
	k, err := LoadKeys(writeFile(b, filepath.Join(b.TempDir(), "r"), mustRecipient(b), 0o644), "", "")
	if err != nil {
		b.Fatal(err)
	}
	for _, compress := range []bool{false, true} {
		b.Run(fmt.Sprintf("compress=%v", compress), func(b *testing.B) {
			root := b.TempDir()
			b.SetBytes(int64(len(data)))
			i := 0
			for b.Loop() {
				i++
				w, err := CreateArtifact(root, fmt.Sprintf("c/%d.age", i), k, compress)
				if err != nil {
					b.Fatal(err)
				}
				if _, err := w.Write(data); err != nil {
					b.Fatal(err)
				}
				if err := w.Close(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkArtifactOpen(b *testing.B) {
	data := testData(8<<20, 7)
	id, err := age.GenerateX25519Identity()
	if err != nil {
		b.Fatal(err)
	}
	dir := b.TempDir()
	rf := filepath.Join(dir, "r")
	idf := filepath.Join(dir, "i")
	os.WriteFile(rf, []byte(id.Recipient().String()), 0o600)
	os.WriteFile(idf, []byte(id.String()), 0o600)
	k, err := LoadKeys(rf, "", idf)
	if err != nil {
		b.Fatal(err)
	}
	for _, compress := range []bool{false, true} {
		b.Run(fmt.Sprintf("compress=%v", compress), func(b *testing.B) {
			root := b.TempDir()
			w, _ := CreateArtifact(root, "c/a.age", k, compress)
			w.Write(data)
			if err := w.Close(); err != nil {
				b.Fatal(err)
			}
			b.SetBytes(int64(len(data)))
			for b.Loop() {
				if _, err := readArtifact(root, w.Info(), k); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func mustRecipient(b *testing.B) string {
	id, err := age.GenerateX25519Identity()
	if err != nil {
		b.Fatal(err)
	}
	return id.Recipient().String()
}
