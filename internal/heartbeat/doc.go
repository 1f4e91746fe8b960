// Package heartbeat is the positive signal that a MUTT role is running:
// every role of every process keeps a key
// <prefix>:heartbeat:<role>:<instance> in Redis, rewritten every few
// seconds with a short TTL and deleted on a clean stop, whose value says
// where the role runs (host, pid, version, start time). Tools that must
// not run beside the services, such as the restores, list the live
// heartbeats instead of guessing from queue activity.
//
// It imports only the version and rediskeys packages of MUTT.
package heartbeat
