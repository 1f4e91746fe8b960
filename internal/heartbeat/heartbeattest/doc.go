// Package heartbeattest is the conformance suite of the heartbeat backends
// (heartbeat.Backend), run against Redis (internal/heartbeat) and the
// embedded database (internal/embedded/roles).
//
// It must only be imported from _test.go files.
package heartbeattest
