// Package ingest is MUTT's HTTP ingest API: POST /ingest, /api/v1/ingest
// and /api/v2/ingest accept one event, a JSON array or newline-delimited
// JSON; check the API key in constant time, answering 429 to a client that
// sent too many wrong keys (internal/web/authguard) and logging refusals
// with credentials redacted from the URL; bound the body size; validate
// and normalise every event; and append the batch to the ingest queue in one
// step, answering 503 with Retry-After when the queue is over its cap or
// Redis is unreachable, so that producers keep their events and retry.
//
// It must not import the alerter, rules or store packages.
package ingest
