package backup

import (
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mutt-go/mutt/internal/itest"
)

// testSigner makes a signing key file and the trusted keys holding it.
func testSigner(t *testing.T) (ed25519.PrivateKey, *TrustedKeys) {
	t.Helper()
	p := filepath.Join(t.TempDir(), "signing.key")
	pub, err := GenerateSigningKey(p)
	if err != nil {
		t.Fatal(err)
	}
	priv, err := LoadSigningKey(p)
	if err != nil {
		t.Fatal(err)
	}
	tk, err := ParseTrustedKeys([]byte(PublicKeyLine(pub) + " test-host\n"))
	if err != nil {
		t.Fatal(err)
	}
	return priv, tk
}

func TestSigningKeyRoundTrip(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "signing.key")
	pub, err := GenerateSigningKey(p)
	if err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(p)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("key file: %v, %v; want mode 0600", fi, err)
	}
	priv, err := LoadSigningKey(p)
	if err != nil {
		t.Fatal(err)
	}
	if !pub.Equal(priv.Public()) {
		t.Error("loaded key does not match the generated public key")
	}
	line := PublicKeyLine(pub)
	tk, err := ParseTrustedKeys([]byte("# ops\n\n" + line + " mutt-prod-01 (2026)\n"))
	if err != nil {
		t.Fatal(err)
	}
	if got := tk.keys[KeyID(pub)]; !got.Equal(pub) {
		t.Errorf("trusted keys = %v, want key %s", tk.keys, KeyID(pub))
	}
	if len(KeyID(pub)) != 8 {
		t.Errorf("key id %q, want 8 hex digits", KeyID(pub))
	}

	if _, err := GenerateSigningKey(p); err == nil || !strings.Contains(err.Error(), "already exists") {
		t.Errorf("second keygen to the same file: %v, want a refusal", err)
	}
	if again, err := LoadSigningKey(p); err != nil || !again.Equal(priv) {
		t.Errorf("key changed by a refused keygen: %v", err)
	}

	if err := os.Chmod(p, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadSigningKey(p); err == nil || !strings.Contains(err.Error(), "0644") {
		t.Errorf("0644 key: %v, want a mode refusal", err)
	}
	if err := os.Chmod(p, 0o400); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadSigningKey(p); err != nil {
		t.Errorf("0400 key: %v", err)
	}
}

func TestLoadSigningKeyOpenSSL(t *testing.T) {
	if _, err := exec.LookPath("openssl"); err != nil {
		t.Skipf("openssl not in PATH: %v", err)
	}
	p := filepath.Join(t.TempDir(), "openssl.key")
	if out, err := exec.Command("openssl", "genpkey", "-algorithm", "ed25519", "-out", p).CombinedOutput(); err != nil {
		t.Skipf("openssl genpkey ed25519: %v: %s", err, out)
	}
	if err := os.Chmod(p, 0o600); err != nil {
		t.Fatal(err)
	}
	priv, err := LoadSigningKey(p)
	if err != nil {
		t.Fatal(err)
	}
	m := &Manifest{Format: ManifestFormat, SetID: NewSetID(time.Now(), "h", "daily")}
	if err := SignManifest(m, priv); err != nil {
		t.Fatal(err)
	}
	tk, err := ParseTrustedKeys([]byte(PublicKeyLine(priv.Public().(ed25519.PublicKey))))
	if err != nil {
		t.Fatal(err)
	}
	if err := tk.CheckSignature(m); err != nil {
		t.Errorf("manifest signed with an openssl key: %v", err)
	}
}

func TestParseTrustedKeysRejects(t *testing.T) {
	tests := []struct {
		name, data string
	}{
		{"empty", "# nothing\n\n"},
		{"no prefix", "AAAA\n"},
		{"bad base64", "ed25519:!!!\n"},
		{"short key", "ed25519:AAAA\n"},
		{"age key", "age1qyqszqgpqyqszqgpqyqszqgpqyqszqgpqyqszqgpqyqszqgpqyqs3290gq\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := ParseTrustedKeys([]byte(tt.data)); err == nil {
				t.Errorf("ParseTrustedKeys(%q) accepted it", tt.data)
			}
		})
	}
}

func TestSignatureDetectsTampering(t *testing.T) {
	priv, tk := testSigner(t)
	other, _ := testSigner(t)
	keys := recipientKeys(t)
	at := time.Date(2026, 3, 1, 2, 0, 0, 0, time.UTC)
	planted := hexSHA([]byte("planted artifact"))
	tests := []struct {
		name   string
		change func(m *Manifest)
		want   string // state
	}{
		{"untouched", func(*Manifest) {}, SigTrusted},
		{"remotes rewritten", func(m *Manifest) {
			m.Remotes = append(m.Remotes, Remote{Target: "s3://b/", Status: StatusOK, SyncedAt: at})
		}, SigTrusted},
		{"verify rewritten", func(m *Manifest) {
			m.Components[0].Verify = &Verify{Level: VerifyDeep, Status: StatusFailed, At: at, Detail: "x"}
		}, SigTrusted},
		{"artifact sha256 replaced", func(m *Manifest) { m.Components[0].Artifacts[0].SHA256 = planted }, SigInvalid},
		{"artifact size changed", func(m *Manifest) { m.Components[0].Artifacts[0].Bytes++ }, SigInvalid},
		{"artifact path changed", func(m *Manifest) { m.Components[0].Artifacts[0].Path += "x" }, SigInvalid},
		{"recipients changed", func(m *Manifest) { m.Encryption.Recipients = []string{"age1attacker"} }, SigInvalid},
		{"counts changed", func(m *Manifest) { m.Components[0].Counts = map[string]int64{"alert_rules": 1} }, SigInvalid},
		{"pinned changed", func(m *Manifest) { m.Pinned = !m.Pinned }, SigInvalid},
		{"signature byte flipped", func(m *Manifest) {
			b := []byte(m.Signature)
			b[len(b)-3] ^= 0x01
			m.Signature = string(b)
		}, SigInvalid},
		{"signed by another key", func(m *Manifest) {
			if err := SignManifest(m, other); err != nil {
				t.Fatal(err)
			}
		}, SigUntrusted},
		{"unsigned", func(m *Manifest) { m.Signature = "" }, SigUnsigned},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := t.TempDir()
			m := testSet(t, root, keys, at, false, map[string][]byte{ComponentPostgres: testData(1000, 1)})
			if err := SignManifest(m, priv); err != nil {
				t.Fatal(err)
			}
			path, err := WriteManifest(root, m)
			if err != nil {
				t.Fatal(err)
			}
			// Read back from disk, as every checker does.
			m, err = ReadManifest(path)
			if err != nil {
				t.Fatal(err)
			}
			tt.change(m)
			st := SignatureStatus(m, tk)
			if st.State != tt.want {
				t.Errorf("state = %+v, want %s", st, tt.want)
			}
			err = tk.CheckSignature(m)
			if tt.want == SigTrusted {
				if err != nil {
					t.Errorf("CheckSignature: %v", err)
				}
				return
			}
			if !errors.Is(err, ErrSignature) || !strings.Contains(err.Error(), m.SetID) || !strings.Contains(err.Error(), "signature") {
				t.Errorf("CheckSignature = %v, want ErrSignature naming set %s", err, m.SetID)
			}
		})
	}
	t.Run("no trusted keys", func(t *testing.T) {
		m := &Manifest{Format: ManifestFormat, SetID: NewSetID(at, "h", "daily")}
		if err := SignManifest(m, priv); err != nil {
			t.Fatal(err)
		}
		if st := SignatureStatus(m, nil); st.State != SigUntrusted || st.KeyID != KeyID(priv.Public().(ed25519.PublicKey)) {
			t.Errorf("without trusted keys: %+v, want untrusted by the key's id", st)
		}
	})
}

// TestSignedRunSurvivesRewrites backs up the real PostgreSQL, Redis and a
// config tree with a signing key, then syncs, verifies and pulls the set:
// the signature stays valid through every rewrite of the manifest.
func TestSignedRunSurvivesRewrites(t *testing.T) {
	pgNeedTools(t)
	ctx := t.Context()
	_, dsn := pgSeeded(t)
	rdb, prefix := itest.Redis(t)
	runSeedRedis(t, rdb, prefix)
	src := t.TempDir()
	writeTree(t, filepath.Join(src, "mutt", "a.env"), "A=1\n", 0o600)
	priv, tk := testSigner(t)
	root, keys := t.TempDir(), recipientKeys(t)
	m, err := Run(ctx, RunOptions{
		Root: root, Keys: keys, Components: []string{ComponentPgConfig, ComponentRedis, ComponentConfig},
		Host: "test-host", Postgres: &PostgresDumpOptions{DatabaseURL: dsn},
		Redis: rdb, RedisPatterns: DefaultRedisPatterns(prefix),
		Config:     &ConfigSource{Paths: []ConfigPath{{Path: filepath.Join(src, "mutt"), Required: true}}},
		SigningKey: priv,
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range m.Components {
		if c.Status != StatusOK {
			t.Fatalf("component %s: %s %q", c.Name, c.Status, c.Reason)
		}
	}
	rel, err := ManifestPath(m.SetID)
	if err != nil {
		t.Fatal(err)
	}
	check := func(t *testing.T, root, when string) *Manifest {
		t.Helper()
		got, err := ReadManifest(filepath.Join(root, rel))
		if err != nil {
			t.Fatal(err)
		}
		if err := tk.CheckSignature(got); err != nil {
			t.Errorf("%s: %v", when, err)
		}
		return got
	}
	check(t, root, "after run")

	st, _ := remoteImpls()[1].open(t)
	if _, err := Sync(ctx, SyncOptions{Root: root, Remotes: []RemoteStore{st}}); err != nil {
		t.Fatal(err)
	}
	if got := check(t, root, "after sync"); len(got.Remotes) != 1 {
		t.Errorf("sync did not record the remote: %+v", got.Remotes)
	}

	got := check(t, root, "before verify")
	if errs := VerifyQuickSet(root, got, time.Now().Add(time.Hour)); len(errs) != 0 {
		t.Fatal(errs)
	}
	if _, err := WriteManifest(root, got); err != nil {
		t.Fatal(err)
	}
	check(t, root, "after verify")

	dst := t.TempDir()
	res, err := Pull(ctx, PullOptions{Root: dst, Remote: st, Set: "latest", Trusted: tk})
	if err != nil {
		t.Fatalf("pulling a signed set: %v", err)
	}
	if res.Downloaded != countArtifacts(m) {
		t.Errorf("pull downloaded %d artifacts, want %d", res.Downloaded, countArtifacts(m))
	}
	check(t, dst, "after pull")
}

// TestPullRefusesBadSignature plants a manifest on the remote pointing at
// a planted artifact: Pull with trusted keys refuses it before downloading.
func TestPullRefusesBadSignature(t *testing.T) {
	ctx := t.Context()
	priv, tk := testSigner(t)
	keys := recipientKeys(t)
	at := time.Date(2026, 3, 1, 2, 0, 0, 0, time.UTC)
	tests := []struct {
		name     string
		unsigned bool
	}{
		{"planted artifact, old signature", false},
		{"planted artifact, signature removed", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src := t.TempDir()
			m := testSet(t, src, keys, at, false, map[string][]byte{ComponentPostgres: testData(5000, 1)})
			if err := SignManifest(m, priv); err != nil {
				t.Fatal(err)
			}
			// The attacker re-encrypts other data to the same path.
			a := m.Components[0].Artifacts[0]
			if err := os.Remove(filepath.Join(src, filepath.FromSlash(a.Path))); err != nil {
				t.Fatal(err)
			}
			planted := writeArtifact(t, src, a.Path, keys, true, testData(5000, 99))
			m.Components[0].Artifacts[0].SHA256 = planted.SHA256
			m.Components[0].Artifacts[0].Bytes = planted.Bytes
			if tt.unsigned {
				m.Signature = ""
			}
			if _, err := WriteManifest(src, m); err != nil {
				t.Fatal(err)
			}
			st, _ := remoteImpls()[1].open(t)
			if _, err := Sync(ctx, SyncOptions{Root: src, Remotes: []RemoteStore{st}}); err != nil {
				t.Fatal(err)
			}
			dst := t.TempDir()
			_, err := Pull(ctx, PullOptions{Root: dst, Remote: st, Set: m.SetID, Trusted: tk})
			if !errors.Is(err, ErrSignature) || !strings.Contains(err.Error(), m.SetID) {
				t.Fatalf("Pull = %v, want a signature refusal naming %s", err, m.SetID)
			}
			if entries, _ := os.ReadDir(dst); len(entries) != 0 {
				t.Errorf("refused pull wrote %d entries into the root", len(entries))
			}
			// Without trusted keys the (internally consistent) set is pulled.
			if _, err := Pull(ctx, PullOptions{Root: dst, Remote: st, Set: m.SetID}); err != nil {
				t.Errorf("pull without trusted keys: %v", err)
			}
		})
	}
}

// TestSignedBytesExcludesOnlyMutableFields pins which fields the signature
// leaves out.
func TestSignedBytesExcludesOnlyMutableFields(t *testing.T) {
	m := &Manifest{
		Format: ManifestFormat, SetID: "x", Signature: "ed25519:sig",
		Remotes:    []Remote{{Target: "remote-target"}},
		Components: []Component{{Name: "c", Verify: &Verify{Detail: "verify-detail"}, Counts: map[string]int64{"n": 1}}},
	}
	b, err := signedBytes(m)
	if err != nil {
		t.Fatal(err)
	}
	body, ok := strings.CutPrefix(string(b), signingDomain)
	if !ok {
		t.Fatalf("signed bytes lack the domain prefix: %s", b)
	}
	var doc map[string]any
	if err := json.Unmarshal([]byte(body), &doc); err != nil {
		t.Fatal(err)
	}
	for _, gone := range []string{"ed25519:sig", "remote-target", "verify-detail"} {
		if strings.Contains(body, gone) {
			t.Errorf("signed part holds %q: %s", gone, body)
		}
	}
	for _, kept := range []string{"format", "set_id", "components", "encryption", "pinned", "status"} {
		if _, ok := doc[kept]; !ok {
			t.Errorf("signed part lacks %q: %s", kept, body)
		}
	}
}
