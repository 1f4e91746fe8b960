package sqlstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/google/uuid"

	mqueue "github.com/mutt-go/mutt/internal/queue"
	"github.com/mutt-go/mutt/internal/store"
)

const (
	ingestQueue = "mutt:ingest_queue"
	alertQueue  = "mutt:alert_queue"
	alerterDLQ  = "mutt:dlq:alerter"
)

var testActor = store.Actor{ChangedBy: "cli:test"}

// event is the part of an ingested event the drain needs.
type event struct {
	EventID   string    `json:"_event_id"`
	Timestamp time.Time `json:"timestamp"`
	Hostname  string    `json:"hostname"`
	Message   string    `json:"message"`
}

// events returns n encoded events with fresh ids.
func events(t testing.TB, n int, start time.Time) [][]byte {
	t.Helper()
	out := make([][]byte, n)
	for i := range out {
		b, err := json.Marshal(event{EventID: uuid.NewString(), Timestamp: start.Add(time.Duration(i) * time.Microsecond),
			Hostname: fmt.Sprintf("sw-%d", i%50), Message: "%LINK-3-UPDOWN: Interface Gi0/1, changed state to down"})
		if err != nil {
			t.Fatal(err)
		}
		out[i] = b
	}
	return out
}

// addRule creates the one rule every audit row matches.
func addRule(t testing.TB, d *DB) int64 {
	t.Helper()
	ms := "LINK"
	id, err := d.CreateRule(context.Background(), store.Rule{MatchString: &ms, MatchType: "contains", Priority: 1,
		ProdHandling: "Page_and_ticket", DevHandling: "Ticket_only", TeamAssignment: "NetOps", IsActive: true}, testActor)
	if err != nil {
		t.Fatalf("CreateRule: %v", err)
	}
	return id
}

// drainBatch reads up to n entries of the ingest queue and commits them as
// the alerter would: one audit row and one alert per event, and a dead
// letter for every event whose payload does not decode. It returns how many
// entries it consumed.
func drainBatch(ctx context.Context, d *DB, rule int64, n int) (int, error) {
	entries, err := d.Read(ctx, ingestQueue, 0, n)
	if err != nil || len(entries) == 0 {
		return 0, err
	}
	if _, err := d.Commit(ctx, alerterBatch(entries, rule)); err != nil {
		return 0, err
	}
	return len(entries), nil
}

// alerterBatch is the commit of entries as the alerter would make it.
func alerterBatch(entries []Entry, rule int64) Batch {
	b := Batch{Queue: ingestQueue, Ack: make([]int64, 0, len(entries)), Audit: make([]store.AuditRow, 0, len(entries)),
		Out: make([]Message, 0, len(entries))}
	for _, e := range entries {
		b.Ack = append(b.Ack, e.Seq)
		var ev event
		if err := json.Unmarshal(e.Payload, &ev); err != nil || ev.EventID == "" {
			b.Dead = append(b.Dead, DeadLetter{Queue: alerterDLQ, Payload: e.Payload, Reason: "invalid_event",
				Error: fmt.Sprint(err), Source: ingestQueue, SourceSeq: e.Seq, Deliveries: 1})
			continue
		}
		b.Audit = append(b.Audit, store.AuditRow{EventID: ev.EventID, Timestamp: ev.Timestamp, Hostname: ev.Hostname,
			RuleID: rule, Handling: "Page_and_ticket", Forwarded: true, Raw: e.Payload})
		b.Out = append(b.Out, Message{Queue: alertQueue, Payload: []byte(`{"event_id":"` + ev.EventID + `"}`)})
	}
	return b
}

func TestCommitIsAtomicAndOnce(t *testing.T) {
	ctx := t.Context()
	d := openTemp(t)
	rule := addRule(t, d)
	payloads := append(events(t, 9, time.Now().UTC()), []byte("not json"))
	if err := d.Append(ctx, ingestQueue, payloads); err != nil {
		t.Fatalf("Append: %v", err)
	}
	entries, err := d.Read(ctx, ingestQueue, 0, 100)
	if err != nil || len(entries) != 10 {
		t.Fatalf("Read = %d entries, %v", len(entries), err)
	}
	for i := 1; i < len(entries); i++ {
		if entries[i].Seq <= entries[i-1].Seq || string(entries[i].Payload) != string(payloads[i]) {
			t.Fatalf("entry %d out of append order", i)
		}
	}
	if n, err := drainBatch(ctx, d, rule, 100); err != nil || n != 10 {
		t.Fatalf("drainBatch = %d, %v", n, err)
	}
	// The same batch committed again (a redelivery after a lost reply)
	// does nothing.
	b := Batch{Queue: ingestQueue, Ack: []int64{entries[0].Seq}, Out: []Message{{Queue: alertQueue, Payload: []byte("x")}}}
	res, err := d.Commit(ctx, b)
	if err != nil || res.Acked != 0 {
		t.Fatalf("second commit = %+v, %v; want nothing done", res, err)
	}
	if n, _ := d.Len(ctx, alertQueue); n != 9 {
		t.Fatalf("alerts = %d, want 9", n)
	}
	dead, err := d.DeadLetters(ctx, alerterDLQ, 10)
	if err != nil || len(dead) != 1 || dead[0].Reason != "invalid_event" || dead[0].SourceSeq != entries[9].Seq ||
		string(dead[0].Payload) != "not json" || dead[0].Source != ingestQueue {
		t.Fatalf("dead letters = %+v, %v", dead, err)
	}

	// A commit whose audit row is rejected leaves everything as it was.
	if err := d.Append(ctx, ingestQueue, events(t, 2, time.Now().UTC())); err != nil {
		t.Fatal(err)
	}
	entries, _ = d.Read(ctx, ingestQueue, 0, 10)
	bad := Batch{Queue: ingestQueue, Ack: []int64{entries[0].Seq, entries[1].Seq},
		Audit: []store.AuditRow{{EventID: uuid.NewString(), Timestamp: time.Now(), Hostname: "h", RuleID: rule + 99, Handling: "x"}},
		Out:   []Message{{Queue: alertQueue, Payload: []byte("y")}}}
	if _, err := d.Commit(ctx, bad); err == nil || !store.IsRowError(err) {
		t.Fatalf("commit with an unknown rule: %v, want a row error", err)
	}
	if n, _ := d.Len(ctx, ingestQueue); n != 2 {
		t.Fatalf("ingest entries after a failed commit = %d, want 2", n)
	}
	if n, _ := d.Len(ctx, alertQueue); n != 9 {
		t.Fatalf("alerts after a failed commit = %d, want 9", n)
	}
}

// Environment of the drain child process.
const (
	envDrainDB   = "MUTT_SQLSTORE_DRAIN_DB"
	envDrainRule = "MUTT_SQLSTORE_DRAIN_RULE"
)

// TestMain runs the drain child of TestKillMidDrain when the test binary is
// started as one, and the tests otherwise.
func TestMain(m *testing.M) {
	if path := os.Getenv(envDrainDB); path != "" {
		if err := drainChild(path, os.Getenv(envDrainRule)); err != nil {
			fmt.Fprintln(os.Stderr, "drain child:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// drainChild drains the ingest queue of the database at path until it is
// empty or the process is killed.
func drainChild(path, ruleArg string) error {
	var rule int64
	if _, err := fmt.Sscan(ruleArg, &rule); err != nil {
		return fmt.Errorf("rule id %q: %w", ruleArg, err)
	}
	ctx := context.Background()
	d, err := Open(ctx, path)
	if err != nil {
		return err
	}
	defer d.Close()
	for {
		n, err := drainBatch(ctx, d, rule, 200)
		if err != nil || n == 0 {
			return err
		}
	}
}

// TestKillMidDrain appends 50,000 events, lets a child process drain them,
// SIGKILLs it part way, drains the rest after the "restart" and checks that
// every event has exactly one audit row and exactly one alert. Under -race,
// where the engine is some twenty times slower, it runs on 10,000 events;
// scripts/test.sh runs it once more without -race at full size.
func TestKillMidDrain(t *testing.T) {
	total := 50_000
	if raceEnabled {
		total = 10_000
	}
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "mutt.db")
	d, err := Open(ctx, path)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { _ = d.Close() })
	rule := addRule(t, d)
	began := time.Now()
	all := events(t, total, time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC))
	for i := 0; i < total; i += 5000 {
		if err := d.Append(ctx, ingestQueue, all[i:min(i+5000, total)]); err != nil {
			t.Fatalf("Append: %v", err)
		}
	}

	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), envDrainDB+"="+path, envDrainRule+"="+fmt.Sprint(rule))
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting drain child: %v", err)
	}
	// Kill it once it has committed a fifth of the events.
	deadline := time.Now().Add(60 * time.Second)
	t.Logf("appended %d events in %v", total, time.Since(began))
	for {
		// max(id) is an index lookup, so polling costs the child nothing.
		var n int64
		if err := d.r.QueryRowContext(ctx, "SELECT coalesce(max(id), 0) FROM event_audit_log").Scan(&n); err != nil {
			t.Fatalf("polling the audit log: %v", err)
		}
		if n >= int64(total/5) {
			break
		}
		if time.Now().After(deadline) {
			_ = cmd.Process.Kill()
			t.Fatalf("child drained only %d events in 60 s", n)
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Logf("killing the child at %v", time.Since(began))
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatalf("killing child: %v", err)
	}
	_ = cmd.Wait()
	left, _ := d.Len(ctx, ingestQueue)
	if left == 0 {
		t.Fatal("the child finished the drain before it was killed; the test proved nothing")
	}
	t.Logf("killed with %d of %d events left", left, total)

	// The restart: a new handle on the same file drains the rest.
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	d, err = Open(ctx, path)
	if err != nil {
		t.Fatalf("reopening after the kill: %v", err)
	}
	for {
		n, err := drainBatch(ctx, d, rule, 500)
		if err != nil {
			t.Fatalf("drain after restart: %v", err)
		}
		if n == 0 {
			break
		}
	}
	t.Logf("drained the rest by %v", time.Since(began))
	if err := d.IntegrityCheck(ctx); err != nil {
		t.Fatal(err)
	}
	var rows, distinct, alerts, distinctAlerts int64
	if err := d.r.QueryRowContext(ctx, "SELECT count(*), count(DISTINCT event_id) FROM event_audit_log").Scan(&rows, &distinct); err != nil {
		t.Fatal(err)
	}
	if err := d.r.QueryRowContext(ctx, "SELECT count(*), count(DISTINCT payload) FROM queue_entries WHERE queue = ?",
		alertQueue).Scan(&alerts, &distinctAlerts); err != nil {
		t.Fatal(err)
	}
	if want := int64(total); rows != want || distinct != want || alerts != want || distinctAlerts != want {
		t.Fatalf("audit rows %d (distinct %d), alerts %d (distinct %d); want %d of each exactly once",
			rows, distinct, alerts, distinctAlerts, total)
	}
	var missing int
	for _, p := range all[:100] {
		var ev event
		_ = json.Unmarshal(p, &ev)
		if got, _, _, _ := d.SearchEventAudit(ctx, store.EventAuditFilter{Hostname: ev.Hostname, Start: ev.Timestamp, End: ev.Timestamp, Limit: 1}); len(got) != 1 {
			missing++
		}
	}
	if missing > 0 {
		t.Fatalf("%d of the first 100 events have no audit row", missing)
	}
}

// TestFullDisk fills a 2 MiB tmpfs and checks that the write that does not
// fit fails with ErrStorageFull, that nothing of it was kept, and that the
// database stays sound and readable.
func TestFullDisk(t *testing.T) {
	dir := t.TempDir()
	if err := syscall.Mount("tmpfs", dir, "tmpfs", 0, "size=2m"); err != nil {
		t.Fatalf("mounting a 2 MiB tmpfs on %s (run the tests as root, as scripts/test.sh does): %v", dir, err)
	}
	t.Cleanup(func() { _ = syscall.Unmount(dir, syscall.MNT_DETACH) })
	ctx := t.Context()
	d, err := Open(ctx, filepath.Join(dir, "mutt.db"))
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	defer d.Close()
	rule := addRule(t, d)
	var appended int64
	var fullErr error
	for i := 0; i < 1000; i++ {
		batch := events(t, 200, time.Now().UTC())
		if err := d.Append(ctx, ingestQueue, batch); err != nil {
			fullErr = err
			break
		}
		appended += int64(len(batch))
	}
	if !errors.Is(fullErr, ErrStorageFull) {
		t.Fatalf("append on a full disk: %v, want ErrStorageFull", fullErr)
	}
	t.Logf("disk full after %d entries: %v", appended, fullErr)
	if err := d.IntegrityCheck(ctx); err != nil {
		t.Fatal(err)
	}
	if n, err := d.Len(ctx, ingestQueue); err != nil || n != appended {
		t.Fatalf("queued %d, %v; want %d: the failed batch must leave nothing", n, err, appended)
	}
	// A commit that needs room fails the same way and changes nothing.
	if _, err := drainBatch(ctx, d, rule, 2000); err != nil && !errors.Is(err, ErrStorageFull) {
		t.Fatalf("commit on a full disk: %v, want ErrStorageFull or success", err)
	}
	if err := d.IntegrityCheck(ctx); err != nil {
		t.Fatal(err)
	}
	var audited int64
	if err := d.r.QueryRowContext(ctx, "SELECT count(*) FROM event_audit_log").Scan(&audited); err != nil {
		t.Fatal(err)
	}
	if left, _ := d.Len(ctx, ingestQueue); left+audited != appended {
		t.Fatalf("entries %d + audit rows %d != %d appended", left, audited, appended)
	}
}

func TestAppendDepthLimit(t *testing.T) {
	ctx := t.Context()
	d := openTemp(t)
	// produce is one capped batch, as the embedded ingest producer sends it.
	produce := func(payloads [][]byte) (int64, error) {
		depths, refused, err := d.AppendGroup(ctx, ingestQueue, [][][]byte{payloads}, 10)
		if err != nil {
			return 0, err
		}
		return depths[0], refused[0]
	}
	depth, err := produce(events(t, 6, time.Now().UTC()))
	if err != nil || depth != 6 {
		t.Fatalf("Produce = %d, %v; want depth 6", depth, err)
	}
	_, err = produce(events(t, 5, time.Now().UTC()))
	var full *mqueue.QueueFullError
	if !errors.As(err, &full) || full.Depth != 6 || full.Limit != 10 {
		t.Fatalf("Produce over the limit: %v, want QueueFullError{6, 10}", err)
	}
	if n, _ := d.Len(ctx, ingestQueue); n != 6 {
		t.Fatalf("depth after a refused batch = %d, want 6", n)
	}
	entries, _ := d.Read(ctx, ingestQueue, 0, 4)
	b := Batch{Queue: ingestQueue, Out: []Message{{Queue: alertQueue, Payload: []byte("a")}}}
	for _, e := range entries {
		b.Ack = append(b.Ack, e.Seq)
	}
	if _, err := d.Commit(ctx, b); err != nil {
		t.Fatalf("Commit: %v", err)
	}
	if n, _ := d.Len(ctx, ingestQueue); n != 2 {
		t.Fatalf("depth after acking 4 = %d, want 2", n)
	}
	if n, _ := d.Len(ctx, alertQueue); n != 1 {
		t.Fatalf("alert depth = %d, want 1", n)
	}
	if depth, err := produce(events(t, 8, time.Now().UTC())); err != nil || depth != 10 {
		t.Fatalf("Produce up to the limit = %d, %v", depth, err)
	}
}
