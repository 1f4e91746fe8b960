package dynconfigtest

import (
	"context"
	"encoding/json"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/mutt-go/mutt/internal/dynconfig"
	"github.com/mutt-go/mutt/internal/store"
)

// Backend is a dynamic config backend with its audited writer.
type Backend interface {
	dynconfig.Backend
	CompareAndSet(ctx context.Context, name string, old, next *string, change store.ConfigChange) (swapped bool, err error)
}

// AuditLog is where the writer's audit rows can be read back.
type AuditLog interface {
	SearchConfigAudit(ctx context.Context, f store.ConfigAuditFilter) ([]store.ConfigAuditRow, int64, error)
}

// Target is one empty backend and the audit log it writes to.
type Target struct {
	Backend Backend
	Audit   AuditLog
}

// Run runs the suite; open returns an empty target of its own for each
// subtest and arranges its cleanup.
func Run(t *testing.T, open func(t *testing.T) Target) {
	tests := []struct {
		name string
		fn   func(t *testing.T, tg Target)
	}{
		{"ReadWrite", testReadWrite},
		{"StaleOldRefused", testStaleOldRefused},
		{"RefusedRowChangesNothing", testRefusedRow},
		{"WatchWithinASecond", testWatch},
		{"ConcurrentSwapsOneWins", testConcurrentSwaps},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { tt.fn(t, open(t)) })
	}
}

const (
	nameA = "unhandled_threshold"
	nameB = "alerter_shed_mode"
	// nameUnknown is no registry name: backends store any name.
	nameUnknown = "webui_banner"
)

func ptr(s string) *string { return &s }

// change is the audit row of setting name from old to next.
func change(name string, old, next *string) store.ConfigChange {
	c := store.ConfigChange{ChangedBy: "cli:conformance", TableName: "dynamic_config",
		RecordID: store.HashRecordID(name), Reason: "suite", Operation: store.OpUpdate}
	switch {
	case old == nil:
		c.Operation = store.OpCreate
	case next == nil:
		c.Operation = store.OpDelete
	}
	if old != nil {
		c.Old = map[string]string{"key": name, "value": *old}
	}
	if next != nil {
		c.New = map[string]string{"key": name, "value": *next}
	}
	return c
}

func mustSwap(t *testing.T, b Backend, name string, old, next *string) {
	t.Helper()
	ok, err := b.CompareAndSet(t.Context(), name, old, next, change(name, old, next))
	if err != nil || !ok {
		t.Fatalf("CompareAndSet(%s, %v → %v) = %v, %v; want swapped", name, old, next, ok, err)
	}
}

func auditRows(t *testing.T, tg Target) []store.ConfigAuditRow {
	t.Helper()
	rows, total, err := tg.Audit.SearchConfigAudit(t.Context(), store.ConfigAuditFilter{TableName: "dynamic_config", Limit: 200, OrderByID: true})
	if err != nil {
		t.Fatal(err)
	}
	if int64(len(rows)) != total {
		t.Fatalf("%d rows on the page, total %d", len(rows), total)
	}
	return rows
}

func wantValue(t *testing.T, b Backend, name string, want *string) {
	t.Helper()
	v, ok, err := b.Get(t.Context(), name)
	if err != nil {
		t.Fatal(err)
	}
	if want == nil && ok || want != nil && (!ok || v != *want) {
		t.Fatalf("Get(%s) = %q, %v; want %v", name, v, ok, want)
	}
}

// valueOf is the "value" of an audit row's old or new values.
func valueOf(t *testing.T, raw json.RawMessage) string {
	t.Helper()
	var m struct{ Value string }
	if raw != nil && json.Unmarshal(raw, &m) != nil {
		t.Errorf("audit values %s are not an object", raw)
	}
	return m.Value
}

func testReadWrite(t *testing.T, tg Target) {
	ctx, b := t.Context(), tg.Backend
	wantValue(t, b, nameA, nil)
	if all, err := b.List(ctx); err != nil || len(all) != 0 {
		t.Fatalf("List of an empty backend = %v, %v", all, err)
	}
	mustSwap(t, b, nameA, nil, ptr("50"))
	mustSwap(t, b, nameUnknown, nil, ptr("maintenance at 18:00"))
	mustSwap(t, b, nameA, ptr("50"), ptr("60"))
	wantValue(t, b, nameA, ptr("60"))

	got, err := b.GetMany(ctx, []string{nameA, nameB, nameUnknown})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[nameA] != "60" || got[nameUnknown] != "maintenance at 18:00" {
		t.Errorf("GetMany = %v, want %s and %s only", got, nameA, nameUnknown)
	}
	if got, err := b.GetMany(ctx, nil); err != nil || len(got) != 0 {
		t.Errorf("GetMany(nil) = %v, %v", got, err)
	}
	all, err := b.List(ctx)
	if err != nil || len(all) != 2 || all[nameA] != "60" || all[nameUnknown] != "maintenance at 18:00" {
		t.Errorf("List = %v, %v", all, err)
	}

	mustSwap(t, b, nameA, ptr("60"), nil)
	wantValue(t, b, nameA, nil)
	if all, err := b.List(ctx); err != nil || len(all) != 1 {
		t.Errorf("List after delete = %v, %v", all, err)
	}
	// A deleted name can be created again.
	mustSwap(t, b, nameA, nil, ptr("70"))
	wantValue(t, b, nameA, ptr("70"))

	rows := auditRows(t, tg)
	ops := []string{store.OpCreate, store.OpDelete, store.OpUpdate, store.OpCreate, store.OpCreate}
	if len(rows) != len(ops) {
		t.Fatalf("%d audit rows, want %d", len(rows), len(ops))
	}
	for i, r := range rows { // newest first
		if r.Operation != ops[i] {
			t.Errorf("row %d operation %s, want %s", i, r.Operation, ops[i])
		}
	}
	upd := rows[2]
	if upd.RecordID != store.HashRecordID(nameA) || upd.ChangedBy != "cli:conformance" ||
		valueOf(t, upd.OldValues) != "50" || valueOf(t, upd.NewValues) != "60" ||
		upd.Reason == nil || *upd.Reason != "suite" {
		t.Errorf("UPDATE row = %+v", upd)
	}
}

func testStaleOldRefused(t *testing.T, tg Target) {
	b := tg.Backend
	mustSwap(t, b, nameA, nil, ptr("50"))
	tests := []struct {
		name      string
		old, next *string
	}{
		{"stale value", ptr("49"), ptr("51")},
		{"create over a value", nil, ptr("51")},
		{"delete of a stale value", ptr("49"), nil},
	}
	for _, tt := range tests {
		ok, err := b.CompareAndSet(t.Context(), nameA, tt.old, tt.next, change(nameA, tt.old, tt.next))
		if err != nil || ok {
			t.Errorf("%s: CompareAndSet = %v, %v; want refused without error", tt.name, ok, err)
		}
	}
	ok, err := b.CompareAndSet(t.Context(), nameB, ptr("dlq"), ptr("off"), change(nameB, ptr("dlq"), ptr("off")))
	if err != nil || ok {
		t.Errorf("update of an unset name = %v, %v; want refused", ok, err)
	}
	wantValue(t, b, nameA, ptr("50"))
	wantValue(t, b, nameB, nil)
	if rows := auditRows(t, tg); len(rows) != 1 {
		t.Errorf("%d audit rows, want exactly the one of the swap that happened", len(rows))
	}
}

func testRefusedRow(t *testing.T, tg Target) {
	c := change(nameA, nil, ptr("50"))
	c.ChangedBy = "" // the audit log refuses a row without changed_by
	ok, err := tg.Backend.CompareAndSet(t.Context(), nameA, nil, ptr("50"), c)
	if !errors.Is(err, store.ErrInvalidConfigChange) || ok {
		t.Fatalf("CompareAndSet with an invalid row = %v, %v; want ErrInvalidConfigChange", ok, err)
	}
	wantValue(t, tg.Backend, nameA, nil)
	if rows := auditRows(t, tg); len(rows) != 0 {
		t.Errorf("%d audit rows for a refused change", len(rows))
	}
}

func testWatch(t *testing.T, tg Target) {
	b := tg.Backend
	ctx, cancel := context.WithCancel(t.Context())
	ch, err := b.Watch(ctx)
	if err != nil {
		t.Fatal(err)
	}
	next := func(what string) string {
		t.Helper()
		select {
		case n, ok := <-ch:
			if !ok {
				t.Fatalf("%s: watch closed", what)
			}
			return n
		case <-time.After(time.Second):
			t.Fatalf("%s: no name delivered within 1 s", what)
		}
		return ""
	}
	mustSwap(t, b, nameA, nil, ptr("50"))
	if n := next("create"); n != nameA {
		t.Errorf("create delivered %q, want %q", n, nameA)
	}
	mustSwap(t, b, nameB, nil, ptr("dlq"))
	if n := next("second key"); n != nameB {
		t.Errorf("second key delivered %q, want %q", n, nameB)
	}
	mustSwap(t, b, nameA, ptr("50"), nil)
	if n := next("delete"); n != nameA {
		t.Errorf("delete delivered %q, want %q", n, nameA)
	}
	cancel()
	deadline := time.After(2 * time.Second)
	for {
		select {
		case _, ok := <-ch:
			if !ok {
				return
			}
		case <-deadline:
			t.Fatal("watch not closed after its context ended")
		}
	}
}

func testConcurrentSwaps(t *testing.T, tg Target) {
	b := tg.Backend
	mustSwap(t, b, nameA, nil, ptr("1"))
	const writers = 4
	var wg sync.WaitGroup
	var mu sync.Mutex
	won := 0
	for i := range writers {
		wg.Go(func() {
			next := ptr(string(rune('2' + i)))
			ok, err := b.CompareAndSet(t.Context(), nameA, ptr("1"), next, change(nameA, ptr("1"), next))
			if err != nil {
				t.Error(err)
			}
			if ok {
				mu.Lock()
				won++
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if won != 1 {
		t.Errorf("%d writers swapped from the same old value, want 1", won)
	}
	if rows := auditRows(t, tg); len(rows) != 2 {
		t.Errorf("%d audit rows, want 2 (the create and the one swap)", len(rows))
	}
}
