// Package storetest is the conformance suite of MUTT's configuration and
// audit store: one set of tests that every implementation (PostgreSQL in
// internal/store, SQLite in internal/embedded/sqlstore) must pass, so that
// the roles and the API see the same semantics whichever runs.
//
// It must only be imported from _test.go files.
package storetest
