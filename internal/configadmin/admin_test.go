package configadmin

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/redis/go-redis/v9"

	"github.com/mutt-go/mutt/internal/dynconfig"
	"github.com/mutt-go/mutt/internal/itest"
	"github.com/mutt-go/mutt/internal/store"
)

// env is one test's Redis namespace and migrated database.
type env struct {
	t      *testing.T
	rdb    *redis.Client
	prefix string // the config prefix, <test prefix>:config
	pool   *pgxpool.Pool
	admin  *Admin
	logs   *itest.Buffer
}

func newEnv(t *testing.T) *env {
	t.Helper()
	rdb, prefix := itest.Redis(t)
	pool, _ := itest.Pool(t)
	if err := store.Migrate(t.Context(), pool, nil); err != nil {
		t.Fatalf("migrating: %v", err)
	}
	logs := &itest.Buffer{}
	logger := slog.New(slog.NewTextHandler(logs, nil))
	e := &env{t: t, rdb: rdb, prefix: prefix + ":config", pool: pool, logs: logs}
	e.admin = New(rdb, e.prefix, store.New(pool), logger)
	return e
}

var alice = store.Actor{ChangedBy: "cli:alice", Reason: "INC-1", CorrelationID: "3f2a9c1e-0000-4000-8000-000000000001"}

// auditRow is a config_audit_log row as the tests read it.
type auditRow struct {
	ChangedBy, Operation, TableName string
	RecordID                        int64
	Old, New                        map[string]any
	Reason, CorrelationID           *string
}

func (e *env) auditRows() []auditRow {
	e.t.Helper()
	rows, err := e.pool.Query(context.Background(), `
		SELECT changed_by, operation, table_name, record_id, old_values, new_values, reason, correlation_id
		FROM config_audit_log ORDER BY id`)
	if err != nil {
		e.t.Fatal(err)
	}
	defer rows.Close()
	var out []auditRow
	for rows.Next() {
		var r auditRow
		if err := rows.Scan(&r.ChangedBy, &r.Operation, &r.TableName, &r.RecordID, &r.Old, &r.New, &r.Reason, &r.CorrelationID); err != nil {
			e.t.Fatal(err)
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		e.t.Fatal(err)
	}
	return out
}

func (e *env) value(name string) (string, bool) {
	e.t.Helper()
	v, err := e.rdb.Get(context.Background(), e.prefix+":"+name).Result()
	if errors.Is(err, redis.Nil) {
		return "", false
	}
	if err != nil {
		e.t.Fatal(err)
	}
	return v, true
}

func ptr(s string) *string { return &s }

func sameOld(a, b *string) bool { return a == nil && b == nil || a != nil && b != nil && *a == *b }

func TestSetCreatesThenUpdatesWithExactAuditRows(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()
	const name = "alerter_shed_mode"

	c, err := e.admin.Set(ctx, name, "defer", alice)
	if err != nil {
		t.Fatal(err)
	}
	if c.Name != name || c.Old != nil || c.New != "defer" {
		t.Errorf("first change = %+v, want CREATE with no old value", c)
	}
	c, err = e.admin.Set(ctx, name, "off", store.Actor{ChangedBy: "webui_api:ops"})
	if err != nil {
		t.Fatal(err)
	}
	if !sameOld(c.Old, ptr("defer")) || c.New != "off" {
		t.Errorf("second change = %+v, want defer → off", c)
	}
	if v, _ := e.value(name); v != "off" {
		t.Errorf("Redis holds %q, want off", v)
	}
	rows := e.auditRows()
	if len(rows) != 2 {
		t.Fatalf("%d audit rows, want 2: %+v", len(rows), rows)
	}
	id := store.HashRecordID(name)
	r := rows[0]
	if r.ChangedBy != "cli:alice" || r.Operation != "CREATE" || r.TableName != "dynamic_config" || r.RecordID != id ||
		r.Old != nil || r.New["key"] != name || r.New["value"] != "defer" || len(r.New) != 2 ||
		r.Reason == nil || *r.Reason != "INC-1" || r.CorrelationID == nil || *r.CorrelationID != alice.CorrelationID {
		t.Errorf("CREATE row = %+v", r)
	}
	r = rows[1]
	if r.ChangedBy != "webui_api:ops" || r.Operation != "UPDATE" || r.RecordID != id ||
		r.Old["key"] != name || r.Old["value"] != "defer" || r.New["value"] != "off" || r.Reason != nil || r.CorrelationID != nil {
		t.Errorf("UPDATE row = %+v", r)
	}
}

func TestSetPublishesTheBareName(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()
	sub := e.rdb.Subscribe(ctx, e.prefix+":updates")
	defer sub.Close()
	if _, err := sub.Receive(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := e.admin.Set(ctx, "unhandled_threshold", "42", alice); err != nil {
		t.Fatal(err)
	}
	rctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	msg, err := sub.ReceiveMessage(rctx)
	if err != nil {
		t.Fatalf("no message on %s:updates: %v", e.prefix, err)
	}
	if msg.Payload != "unhandled_threshold" {
		t.Errorf("payload %q, want the bare name", msg.Payload)
	}
}

func TestRedisFailureLeavesNoAuditRow(t *testing.T) {
	e := newEnv(t)
	opts, err := redis.ParseURL(itest.RedisURL())
	if err != nil {
		t.Fatal(err)
	}
	broken := redis.NewClient(opts)
	_ = broken.Close()
	a := New(broken, e.prefix, store.New(e.pool), slog.New(slog.NewTextHandler(io.Discard, nil)))
	if _, err := a.Set(t.Context(), "unhandled_threshold", "42", alice); err == nil {
		t.Fatal("Set succeeded on a closed Redis client")
	}
	if _, err := a.Delete(t.Context(), "unhandled_threshold", alice); err == nil {
		t.Fatal("Delete succeeded on a closed Redis client")
	}
	if rows := e.auditRows(); len(rows) != 0 {
		t.Errorf("audit rows written for changes that did not happen: %+v", rows)
	}
}

func TestAuditFailureLeavesRedisUnchanged(t *testing.T) {
	e := newEnv(t)
	// changed_by is required: the row cannot be written, so nothing changes.
	_, err := e.admin.Set(t.Context(), "unhandled_threshold", "42", store.Actor{})
	if !errors.Is(err, store.ErrInvalidConfigChange) {
		t.Fatalf("Set without changed_by = %v, want ErrInvalidConfigChange", err)
	}
	if _, found := e.value("unhandled_threshold"); found {
		t.Error("value written although its audit row was refused")
	}
}

func TestSetRefusesInvalidValues(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()
	tests := []struct {
		name, key, value, wantMsg string
	}{
		{"bounds", "ingest_rate_window", "0", "invalid value for ingest_rate_window: must be from 1 to 86400, got 0"},
		{"kind", "retention_enforcement_enabled", "maybe", "invalid value for retention_enforcement_enabled: must be true or false"},
		{"cross-key", "slo_forwarder_availability_burn_rate_warning", "12", "must not exceed slo_forwarder_availability_burn_rate_critical (10)"},
		{"updates is no name", "updates", "1", "reserved for the update channel"},
		{"empty name", "", "1", "empty"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := e.admin.Set(ctx, tt.key, tt.value, alice)
			if !errors.Is(err, ErrInvalidValue) || !strings.Contains(err.Error(), tt.wantMsg) {
				t.Fatalf("Set(%s, %s) = %v, want ErrInvalidValue %q", tt.key, tt.value, err, tt.wantMsg)
			}
		})
	}
	// A stored critical level moves the limit.
	if _, err := e.admin.Set(ctx, "slo_forwarder_availability_burn_rate_critical", "20", alice); err != nil {
		t.Fatal(err)
	}
	if _, err := e.admin.Set(ctx, "slo_forwarder_availability_burn_rate_warning", "12", alice); err != nil {
		t.Errorf("warning under the stored critical level refused: %v", err)
	}
	if _, err := e.admin.Set(ctx, "slo_forwarder_availability_burn_rate_critical", "11", alice); err == nil {
		t.Error("critical level under the stored warning level accepted")
	}
	if n := len(e.auditRows()); n != 2 {
		t.Errorf("%d audit rows, want 2 (refused changes leave none)", n)
	}
}

func TestUnknownKeyAcceptedWithWarning(t *testing.T) {
	e := newEnv(t)
	c, err := e.admin.Set(t.Context(), "webui_banner", "maintenance at 18:00", alice)
	if err != nil {
		t.Fatal(err)
	}
	if c.New != "maintenance at 18:00" {
		t.Errorf("change %+v", c)
	}
	if v, _ := e.value("webui_banner"); v != "maintenance at 18:00" {
		t.Errorf("stored %q", v)
	}
	if !strings.Contains(e.logs.String(), "registry does not know") {
		t.Errorf("no warning logged: %s", e.logs.String())
	}
	if rows := e.auditRows(); len(rows) != 1 || rows[0].Operation != "CREATE" {
		t.Errorf("audit rows %+v", rows)
	}
}

func TestDelete(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()
	if _, err := e.admin.Delete(ctx, "moog_rate_limit", alice); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Delete of an unset key = %v, want ErrNotFound", err)
	}
	if _, err := e.admin.Set(ctx, "moog_rate_limit", "70", alice); err != nil {
		t.Fatal(err)
	}
	c, err := e.admin.Delete(ctx, "moog_rate_limit", alice)
	if err != nil {
		t.Fatal(err)
	}
	if !sameOld(c.Old, ptr("70")) || c.New != "" {
		t.Errorf("delete change %+v", c)
	}
	if _, found := e.value("moog_rate_limit"); found {
		t.Error("key still set")
	}
	rows := e.auditRows()
	if len(rows) != 2 {
		t.Fatalf("rows %+v", rows)
	}
	if r := rows[1]; r.Operation != "DELETE" || r.Old["value"] != "70" || r.New != nil || r.RecordID != store.HashRecordID("moog_rate_limit") {
		t.Errorf("DELETE row %+v", r)
	}
}

func TestListAndGet(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()
	for k, v := range map[string]string{"zz_unknown": "1", "alerter_shed_mode": "off", "moog_rate_limit": "9"} {
		if err := e.rdb.Set(ctx, e.prefix+":"+k, v, 0).Err(); err != nil {
			t.Fatal(err)
		}
	}
	// A key named like the channel, and a key of another prefix, are skipped.
	if err := e.rdb.Set(ctx, e.prefix+":updates", "x", 0).Err(); err != nil {
		t.Fatal(err)
	}
	if err := e.rdb.Set(ctx, e.prefix+"x:moog_rate_limit", "1", 0).Err(); err != nil {
		t.Fatal(err)
	}
	list, err := e.admin.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, en := range list {
		names = append(names, en.Name)
	}
	if strings.Join(names, ",") != "alerter_shed_mode,moog_rate_limit,zz_unknown" {
		t.Fatalf("List names %v", names)
	}
	if !list[0].Known || list[0].Key.Kind != dynconfig.Enum || list[0].Value != "off" || list[2].Known || list[2].Key.Name != "" {
		t.Errorf("List entries %+v", list)
	}
	v, found, err := e.admin.Get(ctx, "moog_rate_limit")
	if err != nil || !found || v != "9" {
		t.Errorf("Get = %q, %v, %v", v, found, err)
	}
	if _, found, err := e.admin.Get(ctx, "ingest_rate_window"); err != nil || found {
		t.Errorf("Get of unset key found=%v err=%v", found, err)
	}
}

func TestSeed(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()
	if err := e.rdb.Set(ctx, e.prefix+":moog_rate_limit", "70", 0).Err(); err != nil {
		t.Fatal(err)
	}
	changes, err := e.admin.Seed(ctx, false, alice)
	if err != nil {
		t.Fatal(err)
	}
	want := 0
	for _, k := range dynconfig.Keys() {
		if !k.Reserved {
			want++
		}
	}
	if len(changes) != want-1 {
		t.Errorf("seeded %d keys, want %d (all non-reserved but the one set)", len(changes), want-1)
	}
	if v, _ := e.value("moog_rate_limit"); v != "70" {
		t.Errorf("seed without force overwrote moog_rate_limit: %q", v)
	}
	if _, found := e.value("remediation_enabled"); found {
		t.Error("reserved key seeded")
	}
	if v, _ := e.value("retention_enforcement_enabled"); v != "true" {
		t.Errorf("retention_enforcement_enabled = %q", v)
	}
	if n := len(e.auditRows()); n != len(changes) {
		t.Errorf("%d audit rows for %d changes", n, len(changes))
	}
	again, err := e.admin.Seed(ctx, false, alice)
	if err != nil || len(again) != 0 {
		t.Errorf("second seed changed %d keys, err %v", len(again), err)
	}
	forced, err := e.admin.Seed(ctx, true, alice)
	if err != nil {
		t.Fatal(err)
	}
	if len(forced) != 1 || forced[0].Name != "moog_rate_limit" || !sameOld(forced[0].Old, ptr("70")) || forced[0].New != "50" {
		t.Errorf("forced seed %+v, want only moog_rate_limit 70 → 50", forced)
	}
	rows := e.auditRows()
	if last := rows[len(rows)-1]; last.Operation != "UPDATE" || last.Old["value"] != "70" {
		t.Errorf("last row %+v", last)
	}
}

func TestRunningStoreSeesAChangeWithinASecond(t *testing.T) {
	e := newEnv(t)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	reader := dynconfig.New(e.rdb, e.prefix, slog.New(slog.NewTextHandler(io.Discard, nil)))
	done := make(chan struct{})
	go func() { defer close(done); _ = reader.Run(ctx) }()
	defer func() { cancel(); <-done }()
	// The first Set after Run has subscribed proves the watcher is live.
	itest.Eventually(t, 5*time.Second, "reader loaded", func() bool {
		if _, err := e.admin.Set(ctx, "slo_window_hours", "36", alice); err != nil {
			t.Fatal(err)
		}
		return reader.Int("slo_window_hours", 0) == 36
	})
	start := time.Now()
	if _, err := e.admin.Set(ctx, "slo_ingest_success_target", "0.98", alice); err != nil {
		t.Fatal(err)
	}
	itest.Eventually(t, time.Second, "float visible within 1 s", func() bool {
		return reader.Float("slo_ingest_success_target", 0) == 0.98
	})
	if _, err := e.admin.Set(ctx, "retention_enforcement_enabled", "FALSE", alice); err != nil {
		t.Fatal(err)
	}
	itest.Eventually(t, time.Second, "bool visible within 1 s", func() bool {
		return !reader.Bool("retention_enforcement_enabled", true)
	})
	if _, err := e.admin.Delete(ctx, "slo_window_hours", alice); err != nil {
		t.Fatal(err)
	}
	itest.Eventually(t, time.Second, "delete visible within 1 s", func() bool {
		return reader.Int("slo_window_hours", 24) == 24
	})
	t.Logf("three changes propagated in %s", time.Since(start))
}

func TestConcurrentSetsRecordExactOldValues(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()
	const writers = 4
	var wg sync.WaitGroup
	for i := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := e.admin.Set(ctx, "unhandled_threshold", string(rune('1'+i)), alice); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	rows := e.auditRows()
	if len(rows) != writers {
		t.Fatalf("%d rows, want %d", len(rows), writers)
	}
	// The rows form one chain from the CREATE: each old value is the new
	// value of exactly one other row (ids need not follow commit order).
	next := map[any]any{}
	var prev any
	for _, r := range rows {
		if r.Operation == "CREATE" {
			if prev != nil {
				t.Fatalf("two CREATE rows: %+v", rows)
			}
			prev = r.New["value"]
			continue
		}
		if _, dup := next[r.Old["value"]]; dup {
			t.Fatalf("two rows replace %v: %+v", r.Old["value"], rows)
		}
		next[r.Old["value"]] = r.New["value"]
	}
	for range len(next) {
		v, ok := next[prev]
		if !ok {
			t.Fatalf("chain broken after %v: %+v", prev, rows)
		}
		prev = v
	}
	if v, _ := e.value("unhandled_threshold"); v != prev {
		t.Errorf("Redis %q, last row %v", v, prev)
	}
}
