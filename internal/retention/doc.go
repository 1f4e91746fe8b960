// Package retention enforces MUTT's data retention (`mutt retention run`):
// it creates the monthly audit partitions ahead, writes every audit
// partition past the active period to a compressed archive file and drops
// it, purges archive files past the archive period, configuration audit
// rows past theirs and dead-letter entries past theirs — and refuses to
// drop or delete anything while the newest verified database backup is
// older than the backup gate (26 h). Every change it makes is recorded in
// config_audit_log in the same transaction; every run writes metrics for
// node_exporter's textfile collector.
//
// It imports store and backup; no service package may import it.
package retention
