// Package fakemoog is a stand-in for the Moogsoft event webhook: a real HTTP
// server that records what it receives (counts per external_id, receipt
// times, the last few bodies) and can be told at run time to misbehave the
// ways a real endpoint does — a fixed error status, 429 with Retry-After, a
// fraction of failures, slow answers, dropped connections — so the delivery
// path can be tested end to end and operators can rehearse outages with
// `mutt fake-moog`.
//
// It must not import other MUTT packages.
package fakemoog
