// Package doctor runs MUTT's deep diagnostics (`mutt doctor`): read-only
// checks with warn and fail thresholds of the things that break delivery
// slowly rather than at once — Redis memory, eviction policy and
// persistence, messages stuck pending, the Moogsoft breaker, dead-letter
// growth, PostgreSQL connections and audit partitions ahead, the Vault
// token's remaining lifetime, backup freshness, the retention job and its
// archiving lag, and clock skew between this host and Redis and PostgreSQL. Every finding
// carries the measured value, the threshold and what to do.
//
// It only reads. It imports config, health (for the status vocabulary),
// queue, backup and retention; no service package may import it.
package doctor
