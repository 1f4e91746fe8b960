// Package sqlstore keeps MUTT's state in one SQLite database in WAL mode, for
// the embedded single-node mode: the configuration tables, the event and
// config audit logs with the same semantics as internal/store's PostgreSQL
// Store, and durable queues whose consumer commits a batch (delete the
// entries, insert audit rows, append alerts and dead letters) in one
// transaction, so that the embedded path is exactly-once. It also keeps the
// control plane's state (control.go): the dynamic config values with a
// change counter that watchers poll, dashboard sessions, heartbeats and the
// ingest minute counts.
//
// It uses the pure-Go modernc.org/sqlite driver, so the binary builds with
// CGO_ENABLED=0. One process owns a database: writes go through a single
// connection, reads through a small pool that WAL lets run beside it.
//
// It imports internal/store for its types and writer contract,
// internal/rules for the rule set and internal/queue for QueueFullError
// (ingest's 503 "queue full"); it must not import any role package.
package sqlstore
