// Package dlqadmin is what an operator does with MUTT's dead-letter queues,
// shared by `mutt dlq` and the dashboard: name a queue, select its entries
// (by reason, age, ID, limit), plan where a replay sends each one, carry the
// replay out on internal/queue, describe the change for config_audit_log,
// and redact secrets from payloads before they are shown.
//
// It must not import cmd/mutt or internal/web. It builds the audit change
// (a store.ConfigChange) but never writes it: the caller records it, and
// decides what to do when that fails.
package dlqadmin
