// Package forward delivers MUTT alerts from the alert queue to the Moogsoft
// webhook.
//
// Delivery is a chain of small Senders, each wrapping the next:
//
//	retry(breaker(ratelimit(webhook)))
//
// The Webhook turns one queued alert into the Moogsoft event body and
// classifies the answer; the RateLimiter holds every forwarder process to one
// shared rate through Redis; the Breaker stops calling Moogsoft while it is
// unavailable, with its state shared through Redis; the Retrier decides when
// a failed alert is tried again and when it is given up. None of them sleeps
// or touches the queue: every alert comes back with a Result saying whether
// it was delivered, when to try it again, or why it is dead, and the
// Forwarder, which consumes the queue, acts on it.
//
// Of MUTT's packages it imports only queue and secrets; the decorators use
// nothing but Redis, HTTP and secrets. It must not import the alerter, the
// rule engine, the store or the ingestor.
package forward
