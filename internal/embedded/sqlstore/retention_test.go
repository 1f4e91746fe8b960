package sqlstore

import (
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/mutt-go/mutt/internal/store"
)

// TestRetentionDeletesOnlyWhatWasExported exports a month of audit rows,
// writes one more row into that month, and deletes in chunks of two: the
// exported rows go with one audit row, the late one stays.
func TestRetentionDeletesOnlyWhatWasExported(t *testing.T) {
	ctx := t.Context()
	d := openTemp(t)
	rule := addRule(t, d)
	month := time.Date(2025, 3, 1, 0, 0, 0, 0, time.UTC)
	row := func(at time.Time) store.AuditRow {
		return store.AuditRow{EventID: uuid.NewString(), Timestamp: at, Hostname: "edge-01", RuleID: rule, Handling: "Ticket_only"}
	}
	rows := []store.AuditRow{row(month), row(month.Add(time.Hour)), row(month.AddDate(0, 1, 0).Add(-time.Microsecond)),
		row(month.AddDate(0, 1, 0))}
	if _, err := d.InsertAudit(ctx, rows); err != nil {
		t.Fatal(err)
	}
	months, err := d.EventAuditMonths(ctx, month.AddDate(0, 1, 0))
	if err != nil || len(months) != 1 || !months[0].Start.Equal(month) || months[0].Rows != 3 {
		t.Fatalf("months %+v, %v", months, err)
	}
	var recs [][]string
	ex, err := d.ExportEventAudit(ctx, month, month.AddDate(0, 1, 0), func(r []string) error {
		recs = append(recs, append([]string(nil), r...))
		return nil
	})
	if err != nil || ex.Rows != 3 || len(recs) != 4 {
		t.Fatalf("exported %+v (%d records), %v", ex, len(recs), err)
	}
	if strings.Join(recs[0], ",") != "id,event_timestamp,hostname,matched_rule_id,handling_decision,forwarded_to_moog,raw_message,event_id" ||
		recs[1][1] != "2025-03-01 00:00:00+00" || recs[3][1] != "2025-03-31 23:59:59.999999+00" || recs[1][5] != "f" || recs[1][6] != "" {
		t.Errorf("records %q", recs)
	}
	if _, err := d.InsertAudit(ctx, []store.AuditRow{row(month.Add(2 * time.Hour))}); err != nil {
		t.Fatal(err)
	}
	c := store.ConfigChange{ChangedBy: "mutt-retention", Operation: store.OpDelete, TableName: "event_audit_log", RecordID: 202503,
		Old: map[string]any{"rows": ex.Rows}}
	n, err := d.DeleteEventAudit(ctx, month, month.AddDate(0, 1, 0), ex.MaxID, 2, c)
	if err != nil || n != 3 {
		t.Fatalf("deleted %d, %v; want 3", n, err)
	}
	if left, _ := d.AuditRowCount(ctx); left != 2 {
		t.Errorf("%d rows left, want the late one and the next month's", left)
	}
	_, total, err := d.SearchConfigAudit(ctx, store.ConfigAuditFilter{ChangedBy: "mutt-retention"})
	if err != nil || total != 1 {
		t.Errorf("%d audit rows of the delete, %v; want 1", total, err)
	}
	// A count that differs from the archived one rolls the delete back.
	if _, err := d.DeleteConfigAudit(ctx, time.Now().Add(time.Hour), 1<<40, 99, c); err == nil {
		t.Error("a delete of another count than the archive's committed")
	}
	if _, total, _ := d.SearchConfigAudit(ctx, store.ConfigAuditFilter{}); total != 2 {
		t.Errorf("%d config audit rows after the refused delete, want 2", total)
	}
}
