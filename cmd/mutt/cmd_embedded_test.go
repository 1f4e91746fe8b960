package main

import (
	"encoding/json"
	"net/http"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/mutt-go/mutt/internal/config"
	"github.com/mutt-go/mutt/internal/embedded/datadir"
	"github.com/mutt-go/mutt/internal/embedded/roles"
	"github.com/mutt-go/mutt/internal/embedded/sqlstore"
	"github.com/mutt-go/mutt/internal/health"
	"github.com/mutt-go/mutt/internal/ruletest"
	"github.com/mutt-go/mutt/internal/store"
)

// newEmbeddedEnv points the mutt command at a fresh embedded data
// directory, with no Redis or PostgreSQL setting, and returns the
// directory and its database file's path (not created yet).
func newEmbeddedEnv(t *testing.T) (dir, file string) {
	t.Helper()
	dir = t.TempDir()
	t.Setenv("MUTT_STORAGE", "embedded")
	t.Setenv("MUTT_DATA_DIR", dir)
	t.Setenv("USER", "tester")
	return dir, filepath.Join(dir, "mutt.db")
}

// openEmbeddedTestDB opens (creating) the database file as mutt serve would.
func openEmbeddedTestDB(t *testing.T, file string) *sqlstore.DB {
	t.Helper()
	db, err := sqlstore.Open(t.Context(), file)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	return db
}

// TestConfigEmbedded sets, reads and lists a dynamic value in an embedded
// data directory: the audit row in the same database, and a watcher on
// another connection to the file (as a running mutt serve has) told of the
// change within a second.
func TestConfigEmbedded(t *testing.T) {
	_, file := newEmbeddedEnv(t)
	code, _, errOut := runDLQ("config", "get", "unhandled_threshold")
	if code != exitFailure || !strings.Contains(errOut, "MUTT_DATA_DIR") {
		t.Errorf("without a database: exit %d: %s", code, errOut)
	}

	db := openEmbeddedTestDB(t, file)
	changes, err := roles.NewDynConfig(db).Watch(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	code, out, errOut := runDLQ("config", "set", "unhandled_threshold", "200", "--reason", "INC-42: a noisy router")
	if code != exitOK || !strings.Contains(out, store.OpCreate) {
		t.Fatalf("set: exit %d: %s\n%s", code, errOut, out)
	}
	select {
	case name := <-changes:
		if name != "unhandled_threshold" {
			t.Errorf("the watcher was told of %q", name)
		}
	case <-time.After(time.Second):
		t.Error("the watcher was not told of the change within a second")
	}

	if code, out, errOut := runDLQ("config", "get", "unhandled_threshold"); code != exitOK || strings.TrimSpace(out) != "200" {
		t.Errorf("get: exit %d: %q %s", code, out, errOut)
	}
	code, out, errOut = runDLQ("config", "list", "--set", "--json")
	var rows []configRow
	if code != exitOK || json.Unmarshal([]byte(out), &rows) != nil || len(rows) != 1 ||
		rows[0].Name != "unhandled_threshold" || rows[0].Value == nil || *rows[0].Value != "200" {
		t.Errorf("list --set: exit %d: %s\n%s", code, errOut, out)
	}
	if code, out, errOut := runDLQ("config", "validate", "--check-dynamic"); code != exitOK || !strings.Contains(out, "dynamic configuration: ok (1 values") {
		t.Errorf("validate --check-dynamic: exit %d: %s\n%s", code, errOut, out)
	}
	if code, _, _ := runDLQ("config", "set", "unhandled_threshold", "-5"); code != exitUsage {
		t.Errorf("set -5: exit %d, want %d", code, exitUsage)
	}
	if code, out, errOut := runDLQ("config", "delete", "unhandled_threshold", "--yes", "--reason", "INC-42 over"); code != exitOK {
		t.Errorf("delete: exit %d: %s\n%s", code, errOut, out)
	}

	rows2, _, err := db.SearchConfigAudit(t.Context(), store.ConfigAuditFilter{TableName: "dynamic_config", Limit: 10})
	if err != nil || len(rows2) != 2 {
		t.Fatalf("audit rows = %+v, %v; want the CREATE and the DELETE", rows2, err)
	}
	var create store.ConfigAuditRow
	for _, r := range rows2 {
		if r.Operation == store.OpCreate {
			create = r
		}
	}
	if !strings.HasPrefix(create.ChangedBy, "cli:") || create.Reason == nil || *create.Reason != "INC-42: a noisy router" {
		t.Errorf("CREATE row = %+v", create)
	}
	if _, found, err := db.ConfigValue(t.Context(), "unhandled_threshold"); err != nil || found {
		t.Errorf("after delete: found %v, %v", found, err)
	}
}

// TestRulesTestEmbedded shows what an event would match against the rules
// of an embedded data directory.
func TestRulesTestEmbedded(t *testing.T) {
	_, file := newEmbeddedEnv(t)
	db := openEmbeddedTestDB(t, file)
	ms := "LINK-3-UPDOWN"
	id, err := db.CreateRule(t.Context(), store.Rule{MatchString: &ms, MatchType: "contains", Priority: 10,
		ProdHandling: "Page_and_ticket", DevHandling: "Ticket_only", TeamAssignment: "NetOps", IsActive: true},
		store.Actor{ChangedBy: "tester"})
	if err != nil {
		t.Fatal(err)
	}
	decide := func(message string) ruletest.Report {
		t.Helper()
		code, out, errOut := runDLQ("rules", "test", "--event",
			`{"hostname":"router1","message":"`+message+`","timestamp":"2025-01-15T14:30:22Z"}`)
		var r ruletest.Report
		if code != exitOK || json.Unmarshal([]byte(out), &r) != nil {
			t.Fatalf("rules test: exit %d: %s\n%s", code, errOut, out)
		}
		return r
	}
	r := decide("%LINK-3-UPDOWN: Interface Gi0/1, changed state to down")
	if !r.Matched || r.Rule == nil || r.Rule.ID != id || r.Team != "NetOps" || r.RulesLoaded != 1 {
		t.Errorf("matching event: %+v", r)
	}
	if r := decide("%SYS-5-CONFIG_I: Configured from console"); r.Matched || r.RulesLoaded != 1 {
		t.Errorf("other event: %+v", r)
	}
}

// TestHealthEmbedded checks an embedded data directory: without its
// database, with it and no server, and with a process holding its lock.
func TestHealthEmbedded(t *testing.T) {
	dir, file := newEmbeddedEnv(t)
	for _, name := range healthListenEnv {
		t.Setenv(name, closedAddr(t))
	}
	serveHealth(t, "ingestor", http.StatusOK)

	code, out, errOut := runHealth()
	if code != exitFailure || !hasHealthLine(out, "ERROR", health.CheckDatabase) || !hasHealthLine(out, "SKIPPED", "queue.ingest") ||
		!strings.Contains(out, "MUTT_DATA_DIR") {
		t.Errorf("without a database: exit %d:\n%s\n%s", code, out, errOut)
	}

	db := openEmbeddedTestDB(t, file)
	c := config.Default()
	c.Finish()
	if err := db.Append(t.Context(), c.Keys.IngestQueue, [][]byte{[]byte(`{}`), []byte(`{}`)}); err != nil {
		t.Fatal(err)
	}
	letter := dlqMoogLetter("http_5xx", 0, 503)
	letter.Payload = []byte(`{"hostname":"r1"}`)
	sd, err := roles.StoreDeadLetter(c.Keys.MoogDLQ, letter)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Commit(t.Context(), sqlstore.Batch{Dead: []sqlstore.DeadLetter{sd}}); err != nil {
		t.Fatal(err)
	}

	code, out, errOut = runHealth()
	if code != exitFailure || !hasHealthLine(out, "ERROR", health.CheckServer) || !strings.Contains(out, "no server running") {
		t.Errorf("no server: exit %d:\n%s\n%s", code, out, errOut)
	}
	// The check released the lock it took.
	lock, err := datadir.Acquire(dir)
	if err != nil {
		t.Fatalf("the lock is still held after the check: %v", err)
	}
	t.Cleanup(func() { _ = lock.Release() })

	code, out, errOut = runHealth()
	if code != exitOK {
		t.Fatalf("server running: exit %d:\n%s\n%s", code, out, errOut)
	}
	for _, want := range [][2]string{{"OK", health.CheckDatabase}, {"OK", health.CheckSchema}, {"OK", health.CheckServer},
		{"OK", "queue.ingest"}, {"OK", "queue.dlq_moog"}, {"OK", "role.ingestor"}} {
		if !hasHealthLine(out, want[0], want[1]) {
			t.Errorf("table lacks %s %s:\n%s", want[0], want[1], out)
		}
	}
	for _, want := range []string{c.Keys.IngestQueue + ": 2 entries", c.Keys.MoogDLQ + ": 1 entries", "as mutt serve does while it runs"} {
		if !strings.Contains(out, want) {
			t.Errorf("table lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "redis") || strings.Contains(out, "postgres") {
		t.Errorf("the embedded report checks Redis or PostgreSQL:\n%s", out)
	}
}

// TestMigrateDoctorEmbedded migrates the database of a data directory and
// sends mutt doctor, which diagnoses Redis and PostgreSQL, to mutt health.
func TestMigrateDoctorEmbedded(t *testing.T) {
	_, file := newEmbeddedEnv(t)
	if code, _, errOut := runDLQ("migrate"); code != exitFailure || !strings.Contains(errOut, "MUTT_DATA_DIR") {
		t.Errorf("migrate without a database: exit %d: %s", code, errOut)
	}
	db := openEmbeddedTestDB(t, file)
	v, err := db.SchemaVersion(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	code, out, errOut := runDLQ("migrate")
	if code != exitOK || !strings.Contains(out, file+": schema at version "+strconv.Itoa(v)) {
		t.Errorf("migrate: exit %d: %s\n%s", code, errOut, out)
	}
	if code, _, errOut := runDLQ("doctor"); code != exitUsage || !strings.Contains(errOut, "mutt health") {
		t.Errorf("doctor: exit %d, want %d: %s", code, exitUsage, errOut)
	}
}
