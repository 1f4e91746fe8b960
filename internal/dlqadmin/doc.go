// Package dlqadmin is what an operator does with MUTT's dead-letter queues,
// shared by `mutt dlq` and the dashboard: name a queue, select its entries
// (by reason, age, ID, limit), plan where a replay sends each one, carry the
// replay out, describe the change for config_audit_log, and redact secrets
// from payloads before they are shown. The queues are reached through the
// Backend interface it owns: Redis streams (redis.go) or the embedded store
// (internal/embedded/roles); dlqadmintest is the conformance suite of both.
//
// It must not import cmd/mutt, internal/web or internal/embedded. It builds
// the audit change (a store.ConfigChange) but never writes it: the caller
// records it through an AuditWriter, and decides what to do when that fails.
package dlqadmin
