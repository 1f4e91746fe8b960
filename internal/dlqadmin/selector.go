package dlqadmin

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/mutt-go/mutt/internal/queue"
)

// pageSize is how many entries one List reads while selecting.
const pageSize = 1000

// Selector picks entries of a DLQ. The zero Selector picks every entry.
type Selector struct {
	Reasons map[string]bool // nil: any reason
	After   time.Time       // zero: no lower bound on the entry time
	Before  time.Time       // zero: no upper bound (exclusive)
	IDs     []string        // normalized; nil: scan the queue
	Limit   int             // 0: no limit
	// DropPayload saves memory when only IDs and metadata are needed.
	DropPayload bool
}

// Match reports whether e passes the reason and time filters.
func (s Selector) Match(e queue.Entry) bool {
	if s.Reasons != nil && !s.Reasons[e.Fields["reason"]] {
		return false
	}
	t := e.Time()
	if !s.After.IsZero() && t.Before(s.After.Truncate(time.Millisecond)) {
		return false
	}
	if !s.Before.IsZero() && !t.Before(s.Before) {
		return false
	}
	return true
}

// SelectFrom returns the matching entries of q in b, oldest first, up to
// the limit, and how many match in all. Named IDs that are missing are an
// error wrapping ErrNoEntry.
func (s Selector) SelectFrom(ctx context.Context, b Backend, q Queue) ([]queue.Entry, int, error) {
	var out []queue.Entry
	matched := 0
	keep := func(e queue.Entry) {
		matched++
		if s.Limit == 0 || len(out) < s.Limit {
			if s.DropPayload {
				delete(e.Fields, queue.PayloadField)
			}
			out = append(out, e)
		}
	}
	if s.IDs != nil {
		for _, id := range s.IDs {
			e, err := b.Lookup(ctx, q.Key, id)
			if err != nil {
				return nil, 0, err
			}
			if s.Match(e) {
				keep(e)
			}
		}
		sort.SliceStable(out, func(i, j int) bool { return IDLess(out[i].ID, out[j].ID) })
		return out, matched, nil
	}
	after := ""
	for {
		page, err := b.List(ctx, q.Key, after, s.After, pageSize)
		if err != nil {
			return nil, 0, err
		}
		for _, e := range page {
			if !s.Before.IsZero() && !e.Time().Before(s.Before) {
				return out, matched, nil
			}
			if s.Match(e) {
				keep(e)
			}
		}
		if len(page) < pageSize {
			return out, matched, nil
		}
		after = page[len(page)-1].ID
	}
}

// ErrNoEntry means a named entry is not (or no longer) in its queue.
var ErrNoEntry = errors.New("no such entry")

// NoEntryError names the entry that is missing; it matches ErrNoEntry.
type NoEntryError struct {
	ID, Key string
}

// Error says which entry is missing from which queue.
func (e *NoEntryError) Error() string { return fmt.Sprintf("no entry %s in %s", e.ID, e.Key) }

// Is makes errors.Is(err, ErrNoEntry) true.
func (e *NoEntryError) Is(target error) bool { return target == ErrNoEntry }
