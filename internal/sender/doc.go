// Package sender replays events to the MUTT HTTP ingest API and doubles as a
// load generator; it is the engine behind `mutt send`.
//
// Load turns sample files (MUTT events, or SNMP trap records that it converts
// the way the trap collector would) into event objects, Generate makes
// synthetic ones, and Run posts them in batches with bounded concurrency, an
// optional rate, retries that honour Retry-After, and a progress bar, and
// returns a Summary of what the ingestor answered.
//
// The package speaks to the ingestor only over HTTP, like any producer. It
// must not import the ingest, queue, store or other service packages, and it
// never logs or prints the API key.
package sender
