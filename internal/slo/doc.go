// Package slo evaluates MUTT's service level objectives: six definitions
// (availability and p99 latency of the ingestor and forwarder, alerter
// processing and rule-cache reload success), each a PromQL query whose
// value is judged against a target, burn-rate or latency thresholds, and
// overrides read from dynamic configuration. All queries run concurrently
// under one deadline; a failed query yields "no data", never an error.
//
// It must not import other MUTT packages.
package slo
