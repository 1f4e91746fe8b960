package dlqadmin

import (
	"github.com/mutt-go/mutt/internal/store"
)

// Audit trail of DLQ changes. A Redis queue has no row in PostgreSQL, but
// record_id is NOT NULL and the writer contract wants it ≥ 1: every DLQ
// change is filed under the fixed record 1 of the pseudo-table redis_dlq,
// and the queue itself is named in old_values.queue, which the GIN index
// on old_values makes searchable.
const (
	AuditTable    = "redis_dlq"
	AuditRecordID = 1
	// AuditMaxIDs bounds the entry IDs copied into one audit row; count
	// always says how many there were.
	AuditMaxIDs = 1000
)

// AuditSelection is old_values of a DLQ change: which entries of q, and the
// filters that selected them.
func AuditSelection(q Queue, ids []string, filters map[string]any) map[string]any {
	m := map[string]any{
		"queue":   q.Key,
		"count":   len(ids),
		"ids":     ids[:min(len(ids), AuditMaxIDs)],
		"filters": filters,
	}
	if len(ids) > AuditMaxIDs {
		m["ids_truncated"] = true
	}
	return m
}

// ReplayChange is the config_audit_log row of a replay of p from q with the
// given outcome; replayErr, when not nil, is recorded too.
func ReplayChange(q Queue, p Plan, filters map[string]any, o Outcome, replayErr error, a store.Actor) store.ConfigChange {
	result := map[string]any{
		"action": "replay", "target": p.TargetKeys(), "replayed": o.Replayed, "dead": o.Dead,
		"missing": o.Missing, "max_replays": p.MaxReplays,
	}
	if len(p.ByTarget) > 1 {
		result["replayed_to"] = o.ByTarget
	}
	if replayErr != nil {
		result["error"] = replayErr.Error()
	}
	return store.ConfigChange{
		ChangedBy: a.ChangedBy, Operation: store.OpUpdate, TableName: AuditTable, RecordID: AuditRecordID,
		Old: AuditSelection(q, p.IDs(), filters), New: result,
		Reason: a.Reason, CorrelationID: a.CorrelationID,
	}
}
