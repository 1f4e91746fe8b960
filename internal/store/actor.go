package store

import (
	"errors"
	"hash/fnv"
)

// Errors the configuration writers return, so that an API can answer with
// the right status without reading PostgreSQL's error text.
var (
	// ErrNotFound means the record to read, change or delete does not exist.
	ErrNotFound = errors.New("not found")
	// ErrConflict means a record with the same key already exists.
	ErrConflict = errors.New("already exists")
	// ErrReferenced means the record is still referenced by other rows (a
	// rule with audited events) and cannot be deleted.
	ErrReferenced = errors.New("still referenced")
)

// Actor says who makes a configuration change, why, and in which request;
// every writer copies it into the change's config_audit_log row.
type Actor struct {
	ChangedBy     string // e.g. "webui_api:3f2a9c1e" or "cli:alice"; 1 to 100 characters
	Reason        string // optional
	CorrelationID string // optional; at most 36 characters
}

// HashRecordID is the config_audit_log record id of a record whose key is a
// string (a development host, a device team, a dynamic config name): the
// FNV-1a 32-bit hash of the key with the top bit cleared, and 1 instead of 0,
// so that the same key always gets the same id.
func HashRecordID(key string) int64 {
	h := fnv.New32a()
	_, _ = h.Write([]byte(key))
	id := int64(h.Sum32() & 0x7FFFFFFF)
	if id == 0 {
		id = 1
	}
	return id
}
