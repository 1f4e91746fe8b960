// Package dlqadmintest is the conformance suite of dlqadmin.Backend: every
// implementation (Redis streams, the embedded store) runs Run and must pass
// it unchanged. It must not import an implementation.
package dlqadmintest

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/mutt-go/mutt/internal/config"
	"github.com/mutt-go/mutt/internal/dlqadmin"
	"github.com/mutt-go/mutt/internal/queue"
	"github.com/mutt-go/mutt/internal/store"
)

// Backend is an implementation under test with its audit log, and what the
// suite needs to fill it and look inside.
type Backend interface {
	dlqadmin.Backend
	dlqadmin.AuditWriter
	// Keys are the queue names of this backend (a private prefix per test).
	Keys() config.Keys
	// Park appends dead letters to the DLQ key, in order, as the roles do.
	Park(ctx context.Context, key string, letters ...queue.DeadLetter) error
	// Queued returns the entries of the work queue key, oldest first.
	Queued(ctx context.Context, key string) ([]queue.Message, error)
	// SearchConfigAudit reads the audit log back.
	SearchConfigAudit(ctx context.Context, f store.ConfigAuditFilter) ([]store.ConfigAuditRow, int64, error)
}

// Run runs the suite; open returns a new, empty backend for each subtest.
func Run(t *testing.T, open func(t *testing.T) Backend) {
	t.Run("paging order", func(t *testing.T) { testPaging(t, open(t)) })
	t.Run("lookup and length", func(t *testing.T) { testLookup(t, open(t)) })
	t.Run("replay", func(t *testing.T) { testReplay(t, open(t)) })
	t.Run("replay from the dead queue", func(t *testing.T) { testReplayDead(t, open(t)) })
	t.Run("purge", func(t *testing.T) { testPurge(t, open(t)) })
}

// letter is dead letter n, from the alert queue, with every field set.
func letter(k config.Keys, n int, reason string, replays int64) queue.DeadLetter {
	return queue.DeadLetter{
		Payload: []byte(`{"hostname":"r` + strconv.Itoa(n) + `"}`), Reason: reason, Error: "moogsoft answered 503 " + strconv.Itoa(n),
		Source: k.AlertQueue, SourceID: strconv.Itoa(100 + n), Deliveries: 2, Attempts: 6, Replays: replays, Status: 503,
	}
}

func park(t *testing.T, b Backend, key string, letters ...queue.DeadLetter) {
	t.Helper()
	if err := b.Park(t.Context(), key, letters...); err != nil {
		t.Fatalf("parking in %s: %v", key, err)
	}
}

// all lists every entry of key.
func all(t *testing.T, b Backend, key string) []queue.Entry {
	t.Helper()
	got, err := b.List(t.Context(), key, "", time.Time{}, 10_000)
	if err != nil {
		t.Fatalf("listing %s: %v", key, err)
	}
	return got
}

func ids(entries []queue.Entry) []string {
	out := make([]string, len(entries))
	for i, e := range entries {
		out[i] = e.ID
	}
	return out
}

// checkFields fails unless e carries every field of d as a Redis entry does.
func checkFields(t *testing.T, e queue.Entry, d queue.DeadLetter) {
	t.Helper()
	want := map[string]string{
		queue.PayloadField: string(d.Payload), "reason": d.Reason, "error": d.Error, "source": d.Source,
		"source_id": d.SourceID, "deliveries": strconv.FormatInt(d.Deliveries, 10),
		queue.AttemptsField: strconv.FormatInt(d.Attempts, 10), queue.ReplaysField: strconv.FormatInt(d.Replays, 10),
		"status": strconv.Itoa(d.Status),
	}
	for k, v := range want {
		if e.Fields[k] != v {
			t.Errorf("entry %s: %s = %q, want %q", e.ID, k, e.Fields[k], v)
		}
	}
	if _, err := time.Parse(time.RFC3339Nano, e.Fields["failed_at"]); err != nil {
		t.Errorf("entry %s: failed_at %q: %v", e.ID, e.Fields["failed_at"], err)
	}
	if age := time.Since(e.Time()); age < -time.Minute || age > time.Minute {
		t.Errorf("entry %s was written %v ago, want about now", e.ID, age)
	}
}

func testPaging(t *testing.T, b Backend) {
	ctx := t.Context()
	k := b.Keys()
	var letters []queue.DeadLetter
	for i := range 5 {
		letters = append(letters, letter(k, i, "http_5xx", int64(i%2)))
	}
	park(t, b, k.MoogDLQ, letters[:3]...)
	park(t, b, k.MoogDLQ, letters[3:]...)
	park(t, b, k.AlerterDLQ, letter(k, 9, "invalid_event", 0))

	var pages [][]queue.Entry
	after := ""
	for range 4 {
		page, err := b.List(ctx, k.MoogDLQ, after, time.Time{}, 2)
		if err != nil {
			t.Fatal(err)
		}
		pages = append(pages, page)
		if len(page) == 0 {
			break
		}
		after = page[len(page)-1].ID
	}
	sizes := make([]int, len(pages))
	var got []queue.Entry
	for i, p := range pages {
		sizes[i] = len(p)
		got = append(got, p...)
	}
	if !slices.Equal(sizes, []int{2, 2, 1, 0}) {
		t.Fatalf("pages of 2 hold %v entries, want [2 2 1 0]", sizes)
	}
	for i, e := range got {
		checkFields(t, e, letters[i])
		if i > 0 && !dlqadmin.IDLess(got[i-1].ID, e.ID) {
			t.Errorf("entry %s listed after %s: IDs must increase", e.ID, got[i-1].ID)
		}
	}
	if l := all(t, b, k.AlerterDLQ); len(l) != 1 || l[0].Fields["reason"] != "invalid_event" {
		t.Errorf("the alerter DLQ holds %v, want its own entry only", l)
	}
	if l, err := b.List(ctx, k.MoogDLQ, "", time.Now().Add(time.Hour), 10); err != nil || len(l) != 0 {
		t.Errorf("List since an hour ahead = %v, %v; want nothing", ids(l), err)
	}
	if l, err := b.List(ctx, k.MoogDLQ, "", time.Now().Add(-time.Hour), 10); err != nil || len(l) != 5 {
		t.Errorf("List since an hour ago = %v, %v; want all 5", ids(l), err)
	}
	sel := dlqadmin.Selector{Limit: 3, Reasons: map[string]bool{"http_5xx": true}}
	q, _ := dlqadmin.Resolve(k, "moog")
	picked, matched, err := sel.SelectFrom(ctx, b, q)
	if err != nil || matched != 5 || !slices.Equal(ids(picked), ids(got[:3])) {
		t.Errorf("SelectFrom = %v (%d matched), %v; want %v (5)", ids(picked), matched, err, ids(got[:3]))
	}
}

func testLookup(t *testing.T, b Backend) {
	ctx := t.Context()
	k := b.Keys()
	d := letter(k, 1, "http_5xx", 0)
	park(t, b, k.MoogDLQ, letter(k, 0, "http_4xx", 0), d)
	entries := all(t, b, k.MoogDLQ)
	if len(entries) != 2 {
		t.Fatalf("the moog DLQ holds %d entries, want 2", len(entries))
	}
	e, err := b.Lookup(ctx, k.MoogDLQ, entries[1].ID)
	if err != nil {
		t.Fatal(err)
	}
	if e.ID != entries[1].ID {
		t.Errorf("Lookup(%s) returned %s", entries[1].ID, e.ID)
	}
	checkFields(t, e, d)
	for _, tt := range []struct{ key, id string }{{k.AlerterDLQ, entries[1].ID}, {k.MoogDLQ, "1-0"}} {
		if _, err := b.Lookup(ctx, tt.key, tt.id); !errors.Is(err, dlqadmin.ErrNoEntry) {
			t.Errorf("Lookup(%s, %s) = %v, want ErrNoEntry", tt.key, tt.id, err)
		}
	}
	q, _ := dlqadmin.Resolve(k, "moog")
	if _, _, err := (dlqadmin.Selector{IDs: []string{entries[0].ID, "1-0"}}).SelectFrom(ctx, b, q); !errors.Is(err, dlqadmin.ErrNoEntry) {
		t.Errorf("selecting a missing ID: %v, want ErrNoEntry", err)
	}
	for key, want := range map[string]int64{k.MoogDLQ: 2, k.AlerterDLQ: 0, k.DeadDLQ: 0} {
		if n, err := b.Len(ctx, key); err != nil || n != want {
			t.Errorf("Len(%s) = %d, %v; want %d", key, n, err, want)
		}
	}
}

func actor() store.Actor {
	return store.Actor{ChangedBy: "conformance", Reason: "suite", CorrelationID: uuid.NewString()}
}

// audited returns the audit row of the change with correlation id cid.
func audited(t *testing.T, b Backend, cid string) store.ConfigAuditRow {
	t.Helper()
	rows, _, err := b.SearchConfigAudit(t.Context(), store.ConfigAuditFilter{TableName: dlqadmin.AuditTable, Limit: 200})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rows {
		if r.CorrelationID != nil && *r.CorrelationID == cid {
			return r
		}
	}
	t.Fatalf("no audit row with correlation id %s among %d", cid, len(rows))
	return store.ConfigAuditRow{}
}

func decode(t *testing.T, raw json.RawMessage) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatalf("audit values %s: %v", raw, err)
	}
	return m
}

func testReplay(t *testing.T, b Backend) {
	ctx := t.Context()
	k := b.Keys()
	fresh, spent, stay := letter(k, 1, "http_5xx", 1), letter(k, 2, "http_5xx", 3), letter(k, 3, "http_4xx", 0)
	park(t, b, k.MoogDLQ, fresh, spent, stay)
	entries := all(t, b, k.MoogDLQ)
	q, _ := dlqadmin.Resolve(k, "moog")
	plan := dlqadmin.PlanReplay(k, q, entries[:2], 3)
	// An ID that is gone by the time of the replay counts as missing.
	plan.ByTarget[k.AlertQueue] = append(plan.ByTarget[k.AlertQueue], "1-0")
	out, err := dlqadmin.ReplayOn(ctx, b, k, q, plan)
	if err != nil {
		t.Fatal(err)
	}
	if out.Replayed != 1 || out.Dead != 1 || out.Missing != 1 || out.ByTarget[k.AlertQueue] != 1 {
		t.Errorf("ReplayOn = %+v, want 1 replayed, 1 dead, 1 missing", out)
	}
	if left := all(t, b, k.MoogDLQ); !slices.Equal(ids(left), []string{entries[2].ID}) {
		t.Errorf("the moog DLQ holds %v, want %s", ids(left), entries[2].ID)
	}
	alerts, err := b.Queued(ctx, k.AlertQueue)
	if err != nil {
		t.Fatal(err)
	}
	if len(alerts) != 1 || string(alerts[0].Payload) != string(fresh.Payload) || alerts[0].Replays != fresh.Replays+1 || alerts[0].Attempts != 0 {
		t.Errorf("alert queue = %+v, want %s with replays %d and no attempts spent", alerts, fresh.Payload, fresh.Replays+1)
	}
	dead := all(t, b, k.DeadDLQ)
	if len(dead) != 1 {
		t.Fatalf("the dead queue holds %d entries, want 1", len(dead))
	}
	d := dead[0].Fields
	if d[queue.PayloadField] != string(spent.Payload) || d["reason"] != "replay_limit" || d["source"] != k.MoogDLQ ||
		d["source_id"] == "" || d[queue.ReplaysField] != "3" {
		t.Errorf("dead entry = %v, want %s with reason replay_limit from %s, 3 replays", d, spent.Payload, k.MoogDLQ)
	}
	if target, ok := dlqadmin.DeadTarget(k, dead[0]); !ok || target != k.AlertQueue {
		t.Errorf("dead entry goes back to %q (%v), want %s", target, ok, k.AlertQueue)
	}

	a := actor()
	change := dlqadmin.ReplayChange(q, plan, map[string]any{"all": true}, out, nil, a)
	if _, err := b.RecordConfigChange(ctx, change); err != nil {
		t.Fatal(err)
	}
	row := audited(t, b, a.CorrelationID)
	nv := decode(t, row.NewValues)
	if row.Operation != store.OpUpdate || row.RecordID != dlqadmin.AuditRecordID || row.ChangedBy != a.ChangedBy ||
		nv["action"] != "replay" || nv["replayed"] != 1.0 || nv["dead"] != 1.0 || decode(t, row.OldValues)["queue"] != k.MoogDLQ {
		t.Errorf("audit row = %+v %v", row, nv)
	}
}

func testReplayDead(t *testing.T, b Backend) {
	ctx := t.Context()
	k := b.Keys()
	ev := queue.DeadLetter{Payload: []byte(`{"n":1}`), Reason: "audit_rejected", Error: "row refused", Source: k.IngestQueue, SourceID: "7"}
	park(t, b, k.DeadDLQ, ev, letter(k, 2, "http_4xx", 0))
	entries := all(t, b, k.DeadDLQ)
	q, _ := dlqadmin.Resolve(k, "dead")
	plan := dlqadmin.PlanReplay(k, q, entries, 3)
	out, err := dlqadmin.ReplayOn(ctx, b, k, q, plan)
	if err != nil || out.Replayed != 2 || out.ByTarget[k.IngestQueue] != 1 || out.ByTarget[k.AlertQueue] != 1 {
		t.Fatalf("ReplayOn = %+v, %v; want one to each work queue", out, err)
	}
	for key, want := range map[string]string{k.IngestQueue: `{"n":1}`, k.AlertQueue: `{"hostname":"r2"}`} {
		got, err := b.Queued(ctx, key)
		if err != nil || len(got) != 1 || string(got[0].Payload) != want || got[0].Replays != 1 {
			t.Errorf("%s holds %+v, %v; want %s replayed once", key, got, err, want)
		}
	}
	if n, err := b.Len(ctx, k.DeadDLQ); err != nil || n != 0 {
		t.Errorf("the dead queue holds %d, %v; want 0", n, err)
	}
}

func testPurge(t *testing.T, b Backend) {
	ctx := t.Context()
	k := b.Keys()
	park(t, b, k.AlerterDLQ, letter(k, 1, "shed", 0), letter(k, 2, "shed", 0), letter(k, 3, "invalid_event", 0))
	park(t, b, k.MoogDLQ, letter(k, 4, "shed", 0))
	entries := all(t, b, k.AlerterDLQ)
	other := all(t, b, k.MoogDLQ)
	chosen := []string{entries[0].ID, entries[2].ID, "1-0"}
	deleted, err := b.Purge(ctx, k.AlerterDLQ, chosen)
	if err != nil || deleted != 2 {
		t.Fatalf("Purge = %d, %v; want 2", deleted, err)
	}
	if left := all(t, b, k.AlerterDLQ); !slices.Equal(ids(left), []string{entries[1].ID}) {
		t.Errorf("the alerter DLQ holds %v, want %s", ids(left), entries[1].ID)
	}
	if left := all(t, b, k.MoogDLQ); !slices.Equal(ids(left), ids(other)) {
		t.Errorf("the moog DLQ changed: %v → %v", ids(other), ids(left))
	}
	if n, err := b.Purge(ctx, k.AlerterDLQ, chosen); err != nil || n != 0 {
		t.Errorf("purging again = %d, %v; want 0", n, err)
	}
	q, _ := dlqadmin.Resolve(k, "alerter")
	a := actor()
	if _, err := b.RecordConfigChange(ctx, dlqadmin.PurgeChange(q, chosen, map[string]any{"by_id": true}, dlqadmin.Purged{Deleted: deleted}, a)); err != nil {
		t.Fatal(err)
	}
	row := audited(t, b, a.CorrelationID)
	old := decode(t, row.OldValues)
	if row.Operation != store.OpDelete || old["action"] != "purge" || old["deleted"] != 2.0 || old["queue"] != k.AlerterDLQ || old["count"] != 3.0 {
		t.Errorf("audit row = %+v %v", row, old)
	}
}
