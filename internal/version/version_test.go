package version

import (
	"regexp"
	"testing"
)

func TestVersionIsOneString(t *testing.T) {
	v := Version()
	if !regexp.MustCompile(`^[0-9]+\.[0-9]+\.[0-9]+`).MatchString(v) {
		t.Errorf("Version() = %q, want a release number", v)
	}
	if Agent() != "MUTT v"+v {
		t.Errorf("Agent() = %q, want MUTT v%s", Agent(), v)
	}
	if Commit() == "" {
		t.Error("Commit() is empty")
	}
}

func TestIsRelease(t *testing.T) {
	tests := []struct {
		v    string
		want bool
	}{
		{"v2.5.1", true},
		{"v2.6.0-rc.1", true},
		{"(devel)", false},
		{"", false},
		{"v0.0.0-20261207154500-46f761f0a1b2", false},
		{"v2.5.1-0.20261207154500-46f761f0a1b2", false},
		{"v2.5.1+dirty", false},
	}
	for _, tt := range tests {
		if got := isRelease(tt.v); got != tt.want {
			t.Errorf("isRelease(%q) = %v, want %v", tt.v, got, tt.want)
		}
	}
}
