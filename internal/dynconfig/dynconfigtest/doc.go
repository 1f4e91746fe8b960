// Package dynconfigtest is the conformance suite of the dynamic config
// backends: the reads the services cache (dynconfig.Backend) and the
// audited compare-and-set of the writer (configadmin.Backend), run against
// Redis with PostgreSQL (internal/configadmin) and against the embedded
// database (internal/embedded/roles).
//
// It must only be imported from _test.go files.
package dynconfigtest
