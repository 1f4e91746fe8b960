package dlqadmin

import (
	"context"
	"time"

	"github.com/mutt-go/mutt/internal/queue"
	"github.com/mutt-go/mutt/internal/store"
)

// Backend is where the dead-letter queues live: Redis streams (NewRedis) or
// the embedded store (internal/embedded/roles). Queues are named by their
// keys (Queue.Key); entries come back as queue.Entry, whose ID orders them
// by time and then sequence and whose Fields are those of a Redis entry.
// An implementation is safe for concurrent use.
type Backend interface {
	// List returns up to n entries of the DLQ key, oldest first: those
	// after the entry after ("" starts at the head) and, when since is not
	// zero, none written before since's millisecond.
	List(ctx context.Context, key, after string, since time.Time, n int) ([]queue.Entry, error)
	// Lookup returns the entry id (normalized) of key, or an error
	// wrapping ErrNoEntry when it is not there.
	Lookup(ctx context.Context, key, id string) (queue.Entry, error)
	// Len returns how many entries key holds.
	Len(ctx context.Context, key string) (int64, error)
	// Replay moves the entries ids of dlq to target with their replay
	// counter raised by one; an entry already replayed maxReplays times
	// goes to dead instead, with the reason replay_limit. Each entry moves
	// atomically; an ID no longer in dlq counts as missing.
	Replay(ctx context.Context, dlq, target, dead string, maxReplays int, ids []string) (queue.ReplayResult, error)
	// Purge deletes the entries ids of key and returns how many existed.
	Purge(ctx context.Context, key string, ids []string) (int64, error)
}

// AuditWriter records a change in config_audit_log; *store.Store and the
// embedded *sqlstore.DB are both one.
type AuditWriter interface {
	RecordConfigChange(ctx context.Context, c store.ConfigChange) (int64, error)
}

// Purged says what a purge did.
type Purged struct {
	Deleted int64
	Err     error // the purge's failure, recorded with it
}

// PurgeChange is the config_audit_log row of a purge of ids from q. A
// DELETE row keeps no new values, so what was done goes with the selection
// into old_values.
func PurgeChange(q Queue, ids []string, filters map[string]any, p Purged, a store.Actor) store.ConfigChange {
	old := AuditSelection(q, ids, filters)
	old["action"] = "purge"
	old["deleted"] = p.Deleted
	if p.Err != nil {
		old["error"] = p.Err.Error()
	}
	return store.ConfigChange{
		ChangedBy: a.ChangedBy, Operation: store.OpDelete, TableName: AuditTable, RecordID: AuditRecordID,
		Old: old, Reason: a.Reason, CorrelationID: a.CorrelationID,
	}
}
