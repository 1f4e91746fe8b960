// Package alerter is MUTT's rule-applying service. Workers read batches from
// the ingest queue, decide each event with the rules snapshot, write the
// audit rows of a batch in one statement, and then in one atomic Redis step
// push the batch's alerts, count unhandled messages (raising a meta-alert at
// the threshold), dead-letter what cannot be processed, and acknowledge the
// batch. A crash at any point leaves the batch pending, to be reclaimed and
// redone; the audit insert ignores rows it already has and the Redis step
// runs at most once per message, so nothing is lost or doubled.
//
// It must not import the ingest package.
package alerter
