// Package event is the MUTT event model: it splits an ingest request body
// into event objects, validates and normalises one event before it goes on
// the ingest queue, and decodes a queued event for the rule engine.
//
// An event is one JSON object. Only hostname, message, timestamp,
// syslog_severity, severity, trap_oid and the reserved "_"-prefixed keys mean
// anything to MUTT; every other member is carried through byte for byte, in
// its original order, into the queue and the audit log.
//
// The package is pure and sits on the hot path of both the ingestor and the
// alerter: it works on byte spans of the input with a small validating
// scanner instead of decoding into maps, so a typical event costs about a
// microsecond and two allocations. It must not import any other MUTT package
// nor anything that performs I/O (no net, os, database or Redis clients, no
// logging), so it can be table-tested, benchmarked and fuzzed in isolation.
package event
