// Package remediation is MUTT's dead-letter replay service. On a timer it
// measures the dead-letter queues, then moves retryable entries of the
// Moogsoft DLQ back to the alert queue (only while Moogsoft answers an
// authenticated probe and the shared circuit breaker is closed) and
// retryable entries of the alerter DLQ back to the ingest queue (only while
// the alert queue is not backed up). Every move is atomic (one Redis script,
// or one SQLite transaction in the embedded mode: the queues are reached
// through the Queues interface it owns) and raises the entry's replay
// counter; an entry replayed too often, an entry that failed for a reason
// that would recur, and an entry it cannot make sense of go to the terminal
// dead queue instead, so nothing cycles for ever and nothing wedges a cycle.
//
// It must not import MUTT's role packages (ingest, alerter, the forwarder)
// or config; its inputs arrive through Options.
package remediation
