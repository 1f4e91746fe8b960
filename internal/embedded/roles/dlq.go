package roles

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/mutt-go/mutt/internal/dlqadmin"
	"github.com/mutt-go/mutt/internal/embedded/sqlstore"
	"github.com/mutt-go/mutt/internal/obs"
	"github.com/mutt-go/mutt/internal/queue"
	"github.com/mutt-go/mutt/internal/remediation"
	"github.com/mutt-go/mutt/internal/store"
)

// DLQ is the embedded store's dead-letter queues as `mutt dlq` and the
// dashboard use them (dlqadmin.Backend, with the store's audit log as the
// dlqadmin.AuditWriter) and as the remediation role does
// (remediation.Queues). An entry's ID is the millisecond it was parked and
// its row, "1736680200123-42", so that it orders, parses and tells its age
// as a Redis stream ID does; only the row identifies it.
type DLQ struct {
	db *sqlstore.DB
}

var (
	_ dlqadmin.Backend     = (*DLQ)(nil)
	_ dlqadmin.AuditWriter = (*DLQ)(nil)
	_ remediation.Queues   = (*DLQ)(nil)
)

// NewDLQ returns the dead-letter queues of db.
func NewDLQ(db *sqlstore.DB) *DLQ { return &DLQ{db: db} }

// StoreDeadLetter is d as parked in the dead-letter queue dlq of the
// embedded store. Its SourceID is the Seq of the entry in its source queue
// (or an entry ID of a dead-letter queue, whose row is kept); "" is 0.
func StoreDeadLetter(dlq string, d queue.DeadLetter) (sqlstore.DeadLetter, error) {
	var seq int64
	if d.SourceID != "" {
		var ok bool
		if seq, ok = rowOf(d.SourceID); !ok {
			return sqlstore.DeadLetter{}, fmt.Errorf("dead letter from %s: source id %q is not a queue position", d.Source, d.SourceID)
		}
	}
	return sqlstore.DeadLetter{
		Queue: dlq, Payload: d.Payload, Reason: d.Reason, Error: d.Error, Source: d.Source, SourceSeq: seq,
		Deliveries: d.Deliveries, Attempts: d.Attempts, Replays: d.Replays, Status: d.Status,
	}, nil
}

// QueueDeadLetter is the stored dead letter d in the record format of
// internal/queue; its SourceID is the decimal SourceSeq.
func QueueDeadLetter(d sqlstore.DeadLetter) queue.DeadLetter {
	return queue.DeadLetter{
		Payload: d.Payload, Reason: d.Reason, Error: d.Error, Source: d.Source,
		SourceID: strconv.FormatInt(d.SourceSeq, 10), Deliveries: d.Deliveries, Attempts: d.Attempts,
		Replays: d.Replays, Status: d.Status,
	}
}

// entryID is the ID of a stored dead letter: its millisecond and its row.
func entryID(dl sqlstore.StoredDeadLetter) string {
	return strconv.FormatInt(dl.FailedAt.UnixMilli(), 10) + "-" + strconv.FormatInt(dl.ID, 10)
}

// rowOf returns the row of an entry ID, or of a bare number.
func rowOf(id string) (int64, bool) {
	_, row, found := strings.Cut(id, "-")
	if !found {
		row = id
	}
	n, err := strconv.ParseInt(row, 10, 64)
	return n, err == nil && n >= 0
}

// rowsOf returns the rows of ids; IDs that are not entry IDs are left out
// and counted.
func rowsOf(ids []string) (rows []int64, invalid int) {
	rows = make([]int64, 0, len(ids))
	for _, id := range ids {
		if n, ok := rowOf(id); ok {
			rows = append(rows, n)
		} else {
			invalid++
		}
	}
	return rows, invalid
}

// entry is dl with the fields of a Redis dead-letter entry.
func entry(dl sqlstore.StoredDeadLetter) queue.Entry {
	pairs := QueueDeadLetter(dl.DeadLetter).Fields(dl.FailedAt)
	f := make(map[string]string, len(pairs)/2+2)
	for i := 0; i+1 < len(pairs); i += 2 {
		k := pairs[i].(string)
		switch v := pairs[i+1].(type) {
		case string:
			f[k] = v
		case []byte:
			f[k] = string(v)
		}
	}
	if dl.Origin != "" {
		f["origin"] = dl.Origin
		f["origin_id"] = strconv.FormatInt(dl.OriginSeq, 10)
	}
	return queue.Entry{ID: entryID(dl), Fields: f}
}

// List returns a page of the dead letters of key in row order.
func (q *DLQ) List(ctx context.Context, key, after string, since time.Time, n int) ([]queue.Entry, error) {
	var from int64
	if after != "" {
		var ok bool
		if from, ok = rowOf(after); !ok {
			return nil, fmt.Errorf("listing %s after %q: not an entry ID", key, after)
		}
	}
	letters, err := q.db.ListDeadLetters(ctx, key, from, since, n)
	if err != nil {
		return nil, err
	}
	out := make([]queue.Entry, len(letters))
	for i, dl := range letters {
		out[i] = entry(dl)
	}
	return out, nil
}

// Lookup returns the entry id of key; an ID whose row is there but whose
// millisecond is not the row's names no entry.
func (q *DLQ) Lookup(ctx context.Context, key, id string) (queue.Entry, error) {
	row, ok := rowOf(id)
	if !ok {
		return queue.Entry{}, &dlqadmin.NoEntryError{ID: id, Key: key}
	}
	dl, found, err := q.db.DeadLetterByID(ctx, key, row)
	if err != nil {
		return queue.Entry{}, err
	}
	if !found || entryID(dl) != id {
		return queue.Entry{}, &dlqadmin.NoEntryError{ID: id, Key: key}
	}
	return entry(dl), nil
}

// Len counts the dead letters of key.
func (q *DLQ) Len(ctx context.Context, key string) (int64, error) {
	return q.db.DeadLetterCount(ctx, key)
}

// Lens counts the dead letters of each queue, one query each rather than
// one snapshot, which the depth gauges can live with.
func (q *DLQ) Lens(ctx context.Context, dlqs []string) ([]int64, error) {
	out := make([]int64, len(dlqs))
	for i, k := range dlqs {
		n, err := q.db.DeadLetterCount(ctx, k)
		if err != nil {
			return nil, err
		}
		out[i] = n
	}
	return out, nil
}

// QueueLen is the depth of the work queue key.
func (q *DLQ) QueueLen(ctx context.Context, key string) (int64, error) {
	return q.db.Len(ctx, key)
}

// Replay moves the entries ids of dlq back to target in one transaction;
// an ID that is not an entry ID counts as missing.
func (q *DLQ) Replay(ctx context.Context, dlq, target, dead string, maxReplays int, ids []string) (queue.ReplayResult, error) {
	rows, invalid := rowsOf(ids)
	res, err := q.db.ReplayDeadLetters(ctx, dlq, target, dead, maxReplays, rows)
	res.Missing += invalid
	return res, err
}

// Purge deletes the entries ids of key in one transaction.
func (q *DLQ) Purge(ctx context.Context, key string, ids []string) (int64, error) {
	rows, _ := rowsOf(ids)
	return q.db.DeleteDeadLetters(ctx, key, rows)
}

// Bury moves entries of dlq to dead in one transaction.
func (q *DLQ) Bury(ctx context.Context, dlq, dead string, burials []remediation.Burial) ([]bool, error) {
	stored := make([]sqlstore.Burial, 0, len(burials))
	at := make([]int, 0, len(burials)) // index in burials of stored[i]
	for i, b := range burials {
		if row, ok := rowOf(b.ID); ok {
			stored = append(stored, sqlstore.Burial{ID: row, Reason: b.Reason, Error: b.Detail})
			at = append(at, i)
		}
	}
	got, err := q.db.BuryDeadLetters(ctx, dlq, dead, stored)
	if err != nil {
		return nil, err
	}
	moved := make([]bool, len(burials))
	for i, ok := range got {
		moved[at[i]] = ok
	}
	return moved, nil
}

// RecordConfigChange writes c to the store's config_audit_log.
func (q *DLQ) RecordConfigChange(ctx context.Context, c store.ConfigChange) (int64, error) {
	return q.db.RecordConfigChange(ctx, c)
}

// Health checks that the database answers.
func (q *DLQ) Health() obs.Check {
	return obs.Check{Name: "database", Check: q.db.Ping}
}
