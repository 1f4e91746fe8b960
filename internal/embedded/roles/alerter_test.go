package roles

import (
	"context"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/mutt-go/mutt/internal/alerter"
	"github.com/mutt-go/mutt/internal/alerter/alertertest"
	"github.com/mutt-go/mutt/internal/embedded/sqlstore"
	"github.com/mutt-go/mutt/internal/queue"
	"github.com/mutt-go/mutt/internal/store"
)

// openDB opens a fresh database in the test's temporary directory.
func openDB(t *testing.T) *sqlstore.DB {
	t.Helper()
	db, err := sqlstore.Open(context.Background(), filepath.Join(t.TempDir(), "mutt.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	return db
}

func TestAlerterBackendConformance(t *testing.T) {
	queues := AlerterQueues{Ingest: "mutt:ingest_queue", Alerts: "mutt:alert_queue", DLQ: "mutt:dlq:alerter"}
	alertertest.Run(t, func(t *testing.T) alertertest.Target {
		db := openDB(t)
		match := "LINK-DOWN"
		ruleID, err := db.CreateRule(t.Context(), store.Rule{MatchString: &match, MatchType: "contains", Priority: 10,
			ProdHandling: "Prod_Team_Page", DevHandling: "Dev_Ticket", TeamAssignment: "NETO", IsActive: true},
			store.Actor{ChangedBy: "test"})
		if err != nil {
			t.Fatal(err)
		}
		return alertertest.Target{
			Backend: NewAlerterBackend(db, queues),
			Reopen:  func(*testing.T) alerter.Backend { return NewAlerterBackend(db, queues) },
			Produce: func(t *testing.T, payloads ...[]byte) {
				if err := db.Append(t.Context(), queues.Ingest, payloads); err != nil {
					t.Fatal(err)
				}
			},
			Alerts: func(t *testing.T) [][]byte {
				entries, err := db.Read(t.Context(), queues.Alerts, 0, 1000)
				if err != nil {
					t.Fatal(err)
				}
				out := make([][]byte, len(entries))
				for i, e := range entries {
					out[i] = e.Payload
				}
				return out
			},
			Dead: func(t *testing.T) []queue.DeadLetter {
				dead, err := db.DeadLetters(t.Context(), queues.DLQ, 1000)
				if err != nil {
					t.Fatal(err)
				}
				out := make([]queue.DeadLetter, len(dead))
				for i, d := range dead {
					out[i] = queue.DeadLetter{Payload: d.Payload, Reason: d.Reason, Error: d.Error, Source: d.Source,
						SourceID: strconv.FormatInt(d.SourceSeq, 10), Deliveries: d.Deliveries, Attempts: d.Attempts,
						Replays: d.Replays, Status: d.Status}
				}
				return out
			},
			AuditCount: func(t *testing.T) int {
				_, total, _, err := db.SearchEventAudit(t.Context(), store.EventAuditFilter{Limit: 1})
				if err != nil {
					t.Fatal(err)
				}
				return int(total)
			},
			RuleID: ruleID,
		}
	})
}
