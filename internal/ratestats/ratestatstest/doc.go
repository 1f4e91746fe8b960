// Package ratestatstest is the conformance suite of the ingest counter
// sources (ratestats.Source), run against the Redis counters
// (internal/ratestats) and the embedded database (internal/embedded/roles).
//
// It must only be imported from _test.go files.
package ratestatstest
