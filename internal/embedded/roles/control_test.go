package roles_test

import (
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	"github.com/mutt-go/mutt/internal/configadmin"
	"github.com/mutt-go/mutt/internal/dynconfig"
	"github.com/mutt-go/mutt/internal/dynconfig/dynconfigtest"
	"github.com/mutt-go/mutt/internal/embedded/roles"
	"github.com/mutt-go/mutt/internal/embedded/sqlstore"
	"github.com/mutt-go/mutt/internal/heartbeat"
	"github.com/mutt-go/mutt/internal/heartbeat/heartbeattest"
	"github.com/mutt-go/mutt/internal/itest"
	"github.com/mutt-go/mutt/internal/ratestats/ratestatstest"
	"github.com/mutt-go/mutt/internal/store"
	"github.com/mutt-go/mutt/internal/web/auth"
	"github.com/mutt-go/mutt/internal/web/auth/sessiontest"
	"github.com/mutt-go/mutt/internal/web/ui"
)

// openDB opens a database file of its own in t.TempDir().
func openDB(t *testing.T) *sqlstore.DB {
	t.Helper()
	db, err := sqlstore.Open(t.Context(), filepath.Join(t.TempDir(), "mutt.db"))
	if err != nil {
		t.Fatalf("opening: %v", err)
	}
	t.Cleanup(func() { _ = db.Close() })
	return db
}

func TestDynConfigConformance(t *testing.T) {
	dynconfigtest.Run(t, func(t *testing.T) dynconfigtest.Target {
		db := openDB(t)
		return dynconfigtest.Target{Backend: roles.NewDynConfig(db), Audit: db}
	})
}

// TestDynConfigWatchSeesAnotherProcess checks that a change written through
// another connection to the same file, as `mutt config` makes it, reaches
// a watch within a second.
func TestDynConfigWatchSeesAnotherProcess(t *testing.T) {
	path := filepath.Join(t.TempDir(), "mutt.db")
	open := func() *sqlstore.DB {
		db, err := sqlstore.Open(t.Context(), path)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = db.Close() })
		return db
	}
	serve, cli := open(), open()
	ch, err := roles.NewDynConfig(serve).Watch(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	next := "42"
	row := store.ConfigChange{ChangedBy: "cli:ops", Operation: store.OpCreate, TableName: "dynamic_config",
		RecordID: store.HashRecordID("unhandled_threshold"), New: map[string]string{"key": "unhandled_threshold", "value": next}}
	ok, err := roles.NewDynConfig(cli).CompareAndSet(t.Context(), "unhandled_threshold", nil, &next, row)
	if err != nil || !ok {
		t.Fatalf("CompareAndSet = %v, %v", ok, err)
	}
	select {
	case n := <-ch:
		if n != "unhandled_threshold" {
			t.Errorf("delivered %q", n)
		}
	case <-time.After(time.Second):
		t.Fatal("the other connection's change was not delivered within 1 s")
	}
}

func TestSessionsConformance(t *testing.T) {
	sessiontest.Run(t, func(t *testing.T) auth.SessionStore { return roles.NewSessions(openDB(t)) })
}

func TestHeartbeatsConformance(t *testing.T) {
	heartbeattest.Run(t, func(t *testing.T) heartbeat.Backend { return roles.NewHeartbeats(openDB(t)) })
}

func TestIngestRatesConformance(t *testing.T) {
	ratestatstest.Run(t, func(t *testing.T) ratestatstest.Target {
		db := openDB(t)
		return ratestatstest.Target{
			Source: roles.NewIngestRates(db),
			Add: func(t *testing.T, at time.Time, events int64) {
				if err := db.AddIngestCounts(t.Context(), []sqlstore.MinuteCount{{Minute: at, Events: events}}); err != nil {
					t.Fatal(err)
				}
			},
		}
	})
}

// TestAdminChangeReachesStore runs the audited writer and the services'
// cache over one database file, as `mutt serve` will in embedded mode.
func TestAdminChangeReachesStore(t *testing.T) {
	db := openDB(t)
	logger := slog.New(slog.DiscardHandler)
	backend := roles.NewDynConfig(db)
	admin := configadmin.NewFrom(backend, logger)
	reader := dynconfig.NewFrom(backend, logger)
	itest.RunUntilCleanup(t, reader.Run)
	actor := store.Actor{ChangedBy: "cli:ops", Reason: "embedded"}
	// The first Set after Run has started watching proves the watch is live.
	itest.Eventually(t, 5*time.Second, "reader watching", func() bool {
		if _, err := admin.Set(t.Context(), "slo_window_hours", "36", actor); err != nil {
			t.Fatal(err)
		}
		return reader.Int("slo_window_hours", 0) == 36
	})
	if _, err := admin.Set(t.Context(), "unhandled_threshold", "42", actor); err != nil {
		t.Fatal(err)
	}
	itest.Eventually(t, time.Second, "change visible within 1 s", func() bool { return reader.Int("unhandled_threshold", 100) == 42 })
	if _, err := admin.Delete(t.Context(), "unhandled_threshold", actor); err != nil {
		t.Fatal(err)
	}
	itest.Eventually(t, time.Second, "delete visible within 1 s", func() bool { return reader.Int("unhandled_threshold", 100) == 100 })
	entries, err := admin.List(t.Context())
	if err != nil || len(entries) != 1 || entries[0].Name != "slo_window_hours" {
		t.Errorf("List = %+v, %v", entries, err)
	}
	_, total, err := db.SearchConfigAudit(t.Context(), store.ConfigAuditFilter{TableName: configadmin.AuditTable})
	if err != nil || total < 3 {
		t.Errorf("%d audit rows (%v), want one per change", total, err)
	}
}

func TestQueueDepths(t *testing.T) {
	db := openDB(t)
	if err := db.Append(t.Context(), "mutt:ingest_queue", [][]byte{[]byte(`{"a":1}`), []byte(`{"a":2}`)}); err != nil {
		t.Fatal(err)
	}
	var depths ui.QueueDepths = roles.NewQueueDepths(db)
	lens, errs := depths.Depths(t.Context(), []string{"mutt:ingest_queue", "mutt:alert_queue"})
	if len(lens) != 2 || lens[0] != 2 || lens[1] != 0 || errs[0] != nil || errs[1] != nil {
		t.Errorf("Depths = %v, %v; want 2 and 0", lens, errs)
	}
}
