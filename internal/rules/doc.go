// Package rules is MUTT's rule engine: it compiles a snapshot of alert rules, development hosts
// and device teams, and decides for one event which rule matches, in which environment the event
// was seen, which handling applies and whether an alert is sent.
//
// The package is pure: it takes values and returns values. It must not import anything that does
// I/O (no database, Redis, network or file access, and nothing of this module that does); loading
// the rows and acting on a Decision belong to the store and alerter packages. It depends on the
// standard library only, so it can be table-tested, benchmarked and fuzzed in isolation.
//
// Matching follows the MUTT alerter (first matching rule in priority order wins) with two
// deliberate changes recorded in docs/adr/0002-rule-matching.md: OID prefixes ignore a leading dot
// and respect arc boundaries, and severities are compared as numbers (text severities are
// normalised to 0–7 at ingest, before events reach this package). Equal priorities are ordered by
// rule id.
package rules
