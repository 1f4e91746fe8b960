// Package version is the one source of MUTT's version string: what `mutt
// version` prints, what every role's /health reports, what logs and
// backup manifests record, and the agent field of the alerts sent to
// Moogsoft. The Makefile sets it at link time; a binary built without
// the Makefile (go build, go install, go test) falls back to what the Go
// toolchain recorded in the build information.
//
// It imports nothing of MUTT.
package version
