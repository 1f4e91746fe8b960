// Package forward delivers MUTT alerts from the alert queue to the Moogsoft
// webhook.
//
// Delivery is a chain of small Senders, each wrapping the next:
//
//	retry(breaker(ratelimit(webhook)))
//
// The Webhook turns one queued alert into the Moogsoft event body and
// classifies the answer; the RateLimiter holds every forwarder process to one
// shared rate through a TokenBucket; the Breaker stops calling Moogsoft while
// it is unavailable, with its state shared through a BreakerStore; the
// Retrier decides when a failed alert is tried again and when it is given
// up. None of them sleeps or touches the queue: every alert comes back with a Result saying whether
// it was delivered, when to try it again, or why it is dead, and the
// Forwarder, which consumes the queue, acts on it.
//
// The package owns the interfaces of its storage (backend.go): the
// Forwarder runs on a Backend (AlertSource, Committer, Schedule), the
// decorators on a TokenBucket and a BreakerStore. The Redis implementations
// live in redis_store.go, in-process ones for a single process in local.go;
// the embedded SQLite store implements the Backend in internal/embedded/roles.
// Package forwardtest is the conformance suite every Backend passes.
//
// Of MUTT's packages it imports only queue and secrets; the decorators use
// nothing but their store, HTTP and secrets. It must not import the
// alerter, the rule engine, the store, the embedded store or the ingestor.
package forward
