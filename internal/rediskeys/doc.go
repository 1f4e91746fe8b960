// Package rediskeys lists Redis keys by name prefix: SCAN (never KEYS)
// with the glob characters of the prefix quoted, so a key prefix such as
// "site[1]" matches only itself.
//
// It imports nothing of MUTT.
package rediskeys
