package version

import (
	"regexp"
	"runtime/debug"
	"strings"
	"sync"
)

// Release is the MUTT release this source tree is. It is the version of a
// build that was given none at link time and whose module version the
// toolchain does not know (a build from a working tree).
const Release = "2.5.0"

// Set at link time by the Makefile:
//
//	-X github.com/mutt-go/mutt/internal/version.version=2.5.1
//	-X github.com/mutt-go/mutt/internal/version.commit=46f761f
//
// Empty values fall back to the build information.
var (
	version string
	commit  string
)

// info is resolved once: the link-time values and the build information
// never change while the process runs.
var info = sync.OnceValue(func() struct{ version, commit, agent string } {
	v, c := strings.TrimPrefix(version, "v"), commit
	bi, ok := debug.ReadBuildInfo()
	if v == "" && ok && isRelease(bi.Main.Version) {
		v = strings.TrimPrefix(bi.Main.Version, "v")
	}
	if v == "" {
		v = Release
	}
	if c == "" && ok {
		dirty := false
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				c = s.Value[:min(12, len(s.Value))]
			case "vcs.modified":
				dirty = s.Value == "true"
			}
		}
		if c != "" && dirty {
			c += "-dirty"
		}
	}
	if c == "" {
		c = "unknown"
	}
	return struct{ version, commit, agent string }{v, c, "MUTT v" + v}
})

// pseudoVersion matches the timestamp and revision the toolchain puts in
// the version of an untagged build (v0.0.0-20261207154500-46f761f0a1b2).
var pseudoVersion = regexp.MustCompile(`[0-9]{14}-[0-9a-f]{12}`)

// isRelease reports whether a module version names a tagged release.
func isRelease(v string) bool {
	return strings.HasPrefix(v, "v") && !pseudoVersion.MatchString(v) && !strings.Contains(v, "+")
}

// Version returns MUTT's version, such as "2.5.0", without a leading v.
func Version() string { return info().version }

// Commit returns the source revision the binary was built from, or
// "unknown".
func Commit() string { return info().commit }

// Agent returns the agent field of the alerts sent to Moogsoft: "MUTT v"
// followed by Version.
func Agent() string { return info().agent }
