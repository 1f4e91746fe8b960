package store

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/mutt-go/mutt/internal/itest"
)

// latestVersion is the version of the newest embedded migration.
const latestVersion = 6

// migrated returns a pool on a fresh database with the whole schema applied,
// partitions included.
func migrated(t testing.TB) *pgxpool.Pool {
	t.Helper()
	pool, _ := itest.Pool(t)
	if err := Migrate(t.Context(), pool, nil); err != nil {
		t.Fatalf("Migrate: %v", err)
	}
	return pool
}

// schemaOnly returns a pool on a fresh database with the migrations applied
// but no monthly partition created yet.
func schemaOnly(t testing.TB) *pgxpool.Pool {
	t.Helper()
	pool, _ := itest.Pool(t)
	if err := migrateSchema(t.Context(), pool, slog.New(slog.DiscardHandler)); err != nil {
		t.Fatalf("migrating schema: %v", err)
	}
	return pool
}

// insertRule adds an active contains rule with the given id.
func insertRule(t testing.TB, pool *pgxpool.Pool, id int64) {
	t.Helper()
	_, err := pool.Exec(t.Context(), `
		INSERT INTO alert_rules (id, match_string, match_type, priority, prod_handling, dev_handling, team_assignment)
		VALUES ($1, 'LINK-DOWN', 'contains', 5, 'Page_and_ticket', 'Ticket_only', 'NetOps')`, id)
	if err != nil {
		t.Fatalf("inserting rule %d: %v", id, err)
	}
}

// auditCount returns the number of rows in event_audit_log.
func auditCount(t testing.TB, pool *pgxpool.Pool) int64 {
	t.Helper()
	var n int64
	if err := pool.QueryRow(t.Context(), "SELECT count(*) FROM event_audit_log").Scan(&n); err != nil {
		t.Fatalf("counting audit rows: %v", err)
	}
	return n
}

// sampleEvent is the part of an ingested event that the audit row needs.
type sampleEvent struct {
	Hostname       string `json:"hostname"`
	Message        string `json:"message"`
	SyslogSeverity int    `json:"syslog_severity"`
	SourceType     string `json:"source_type"`
}

// loadSamples reads the syslog events under testdata.
func loadSamples(t testing.TB) []sampleEvent {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", "syslog_events.json"))
	if err != nil {
		t.Fatalf("reading samples: %v", err)
	}
	var events []sampleEvent
	if err := json.Unmarshal(data, &events); err != nil {
		t.Fatalf("decoding samples: %v", err)
	}
	if len(events) == 0 {
		t.Fatal("no sample events")
	}
	return events
}

// auditRows returns n rows for rule ruleID built from the sample events, with
// fresh event ids and timestamps one millisecond apart from start. Raw holds
// the event JSON as the alerter stores it.
func auditRows(t testing.TB, n int, ruleID int64, start time.Time) []AuditRow {
	t.Helper()
	samples := loadSamples(t)
	rows := make([]AuditRow, n)
	for i := range rows {
		s := samples[i%len(samples)]
		id := uuid.NewString()
		ts := start.Add(time.Duration(i) * time.Millisecond).UTC()
		raw, err := json.Marshal(map[string]any{
			"hostname":        s.Hostname,
			"timestamp":       ts.Format(time.RFC3339Nano),
			"message":         s.Message,
			"syslog_severity": s.SyslogSeverity,
			"source_type":     s.SourceType,
			"_event_id":       id,
			"_correlation_id": uuid.NewString(),
		})
		if err != nil {
			t.Fatalf("encoding event: %v", err)
		}
		rows[i] = AuditRow{
			EventID:   id,
			Timestamp: ts,
			Hostname:  s.Hostname,
			RuleID:    ruleID,
			Handling:  "Page_and_ticket",
			Forwarded: i%2 == 0,
			Raw:       raw,
		}
	}
	return rows
}

// partitionOf returns the partition that holds the audit row of eventID.
func partitionOf(t testing.TB, pool *pgxpool.Pool, eventID string) string {
	t.Helper()
	var name string
	err := pool.QueryRow(context.Background(),
		"SELECT tableoid::regclass::text FROM event_audit_log WHERE event_id = $1", eventID).Scan(&name)
	if err != nil {
		t.Fatalf("finding partition of %s: %v", eventID, err)
	}
	return name
}

func monthName(year int, month time.Month) string {
	return fmt.Sprintf("event_audit_log_%04d_%02d", year, int(month))
}
