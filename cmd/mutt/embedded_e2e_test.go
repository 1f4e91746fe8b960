package main

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/mutt-go/mutt/internal/embedded/sqlstore"
	"github.com/mutt-go/mutt/internal/fakemoog"
	"github.com/mutt-go/mutt/internal/itest"
	"github.com/mutt-go/mutt/internal/sender"
	"github.com/mutt-go/mutt/internal/store"
)

// embeddedServe is one `mutt serve` on a data directory with nothing
// else configured: the embedded mode.
type embeddedServe struct {
	t      *testing.T
	dir    string
	ingest string // host:port of the ingest API
	env    []string
}

const embeddedIngestKey = "embedded-e2e-ingest-key-0123"

func newEmbeddedServe(t *testing.T, moogURL string) *embeddedServe {
	t.Helper()
	dir := t.TempDir()
	ingest := "127.0.0.1:" + strconv.Itoa(itest.FreePort(t))
	// Only what the run needs: no Redis or PostgreSQL setting may leak in
	// from the test's own environment.
	env := []string{
		"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir(),
		"MUTT_DATA_DIR=" + dir, "INGEST_API_KEY=" + embeddedIngestKey, "INGEST_LISTEN=" + ingest,
		"MOOG_WEBHOOK_URL=" + moogURL, "MOOG_API_KEY=embedded-moog-key-0123", "MOOG_RATE_LIMIT=0",
		"ALERTER_METRICS_LISTEN=127.0.0.1:0", "ALERTER_HEALTH_LISTEN=127.0.0.1:0",
		"FORWARDER_METRICS_LISTEN=127.0.0.1:0", "FORWARDER_HEALTH_LISTEN=127.0.0.1:0",
		"REMEDIATION_METRICS_LISTEN=127.0.0.1:0", "REMEDIATION_HEALTH_LISTEN=127.0.0.1:0",
		"ALERTER_BATCH_SIZE=200",
	}
	return &embeddedServe{t: t, dir: dir, ingest: ingest, env: env}
}

// db opens the data directory's database beside the server, as a
// command-line tool would.
func (s *embeddedServe) db() *sqlstore.DB {
	s.t.Helper()
	db, err := sqlstore.Open(context.Background(), filepath.Join(s.dir, "mutt.db"))
	if err != nil {
		s.t.Fatal(err)
	}
	s.t.Cleanup(func() { _ = db.Close() })
	return db
}

func (s *embeddedServe) start() *exec.Cmd {
	s.t.Helper()
	cmd := exec.Command(muttBinary(s.t), "serve")
	cmd.Env = s.env
	cmd.Stdout, cmd.Stderr = io.Discard, io.Discard
	if testing.Verbose() {
		cmd.Stderr = os.Stderr
	}
	if err := cmd.Start(); err != nil {
		s.t.Fatal(err)
	}
	s.t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	itest.Eventually(s.t, 30*time.Second, "the ingest API answers", func() bool {
		res, err := http.Get("http://" + s.ingest + "/health")
		if err != nil {
			return false
		}
		res.Body.Close()
		return res.StatusCode == http.StatusOK
	})
	return cmd
}

// post sends events to the ingest API in requests of 1,000.
func (s *embeddedServe) post(events [][]byte) {
	s.t.Helper()
	for i := 0; i < len(events); i += 1000 {
		body := bytes.Join(events[i:min(i+1000, len(events))], []byte("\n"))
		req, err := http.NewRequest(http.MethodPost, "http://"+s.ingest+"/api/v2/ingest", bytes.NewReader(body))
		if err != nil {
			s.t.Fatal(err)
		}
		req.Header.Set("X-API-KEY", embeddedIngestKey)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			s.t.Fatal(err)
		}
		reply, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != http.StatusOK {
			s.t.Fatalf("ingest answered %d: %s", res.StatusCode, reply)
		}
	}
}

// TestEmbeddedServeKilledMidDrain runs `mutt serve` with no Redis and no
// PostgreSQL, posts 50,000 events that all page, kills the process with
// SIGKILL while they drain, starts it again on the same data directory,
// and checks that every event has exactly one audit row and every alert
// reached Moogsoft.
func TestEmbeddedServeKilledMidDrain(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	fake := fakemoog.New(fakemoog.Options{APIKey: "embedded-moog-key-0123"})
	moog := httptest.NewServer(fake)
	defer moog.Close()
	s := newEmbeddedServe(t, moog.URL+"/events")

	// The rule first, through the database a tool would open.
	seed := s.db()
	match := "."
	if _, err := seed.CreateRule(t.Context(), store.Rule{MatchString: &match, MatchType: "regex", Priority: 10,
		ProdHandling: "page_and_ticket", DevHandling: "page_and_ticket", TeamAssignment: "NETO", IsActive: true},
		store.Actor{ChangedBy: "test"}); err != nil {
		t.Fatal(err)
	}
	_ = seed.Close()

	const n = 50_000
	events := sender.Generate(n, 12)
	first := s.start()
	s.post(events)
	db := s.db()
	audited := func() int64 {
		c, err := db.AuditRowCount(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	itest.Eventually(t, 60*time.Second, "the first server made progress", func() bool { return audited() > n/10 })
	if err := first.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = first.Wait()
	before, delivered := audited(), fake.Distinct()
	if before == n && delivered == n {
		t.Fatal("everything was done before the kill; the test proves nothing")
	}
	t.Logf("killed with %d of %d audited and %d delivered", before, n, delivered)

	s.start()
	itest.Eventually(t, 180*time.Second, "every alert delivered after the restart", func() bool {
		return fake.Distinct() == n
	})
	if got := audited(); got != n {
		t.Errorf("%d audit rows for %d events, want exactly one each", got, n)
	}
	for _, q := range []string{"mutt:ingest_queue", "mutt:alert_queue"} {
		itest.Eventually(t, 30*time.Second, q+" drained", func() bool {
			depth, err := db.Len(t.Context(), q)
			return err == nil && depth == 0
		})
	}
	for _, q := range []string{"mutt:dlq:alerter", "mutt:dlq:moog", "mutt:dlq:dead"} {
		if c, err := db.DeadLetterCount(t.Context(), q); err != nil || c != 0 {
			t.Errorf("%s holds %d dead letters (err %v), want none", q, c, err)
		}
	}
	t.Logf("%d alerts received, %d distinct (%d redelivered across the kill)", fake.Count(), fake.Distinct(),
		fake.Count()-fake.Distinct())
}
