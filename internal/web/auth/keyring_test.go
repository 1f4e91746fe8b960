package auth

import (
	"crypto/sha256"
	"encoding/hex"
	"testing"

	"github.com/mutt-go/mutt/internal/config"
	"github.com/mutt-go/mutt/internal/secrets"
)

func TestKeyring(t *testing.T) {
	ring, err := NewKeyring([]config.WebKey{
		{Name: "default", Key: secrets.New("current-key-000000")},
		{Name: "next", Key: secrets.New("next-key-000000000")},
		{Name: "alice", Key: secrets.New("alice-key-00000000")},
	})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, candidate, want string
		ok                    bool
	}{
		{"current", "current-key-000000", "default", true},
		{"next", "next-key-000000000", "next", true},
		{"named", "alice-key-00000000", "alice", true},
		{"empty", "", "", false},
		{"prefix", "current-key", "", false},
		{"longer", "current-key-0000000", "", false},
		{"non-ASCII", "clé-ü-\xff\xfe", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			id, ok := ring.Match(tt.candidate)
			if ok != tt.ok || id.Name != tt.want {
				t.Errorf("Match = %v %v", id, ok)
			}
			if ok && id.Fingerprint != Fingerprint(tt.candidate) {
				t.Errorf("fingerprint %q", id.Fingerprint)
			}
		})
	}
	if _, err := NewKeyring(nil); err == nil {
		t.Error("empty keyring accepted")
	}
	if _, err := NewKeyring([]config.WebKey{{Name: "a", Key: secrets.New("k1")}, {Name: "a", Key: secrets.New("k2")}}); err == nil {
		t.Error("duplicate names accepted")
	}
}

func TestFingerprint(t *testing.T) {
	sum := sha256.Sum256([]byte("some-key"))
	if got := Fingerprint("some-key"); got != hex.EncodeToString(sum[:])[:8] {
		t.Errorf("Fingerprint = %q", got)
	}
	id := Identity{Name: "alice", Fingerprint: Fingerprint("some-key")}
	if id.ChangedBy() != "webui_api:"+id.Fingerprint {
		t.Errorf("ChangedBy = %q", id.ChangedBy())
	}
	back, ok := ParseIdentity(id.String())
	if !ok || back != id {
		t.Errorf("ParseIdentity(%q) = %v %v", id.String(), back, ok)
	}
}

func TestParseWebKeys(t *testing.T) {
	keys, err := config.ParseWebKeys([]byte("# operators\nalice: alice-key-0123456789\n\nci-bot:ci-key-012345678901\n"))
	if err != nil || len(keys) != 2 || keys[0].Name != "alice" || keys[1].Key.Reveal() != "ci-key-012345678901" {
		t.Fatalf("keys %v %v", keys, err)
	}
	for _, bad := range []string{"nokey\n", "a b:0123456789abcdefg\n", "short:abc\n"} {
		if _, err := config.ParseWebKeys([]byte(bad)); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}
