package store

import (
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
)

// reportLatency adds the 50th and 99th percentile of durations, in
// milliseconds, to the benchmark's output.
func reportLatency(b *testing.B, durations []time.Duration) {
	b.Helper()
	if len(durations) == 0 {
		return
	}
	slices.Sort(durations)
	at := func(q float64) float64 {
		return float64(durations[int(q*float64(len(durations)-1))]) / float64(time.Millisecond)
	}
	b.ReportMetric(at(0.50), "p50-ms")
	b.ReportMetric(at(0.99), "p99-ms")
}

// BenchmarkListRules1k measures GET /api/v1/rules's query with 1,000 rules.
func BenchmarkListRules1k(b *testing.B) {
	pool := migrated(b)
	st := New(pool)
	ctx := b.Context()
	_, err := pool.Exec(ctx, `
		INSERT INTO alert_rules (match_string, syslog_severity, match_type, priority,
		                         prod_handling, dev_handling, team_assignment, is_active)
		SELECT 'PATTERN-' || i, CASE WHEN i % 3 = 0 THEN NULL ELSE i % 8 END, 'contains', i % 50,
		       'Page_and_ticket', 'Ticket_only', 'Team-' || (i % 20), i % 10 <> 0
		FROM generate_series(1, 1000) AS i`)
	if err != nil {
		b.Fatalf("inserting rules: %v", err)
	}
	var durations []time.Duration
	for b.Loop() {
		start := time.Now()
		list, err := st.ListRules(ctx)
		durations = append(durations, time.Since(start))
		if err != nil || len(list) != 1000 {
			b.Fatalf("ListRules = %d rules, %v", len(list), err)
		}
	}
	reportLatency(b, durations)
}

// bench1MHosts is the number of distinct hostnames of the 1M-row log.
const bench1MHosts = 2000

// BenchmarkSearchEventAuditHostname1M measures GET /api/v1/audit-logs with
// a hostname filter over 1,000,000 event audit rows spread over about three
// months of partitions and 2,000 hostnames. Building the rows takes a
// while, so it runs only with MUTT_BENCH_1M=1.
func BenchmarkSearchEventAuditHostname1M(b *testing.B) {
	if os.Getenv("MUTT_BENCH_1M") != "1" {
		b.Skip("set MUTT_BENCH_1M=1 to build 1,000,000 audit rows and run this benchmark")
	}
	pool := migrated(b)
	st := New(pool)
	ctx := b.Context()
	now := time.Now().UTC()
	if _, err := EnsurePartitions(ctx, pool, now.AddDate(0, -3, 0), 4); err != nil {
		b.Fatalf("creating partitions: %v", err)
	}
	_, err := pool.Exec(ctx, `
		INSERT INTO alert_rules (match_string, match_type, priority, prod_handling, dev_handling, team_assignment)
		SELECT 'PATTERN-' || i, 'contains', i, 'Page_and_ticket', 'Ticket_only', 'NetOps'
		FROM generate_series(1, 20) AS i`)
	if err != nil {
		b.Fatalf("inserting rules: %v", err)
	}
	built := time.Now()
	// One row every ~7.8 s going back 90 days; hostnames cycle with a
	// stride so that a host's rows spread over the whole window.
	_, err = pool.Exec(ctx, `
		INSERT INTO event_audit_log (event_id, event_timestamp, hostname, matched_rule_id, handling_decision,
		                             forwarded_to_moog, raw_message)
		SELECT gen_random_uuid(),
		       $1::timestamptz - i * interval '90 days' / 1000000,
		       'host-' || ((i::bigint * 7919) % $2),
		       1 + i % 20,
		       'Page_and_ticket',
		       i % 2 = 0,
		       '{"message":"LINK-DOWN on port ' || i || '","syslog_severity":3}'
		FROM generate_series(1, 1000000) AS i`, now, bench1MHosts)
	if err != nil {
		b.Fatalf("inserting 1M audit rows: %v", err)
	}
	if _, err := pool.Exec(ctx, "ANALYZE event_audit_log"); err != nil {
		b.Fatalf("analysing: %v", err)
	}
	b.Logf("built 1,000,000 audit rows in %v", time.Since(built).Round(time.Millisecond))

	f := EventAuditFilter{Hostname: "host-42", Limit: 50}
	q := eventSearchQueries(f, eventCountCap)
	for _, sql := range []string{q.page, q.count} {
		b.Logf("EXPLAIN ANALYZE %s\n%s", strings.TrimSpace(sql), explainAnalyze(b, pool, sql, q.args))
	}

	var durations []time.Duration
	i := 0
	for b.Loop() {
		f.Hostname = fmt.Sprintf("host-%d", i%bench1MHosts)
		i++
		start := time.Now()
		rows, total, estimated, err := st.SearchEventAudit(ctx, f)
		durations = append(durations, time.Since(start))
		if err != nil || len(rows) != 50 || total != 500 || estimated {
			b.Fatalf("SearchEventAudit(%s) = %d rows, total %d (estimated %v), %v; want 50 of 500",
				f.Hostname, len(rows), total, estimated, err)
		}
	}
	reportLatency(b, durations)
}

// explainAnalyze returns the plan of sql as executed with args.
func explainAnalyze(b *testing.B, pool *pgxpool.Pool, sql string, args []any) string {
	b.Helper()
	rows, err := pool.Query(b.Context(), "EXPLAIN (ANALYZE, BUFFERS) "+sql, args...)
	if err != nil {
		b.Fatalf("explaining: %v", err)
	}
	defer rows.Close()
	var lines []string
	for rows.Next() {
		var line string
		if err := rows.Scan(&line); err != nil {
			b.Fatalf("reading plan: %v", err)
		}
		lines = append(lines, line)
	}
	if err := rows.Err(); err != nil {
		b.Fatalf("reading plan: %v", err)
	}
	return strings.Join(lines, "\n")
}
