package store

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgconn"
)

func TestInsertAuditIsIdempotent(t *testing.T) {
	t.Parallel()
	pool := migrated(t)
	insertRule(t, pool, 1)
	s := New(pool)
	start := time.Now().UTC().Truncate(time.Microsecond)
	first := auditRows(t, 1000, 1, start)
	fresh := auditRows(t, 200, 1, start.Add(time.Hour))
	mixed := append(append([]AuditRow{}, first[250:750]...), fresh...)
	dupInBatch := auditRows(t, 1, 1, start.Add(2*time.Hour))
	dupInBatch = append(dupInBatch, dupInBatch[0])
	unpartitioned := auditRows(t, 3, 1, time.Date(1999, 12, 31, 23, 59, 0, 0, time.UTC))

	// The steps share one database and run in order.
	steps := []struct {
		name      string
		rows      []AuditRow
		wantNew   int64
		wantTotal int64
	}{
		{"new batch", first, 1000, 1000},
		{"same batch again", first, 0, 1000},
		{"some old, some new", mixed, 200, 1200},
		{"one event twice in a batch", dupInBatch, 1, 1201},
		{"month without a partition", unpartitioned, 3, 1204},
		{"month without a partition again", unpartitioned, 0, 1204},
		{"empty batch", nil, 0, 1204},
	}
	for _, st := range steps {
		n, err := s.InsertAudit(t.Context(), st.rows)
		if err != nil {
			t.Fatalf("%s: InsertAudit: %v", st.name, err)
		}
		if n != st.wantNew {
			t.Errorf("%s: InsertAudit = %d new rows, want %d", st.name, n, st.wantNew)
		}
		if total := auditCount(t, pool); total != st.wantTotal {
			t.Errorf("%s: %d rows in event_audit_log, want %d", st.name, total, st.wantTotal)
		}
	}
}

// TestInsertAuditStoresRow reads back a row written by each path: the
// binary COPY, and the INSERT that a batch holding an already recorded
// event (here the same event twice) falls back to.
func TestInsertAuditStoresRow(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		times int // how often the row is in the batch
	}{
		{"copy", 1},
		{"insert after a unique violation", 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			pool := migrated(t)
			insertRule(t, pool, 7)
			want := auditRows(t, 1, 7, time.Now().UTC().Truncate(time.Microsecond))[0]
			want.Handling = "Ticket_only"
			want.Forwarded = true
			want.Raw = []byte(`{"message":"Ünïcode ✓ and \"quotes\"","hostname":"h"}`)
			batch := make([]AuditRow, tt.times)
			for i := range batch {
				batch[i] = want
			}
			n, err := New(pool).InsertAudit(t.Context(), batch)
			if err != nil {
				t.Fatalf("InsertAudit: %v", err)
			}
			if n != 1 {
				t.Errorf("InsertAudit = %d new rows, want 1", n)
			}
			var got AuditRow
			var raw string
			err = pool.QueryRow(t.Context(), `
				SELECT event_id::text, event_timestamp, hostname, matched_rule_id, handling_decision, forwarded_to_moog, raw_message
				FROM event_audit_log`).Scan(&got.EventID, &got.Timestamp, &got.Hostname, &got.RuleID, &got.Handling, &got.Forwarded, &raw)
			if err != nil {
				t.Fatalf("reading the row back: %v", err)
			}
			got.Raw = []byte(raw)
			if got.EventID != want.EventID || !got.Timestamp.Equal(want.Timestamp) || got.Hostname != want.Hostname ||
				got.RuleID != want.RuleID || got.Handling != want.Handling || got.Forwarded != want.Forwarded ||
				string(got.Raw) != string(want.Raw) {
				t.Errorf("stored row:\n got %+v\nwant %+v", got, want)
			}
		})
	}
}

// TestAppendAuditCopyTimestamps checks the binary timestamp against the
// server's reading of the same instant, around PostgreSQL's epoch and with
// sub-microsecond parts, which both paths truncate.
func TestAppendAuditCopyTimestamps(t *testing.T) {
	t.Parallel()
	pool := migrated(t)
	insertRule(t, pool, 1)
	s := New(pool)
	times := []time.Time{
		time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(1999, 12, 31, 23, 59, 59, 999_999_000, time.UTC),
		time.Date(1970, 1, 1, 0, 0, 0, 1_000, time.UTC),
		time.Date(2026, 12, 7, 15, 4, 5, 123_456_789, time.FixedZone("x", 5*3600+1800)),
	}
	for i, ts := range times {
		row := auditRows(t, 1, 1, ts)[0]
		if _, err := s.InsertAudit(t.Context(), []AuditRow{row}); err != nil {
			t.Fatalf("InsertAudit(%v): %v", ts, err)
		}
		var got time.Time
		if err := pool.QueryRow(t.Context(), "SELECT event_timestamp FROM event_audit_log WHERE event_id = $1::uuid",
			row.EventID).Scan(&got); err != nil {
			t.Fatalf("reading row %d back: %v", i, err)
		}
		if want := ts.Truncate(time.Microsecond); !got.Equal(want) {
			t.Errorf("stored %v for %v, want %v", got.UTC(), ts, want.UTC())
		}
	}
}

func TestInsertAuditRowErrors(t *testing.T) {
	t.Parallel()
	pool := migrated(t)
	insertRule(t, pool, 1)
	s := New(pool)
	now := time.Now().UTC()
	tests := []struct {
		name   string
		mutate func(r *AuditRow)
		state  string // expected SQLSTATE
	}{
		{"unknown rule id", func(r *AuditRow) { r.RuleID = 999 }, "23503"},
		{"rule id beyond the column's range", func(r *AuditRow) { r.RuleID = 1 << 40 }, "22003"},
		{"malformed event id", func(r *AuditRow) { r.EventID = "not-a-uuid" }, "22P02"},
		{"hostname longer than 255 characters", func(r *AuditRow) { r.Hostname = strings.Repeat("h", 256) }, "22001"},
		{"handling longer than 100 characters", func(r *AuditRow) { r.Handling = strings.Repeat("x", 101) }, "22001"},
		{"NUL byte in the raw event", func(r *AuditRow) { r.Raw = []byte("{\"message\":\"a\x00b\"}") }, "22021"},
		{"invalid UTF-8 in the raw event", func(r *AuditRow) { r.Raw = []byte{'{', 0xff, '}'} }, "22021"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rows := auditRows(t, 3, 1, now)
			tt.mutate(&rows[1])
			before := auditCount(t, pool)
			n, err := s.InsertAudit(t.Context(), rows)
			if err == nil {
				t.Fatalf("InsertAudit succeeded (%d rows), want an error", n)
			}
			if !IsRowError(err) {
				t.Errorf("IsRowError(%v) = false, want true", err)
			}
			var pgErr *pgconn.PgError
			if !errors.As(err, &pgErr) || pgErr.Code != tt.state {
				t.Errorf("error %v, want SQLSTATE %s", err, tt.state)
			}
			if n != 0 {
				t.Errorf("InsertAudit reported %d rows with its error", n)
			}
			if after := auditCount(t, pool); after != before {
				t.Errorf("a failed batch wrote %d rows, want none", after-before)
			}
		})
	}

	t.Run("cancelled context", func(t *testing.T) {
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		_, err := s.InsertAudit(ctx, auditRows(t, 10, 1, now))
		if err == nil {
			t.Fatal("InsertAudit with a cancelled context succeeded")
		}
		if IsRowError(err) {
			t.Errorf("IsRowError(%v) = true for a cancelled context", err)
		}
		if !errors.Is(err, context.Canceled) {
			t.Errorf("error %v does not wrap context.Canceled", err)
		}
	})
}

func TestIsRowError(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		err  error
		want bool
	}{
		{"nil", nil, false},
		{"plain error", errors.New("connection reset by peer"), false},
		{"context cancelled", fmt.Errorf("writing: %w", context.Canceled), false},
		{"foreign key violation", &pgconn.PgError{Code: "23503"}, true},
		{"check violation, wrapped twice", fmt.Errorf("a: %w", fmt.Errorf("b: %w", &pgconn.PgError{Code: "23514"})), true},
		{"not-null violation", &pgconn.PgError{Code: "23502"}, true},
		{"invalid datetime format", &pgconn.PgError{Code: "22007"}, true},
		{"query cancelled", &pgconn.PgError{Code: "57014"}, false},
		{"admin shutdown", &pgconn.PgError{Code: "57P01"}, false},
		{"connection failure", &pgconn.PgError{Code: "08006"}, false},
		{"serialization failure", &pgconn.PgError{Code: "40001"}, false},
		{"insufficient privilege", &pgconn.PgError{Code: "42501"}, false},
		{"disk full", &pgconn.PgError{Code: "53100"}, false},
		{"empty code", &pgconn.PgError{}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := IsRowError(tt.err); got != tt.want {
				t.Errorf("IsRowError(%v) = %v, want %v", tt.err, got, tt.want)
			}
		})
	}
}

// BenchmarkInsertAudit500 writes batches of 500 new rows, the alerter's batch
// size, into a migrated database and reports rows per second.
func BenchmarkInsertAudit500(b *testing.B) {
	pool := migrated(b)
	insertRule(b, pool, 1)
	s := New(pool)
	const batch = 500
	template := auditRows(b, batch, 1, time.Now().UTC())
	rows := make([]AuditRow, batch)
	ctx := context.Background()
	b.ResetTimer()
	for b.Loop() {
		b.StopTimer()
		for i := range rows {
			rows[i] = template[i]
			rows[i].EventID = uuid.NewString()
		}
		b.StartTimer()
		n, err := s.InsertAudit(ctx, rows)
		if err != nil {
			b.Fatalf("InsertAudit: %v", err)
		}
		if n != batch {
			b.Fatalf("InsertAudit wrote %d rows, want %d", n, batch)
		}
	}
	b.ReportMetric(float64(b.N*batch)/b.Elapsed().Seconds(), "rows/s")
}
