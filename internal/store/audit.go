package store

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/google/uuid"
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

// insertAuditSQL writes a whole batch in one statement, skipping rows whose
// event is already recorded. Event ids travel as text and are cast by the
// server, so a malformed id is a data error (SQLSTATE 22P02) that
// IsRowError recognises rather than a client-side encoding failure; rule ids
// travel as bigint so an out-of-range id is one too.
const insertAuditSQL = `
INSERT INTO event_audit_log (event_id, event_timestamp, hostname, matched_rule_id,
                             handling_decision, forwarded_to_moog, raw_message)
SELECT e::uuid, t, h, r, d, f, m
FROM unnest($1::text[], $2::timestamptz[], $3::text[], $4::bigint[], $5::text[], $6::bool[], $7::text[])
     AS u(e, t, h, r, d, f, m)
ON CONFLICT (event_id, event_timestamp) DO NOTHING`

// copyAuditSQL is the fast path of InsertAudit: the batch in PostgreSQL's
// binary COPY format, in the column order of appendAuditCopy. COPY inserts
// a partition's rows in multi-row heap writes and skips the executor's work
// per row, but it has no ON CONFLICT: a batch holding an event already
// recorded fails whole with a unique violation and is written again with
// insertAuditSQL.
const copyAuditSQL = `COPY event_audit_log (event_id, event_timestamp, hostname, matched_rule_id,
                             handling_decision, forwarded_to_moog, raw_message) FROM STDIN (FORMAT binary)`

// InsertAudit writes rows in one statement and returns how many of them were
// new. A row whose event (same event id and timestamp) is already recorded,
// or appears earlier in the same batch, is skipped, so writing a redelivered
// batch again is safe. The batch is all or nothing: if any row is rejected
// none is written (see IsRowError).
//
// A batch goes out as one binary COPY; only when that meets an event already
// recorded (a redelivery) is it written again with INSERT … ON CONFLICT DO
// NOTHING, which skips those events. A batch with a value the binary format
// cannot carry as given (an event id that is not a UUID, a rule id beyond
// the column's range) goes straight to the INSERT, so that PostgreSQL
// rejects the row with the data error IsRowError recognises.
func (s *Store) InsertAudit(ctx context.Context, rows []AuditRow) (int64, error) {
	if len(rows) == 0 {
		return 0, nil
	}
	buf := s.copyBufs.Get().(*[]byte)
	defer s.copyBufs.Put(buf)
	data, ok := appendAuditCopy((*buf)[:0], rows)
	*buf = data[:0]
	if ok {
		n, err := s.copyAudit(ctx, data)
		if err == nil {
			return n, nil
		}
		if !isUniqueViolation(err) {
			return 0, fmt.Errorf("writing audit batch of %d rows: %w", len(rows), err)
		}
	}
	return s.InsertAuditStatement(ctx, rows)
}

// copyAudit sends one batch encoded by appendAuditCopy.
func (s *Store) copyAudit(ctx context.Context, data []byte) (int64, error) {
	conn, err := s.pool.Acquire(ctx)
	if err != nil {
		return 0, err
	}
	defer conn.Release()
	tag, err := conn.Conn().PgConn().CopyFrom(ctx, bytes.NewReader(data), copyAuditSQL)
	if err != nil {
		return 0, err
	}
	return tag.RowsAffected(), nil
}

// InsertAuditStatement writes rows as InsertAudit does, but always with the
// INSERT … ON CONFLICT DO NOTHING statement that InsertAudit falls back to,
// the alerter's only write before it used COPY; the benchmarks measure one
// against the other.
func (s *Store) InsertAuditStatement(ctx context.Context, rows []AuditRow) (int64, error) {
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
		raws      = make([][]byte, len(rows))
	)
	for i, r := range rows {
		ids[i] = r.EventID
		times[i] = r.Timestamp
		hosts[i] = r.Hostname
		ruleIDs[i] = r.RuleID
		handlings[i] = r.Handling
		forwarded[i] = r.Forwarded
		raws[i] = r.Raw
	}
	tag, err := s.pool.Exec(ctx, insertAuditSQL, ids, times, hosts, ruleIDs, handlings, forwarded, raws)
	if err != nil {
		return 0, fmt.Errorf("writing audit batch of %d rows: %w", len(rows), err)
	}
	return tag.RowsAffected(), nil
}

// copyHeader starts a binary COPY stream: the signature, no flags, no
// header extension.
const copyHeader = "PGCOPY\n\xff\r\n\x00" + "\x00\x00\x00\x00" + "\x00\x00\x00\x00"

// microsToY2K is the number of microseconds from the Unix epoch to
// PostgreSQL's, 2000-01-01 00:00 UTC.
const microsToY2K = 946_684_800 * 1_000_000

// appendAuditCopy appends rows to dst in the binary COPY format of
// copyAuditSQL. It reports false, with dst unusable, when a value cannot be
// carried in that format as the INSERT would have taken it: an event id that
// is not a UUID, a rule id beyond int4, or a timestamp beyond the years
// PostgreSQL stores (whose microseconds would overflow).
func appendAuditCopy(dst []byte, rows []AuditRow) ([]byte, bool) {
	dst = append(dst, copyHeader...)
	for i := range rows {
		r := &rows[i]
		id, err := uuid.Parse(r.EventID)
		if err != nil || r.RuleID < math.MinInt32 || r.RuleID > math.MaxInt32 {
			return dst, false
		}
		if y := r.Timestamp.Year(); y < -4712 || y > 294_275 {
			return dst, false
		}
		dst = binary.BigEndian.AppendUint16(dst, 7)
		dst = appendField(dst, id[:])
		dst = binary.BigEndian.AppendUint32(dst, 8)
		micros := r.Timestamp.Unix()*1_000_000 + int64(r.Timestamp.Nanosecond())/1000 - microsToY2K
		dst = binary.BigEndian.AppendUint64(dst, uint64(micros))
		dst = appendTextField(dst, r.Hostname)
		dst = binary.BigEndian.AppendUint32(dst, 4)
		dst = binary.BigEndian.AppendUint32(dst, uint32(int32(r.RuleID)))
		dst = appendTextField(dst, r.Handling)
		dst = binary.BigEndian.AppendUint32(dst, 1)
		if r.Forwarded {
			dst = append(dst, 1)
		} else {
			dst = append(dst, 0)
		}
		dst = appendField(dst, r.Raw)
	}
	return binary.BigEndian.AppendUint16(dst, 0xffff), true
}

// appendField appends one field: its length, then its bytes.
func appendField(dst, v []byte) []byte {
	dst = binary.BigEndian.AppendUint32(dst, uint32(len(v)))
	return append(dst, v...)
}

func appendTextField(dst []byte, v string) []byte {
	dst = binary.BigEndian.AppendUint32(dst, uint32(len(v)))
	return append(dst, v...)
}

// isUniqueViolation reports whether err is PostgreSQL's unique_violation.
func isUniqueViolation(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && pgErr.Code == "23505"
}

// IsRowError reports whether err was caused by the data of a row (SQLSTATE
// classes 22 and 23: a bad value, a constraint or a foreign-key violation,
// such as a rule deleted since the rule set was loaded) rather than by the
// connection or the server. Retrying the same rows after such an error can
// never succeed; any other error may be worth a retry. An error from another
// store says so with a RowError() bool method, so callers need not know
// which store they write to.
func IsRowError(err error) bool {
	var re interface{ RowError() bool }
	if errors.As(err, &re) {
		return re.RowError()
	}
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
