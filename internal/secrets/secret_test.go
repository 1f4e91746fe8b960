package secrets

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestSecretNeverPrints(t *testing.T) {
	s := New("hunter2-very-secret")
	type wrapper struct {
		Key Secret `json:"key"`
	}
	var logged strings.Builder
	slog.New(slog.NewJSONHandler(&logged, nil)).Info("x", "key", s, "w", wrapper{s})
	b, err := json.Marshal(wrapper{s})
	if err != nil {
		t.Fatal(err)
	}
	outputs := map[string]string{
		"%v":   fmt.Sprintf("%v", s),
		"%+v":  fmt.Sprintf("%+v", wrapper{s}),
		"%#v":  fmt.Sprintf("%#v", wrapper{s}),
		"%s":   fmt.Sprintf("%s", s),
		"json": string(b),
		"slog": logged.String(),
	}
	for name, out := range outputs {
		if strings.Contains(out, "hunter2") {
			t.Errorf("%s reveals the secret: %s", name, out)
		}
		if !strings.Contains(out, redacted) {
			t.Errorf("%s does not say the value is redacted: %s", name, out)
		}
	}
	if s.Reveal() != "hunter2-very-secret" {
		t.Errorf("Reveal() = %q", s.Reveal())
	}
}

func TestSecretEqual(t *testing.T) {
	tests := []struct {
		name      string
		secret    string
		candidate string
		want      bool
	}{
		{"same", "abc", "abc", true},
		{"different", "abc", "abd", false},
		{"prefix", "abc", "ab", false},
		{"empty candidate", "abc", "", false},
		{"unset secret never matches", "", "", false},
		{"non-ascii candidate", "abc", "äbc", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := New(tt.secret).Equal(tt.candidate); got != tt.want {
				t.Errorf("Equal = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestFingerprint(t *testing.T) {
	fp := New("abc").Fingerprint()
	if len(fp) != 12 || strings.Contains(fp, "abc") {
		t.Errorf("Fingerprint = %q", fp)
	}
	if New("").Fingerprint() != "" {
		t.Error("unset secret has a fingerprint")
	}
}

func TestFromEnv(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "key")
	if err := os.WriteFile(file, []byte("  from-file\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	empty := filepath.Join(dir, "empty")
	if err := os.WriteFile(empty, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		env     map[string]string
		want    string
		ok      bool
		wantErr string
	}{
		{"direct", map[string]string{"K": "v"}, "v", true, ""},
		{"file", map[string]string{"K_FILE": file}, "from-file", true, ""},
		{"direct wins", map[string]string{"K": "v", "K_FILE": file}, "v", true, ""},
		{"unset", map[string]string{}, "", false, ""},
		{"missing file", map[string]string{"K_FILE": filepath.Join(dir, "nope")}, "", false, "K_FILE"},
		{"empty file", map[string]string{"K_FILE": empty}, "", false, "empty"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			lookup := func(n string) (string, bool) { v, ok := tt.env[n]; return v, ok }
			s, ok, err := FromEnv(lookup, "K")
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want mention of %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if ok != tt.ok || s.Reveal() != tt.want {
				t.Errorf("got (%q, %v), want (%q, %v)", s.Reveal(), ok, tt.want, tt.ok)
			}
		})
	}
}
