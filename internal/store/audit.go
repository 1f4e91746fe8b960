package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
)

// AuditRow is one row of event_audit_log: the record that a handled event
// matched a rule and what was decided for it.
type AuditRow struct {
	EventID   string    // the event's _event_id, a UUID in text form
	Timestamp time.Time // the device's timestamp; it also picks the partition
	Hostname  string    // the event's hostname, at most 255 characters
	RuleID    int64     // the matched rule; it must exist in alert_rules
	Handling  string    // the handling decided for the event's environment
	Forwarded bool      // whether an alert is sent for the event
	Raw       []byte    // the event JSON, stored as raw_message
}

// insertAuditSQL writes a whole batch in one statement. Event ids travel as
// text and are cast by the server, so a malformed id is a data error
// (SQLSTATE 22P02) that IsRowError recognises rather than a client-side
// encoding failure; rule ids travel as bigint so an out-of-range id is one too.
const insertAuditSQL = `
INSERT INTO event_audit_log (event_id, event_timestamp, hostname, matched_rule_id,
                             handling_decision, forwarded_to_moog, raw_message)
SELECT e::uuid, t, h, r, d, f, m
FROM unnest($1::text[], $2::timestamptz[], $3::text[], $4::bigint[], $5::text[], $6::bool[], $7::text[])
     AS u(e, t, h, r, d, f, m)
ON CONFLICT (event_id, event_timestamp) DO NOTHING`

// InsertAudit writes rows in one statement and returns how many of them were
// new. A row whose event (same event id and timestamp) is already recorded,
// or appears earlier in the same batch, is skipped, so writing a redelivered
// batch again is safe. The batch is all or nothing: if any row is rejected
// none is written (see IsRowError).
func (s *Store) InsertAudit(ctx context.Context, rows []AuditRow) (int64, error) {
	if len(rows) == 0 {
		return 0, nil
	}
	var (
		ids       = make([]string, len(rows))
		times     = make([]time.Time, len(rows))
		hosts     = make([]string, len(rows))
		ruleIDs   = make([]int64, len(rows))
		handlings = make([]string, len(rows))
		forwarded = make([]bool, len(rows))
		raws      = make([]string, len(rows))
	)
	for i, r := range rows {
		ids[i] = r.EventID
		times[i] = r.Timestamp
		hosts[i] = r.Hostname
		ruleIDs[i] = r.RuleID
		handlings[i] = r.Handling
		forwarded[i] = r.Forwarded
		raws[i] = string(r.Raw)
	}
	tag, err := s.pool.Exec(ctx, insertAuditSQL, ids, times, hosts, ruleIDs, handlings, forwarded, raws)
	if err != nil {
		return 0, fmt.Errorf("writing audit batch of %d rows: %w", len(rows), err)
	}
	return tag.RowsAffected(), nil
}

// IsRowError reports whether err was caused by the data of a row (SQLSTATE
// classes 22 and 23: a bad value, a constraint or a foreign-key violation,
// such as a rule deleted since the rule set was loaded) rather than by the
// connection or the server. Retrying the same rows after such an error can
// never succeed; any other error may be worth a retry.
func IsRowError(err error) bool {
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) {
		return false
	}
	class := pgErr.SQLState()
	if len(class) < 2 {
		return false
	}
	switch class[:2] {
	case "22", "23":
		return true
	}
	return false
}
