// Package sessiontest is the conformance suite of the dashboard session
// record stores (auth.SessionStore), run against Redis (internal/web/auth)
// and the embedded database (internal/embedded/roles).
//
// It must only be imported from _test.go files.
package sessiontest
