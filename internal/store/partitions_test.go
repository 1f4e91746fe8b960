package store

import (
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// partitionBounds returns the bound expression of partition name rendered in
// UTC.
func partitionBounds(t *testing.T, pool *pgxpool.Pool, name string) string {
	t.Helper()
	var bounds string
	err := pgx.BeginFunc(t.Context(), pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(t.Context(), "SET LOCAL TimeZone = 'UTC'"); err != nil {
			return err
		}
		return tx.QueryRow(t.Context(), "SELECT pg_get_expr(relpartbound, oid) FROM pg_class WHERE oid = to_regclass($1)", name).Scan(&bounds)
	})
	if err != nil {
		t.Fatalf("reading bounds of %s: %v", name, err)
	}
	return bounds
}

func TestEnsurePartitions(t *testing.T) {
	t.Parallel()
	now := time.Now()
	var thisAndNextTwo []string
	for i := range 3 {
		m := time.Date(now.UTC().Year(), now.UTC().Month()+time.Month(i), 1, 0, 0, 0, 0, time.UTC)
		thisAndNextTwo = append(thisAndNextTwo, monthName(m.Year(), m.Month()))
	}
	tests := []struct {
		name   string
		now    time.Time
		months int
		want   []string
	}{
		{"this month and the next two", now, 3, thisAndNextTwo},
		{"across a year boundary", time.Date(2025, 11, 15, 10, 0, 0, 0, time.UTC), 4,
			[]string{"event_audit_log_2025_11", "event_audit_log_2025_12", "event_audit_log_2026_01", "event_audit_log_2026_02"}},
		{"from the last day of a long month", time.Date(2025, 1, 31, 12, 0, 0, 0, time.UTC), 3,
			[]string{"event_audit_log_2025_01", "event_audit_log_2025_02", "event_audit_log_2025_03"}},
		{"now given in another time zone", time.Date(2025, 12, 31, 22, 0, 0, 0, time.FixedZone("EST", -5*3600)), 2,
			[]string{"event_audit_log_2026_01", "event_audit_log_2026_02"}},
		{"leap day, one month", time.Date(2024, 2, 29, 23, 59, 59, 0, time.UTC), 1,
			[]string{"event_audit_log_2024_02"}},
		{"two years ahead", time.Date(2025, 6, 1, 0, 0, 0, 0, time.UTC), 25, nil}, // checked by count below
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			pool := schemaOnly(t)
			ctx := t.Context()
			created, err := EnsurePartitions(ctx, pool, tt.now, tt.months)
			if err != nil {
				t.Fatalf("EnsurePartitions: %v", err)
			}
			if tt.want != nil && !slices.Equal(created, tt.want) {
				t.Errorf("created %v, want %v", created, tt.want)
			}
			if len(created) != tt.months {
				t.Errorf("created %d partitions, want %d", len(created), tt.months)
			}
			for _, name := range created {
				from, err := partitionMonth(name)
				if err != nil {
					t.Fatalf("unexpected partition name %q: %v", name, err)
				}
				to := from.AddDate(0, 1, 0)
				want := "FOR VALUES FROM ('" + from.Format(time.DateTime) + "+00') TO ('" + to.Format(time.DateTime) + "+00')"
				if got := partitionBounds(t, pool, name); got != want {
					t.Errorf("bounds of %s = %s, want %s", name, got, want)
				}
			}

			again, err := EnsurePartitions(ctx, pool, tt.now, tt.months)
			if err != nil {
				t.Fatalf("EnsurePartitions again: %v", err)
			}
			if len(again) != 0 {
				t.Errorf("EnsurePartitions again created %v, want nothing", again)
			}
		})
	}
}

func TestEnsurePartitionsRejectsBadMonths(t *testing.T) {
	t.Parallel()
	pool := schemaOnly(t)
	for _, months := range []int{0, -1, maxPartitionMonths + 1} {
		created, err := EnsurePartitions(t.Context(), pool, time.Now(), months)
		if err == nil {
			t.Errorf("EnsurePartitions(%d months) succeeded, want an error", months)
		}
		if len(created) != 0 {
			t.Errorf("EnsurePartitions(%d months) created %v", months, created)
		}
	}
	names, err := partitionNames(t.Context(), pool)
	if err != nil {
		t.Fatal(err)
	}
	if len(names) != 1 || !names["event_audit_log_default"] {
		t.Errorf("partitions = %v, want only the default", names)
	}
}

func TestEnsurePartitionsConcurrently(t *testing.T) {
	t.Parallel()
	pool := schemaOnly(t)
	now := time.Date(2025, 11, 15, 0, 0, 0, 0, time.UTC)
	const callers = 4
	results := make([][]string, callers)
	errs := make([]error, callers)
	var wg sync.WaitGroup
	for i := range callers {
		wg.Go(func() { results[i], errs[i] = EnsurePartitions(t.Context(), pool, now, 6) })
	}
	wg.Wait()
	var all []string
	for i := range callers {
		if errs[i] != nil {
			t.Errorf("caller %d: %v", i, errs[i])
		}
		all = append(all, results[i]...)
	}
	slices.Sort(all)
	want := []string{"event_audit_log_2025_11", "event_audit_log_2025_12", "event_audit_log_2026_01",
		"event_audit_log_2026_02", "event_audit_log_2026_03", "event_audit_log_2026_04"}
	if !slices.Equal(all, want) {
		t.Errorf("partitions reported created = %v, want each of %v exactly once", all, want)
	}
}

func TestRowsRouteToPartitions(t *testing.T) {
	t.Parallel()
	pool := schemaOnly(t)
	ctx := t.Context()
	if _, err := EnsurePartitions(ctx, pool, time.Date(2025, 11, 15, 0, 0, 0, 0, time.UTC), 4); err != nil {
		t.Fatalf("EnsurePartitions: %v", err)
	}
	insertRule(t, pool, 1)
	est := time.FixedZone("EST", -5*3600)
	tests := []struct {
		name string
		ts   time.Time
		want string
	}{
		{"first instant of a month", time.Date(2025, 11, 1, 0, 0, 0, 0, time.UTC), "event_audit_log_2025_11"},
		{"last instant before the first partition", time.Date(2025, 10, 31, 23, 59, 59, 999999000, time.UTC), "event_audit_log_default"},
		{"last instant of the last partition", time.Date(2026, 2, 28, 23, 59, 59, 999999000, time.UTC), "event_audit_log_2026_02"},
		{"first instant after the last partition", time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC), "event_audit_log_default"},
		{"local time whose UTC month differs", time.Date(2025, 12, 31, 23, 30, 0, 0, est), "event_audit_log_2026_01"},
		{"device clock far in the past", time.Date(1970, 1, 1, 0, 0, 0, 0, time.UTC), "event_audit_log_default"},
		{"device clock far in the future", time.Date(2999, 12, 31, 0, 0, 0, 0, time.UTC), "event_audit_log_default"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			row := auditRows(t, 1, 1, tt.ts)[0]
			row.Timestamp = tt.ts
			n, err := New(pool).InsertAudit(ctx, []AuditRow{row})
			if err != nil {
				t.Fatalf("InsertAudit: %v", err)
			}
			if n != 1 {
				t.Fatalf("InsertAudit wrote %d rows, want 1", n)
			}
			if got := partitionOf(t, pool, row.EventID); got != tt.want {
				t.Errorf("row at %s went to %s, want %s", tt.ts.Format(time.RFC3339Nano), got, tt.want)
			}
		})
	}
}

func TestEnsurePartitionsReportsBlockedMonth(t *testing.T) {
	t.Parallel()
	pool := schemaOnly(t)
	ctx := t.Context()
	insertRule(t, pool, 1)
	// A row of February 2030 arrives before its partition exists.
	if _, err := New(pool).InsertAudit(ctx, auditRows(t, 1, 1, time.Date(2030, 2, 10, 0, 0, 0, 0, time.UTC))); err != nil {
		t.Fatalf("InsertAudit: %v", err)
	}
	created, err := EnsurePartitions(ctx, pool, time.Date(2030, 1, 15, 0, 0, 0, 0, time.UTC), 3)
	if err == nil {
		t.Fatal("EnsurePartitions succeeded although the default partition holds a row of 2030-02")
	}
	if !strings.Contains(err.Error(), "event_audit_log_2030_02") {
		t.Errorf("error %q does not name the blocked partition", err)
	}
	want := []string{"event_audit_log_2030_01", "event_audit_log_2030_03"}
	if !slices.Equal(created, want) {
		t.Errorf("created %v, want %v", created, want)
	}
	if n := auditCount(t, pool); n != 1 {
		t.Errorf("audit rows = %d, want the 1 row kept in the default partition", n)
	}
}

func TestMigrateReportsIncompletePartitions(t *testing.T) {
	t.Parallel()
	pool := schemaOnly(t)
	ctx := t.Context()
	insertRule(t, pool, 1)
	now := time.Now().UTC()
	thisMonth := time.Date(now.Year(), now.Month(), 1, 0, 0, 0, 0, time.UTC)
	nextMonth := thisMonth.AddDate(0, 1, 0)
	// A row of next month arrives before its partition exists.
	if _, err := New(pool).InsertAudit(ctx, auditRows(t, 1, 1, nextMonth.AddDate(0, 0, 9))); err != nil {
		t.Fatalf("InsertAudit: %v", err)
	}
	err := Migrate(ctx, pool, nil)
	if !errors.Is(err, ErrPartitionsIncomplete) {
		t.Fatalf("Migrate = %v, want an error wrapping ErrPartitionsIncomplete", err)
	}
	names, err := partitionNames(ctx, pool)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range []time.Time{thisMonth, thisMonth.AddDate(0, 2, 0)} {
		if name := monthName(m.Year(), m.Month()); !names[name] {
			t.Errorf("partition %s was not created; partitions: %v", name, names)
		}
	}
	if v, err := SchemaVersion(ctx, pool); err != nil || v != latestVersion {
		t.Errorf("SchemaVersion = %d, %v; want %d", v, err, latestVersion)
	}
}

func TestCreateMonthlyPartitionFunction(t *testing.T) {
	t.Parallel()
	pool := schemaOnly(t)
	ctx := t.Context()
	conn, err := pool.Acquire(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Release()
	// A session zone far from UTC must not move the bounds.
	if _, err := conn.Exec(ctx, "SET TimeZone = 'Pacific/Kiritimati'"); err != nil {
		t.Fatal(err)
	}
	for range 2 { // IF NOT EXISTS: the second call is a no-op
		if _, err := conn.Exec(ctx, "SELECT create_monthly_partition('2027-03-17')"); err != nil {
			t.Fatalf("create_monthly_partition: %v", err)
		}
	}
	if _, err := conn.Exec(ctx, "RESET TimeZone"); err != nil {
		t.Fatal(err)
	}
	want := "FOR VALUES FROM ('2027-03-01 00:00:00+00') TO ('2027-04-01 00:00:00+00')"
	if got := partitionBounds(t, pool, "event_audit_log_2027_03"); got != want {
		t.Errorf("bounds = %s, want %s", got, want)
	}
}

func TestDropOldPartitions(t *testing.T) {
	t.Parallel()
	pool := schemaOnly(t)
	ctx := t.Context()
	var dbNow time.Time
	if err := pool.QueryRow(ctx, "SELECT now()").Scan(&dbNow); err != nil {
		t.Fatal(err)
	}
	dbNow = dbNow.UTC()
	thisMonth := time.Date(dbNow.Year(), dbNow.Month(), 1, 0, 0, 0, 0, time.UTC)
	// From eight months ago to next month.
	if _, err := EnsurePartitions(ctx, pool, thisMonth.AddDate(0, -8, 0), 10); err != nil {
		t.Fatalf("EnsurePartitions: %v", err)
	}
	rows, err := pool.Query(ctx, "SELECT * FROM drop_old_partitions(6)")
	if err != nil {
		t.Fatalf("drop_old_partitions: %v", err)
	}
	dropped, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatalf("drop_old_partitions: %v", err)
	}
	// Months M-8 and M-7 ended before M-6 began; M-6 still holds data younger
	// than six months.
	var want []string
	for _, back := range []int{-8, -7} {
		m := thisMonth.AddDate(0, back, 0)
		want = append(want, monthName(m.Year(), m.Month()))
	}
	if !slices.Equal(dropped, want) {
		t.Errorf("dropped %v, want %v", dropped, want)
	}
	names, err := partitionNames(ctx, pool)
	if err != nil {
		t.Fatal(err)
	}
	if len(names) != 9 || !names["event_audit_log_default"] {
		t.Errorf("partitions left = %v, want months M-6..M+1 and the default", names)
	}
	if _, err := pool.Exec(ctx, "SELECT drop_old_partitions(-1)"); err == nil {
		t.Error("drop_old_partitions(-1) succeeded, want an error")
	}
}

func TestPartitionHealthSummary(t *testing.T) {
	t.Parallel()
	pool := schemaOnly(t)
	ctx := t.Context()
	if _, err := EnsurePartitions(ctx, pool, time.Date(2025, 11, 15, 0, 0, 0, 0, time.UTC), 3); err != nil {
		t.Fatalf("EnsurePartitions: %v", err)
	}
	insertRule(t, pool, 1)
	if _, err := New(pool).InsertAudit(ctx, auditRows(t, 50, 1, time.Date(2025, 12, 3, 0, 0, 0, 0, time.UTC))); err != nil {
		t.Fatalf("InsertAudit: %v", err)
	}
	if _, err := pool.Exec(ctx, "ANALYZE event_audit_log"); err != nil {
		t.Fatal(err)
	}
	type row struct {
		name, bounds, size string
		estimate           int64
	}
	rows, err := pool.Query(ctx, "SELECT partition_name, partition_range, partition_size, row_count_estimate FROM partition_health_summary")
	if err != nil {
		t.Fatalf("querying partition_health_summary: %v", err)
	}
	got, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (row, error) {
		var x row
		err := r.Scan(&x.name, &x.bounds, &x.size, &x.estimate)
		return x, err
	})
	if err != nil {
		t.Fatalf("reading partition_health_summary: %v", err)
	}
	var names []string
	estimates := map[string]int64{}
	for _, r := range got {
		names = append(names, r.name)
		estimates[r.name] = r.estimate
		if r.bounds == "" || r.size == "" {
			t.Errorf("row %+v lacks bounds or size", r)
		}
	}
	wantNames := []string{"event_audit_log_2026_01", "event_audit_log_2025_12", "event_audit_log_2025_11", "event_audit_log_default"}
	if !slices.Equal(names, wantNames) {
		t.Errorf("partitions = %v, want %v (newest first, default last)", names, wantNames)
	}
	if estimates["event_audit_log_2025_12"] != 50 || estimates["event_audit_log_2025_11"] != 0 {
		t.Errorf("row estimates = %v, want 50 for 2025_12 and 0 for 2025_11", estimates)
	}
}

// partitionMonth parses the month out of a monthly partition name.
func partitionMonth(name string) (time.Time, error) {
	return time.Parse("2006_01", strings.TrimPrefix(name, "event_audit_log_"))
}
