// Package authguard throttles failed authentication per client, so that
// API keys cannot be guessed at the speed of the network: each client
// address (an IPv6 address counts by its /64) has a small token bucket that
// only failures drain, and a client whose bucket is empty is answered 429
// with Retry-After until a token has come back. A correct key never costs a
// token, so a busy sender is never slowed. Buckets live in memory, at most
// a fixed number of clients, and every failure and refusal is counted in
// Prometheus counters the caller names. The web UI, the REST API and the
// ingest API use it.
//
// It must not import other MUTT packages.
package authguard
