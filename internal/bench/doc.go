// Package bench is MUTT's performance harness, the code behind `mutt bench`
// and docs/BENCHMARKS.md. It runs the real ingest, alerter and forwarder
// components in-process against the machine's Redis and PostgreSQL, in a
// scratch database and under a scratch key prefix that it removes
// afterwards, with a fake Moogsoft (internal/fakemoog) behind a net/http
// server on a loopback port, and measures throughput, latency (of ingest
// requests, and from an event's arrival to its alert's delivery), Redis
// round trips per event and where the CPU time went.
//
// Round trips are counted on the client the components use (a pipeline or
// a script call is one round trip), so other users of the same Redis do not
// disturb the count. The server's own view, INFO commandstats, is reported
// beside it; it also counts every command a Lua script runs.
//
// It wires the components itself, the way the app package does, so that it
// can count on their Redis client and time each alert on its way. Only
// cmd/mutt may import it; no service package may import it.
package bench
