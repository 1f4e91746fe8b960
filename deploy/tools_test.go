package deploy_test

import (
	"os"
	"os/exec"
	"testing"
)

// tool returns the path of a program the test drives. Outside CI a missing
// program skips the test; under CI (CI=true, as `make test` on the build
// machine runs) it fails, naming the Debian package that provides it.
func tool(t *testing.T, name, pkg string) string {
	t.Helper()
	path, err := exec.LookPath(name)
	if err == nil {
		return path
	}
	if os.Getenv("CI") != "true" {
		t.Skipf("%s not installed (Debian package %s; scripts/services.sh ensure_test_tools installs it)", name, pkg)
	}
	t.Fatalf("%s not installed under CI: %v (apt-get install %s)", name, err, pkg)
	return ""
}
