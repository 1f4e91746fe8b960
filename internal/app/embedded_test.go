package app

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/mutt-go/mutt/internal/config"
	"github.com/mutt-go/mutt/internal/embedded/datadir"
	"github.com/mutt-go/mutt/internal/itest"
	"github.com/mutt-go/mutt/internal/secrets"
	"github.com/mutt-go/mutt/internal/store"
)

// embeddedConfig is a configuration with no Redis or PostgreSQL setting:
// the embedded mode, in the test's own data directory.
func embeddedConfig(t *testing.T) config.Config {
	t.Helper()
	cfg := config.Default()
	cfg.Finish()
	cfg.Storage.DataDir = t.TempDir()
	cfg.Ingest.Listen = "127.0.0.1:0"
	cfg.Ingest.APIKey = secrets.New("embedded-ingest-key-0123456789")
	cfg.Alerter.MetricsListen, cfg.Alerter.HealthListen = "127.0.0.1:0", "127.0.0.1:0"
	return cfg
}

// newEmbeddedServer builds a server of roles on cfg, closed when the test
// ends, and fails unless it chose the embedded store; its Ready callback
// sends to the channel returned.
func newEmbeddedServer(t *testing.T, cfg config.Config, roles ...string) (*Server, <-chan map[string]string) {
	t.Helper()
	ready := make(chan map[string]string, 1)
	srv, err := NewServer(t.Context(), cfg, ServeOptions{Roles: roles,
		Ready: func(a map[string]string) { ready <- a }}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Close)
	if srv.db == nil || srv.rdb != nil || srv.pool != nil {
		t.Fatal("a configuration without Redis or PostgreSQL settings did not select the embedded store")
	}
	return srv, ready
}

// serve runs srv until the test ends (register srv.Close before, so that
// it runs after) and returns the addresses its roles listen on, from the
// Ready callback that sends to ready.
func serve(t *testing.T, srv *Server, ready <-chan map[string]string) map[string]string {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	select {
	case addrs := <-ready:
		return addrs
	case err := <-done:
		t.Fatalf("Run: %v", err)
	case <-time.After(30 * time.Second):
		t.Fatal("roles did not start listening")
	}
	return nil
}

// TestEmbeddedIngestToAudit runs the ingestor and the alerter with no
// Redis and no PostgreSQL: events posted to the ingest API end as one audit
// row each in the data directory's database, and a second process on the
// same directory is refused.
func TestEmbeddedIngestToAudit(t *testing.T) {
	cfg := embeddedConfig(t)
	srv, ready := newEmbeddedServer(t, cfg, RoleIngestor, RoleAlerter)
	match := "LINK-DOWN"
	if _, err := srv.db.CreateRule(t.Context(), store.Rule{MatchString: &match, MatchType: "contains", Priority: 10,
		ProdHandling: "page_and_ticket", DevHandling: "ticket_only", TeamAssignment: "NETO", IsActive: true},
		store.Actor{ChangedBy: "test"}); err != nil {
		t.Fatal(err)
	}

	if _, err := NewServer(t.Context(), cfg, ServeOptions{Roles: []string{RoleIngestor}},
		slog.New(slog.NewTextHandler(io.Discard, nil))); !errors.Is(err, datadir.ErrInUse) {
		t.Fatalf("second server on the same data directory: err %v, want ErrInUse", err)
	}

	addrs := serve(t, srv, ready)

	const n = 300
	var body strings.Builder
	for i := range n {
		fmt.Fprintf(&body, `{"hostname":"router-%d","message":"%%LINK-DOWN: port %d","timestamp":"2026-12-07T10:00:00Z"}`+"\n", i%7, i)
	}
	req, err := http.NewRequest(http.MethodPost, "http://"+addrs["ingestor"]+"/api/v2/ingest", strings.NewReader(body.String()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("X-API-KEY", "embedded-ingest-key-0123456789")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	reply, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != http.StatusOK {
		t.Fatalf("ingest answered %d: %s", res.StatusCode, reply)
	}
	var audited int64
	itest.Eventually(t, 20*time.Second, "every event audited", func() bool {
		_, audited, _, err = srv.db.SearchEventAudit(t.Context(), store.EventAuditFilter{Limit: 1})
		return err == nil && audited >= n
	})
	if audited != n {
		t.Fatalf("%d audit rows, want exactly %d", audited, n)
	}
	if depth, err := srv.db.Len(t.Context(), cfg.Keys.AlertQueue); err != nil || depth != n {
		t.Fatalf("alert queue depth %d (err %v), want %d: every event pages", depth, err, n)
	}
}

// TestEmbeddedFullDiskAnswers503 puts the data directory on a 2 MiB tmpfs
// and posts events until it is full: the ingest API answers 503 with a
// JSON body saying so, counts the refusal, and the database stays whole.
func TestEmbeddedFullDiskAnswers503(t *testing.T) {
	cfg := embeddedConfig(t)
	if err := syscall.Mount("tmpfs", cfg.Storage.DataDir, "tmpfs", 0, "size=2m"); err != nil {
		t.Fatalf("mounting a 2 MiB tmpfs on %s (run the tests as root, as scripts/test.sh does): %v", cfg.Storage.DataDir, err)
	}
	t.Cleanup(func() { _ = syscall.Unmount(cfg.Storage.DataDir, syscall.MNT_DETACH) })
	srv, ready := newEmbeddedServer(t, cfg, RoleIngestor)
	addrs := serve(t, srv, ready)

	var body strings.Builder
	for i := range 200 {
		fmt.Fprintf(&body, `{"hostname":"router-%d","message":"%%LINK-DOWN: %s","timestamp":"2026-12-07T10:00:00Z"}`+"\n",
			i, strings.Repeat("x", 200))
	}
	var (
		status int
		reply  []byte
	)
	for range 1000 {
		req, err := http.NewRequest(http.MethodPost, "http://"+addrs["ingestor"]+"/api/v2/ingest", strings.NewReader(body.String()))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("X-API-KEY", "embedded-ingest-key-0123456789")
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		reply, _ = io.ReadAll(res.Body)
		res.Body.Close()
		if status = res.StatusCode; status != http.StatusOK {
			break
		}
	}
	if status != http.StatusServiceUnavailable || !strings.Contains(string(reply), `"Service Unavailable - storage full"`) {
		t.Fatalf("ingest on a full disk answered %d %s, want 503 saying the storage is full", status, reply)
	}
	if err := srv.db.IntegrityCheck(t.Context()); err != nil {
		t.Fatalf("database after the disk filled: %v", err)
	}
	mfs, err := srv.Registry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	refused := false
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetValue() == "storage_full" && m.GetCounter().GetValue() > 0 {
					refused = true
				}
			}
		}
	}
	if !refused {
		t.Error("no counter with reason storage_full went up")
	}
}
