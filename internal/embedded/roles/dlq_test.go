package roles_test

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/mutt-go/mutt/internal/config"
	"github.com/mutt-go/mutt/internal/dlqadmin/dlqadmintest"
	"github.com/mutt-go/mutt/internal/embedded/roles"
	"github.com/mutt-go/mutt/internal/embedded/sqlstore"
	"github.com/mutt-go/mutt/internal/queue"
	"github.com/mutt-go/mutt/internal/remediation"
	"github.com/mutt-go/mutt/internal/store"
)

// backend is the embedded DLQ with what the conformance suite needs.
type backend struct {
	*roles.DLQ
	db   *sqlstore.DB
	keys config.Keys
}

func (b *backend) Keys() config.Keys { return b.keys }

func (b *backend) Park(ctx context.Context, key string, letters ...queue.DeadLetter) error {
	return park(ctx, b.db, key, letters...)
}

func (b *backend) Queued(ctx context.Context, key string) ([]queue.Message, error) {
	entries, err := b.db.Read(ctx, key, 0, 10_000)
	if err != nil {
		return nil, err
	}
	out := make([]queue.Message, len(entries))
	for i, e := range entries {
		out[i] = queue.Message{ID: strconv.FormatInt(e.Seq, 10), Payload: e.Payload, Attempts: e.Attempts, Replays: e.Replays}
	}
	return out, nil
}

func (b *backend) SearchConfigAudit(ctx context.Context, f store.ConfigAuditFilter) ([]store.ConfigAuditRow, int64, error) {
	return b.db.SearchConfigAudit(ctx, f)
}

// park writes dead letters as a consumer's batch commit does.
func park(ctx context.Context, db *sqlstore.DB, key string, letters ...queue.DeadLetter) error {
	var dead []sqlstore.DeadLetter
	for _, d := range letters {
		sd, err := roles.StoreDeadLetter(key, d)
		if err != nil {
			return err
		}
		dead = append(dead, sd)
	}
	_, err := db.Commit(ctx, sqlstore.Batch{Dead: dead})
	return err
}

func defaultKeys() config.Keys {
	c := config.Default()
	c.Finish()
	return c.Keys
}

func TestDLQConformance(t *testing.T) {
	dlqadmintest.Run(t, func(t *testing.T) dlqadmintest.Backend {
		db := openDB(t)
		return &backend{DLQ: roles.NewDLQ(db), db: db, keys: defaultKeys()}
	})
}

func TestDeadLetterConversion(t *testing.T) {
	d := queue.DeadLetter{Payload: []byte("x"), Reason: "shed", Source: "mutt:ingest_queue", SourceID: "42", Deliveries: 1, Attempts: 2, Replays: 3, Status: 4}
	sd, err := roles.StoreDeadLetter("mutt:dlq:alerter", d)
	if err != nil || sd.SourceSeq != 42 || sd.Queue != "mutt:dlq:alerter" {
		t.Fatalf("StoreDeadLetter = %+v, %v", sd, err)
	}
	if back := roles.QueueDeadLetter(sd); string(back.Payload) != "x" || back.SourceID != "42" || back.Replays != 3 || back.Status != 4 {
		t.Errorf("QueueDeadLetter = %+v", back)
	}
	if _, err := roles.StoreDeadLetter("q", queue.DeadLetter{SourceID: "abc"}); err == nil {
		t.Errorf("a source id that is not a position was accepted")
	}
}

// TestRemediationCycle runs the remediation role on the embedded store:
// a retryable alert goes back to the alert queue, a permanent failure to
// the dead queue with where it came from.
func TestRemediationCycle(t *testing.T) {
	ctx := t.Context()
	db := openDB(t)
	k := defaultKeys()
	moog := func(reason string) queue.DeadLetter {
		return queue.DeadLetter{Payload: []byte(`{"r":"` + reason + `"}`), Reason: reason, Error: "status", Source: k.AlertQueue, SourceID: "9", Attempts: 6}
	}
	if err := park(ctx, db, k.MoogDLQ, moog("http_5xx"), moog("http_4xx")); err != nil {
		t.Fatal(err)
	}
	if err := park(ctx, db, k.AlerterDLQ, queue.DeadLetter{Payload: []byte(`{}`), Reason: "shed", Source: k.IngestQueue}); err != nil {
		t.Fatal(err)
	}
	dlq := roles.NewDLQ(db)
	svc := remediation.New(remediation.Options{
		AlertQueue: k.AlertQueue, IngestQueue: k.IngestQueue, MoogDLQ: k.MoogDLQ, AlerterDLQ: k.AlerterDLQ, DeadDLQ: k.DeadDLQ,
		AlertQueueLimit: func() int64 { return 100 },
	}, dlq, nil, nil)
	rep, err := svc.Cycle(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if rep.MoogReplayed != 1 || rep.AlerterReplayed != 1 || rep.Dead != 1 {
		t.Errorf("report = %+v, want one replayed from each DLQ and one dead", rep)
	}
	alerts, err := db.Read(ctx, k.AlertQueue, 0, 10)
	if err != nil || len(alerts) != 1 || string(alerts[0].Payload) != `{"r":"http_5xx"}` || alerts[0].Replays != 1 || alerts[0].Attempts != 0 {
		t.Errorf("alert queue = %+v, %v", alerts, err)
	}
	if n, err := db.Len(ctx, k.IngestQueue); err != nil || n != 1 {
		t.Errorf("ingest queue holds %d, %v; want 1", n, err)
	}
	dead, err := dlq.List(ctx, k.DeadDLQ, "", time.Time{}, 10)
	if err != nil || len(dead) != 1 {
		t.Fatalf("dead queue = %v, %v", dead, err)
	}
	f := dead[0].Fields
	if f["reason"] != "http_4xx" || f["source"] != k.MoogDLQ || f["origin"] != k.AlertQueue || f["origin_id"] != "9" ||
		f[queue.AttemptsField] != "6" || f[queue.PayloadField] != `{"r":"http_4xx"}` {
		t.Errorf("dead entry = %v", f)
	}
	if lens, err := dlq.Lens(ctx, []string{k.MoogDLQ, k.AlerterDLQ, k.DeadDLQ}); err != nil || lens[0]+lens[1] != 0 || lens[2] != 1 {
		t.Errorf("Lens = %v, %v", lens, err)
	}
	if err := dlq.Health().Check(ctx); err != nil {
		t.Errorf("health: %v", err)
	}
}
