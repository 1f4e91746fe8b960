// Package roles adapts the embedded SQLite storage (internal/embedded/sqlstore)
// to the seams the roles own: the alerter's batch source and committer, the
// forwarder's alert source, delivery committer, schedule, token bucket and
// breaker state, dynamic configuration, web sessions, heartbeats and the dead
// letter administration. One file per role; each implementation passes the
// conformance suite its role package ships for the Redis implementation.
package roles
