// Package alertertest is the conformance suite of alerter.Backend: every
// implementation (Redis, embedded SQLite) runs it from its own tests.
package alertertest

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/mutt-go/mutt/internal/alerter"
	"github.com/mutt-go/mutt/internal/itest"
	"github.com/mutt-go/mutt/internal/queue"
	"github.com/mutt-go/mutt/internal/store"
)

// Target is one backend under test with the means to look behind it.
type Target struct {
	// Backend is the implementation under test.
	Backend alerter.Backend
	// Reopen returns a new backend over the same storage, as a restarted
	// process would open it.
	Reopen func(t *testing.T) alerter.Backend
	// Produce appends payloads to the ingest queue.
	Produce func(t *testing.T, payloads ...[]byte)
	// Alerts returns the alert queue's payloads, oldest first.
	Alerts func(t *testing.T) [][]byte
	// Dead returns the dead-letter queue's entries, oldest first.
	Dead func(t *testing.T) []queue.DeadLetter
	// AuditCount counts the rows of the event audit log (used only when
	// the backend writes audit rows in its commit).
	AuditCount func(t *testing.T) int
	// RuleID is a rule that exists, for audit rows.
	RuleID int64
}

// Run runs the suite; open returns a fresh, empty target per subtest.
func Run(t *testing.T, open func(t *testing.T) Target) {
	t.Run("ReadCommitOrder", func(t *testing.T) { testReadCommitOrder(t, open(t)) })
	t.Run("IdempotentRedelivery", func(t *testing.T) { testIdempotent(t, open(t)) })
	t.Run("DeadLetterFields", func(t *testing.T) { testDeadLetterFields(t, open(t)) })
	t.Run("ReclaimUncommitted", func(t *testing.T) { testReclaim(t, open(t)) })
	t.Run("RestartRedelivers", func(t *testing.T) { testRestart(t, open(t)) })
	t.Run("UnhandledThreshold", func(t *testing.T) { testUnhandled(t, open(t)) })
	t.Run("AuditInCommit", func(t *testing.T) { testAudit(t, open(t)) })
}

func payloads(n int, tag string) [][]byte {
	out := make([][]byte, n)
	for i := range out {
		out[i] = []byte(`{"n":` + strconv.Itoa(i) + `,"tag":"` + tag + `"}`)
	}
	return out
}

func ids(msgs []queue.Message) []string {
	out := make([]string, len(msgs))
	for i, m := range msgs {
		out[i] = m.ID
	}
	return out
}

func readAll(t *testing.T, b alerter.Backend, consumer string, want int) []queue.Message {
	t.Helper()
	var got []queue.Message
	deadline := time.Now().Add(5 * time.Second)
	for len(got) < want && time.Now().Before(deadline) {
		msgs, err := b.Read(t.Context(), consumer, want-len(got), 100*time.Millisecond)
		if err != nil {
			t.Fatalf("Read: %v", err)
		}
		got = append(got, msgs...)
	}
	if len(got) != want {
		t.Fatalf("read %d messages, want %d", len(got), want)
	}
	return got
}

func commit(t *testing.T, b alerter.Backend, c *alerter.Batch) alerter.CommitResult {
	t.Helper()
	res, err := b.Commit(t.Context(), c)
	if err != nil {
		t.Fatalf("Commit: %v", err)
	}
	return res
}

func prepare(t *testing.T, b alerter.Backend) {
	t.Helper()
	if err := b.Prepare(t.Context()); err != nil {
		t.Fatalf("Prepare: %v", err)
	}
}

func depths(t *testing.T, b alerter.Backend) alerter.Depths {
	t.Helper()
	d, err := b.Depths(t.Context())
	if err != nil {
		t.Fatalf("Depths: %v", err)
	}
	return d
}

// begin prepares tg's backend, produces n payloads tagged tag and reads
// them all as consumer w-0.
func begin(t *testing.T, tg Target, n int, tag string) (alerter.Backend, []queue.Message) {
	t.Helper()
	prepare(t, tg.Backend)
	tg.Produce(t, payloads(n, tag)...)
	return tg.Backend, readAll(t, tg.Backend, "w-0", n)
}

func testReadCommitOrder(t *testing.T, tg Target) {
	b := tg.Backend
	prepare(t, b)
	in := payloads(7, "order")
	tg.Produce(t, in...)
	msgs := readAll(t, b, "w-0", len(in))
	for i, m := range msgs {
		if string(m.Payload) != string(in[i]) {
			t.Fatalf("message %d = %s, want %s (queue order)", i, m.Payload, in[i])
		}
		if m.Deliveries != 1 {
			t.Errorf("message %d delivered %d times, want 1", i, m.Deliveries)
		}
	}
	if more, err := b.Read(t.Context(), "w-1", 10, -1); err != nil || len(more) != 0 {
		t.Fatalf("second consumer read %d messages (err %v), want none: they are pending", len(more), err)
	}
	d := depths(t, b)
	if d.Pending != int64(len(in)) {
		t.Errorf("pending depth %d, want %d", d.Pending, len(in))
	}
	alerts := [][]byte{[]byte(`{"alert":1}`), []byte(`{"alert":2}`), []byte(`{"alert":3}`)}
	res := commit(t, b, &alerter.Batch{IDs: ids(msgs), Alerts: alerts})
	if res.Acked != int64(len(in)) {
		t.Errorf("acked %d, want %d", res.Acked, len(in))
	}
	got := tg.Alerts(t)
	if fmt.Sprintf("%s", got) != fmt.Sprintf("%s", alerts) {
		t.Errorf("alert queue holds %s, want %s in batch order", got, alerts)
	}
	d = depths(t, b)
	if d.Ingest != 0 || d.Pending != 0 || d.Alerts != 3 || d.DLQ != 0 {
		t.Errorf("depths after commit %+v, want ingest 0, pending 0, alerts 3, dlq 0", d)
	}
}

func testIdempotent(t *testing.T, tg Target) {
	b, msgs := begin(t, tg, 3, "idem")
	c := &alerter.Batch{IDs: ids(msgs), Alerts: [][]byte{[]byte(`{"once":true}`)},
		Dead: []queue.DeadLetter{{Payload: msgs[0].Payload, Reason: "invalid_event", Error: "bad", Source: "ingest", SourceID: msgs[0].ID}}}
	if res := commit(t, b, c); res.Acked != 3 {
		t.Fatalf("first commit acked %d, want 3", res.Acked)
	}
	if res := commit(t, b, c); res.Acked != 0 || res.MetaAlerts != 0 {
		t.Fatalf("second commit of the same batch = %+v, want nothing done", res)
	}
	if n := len(tg.Alerts(t)); n != 1 {
		t.Errorf("%d alerts after a repeated commit, want 1", n)
	}
	if n := len(tg.Dead(t)); n != 1 {
		t.Errorf("%d dead letters after a repeated commit, want 1", n)
	}
}

func testDeadLetterFields(t *testing.T, tg Target) {
	b, msgs := begin(t, tg, 2, "dlq")
	want := []queue.DeadLetter{
		{Payload: msgs[0].Payload, Reason: "max_retries", Error: "delivered 5 times", Source: "mutt:ingest_queue",
			SourceID: msgs[0].ID, Deliveries: 5, Attempts: 2, Replays: 1, Status: 503},
		{Payload: msgs[1].Payload, Reason: "invalid_event", Error: "hostname: required", Source: "mutt:ingest_queue",
			SourceID: msgs[1].ID, Deliveries: 1},
	}
	commit(t, b, &alerter.Batch{IDs: ids(msgs), Dead: want})
	got := tg.Dead(t)
	if len(got) != len(want) {
		t.Fatalf("%d dead letters, want %d", len(got), len(want))
	}
	for i := range want {
		g, w := got[i], want[i]
		if string(g.Payload) != string(w.Payload) || g.Reason != w.Reason || g.Error != w.Error || g.Source != w.Source ||
			g.SourceID != w.SourceID || g.Deliveries != w.Deliveries || g.Attempts != w.Attempts ||
			g.Replays != w.Replays || g.Status != w.Status {
			t.Errorf("dead letter %d = %+v, want %+v", i, g, w)
		}
	}
	d := depths(t, b)
	if d.DLQ != 2 {
		t.Errorf("DLQ depth %d, want 2", d.DLQ)
	}
}

func testReclaim(t *testing.T, tg Target) {
	b, held := begin(t, tg, 4, "reclaim")
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	var (
		mu  sync.Mutex
		got []queue.Message
	)
	done := make(chan struct{})
	go func() {
		defer close(done)
		b.ReclaimLoop(ctx, "reclaimer", 200*time.Millisecond, 100, nil, nil, func(ctx context.Context, msgs []queue.Message) error {
			// Counted once committed: the test stops the loop when all are.
			if _, err := b.Commit(ctx, &alerter.Batch{IDs: ids(msgs)}); err != nil {
				return err
			}
			mu.Lock()
			got = append(got, msgs...)
			mu.Unlock()
			return nil
		}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	}()
	itest.Eventually(t, 10*time.Second, "uncommitted messages reclaimed", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(got) >= len(held)
	})
	cancel()
	<-done
	mu.Lock()
	defer mu.Unlock()
	gotIDs, heldIDs := ids(got), ids(held)
	slices.Sort(gotIDs)
	slices.Sort(heldIDs)
	if !slices.Equal(gotIDs, heldIDs) {
		t.Fatalf("reclaimed %v, want %v", gotIDs, heldIDs)
	}
	for _, m := range got {
		if m.Deliveries < 2 {
			t.Errorf("reclaimed message %s counts %d deliveries, want at least 2", m.ID, m.Deliveries)
		}
	}
	d := depths(t, b)
	if d.Pending != 0 || d.Ingest != 0 {
		t.Errorf("depths after the reclaimed commit %+v, want nothing pending or waiting", d)
	}
}

func testRestart(t *testing.T, tg Target) {
	b := tg.Backend
	prepare(t, b)
	in := payloads(5, "restart")
	tg.Produce(t, in...)
	first := readAll(t, b, "w-0", 3)
	commit(t, b, &alerter.Batch{IDs: ids(first[:1])})
	// The process dies holding first[1:] and two unread messages.
	b2 := tg.Reopen(t)
	prepare(t, b2)
	var got []queue.Message
	if _, err := b2.RecoverPending(t.Context(), "w-0", 100, func(_ context.Context, msgs []queue.Message) error {
		got = append(got, msgs...)
		return nil
	}); err != nil {
		t.Fatalf("RecoverPending: %v", err)
	}
	fresh, err := b2.Read(t.Context(), "w-0", 100, 100*time.Millisecond)
	if err != nil {
		t.Fatalf("Read after restart: %v", err)
	}
	got = append(got, fresh...)
	var payloadsGot []string
	for _, m := range got {
		payloadsGot = append(payloadsGot, string(m.Payload))
	}
	slices.Sort(payloadsGot)
	var want []string
	for _, p := range in[1:] {
		want = append(want, string(p))
	}
	slices.Sort(want)
	if !slices.Equal(payloadsGot, want) {
		t.Fatalf("after a restart the consumer got %v, want the four uncommitted %v at once", payloadsGot, want)
	}
}

func testUnhandled(t *testing.T, tg Target) {
	b := tg.Backend
	prepare(t, b)
	prefix := "unh-" + uuid.NewString()[:8]
	key := func(host string) string { return prefix + ":" + host + ":sig" }
	var built []string
	batch := func(hosts ...string) *alerter.Batch {
		c := &alerter.Batch{Threshold: 3, Expiry: time.Hour}
		for _, h := range hosts {
			c.UnhandledKeys = append(c.UnhandledKeys, key(h))
		}
		c.MetaAlert = func(k int) []byte {
			built = append(built, hosts[k]+"@"+strconv.Itoa(k))
			return []byte(`{"meta":"` + hosts[k] + `"}`)
		}
		return c
	}
	steps := []struct {
		hosts     []string
		wantMetas int64
		mustBuild []string // meta-alerts that must have been built
	}{
		{[]string{"a", "a", "b", "a", "a", "b"}, 1, []string{"a@3"}},
		{[]string{"b", "c"}, 1, []string{"b@0"}},
		{[]string{"a", "a", "a", "c"}, 0, nil}, // a is triggered: nothing counts
	}
	for i, s := range steps {
		built = nil
		res := commit(t, b, batch(s.hosts...))
		if res.MetaAlerts != s.wantMetas {
			t.Errorf("step %d: %d meta-alerts, want %d", i, res.MetaAlerts, s.wantMetas)
		}
		for _, m := range s.mustBuild {
			if !slices.Contains(built, m) {
				t.Errorf("step %d: meta-alert %s not built (built %v)", i, m, built)
			}
		}
	}
	got := tg.Alerts(t)
	if fmt.Sprintf("%s", got) != `[{"meta":"a"} {"meta":"b"}]` {
		t.Errorf("alert queue holds %s, want the meta-alerts of a then b", got)
	}
}

func testAudit(t *testing.T, tg Target) {
	b := tg.Backend
	if !b.AuditInCommit() {
		t.Skip("this backend writes audit rows before its commit, through the alerter's AuditWriter")
	}
	prepare(t, b)
	tg.Produce(t, payloads(3, "audit")...)
	msgs := readAll(t, b, "w-0", 3)
	var rows []store.AuditRow
	for _, m := range msgs {
		rows = append(rows, store.AuditRow{EventID: uuid.NewString(), Timestamp: time.Now().UTC(), Hostname: "h-" + m.ID,
			Handling: "Prod_Team_Page", Forwarded: true, Raw: m.Payload})
	}
	for i := range rows {
		rows[i].RuleID = tg.RuleID
	}
	// A row the database refuses fails the whole commit, recognisably, and
	// acknowledges nothing.
	bad := slices.Clone(rows)
	bad[1].RuleID = tg.RuleID + 1_000_000
	if _, err := b.Commit(t.Context(), &alerter.Batch{IDs: ids(msgs), Audit: bad}); err == nil || !store.IsRowError(err) {
		t.Fatalf("commit with an audit row for a missing rule: err %v, want a row error", err)
	}
	if n := tg.AuditCount(t); n != 0 {
		t.Fatalf("%d audit rows after a refused commit, want 0", n)
	}
	c := &alerter.Batch{IDs: ids(msgs), Audit: rows, Alerts: [][]byte{[]byte(`{"a":1}`)}}
	if res := commit(t, b, c); res.Acked != 3 {
		t.Fatalf("commit after a refused one acked %d, want 3", res.Acked)
	}
	commit(t, b, c) // a redelivered batch writes no second row
	if n := tg.AuditCount(t); n != len(rows) {
		t.Errorf("%d audit rows, want %d", n, len(rows))
	}
}
