package alerter

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/redis/go-redis/v9"

	"github.com/mutt-go/mutt/internal/event"
	"github.com/mutt-go/mutt/internal/itest"
	"github.com/mutt-go/mutt/internal/queue"
	"github.com/mutt-go/mutt/internal/store"
)

// harness is one alerter on its own database and Redis prefix.
type harness struct {
	t      *testing.T
	pool   *pgxpool.Pool
	rdb    *redis.Client
	prefix string
	opts   Options
	reload string // the reload channel
	reg    *prometheus.Registry
	a      *Alerter
	cancel context.CancelFunc
	done   chan struct{}
}

func newHarness(t *testing.T, tune func(*Options)) *harness {
	t.Helper()
	pool, _ := itest.Pool(t)
	ctx := context.Background()
	if err := store.Migrate(ctx, pool, slog.New(slog.NewTextHandler(io.Discard, nil))); err != nil {
		t.Fatal(err)
	}
	rdb, prefix := itest.Redis(t)
	opts := Options{
		PodName:     "test",
		IngestQueue: prefix + ":ingest_queue", AlertQueue: prefix + ":alert_queue", DLQ: prefix + ":dlq:alerter",
		UnhandledPrefix: prefix + ":unhandled",
		Workers:         2, BatchSize: 200, Block: 100 * time.Millisecond, MaxRetries: 3, ReclaimIdle: time.Second,
		CacheReloadInterval: time.Hour, UnhandledThreshold: 100, UnhandledExpiry: 24 * time.Hour,
		UnhandledDefaultTeam: "NETO", ShedWarnThreshold: 1_000_000, ShedThreshold: 2_000_000, ShedMode: "defer",
		DeferSleep: 50 * time.Millisecond,
	}
	if tune != nil {
		tune(&opts)
	}
	return &harness{t: t, pool: pool, rdb: rdb, prefix: prefix, opts: opts, reload: prefix + ":alerter:reload"}
}

func (h *harness) exec(sql string, args ...any) {
	h.t.Helper()
	if _, err := h.pool.Exec(context.Background(), sql, args...); err != nil {
		h.t.Fatalf("%s: %v", sql, err)
	}
}

func (h *harness) start() {
	h.t.Helper()
	h.reg = prometheus.NewRegistry()
	st := store.New(h.pool)
	h.a = New(h.opts, h.backend(), st, st, nil, h.reg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	ctx, cancel := context.WithCancel(context.Background())
	h.cancel, h.done = cancel, make(chan struct{})
	go func() { defer close(h.done); _ = h.a.Run(ctx) }()
	h.t.Cleanup(h.stop)
	itest.Eventually(h.t, 10*time.Second, "rules loaded", h.a.Ready)
}

// backend is the Redis backend over the harness's keys.
func (h *harness) backend() *RedisBackend {
	return NewRedisBackend(h.rdb, RedisOptions{IngestQueue: h.opts.IngestQueue, AlertQueue: h.opts.AlertQueue,
		DLQ: h.opts.DLQ, ReloadChannel: h.reload})
}

func (h *harness) stop() {
	if h.cancel != nil {
		h.cancel()
		<-h.done
		h.cancel = nil
	}
}

// produce normalises events as the ingestor does and appends them.
func (h *harness) produce(events ...string) []string {
	h.t.Helper()
	p := queue.NewProducer(h.rdb, h.opts.IngestQueue, queue.ProducerOptions{MetricsPrefix: h.prefix + ":metrics"})
	defer p.Close()
	ids := make([]string, 0, len(events))
	var batch [][]byte
	for _, raw := range events {
		id := uuid.Must(uuid.NewV7()).String()
		ev, err := event.Normalize([]byte(raw), event.Stamp{EventID: id, CorrelationID: "cid-" + id[:8]}, nil)
		if err != nil {
			h.t.Fatalf("normalising %s: %v", raw, err)
		}
		ids = append(ids, id)
		batch = append(batch, ev.JSON)
		if len(batch) == 1000 {
			if _, err := p.Produce(context.Background(), batch); err != nil {
				h.t.Fatal(err)
			}
			batch = nil
		}
	}
	if len(batch) > 0 {
		if _, err := p.Produce(context.Background(), batch); err != nil {
			h.t.Fatal(err)
		}
	}
	return ids
}

func (h *harness) count(sql string, args ...any) int {
	h.t.Helper()
	var n int
	if err := h.pool.QueryRow(context.Background(), sql, args...).Scan(&n); err != nil {
		h.t.Fatalf("%s: %v", sql, err)
	}
	return n
}

func (h *harness) xlen(key string) int64 {
	h.t.Helper()
	n, err := h.rdb.XLen(context.Background(), key).Result()
	if err != nil {
		h.t.Fatal(err)
	}
	return n
}

// alerts returns the alert queue's messages decoded.
func (h *harness) alerts() []map[string]any {
	h.t.Helper()
	msgs, err := h.rdb.XRange(context.Background(), h.opts.AlertQueue, "-", "+").Result()
	if err != nil {
		h.t.Fatal(err)
	}
	out := make([]map[string]any, 0, len(msgs))
	for _, m := range msgs {
		var a map[string]any
		if err := json.Unmarshal([]byte(m.Values[queue.PayloadField].(string)), &a); err != nil {
			h.t.Fatalf("alert is not JSON: %v", err)
		}
		out = append(out, a)
	}
	return out
}

// drained waits until the ingest queue is empty and nothing is pending.
func (h *harness) drained(timeout time.Duration) {
	h.t.Helper()
	itest.Eventually(h.t, timeout, "ingest queue drained", func() bool {
		return h.xlen(h.opts.IngestQueue) == 0
	})
}

func syslog(host, msg string) string {
	return fmt.Sprintf(`{"hostname":%q,"message":%q,"timestamp":"2025-11-11T16:34:50Z"}`, host, msg)
}

func TestHandledUnhandledAndDevHosts(t *testing.T) {
	h := newHarness(t, nil)
	h.exec(`INSERT INTO alert_rules (id, match_string, match_type, priority, prod_handling, dev_handling, team_assignment)
	        VALUES (1, 'LINK-DOWN', 'contains', 5, 'Page_and_ticket', 'Ticket_only', 'NetOps'),
	               (2, 'ERROR', 'contains', 20, 'Ignore', 'Ignore', 'NETO')`)
	h.exec(`INSERT INTO development_hosts (hostname) VALUES ('dev-router1')`)
	h.start()
	h.produce(
		syslog("router1", "%LINK-DOWN: Gi0/1"),
		syslog("dev-router1", "%LINK-DOWN: Gi0/2"),
		syslog("router1", "disk ERROR"),
		syslog("router1", "nothing matches this"),
	)
	h.drained(10 * time.Second)
	itest.Eventually(t, 5*time.Second, "3 audit rows", func() bool {
		return h.count(`SELECT count(*) FROM event_audit_log`) == 3
	})
	tests := []struct {
		host, handling string
		forwarded      bool
	}{
		{"router1", "Page_and_ticket", true},
		{"dev-router1", "Ticket_only", true},
		{"router1", "Ignore", false},
	}
	for _, tt := range tests {
		if n := h.count(`SELECT count(*) FROM event_audit_log WHERE hostname=$1 AND handling_decision=$2 AND forwarded_to_moog=$3`,
			tt.host, tt.handling, tt.forwarded); n != 1 {
			t.Errorf("audit rows for %s/%s/%v = %d, want 1", tt.host, tt.handling, tt.forwarded, n)
		}
	}
	alerts := h.alerts()
	if len(alerts) != 2 {
		t.Fatalf("alerts = %d, want 2", len(alerts))
	}
	a := alerts[0]
	for _, k := range []string{"hostname", "team_assignment", "severity", "message_body", "raw_json", "_correlation_id", "rule_id", "handling_decision", "environment", "event_id"} {
		if _, ok := a[k]; !ok {
			t.Errorf("alert lacks %q: %v", k, a)
		}
	}
	if _, ok := a["api_key"]; ok {
		t.Error("alert carries an api_key")
	}
	if _, ok := a["raw_json"].(map[string]any); !ok {
		t.Errorf("raw_json is %T, want an object", a["raw_json"])
	}
	if a["severity"] != "Warning" || a["team_assignment"] != "NetOps" || a["environment"] != "prod" {
		t.Errorf("alert = %v", a)
	}
	if got := testutil.ToFloat64(h.a.metrics.events.WithLabelValues("unhandled")); got != 1 {
		t.Errorf("unhandled events = %v, want 1", got)
	}
}

func TestMetaAlertOncePerWindow(t *testing.T) {
	h := newHarness(t, nil)
	h.exec(`INSERT INTO device_teams (hostname, team_assignment) VALUES ('noisy1', 'SysAdmin')`)
	h.start()
	events := make([]string, 200)
	for i := range events {
		events[i] = syslog("noisy1", "fan speed irregular")
	}
	h.produce(events[:100]...)
	h.drained(10 * time.Second)
	h.produce(events[100:]...)
	h.drained(10 * time.Second)
	alerts := h.alerts()
	if len(alerts) != 1 {
		t.Fatalf("meta-alerts = %d, want exactly 1", len(alerts))
	}
	a := alerts[0]
	want := "[MUTT] Detected 100 unhandled messages in 86400s from 'noisy1'. Sample message: fan speed irregular"
	if a["hostname"] != "MUTT_Alerter" || a["team_assignment"] != "SysAdmin" || a["message_body"] != want {
		t.Errorf("meta-alert = %v", a)
	}
	if n := h.count(`SELECT count(*) FROM event_audit_log`); n != 0 {
		t.Errorf("audit rows for unhandled events = %d, want 0", n)
	}
}

func TestPoisonMessagesGoToDLQWithReason(t *testing.T) {
	h := newHarness(t, nil)
	h.start()
	ctx := context.Background()
	for _, payload := range []string{`not json`, `{"hostname":"h","message":"m"}`, `{"hostname":"","message":"m","timestamp":"2025-01-01T00:00:00Z"}`} {
		if err := h.rdb.XAdd(ctx, &redis.XAddArgs{Stream: h.opts.IngestQueue, Values: []any{queue.PayloadField, payload}}).Err(); err != nil {
			t.Fatal(err)
		}
	}
	// An entry without the payload field at all.
	if err := h.rdb.XAdd(ctx, &redis.XAddArgs{Stream: h.opts.IngestQueue, Values: []any{"other", "x"}}).Err(); err != nil {
		t.Fatal(err)
	}
	h.drained(10 * time.Second)
	itest.Eventually(t, 5*time.Second, "4 dead letters", func() bool { return h.xlen(h.opts.DLQ) == 4 })
	dead, err := h.rdb.XRange(ctx, h.opts.DLQ, "-", "+").Result()
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range dead {
		if d.Values["reason"] != reasonInvalid || d.Values["error"] == "" || d.Values["source_id"] == "" {
			t.Errorf("dead letter = %v", d.Values)
		}
	}
	// Two workers share the batch, so the dead letters' order is not the
	// entries' order: find the one for the event without a timestamp.
	var noTimestamp map[string]any
	for _, d := range dead {
		if p, _ := d.Values[queue.PayloadField].(string); p == `{"hostname":"h","message":"m"}` {
			noTimestamp = d.Values
		}
	}
	if noTimestamp == nil {
		t.Fatalf("no dead letter carries the event without a timestamp: %v", dead)
	}
	if !strings.Contains(noTimestamp["error"].(string), "timestamp") {
		t.Errorf("dead letter for a missing timestamp does not name it: %v", noTimestamp["error"])
	}
}

func TestMessagesPastRetryLimitAreDeadLettered(t *testing.T) {
	h := newHarness(t, func(o *Options) { o.MaxRetries = 1 })
	ctx := context.Background()
	ingest := queue.NewStream(h.rdb, h.opts.IngestQueue, ConsumerGroup)
	if err := ingest.EnsureGroup(ctx); err != nil {
		t.Fatal(err)
	}
	h.produce(syslog("h1", "m1"))
	// Two consumers that die holding the message: deliveries reach 2.
	for i := range 2 {
		if i > 0 {
			if _, err := h.rdb.XClaim(ctx, &redis.XClaimArgs{Stream: h.opts.IngestQueue, Group: ConsumerGroup, Consumer: "dead2", Messages: []string{"0-1"}}).Result(); err != nil && err != redis.Nil {
				t.Fatal(err)
			}
		}
	}
	msgs, err := ingest.Read(ctx, "dead1", 10, 0)
	if err != nil || len(msgs) != 1 {
		t.Fatalf("read = %v, %v", msgs, err)
	}
	if _, err := h.rdb.XClaim(ctx, &redis.XClaimArgs{Stream: h.opts.IngestQueue, Group: ConsumerGroup, Consumer: "dead2", Messages: []string{msgs[0].ID}}).Result(); err != nil {
		t.Fatal(err)
	}
	// Now delivered twice; the reclaimer's delivery is the third, past 1 retry.
	h.start()
	itest.Eventually(t, 10*time.Second, "message dead-lettered", func() bool { return h.xlen(h.opts.DLQ) == 1 })
	dead, err := h.rdb.XRange(ctx, h.opts.DLQ, "-", "+").Result()
	if err != nil {
		t.Fatal(err)
	}
	if dead[0].Values["reason"] != reasonMaxRetries || dead[0].Values["deliveries"] != "3" {
		t.Errorf("dead letter = %v", dead[0].Values)
	}
	h.drained(5 * time.Second)
}

func TestAuditRejectedRowIsDeadLetteredOthersProceed(t *testing.T) {
	h := newHarness(t, nil)
	h.exec(`INSERT INTO alert_rules (id, match_string, match_type, priority, prod_handling, dev_handling, team_assignment)
	        VALUES (1, 'doomed', 'contains', 1, 'Ticket_only', 'Ignore', 'NetOps'),
	               (2, 'fine', 'contains', 2, 'Ticket_only', 'Ignore', 'NetOps')`)
	h.start()
	// The cached rule 1 disappears: its audit rows now break the foreign key.
	h.exec(`DELETE FROM alert_rules WHERE id = 1`)
	h.produce(syslog("h", "doomed event"), syslog("h", "fine event"))
	h.drained(10 * time.Second)
	itest.Eventually(t, 5*time.Second, "one dead letter", func() bool { return h.xlen(h.opts.DLQ) == 1 })
	if n := h.count(`SELECT count(*) FROM event_audit_log WHERE matched_rule_id = 2`); n != 1 {
		t.Errorf("audit rows for rule 2 = %d, want 1", n)
	}
	alerts := h.alerts()
	if len(alerts) != 1 || alerts[0]["message_body"] != "fine event" {
		t.Errorf("alerts = %v, want only the fine event's", alerts)
	}
}

func TestReloadOnPubSub(t *testing.T) {
	h := newHarness(t, nil)
	h.start()
	if h.a.Snapshot().RuleCount() != 0 {
		t.Fatal("expected no rules")
	}
	h.exec(`INSERT INTO alert_rules (match_string, match_type, priority, prod_handling, dev_handling, team_assignment)
	        VALUES ('x', 'contains', 1, 'Ignore', 'Ignore', 'NETO')`)
	if err := h.rdb.Publish(context.Background(), h.reload, "rules changed").Err(); err != nil {
		t.Fatal(err)
	}
	itest.Eventually(t, 5*time.Second, "rule picked up", func() bool { return h.a.Snapshot().RuleCount() == 1 })
}

func TestShedToDLQWhenAlertQueueIsLong(t *testing.T) {
	h := newHarness(t, func(o *Options) { o.ShedMode = "dlq"; o.ShedThreshold = 5; o.ShedWarnThreshold = 1 })
	ctx := context.Background()
	for range 6 {
		if err := h.rdb.XAdd(ctx, &redis.XAddArgs{Stream: h.opts.AlertQueue, Values: []any{queue.PayloadField, "{}"}}).Err(); err != nil {
			t.Fatal(err)
		}
	}
	h.start()
	h.produce(syslog("h", "a"), syslog("h", "b"))
	itest.Eventually(t, 10*time.Second, "shed events in the DLQ", func() bool { return h.xlen(h.opts.DLQ) == 2 })
	dead, err := h.rdb.XRange(ctx, h.opts.DLQ, "-", "+").Result()
	if err != nil {
		t.Fatal(err)
	}
	if dead[0].Values["reason"] != reasonShed || dead[0].Values["error"] != "queue_depth_exceeded:6>5" {
		t.Errorf("dead letter = %v", dead[0].Values)
	}
	// The counter moves once the batch's commit has returned, a moment
	// after the dead letters became visible.
	itest.Eventually(t, 5*time.Second, "shed{mode=dlq} = 2", func() bool {
		return testutil.ToFloat64(h.a.metrics.shed.WithLabelValues("dlq")) == 2
	})
}

// TestMetaAlertBuiltOnlyAtThreshold commits unhandled events straight
// through the commit script and checks that a meta-alert is built for the
// event that reaches the threshold and for no other, across batches and with
// a signature already triggered.
func TestMetaAlertBuiltOnlyAtThreshold(t *testing.T) {
	h := newHarness(t, nil)
	b := h.backend()
	ctx := t.Context()
	key := func(host string) string { return h.opts.UnhandledPrefix + ":" + host + ":sig" }
	if err := h.rdb.Set(ctx, key("quiet")+":triggered", 3, time.Hour).Err(); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name      string
		hosts     []string
		wantBuilt []int // positions whose meta-alert was built
		wantMetas int64
	}{
		{"threshold reached inside the batch", []string{"a", "a", "b", "a", "a", "b", "quiet"}, []int{3}, 1},
		{"threshold reached in the next batch", []string{"b", "a", "quiet"}, []int{0}, 1},
		{"nothing reaches it", []string{"a", "b", "c"}, nil, 0},
		// The dry run does not read triggered keys: it may ask for a
		// meta-alert that the counting then does not push.
		{"a triggered signature pushes nothing", []string{"quiet", "quiet", "quiet"}, []int{2}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var built []int
			c := &Batch{Threshold: 3, Expiry: time.Hour, MetaAlert: func(k int) []byte {
				built = append(built, k)
				host := tt.hosts[k]
				ev := event.Event{Hostname: host, Message: "fan speed irregular", JSON: []byte(`{"hostname":"` + host + `"}`)}
				return appendMetaAlert(nil, &ev, uuid.NewString(), "NETO", 3, 3600)
			}}
			for _, host := range tt.hosts {
				c.UnhandledKeys = append(c.UnhandledKeys, key(host))
			}
			res, err := b.Commit(ctx, c)
			if err != nil {
				t.Fatalf("Commit: %v", err)
			}
			if res.MetaAlerts != tt.wantMetas {
				t.Errorf("%d meta-alerts pushed, want %d", res.MetaAlerts, tt.wantMetas)
			}
			if fmt.Sprint(built) != fmt.Sprint(tt.wantBuilt) {
				t.Errorf("meta-alerts built for events %v, want %v", built, tt.wantBuilt)
			}
		})
	}
	var sources []string
	for _, al := range h.alerts() {
		sources = append(sources, fmt.Sprint(al["source_hostname"]))
	}
	if strings.Join(sources, ",") != "a,b" {
		t.Errorf("meta-alerts on the queue for %v, want [a b]", sources)
	}
}
