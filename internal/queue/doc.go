// Package queue implements MUTT's work queues on Redis Streams: a stream per
// queue (mutt:ingest_queue, mutt:alert_queue, the DLQs), one consumer group
// per consuming role, batched produce with an atomic length cap, batched
// consume, reclaim of a dead consumer's pending messages with XAUTOCLAIM,
// delivery counts from the pending-entries list, and dead-letter entries
// that record why a message failed.
//
// It knows nothing of events, rules or alerts; it must not import other
// MUTT packages.
package queue
