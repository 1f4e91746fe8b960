// Package store is MUTT's PostgreSQL layer: the embedded, versioned schema
// migrations, the monthly partitions of the event audit log, loading the
// alerter's rule set, batched, idempotent audit writes, and config_audit_log
// rows for every configuration change (RecordConfigChange, also inside a
// caller's transaction).
//
// It talks to PostgreSQL through a pgxpool.Pool owned by the caller. Of MUTT's
// own packages it imports only rules, for the rule type it returns; it must
// not import services (alerter, ingest, web, ...), queue, Redis clients or
// configuration packages, so that every role can use it without dragging the
// others in.
package store
