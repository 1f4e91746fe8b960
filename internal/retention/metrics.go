package retention

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
)

// TableStat is the size and oldest row of one audit table.
type TableStat struct {
	Table  string
	Bytes  int64
	Oldest time.Time // zero when the table is empty
}

// MeasureTables reads the size (partitions included) and the oldest row
// of the audit tables, for the capacity metrics.
func MeasureTables(ctx context.Context, pool *pgxpool.Pool) ([]TableStat, error) {
	specs := []struct{ table, column, size string }{
		{"event_audit_log", "event_timestamp", `SELECT coalesce(sum(pg_total_relation_size(c.oid)), 0)::bigint
			FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = 'event_audit_log'::regclass`},
		{"event_audit_log_archive", "event_timestamp", `SELECT pg_total_relation_size('event_audit_log_archive')`},
		{"config_audit_log", "changed_at", `SELECT pg_total_relation_size('config_audit_log')`},
	}
	out := make([]TableStat, 0, len(specs))
	for _, s := range specs {
		st := TableStat{Table: s.table}
		if err := pool.QueryRow(ctx, s.size).Scan(&st.Bytes); err != nil {
			return nil, fmt.Errorf("measuring %s: %w", s.table, err)
		}
		var oldest *time.Time
		if err := pool.QueryRow(ctx, "SELECT min("+s.column+") FROM "+s.table).Scan(&oldest); err != nil {
			return nil, fmt.Errorf("reading the oldest row of %s: %w", s.table, err)
		}
		if oldest != nil {
			st.Oldest = *oldest
		}
		out = append(out, st)
	}
	return out, nil
}

// Report is what WriteMetrics writes about one run.
type Report struct {
	Result   Result
	Err      error // the run's error, nil when it succeeded
	Policy   Policy
	Tables   []TableStat
	Duration time.Duration
}

// WriteMetrics writes the run's metrics to path for node_exporter's textfile
// collector, atomically; "" writes nothing and a missing directory is
// skipped (no collector installed).
func WriteMetrics(path string, rep Report) error {
	if path == "" {
		return nil
	}
	if _, err := os.Stat(filepath.Dir(path)); os.IsNotExist(err) {
		return nil
	}
	reg := prometheus.NewRegistry()
	gauge := func(name, help string) prometheus.Gauge {
		g := prometheus.NewGauge(prometheus.GaugeOpts{Name: name, Help: help})
		reg.MustRegister(g)
		return g
	}
	vec := func(name, help string, labels ...string) *prometheus.GaugeVec {
		g := prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: name, Help: help}, labels)
		reg.MustRegister(g)
		return g
	}
	gauge("mutt_retention_cleanup_last_run_timestamp_seconds", "When the last retention run ended.").Set(float64(rep.Result.At.Add(rep.Duration).Unix()))
	status := 1.0
	if rep.Err != nil {
		status = 0
	}
	gauge("mutt_retention_last_status", "1 when the last retention run succeeded, 0 when it failed or refused.").Set(status)
	refused := 0.0
	if rep.Result.Refused != "" {
		refused = 1
	}
	gauge("mutt_retention_backup_gate_refused", "1 when the last run refused to drop anything for want of a recent verified backup.").Set(refused)
	gauge("mutt_retention_enforcement_duration_seconds", "Duration of the last retention run.").Set(rep.Duration.Seconds())
	days := vec("mutt_retention_policy_days", "Retention policy in days by data type.", "type")
	days.WithLabelValues("event_audit").Set(float64(rep.Policy.ActiveDays))
	days.WithLabelValues("event_archive").Set(float64(rep.Policy.ArchiveYears * 365))
	days.WithLabelValues("config_audit").Set(float64(rep.Policy.ConfigAuditDays))
	days.WithLabelValues("dlq").Set(float64(rep.Policy.DLQDays))
	archivedRows := vec("mutt_retention_last_run_archived_records", "Rows the last run archived to files, by table.", "table")
	deleted := vec("mutt_retention_last_run_deleted_records", "Rows or entries the last run deleted, by type.", "type")
	for _, t := range []string{"event_audit_log", "event_audit_log_default", "config_audit_log"} {
		archivedRows.WithLabelValues(t)
	}
	for _, t := range []string{"event_audit", "config_audit", "event_archive", "dlq"} {
		deleted.WithLabelValues(t)
	}
	for _, a := range rep.Result.Actions {
		if !a.Done {
			continue
		}
		switch a.Kind {
		case "archive_partition":
			archivedRows.WithLabelValues("event_audit_log").Add(float64(a.Rows))
			deleted.WithLabelValues("event_audit").Add(float64(a.Rows))
		case "archive_rows":
			archivedRows.WithLabelValues(a.Target).Add(float64(a.Rows))
			if a.Target == "config_audit_log" {
				deleted.WithLabelValues("config_audit").Add(float64(a.Rows))
			} else {
				deleted.WithLabelValues("event_audit").Add(float64(a.Rows))
			}
		case "delete_rows":
			deleted.WithLabelValues("event_archive").Add(float64(a.Rows))
		case "trim_dlq":
			deleted.WithLabelValues("dlq").Add(float64(a.Rows))
		}
	}
	ahead := 0.0
	for _, a := range rep.Result.Actions {
		if a.Kind == "create_partition" && a.Done {
			ahead++
		}
	}
	gauge("mutt_retention_last_run_partitions_created", "Audit partitions the last run created ahead.").Set(ahead)
	size := vec("mutt_table_size_bytes", "Size of the audit tables on disk, indexes and partitions included.", "table")
	oldest := vec("mutt_table_oldest_record_timestamp_seconds", "Time of the oldest row of each audit table (absent when empty).", "table")
	for _, t := range rep.Tables {
		size.WithLabelValues(t.Table).Set(float64(t.Bytes))
		if !t.Oldest.IsZero() {
			oldest.WithLabelValues(t.Table).Set(float64(t.Oldest.Unix()))
		}
	}
	if err := prometheus.WriteToTextfile(path, reg); err != nil {
		return fmt.Errorf("writing retention metrics to %s: %w", path, err)
	}
	return nil
}
