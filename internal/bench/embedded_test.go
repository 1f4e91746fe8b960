package bench

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"math"
	"net/http"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/mutt-go/mutt/internal/alerter"
	"github.com/mutt-go/mutt/internal/app"
	"github.com/mutt-go/mutt/internal/config"
	"github.com/mutt-go/mutt/internal/embedded/roles"
	"github.com/mutt-go/mutt/internal/embedded/sqlstore"
	"github.com/mutt-go/mutt/internal/ingest"
	"github.com/mutt-go/mutt/internal/rules"
	"github.com/mutt-go/mutt/internal/secrets"
	"github.com/mutt-go/mutt/internal/sender"
	"github.com/mutt-go/mutt/internal/store"
)

// The embedded mode's end-to-end targets (ADR 0009).
const (
	targetEmbeddedIngestEventsPerSecond  = 50_000
	targetEmbeddedAlerterEventsPerSecond = 15_000
)

func openBenchDB(b *testing.B) *sqlstore.DB {
	b.Helper()
	db, err := sqlstore.Open(context.Background(), filepath.Join(b.TempDir(), "mutt.db"))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = db.Close() })
	return db
}

// loadEmbeddedRuleSet writes set, the development hosts and the teams of
// the bench rule set into db.
func loadEmbeddedRuleSet(ctx context.Context, db *sqlstore.DB, set []rules.Rule) error {
	actor := store.Actor{ChangedBy: "bench"}
	for _, r := range set {
		sr := store.Rule{MatchString: nullable(r.MatchString), TrapOID: nullable(r.TrapOID), SyslogSeverity: r.Severity,
			MatchType: string(r.MatchType), Priority: r.Priority, ProdHandling: r.ProdHandling, DevHandling: r.DevHandling,
			TeamAssignment: r.Team, IsActive: r.Active}
		if _, err := db.CreateRule(ctx, sr, actor); err != nil {
			return err
		}
	}
	for _, h := range devHosts {
		if err := db.AddDevHost(ctx, h, actor); err != nil {
			return err
		}
	}
	for h, t := range deviceTeams {
		if err := db.AddTeam(ctx, store.Team{Hostname: h, TeamAssignment: t}, actor); err != nil {
			return err
		}
	}
	return nil
}

// embeddedBenchConfig is the shipped configuration with load shedding off:
// nobody drains the alert queue in these runs.
func embeddedBenchConfig() config.Config {
	cfg := config.Default()
	cfg.Finish()
	cfg.Alerter.Shedding.Mode = config.ShedOff
	cfg.Alerter.Shedding.WarnThreshold = math.MaxInt64
	cfg.Alerter.Block = min(cfg.Alerter.Block, 500*time.Millisecond)
	return cfg
}

// BenchmarkEmbeddedIngest posts requests of 100 normalised-to-be events to
// the ingest API, served on a loopback port as the ingestor role wires it
// on the embedded store, from 8 concurrent clients: the batched-ingest
// scenario of `mutt bench ingest`. Concurrent requests share a group
// commit, one fsync each. b.N counts events.
func BenchmarkEmbeddedIngest(b *testing.B) {
	db := openBenchDB(b)
	cfg := embeddedBenchConfig()
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	p := roles.NewProducer(db, cfg.Keys.IngestQueue, nil, true, logger)
	defer p.Close()
	key, err := randomKey()
	if err != nil {
		b.Fatal(err)
	}
	handler := ingest.NewServer(ingest.Options{
		APIKey: secrets.New(key), MaxBodyBytes: cfg.Ingest.MaxBodyBytes, RequiredFields: cfg.Ingest.RequiredFields,
		Ping: db.Ping, StorageName: "Embedded database", Settings: func() any { return map[string]any{} },
	}, p, prometheus.NewRegistry(), logger)
	url, stop, err := serveLoopback(handler, logger)
	if err != nil {
		b.Fatal(err)
	}
	defer stop()
	const batch, parallel = 100, 8
	raw := sender.Generate(batch*50, 1)
	bodies := make([][]byte, 0, 50)
	for i := 0; i < len(raw); i += batch {
		bodies = append(bodies, bytes.Join(raw[i:i+batch], []byte("\n")))
	}
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: parallel}}
	next := make(chan []byte)
	var wg sync.WaitGroup
	b.ResetTimer()
	start := time.Now()
	for range parallel {
		wg.Go(func() {
			for body := range next {
				req, err := http.NewRequest(http.MethodPost, url+"/api/v2/ingest", bytes.NewReader(body))
				if err != nil {
					b.Error(err)
					return
				}
				req.Header.Set("X-API-KEY", key)
				res, err := client.Do(req)
				if err != nil {
					b.Error(err)
					return
				}
				_, _ = io.Copy(io.Discard, res.Body)
				res.Body.Close()
				if res.StatusCode != http.StatusOK {
					b.Errorf("ingest answered %d", res.StatusCode)
					return
				}
			}
		})
	}
	for sent := 0; sent < b.N; sent += batch {
		next <- bodies[(sent/batch)%len(bodies)]
	}
	close(next)
	wg.Wait()
	elapsed := time.Since(start)
	b.StopTimer()
	want := int64((b.N + batch - 1) / batch * batch)
	if n, err := db.Len(context.Background(), cfg.Keys.IngestQueue); err != nil || n != want {
		b.Fatalf("ingest queue holds %d (err %v), want %d", n, err, want)
	}
	perSec := float64(want) / elapsed.Seconds()
	b.ReportMetric(perSec, "events/s")
	b.ReportMetric(perSec/targetEmbeddedIngestEventsPerSecond*100, "%target")
}

// BenchmarkEmbeddedAlerterAllHandled drains b.N queued events through an
// alerter on the embedded store with the paging rule set: every event
// writes one audit row and one alert, in the same transaction as its
// acknowledgement. The audit rows are checked to be exactly b.N.
func BenchmarkEmbeddedAlerterAllHandled(b *testing.B) {
	ctx := context.Background()
	db := openBenchDB(b)
	cfg := embeddedBenchConfig()
	set := PagingRuleSet(50)
	if err := loadEmbeddedRuleSet(ctx, db, set); err != nil {
		b.Fatal(err)
	}
	loaded, err := db.LoadRuleSet(ctx)
	if err != nil {
		b.Fatal(err)
	}
	snap, problems := rules.Compile(loaded.Rules, loaded.DevHosts, loaded.Teams)
	if len(problems) > 0 {
		b.Fatal(problems)
	}
	payloads, want, err := prepareEvents(b.N, 1, snap, cfg.Ingest.RequiredFields)
	if err != nil {
		b.Fatal(err)
	}
	for i := 0; i < len(payloads); i += 1000 {
		if err := db.Append(ctx, cfg.Keys.IngestQueue, payloads[i:min(i+1000, len(payloads))]); err != nil {
			b.Fatal(err)
		}
	}
	backend := roles.NewAlerterBackend(db, roles.AlerterQueues{Ingest: cfg.Keys.IngestQueue, Alerts: cfg.Keys.AlertQueue,
		DLQ: cfg.Keys.AlerterDLQ})
	a := alerter.New(app.AlerterOptions(cfg), backend, db, db, nil, prometheus.NewRegistry(),
		slog.New(slog.NewTextHandler(io.Discard, nil)))
	runCtx, stop := context.WithCancel(ctx)
	var wg sync.WaitGroup
	b.ResetTimer()
	start := time.Now()
	wg.Go(func() { _ = a.Run(runCtx) })
	deadline := time.Now().Add(10 * time.Minute)
	for {
		n, err := db.Len(ctx, cfg.Keys.IngestQueue)
		if err != nil {
			b.Fatal(err)
		}
		if n == 0 {
			break
		}
		if time.Now().After(deadline) {
			b.Fatalf("%d events still queued after 10 minutes", n)
		}
		time.Sleep(5 * time.Millisecond)
	}
	elapsed := time.Since(start)
	stop()
	wg.Wait()
	b.StopTimer()
	audited, err := db.AuditRowCount(ctx)
	if err != nil {
		b.Fatal(err)
	}
	if audited != want.handled || want.handled != int64(b.N) {
		b.Fatalf("%d audit rows for %d events (%d handled by the rules), want one per event", audited, b.N, want.handled)
	}
	perSec := float64(b.N) / elapsed.Seconds()
	b.ReportMetric(perSec, "events/s")
	b.ReportMetric(perSec/targetEmbeddedAlerterEventsPerSecond*100, "%target")
}
