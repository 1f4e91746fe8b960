package store

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// EventAuditFilter selects rows of event_audit_log; all set fields must
// match.
type EventAuditFilter struct {
	Hostname   string    // exact; "" = any
	RuleID     *int64    // matched_rule_id; nil = any
	Start, End time.Time // inclusive bounds on event_timestamp; zero = unbounded
	Limit      int       // page size, 1..200 (callers clamp; out of range is clamped here too)
	Offset     int       // rows to skip
}

// EventAuditRow is one row of event_audit_log as the control plane shows it.
type EventAuditRow struct {
	ID               int64     `json:"id"`
	EventTimestamp   time.Time `json:"event_timestamp"`
	Hostname         string    `json:"hostname"`
	MatchedRuleID    int64     `json:"matched_rule_id"`
	HandlingDecision string    `json:"handling_decision"`
	ForwardedToMoog  bool      `json:"forwarded_to_moog"`
	RawMessage       *string   `json:"raw_message"`
}

// eventCountCap is how many matching rows SearchEventAudit counts at most;
// above it the total is the planner's estimate, so that a broad search over
// the partitioned log never counts millions of rows. Counting costs about
// 0.3 ms per thousand index entries, so 10,000 keeps a busy host's page
// within a few milliseconds (docs/BENCHMARKS.md).
const eventCountCap = 10_000

// maxPageSize bounds Limit for both audit searches.
const maxPageSize = 200

// SearchEventAudit returns one page of the rows matching f, newest first
// (event_timestamp DESC, id DESC), and the number of matching rows. When
// more than eventCountCap (10,000) rows match, total is the planner's
// estimate (never less than the cap plus one) and estimated is true. Times
// are in UTC.
func (s *Store) SearchEventAudit(ctx context.Context, f EventAuditFilter) (rows []EventAuditRow, total int64, estimated bool, err error) {
	return s.searchEventAudit(ctx, f, eventCountCap)
}

// searchEventAudit is SearchEventAudit with the counting cap as a
// parameter, so that tests can cross it with a few rows.
func (s *Store) searchEventAudit(ctx context.Context, f EventAuditFilter, countCap int64) ([]EventAuditRow, int64, bool, error) {
	q := eventSearchQueries(f, countCap)
	// Both queries go out in one round trip.
	batch := &pgx.Batch{}
	batch.Queue(q.count, q.args...)
	batch.Queue(q.page, q.args...)
	results := s.pool.SendBatch(ctx, batch)
	defer results.Close()
	var total int64
	if err := results.QueryRow().Scan(&total); err != nil {
		return nil, 0, false, fmt.Errorf("counting event audit rows: %w", err)
	}
	pageRows, err := results.Query()
	if err != nil {
		return nil, 0, false, fmt.Errorf("searching event audit rows: %w", err)
	}
	list, err := pgx.CollectRows(pageRows, scanEventAuditRow)
	if err != nil {
		return nil, 0, false, fmt.Errorf("searching event audit rows: %w", err)
	}
	if err := results.Close(); err != nil {
		return nil, 0, false, fmt.Errorf("searching event audit rows: %w", err)
	}
	if total <= countCap {
		return list, total, false, nil
	}
	estimate, err := s.planRows(ctx, q.matching, q.args)
	if err != nil {
		return nil, 0, false, fmt.Errorf("estimating event audit rows: %w", err)
	}
	return list, max(estimate, countCap+1), true, nil
}

// eventSearch holds the statements of one event audit search and their
// shared parameters.
type eventSearch struct {
	matching string // every matching row, for the planner's estimate
	count    string // the number of matching rows, up to the cap plus one
	page     string // the requested page
	args     []any
}

// eventSearchQueries builds the statements of a search for f; only
// constants and numbers enter the SQL, everything else is a parameter.
func eventSearchQueries(f EventAuditFilter, countCap int64) eventSearch {
	var w where
	if f.Hostname != "" {
		w.add("hostname = ?", f.Hostname)
	}
	if f.RuleID != nil {
		w.add("matched_rule_id = ?", *f.RuleID)
	}
	if !f.Start.IsZero() {
		w.add("event_timestamp >= ?", f.Start)
	}
	if !f.End.IsZero() {
		w.add("event_timestamp <= ?", f.End)
	}
	limit, offset := page(f.Limit, f.Offset)
	matching := "SELECT 1 FROM event_audit_log" + w.sql()
	return eventSearch{
		matching: matching,
		count:    fmt.Sprintf("SELECT count(*) FROM (%s LIMIT %d) capped", matching, countCap+1),
		page: fmt.Sprintf(`
SELECT id, event_timestamp, hostname, matched_rule_id, handling_decision, forwarded_to_moog, raw_message
FROM event_audit_log%s
ORDER BY event_timestamp DESC, id DESC
LIMIT %d OFFSET %d`, w.sql(), limit, offset),
		args: w.args,
	}
}

func scanEventAuditRow(row pgx.CollectableRow) (EventAuditRow, error) {
	var r EventAuditRow
	err := row.Scan(&r.ID, &r.EventTimestamp, &r.Hostname, &r.MatchedRuleID, &r.HandlingDecision,
		&r.ForwardedToMoog, &r.RawMessage)
	r.EventTimestamp = r.EventTimestamp.UTC()
	return r, err
}

// planRows returns the planner's estimate of the number of rows query
// returns.
func (s *Store) planRows(ctx context.Context, query string, args []any) (int64, error) {
	var out []byte
	if err := s.pool.QueryRow(ctx, "EXPLAIN (FORMAT JSON) "+query, args...).Scan(&out); err != nil {
		return 0, err
	}
	var plans []struct {
		Plan struct {
			Rows float64 `json:"Plan Rows"`
		} `json:"Plan"`
	}
	if err := json.Unmarshal(out, &plans); err != nil {
		return 0, fmt.Errorf("decoding plan: %w", err)
	}
	if len(plans) == 0 {
		return 0, fmt.Errorf("empty plan")
	}
	return int64(plans[0].Plan.Rows), nil
}

// page clamps a page size to 1..maxPageSize and an offset to 0 or more.
func page(limit, offset int) (int, int) {
	return min(max(limit, 1), maxPageSize), max(offset, 0)
}

// where collects the ANDed conditions of a search and their parameters.
// Conditions are constant SQL with one "?" for their parameter; input only
// ever travels as a parameter.
type where struct {
	conds []string
	args  []any
}

// add appends cond, whose "?" becomes the placeholder of arg.
func (w *where) add(cond string, arg any) {
	w.args = append(w.args, arg)
	w.conds = append(w.conds, strings.Replace(cond, "?", "$"+strconv.Itoa(len(w.args)), 1))
}

// sql returns " WHERE …", or "" when there is no condition.
func (w *where) sql() string {
	if len(w.conds) == 0 {
		return ""
	}
	return " WHERE " + strings.Join(w.conds, " AND ")
}
