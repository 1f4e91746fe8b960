// Package health answers one question for an operator, a restore or a
// script: are MUTT and its dependencies healthy right now? Run checks Redis
// (PING and memory headroom), PostgreSQL (SELECT 1 and the schema version
// against the binary's migrations), the depth of every work and dead-letter
// queue, and each role's /health endpoint on its configured address, all
// concurrently and each within a timeout, and returns one Report whose
// status is the worst of its checks. In the embedded mode the database of
// the data directory and its lock (is a mutt serve running?) take the
// place of Redis and PostgreSQL.
//
// It only reads; the one exception is the data directory's lock, which it
// takes and releases at once when no server holds it. Details never carry
// secrets: URLs lose their user information and configured passwords are
// masked. It imports config, app (for the connection logic every role
// uses), store, queue and the embedded storage; no service package may
// import it.
package health
