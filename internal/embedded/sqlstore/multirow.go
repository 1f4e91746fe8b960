package sqlstore

import (
	"context"
	"database/sql"
	"strings"
)

// chunkRows is how many rows one multi-row statement carries: fewer
// statements per batch is most of the speed of a batch commit, and 250 rows
// of up to 7 columns stay far below SQLite's limit of 32,766 parameters.
const chunkRows = 250

// multiRow is one INSERT (or DELETE … IN) statement shape executed for a
// batch in chunks of chunkRows rows, with the statement text of a full chunk
// built once.
type multiRow struct {
	head, tuple, sep, tail string
	full                   string // the statement for chunkRows rows
}

func newMultiRow(head, tuple, sep, tail string) *multiRow {
	m := &multiRow{head: head, tuple: tuple, sep: sep, tail: tail}
	m.full = m.text(chunkRows)
	return m
}

// text returns the statement for n rows.
func (m *multiRow) text(n int) string {
	if n == chunkRows && m.full != "" {
		return m.full
	}
	var b strings.Builder
	b.Grow(len(m.head) + n*(len(m.tuple)+len(m.sep)) + len(m.tail))
	b.WriteString(m.head)
	for i := 0; i < n; i++ {
		if i > 0 {
			b.WriteString(m.sep)
		}
		b.WriteString(m.tuple)
	}
	b.WriteString(m.tail)
	return b.String()
}

// exec runs the statement over n rows whose parameters fill appends for
// row i, and returns the total number of rows changed.
func (m *multiRow) exec(ctx context.Context, tx *sql.Tx, n, perRow int, fill func(args []any, i int) ([]any, error)) (int64, error) {
	var total int64
	args := make([]any, 0, min(n, chunkRows)*perRow)
	for start := 0; start < n; start += chunkRows {
		end := min(start+chunkRows, n)
		args = args[:0]
		for i := start; i < end; i++ {
			var err error
			if args, err = fill(args, i); err != nil {
				return 0, err
			}
		}
		res, err := tx.ExecContext(ctx, m.text(end-start), args...)
		if err != nil {
			return 0, classify(err)
		}
		k, err := res.RowsAffected()
		if err != nil {
			return 0, err
		}
		total += k
	}
	return total, nil
}

// The batch statements of the audit log and the queues.
var (
	auditInsert = newMultiRow(`INSERT INTO event_audit_log (event_id, event_timestamp, hostname, matched_rule_id,
                             handling_decision, forwarded_to_moog, raw_message) VALUES `,
		"(?, ?, ?, ?, ?, ?, ?)", ", ", " ON CONFLICT (event_id, event_timestamp) DO NOTHING")
	queueInsert = newMultiRow(`INSERT INTO queue_entries (queue, payload, enqueued_at, attempts, replays) VALUES `,
		"(?, ?, ?, ?, ?)", ", ", "")
	queueDelete = newMultiRow(`DELETE FROM queue_entries WHERE queue = ? AND seq IN (`, "?", ", ", ")")
)
