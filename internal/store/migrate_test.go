package store

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/mutt-go/mutt/internal/itest"
)

func TestMigrateTwice(t *testing.T) {
	t.Parallel()
	pool, _ := itest.Pool(t)
	ctx := t.Context()
	v0, err := SchemaVersion(ctx, pool)
	if err != nil {
		t.Fatalf("SchemaVersion of an empty database: %v", err)
	}
	if v0 != 0 {
		t.Errorf("SchemaVersion of an empty database = %d, want 0", v0)
	}
	if err := Migrate(ctx, pool, nil); err != nil {
		t.Fatalf("Migrate: %v", err)
	}
	v1, err := SchemaVersion(ctx, pool)
	if err != nil {
		t.Fatalf("SchemaVersion: %v", err)
	}
	if v1 != latestVersion {
		t.Errorf("SchemaVersion after Migrate = %d, want %d", v1, latestVersion)
	}
	before := schemaFingerprint(t, pool)

	if err := Migrate(ctx, pool, nil); err != nil {
		t.Fatalf("second Migrate: %v", err)
	}
	v2, err := SchemaVersion(ctx, pool)
	if err != nil {
		t.Fatalf("SchemaVersion: %v", err)
	}
	if v2 != v1 {
		t.Errorf("SchemaVersion after second Migrate = %d, want %d", v2, v1)
	}
	if after := schemaFingerprint(t, pool); after != before {
		t.Errorf("second Migrate changed the schema:\nbefore: %s\nafter:  %s", before, after)
	}
}

// schemaFingerprint summarises the relations, constraints, functions and
// recorded migrations of the database.
func schemaFingerprint(t *testing.T, pool *pgxpool.Pool) string {
	t.Helper()
	var s string
	err := pool.QueryRow(t.Context(), `
		SELECT
			(SELECT string_agg(relname || ':' || relkind::text, ',' ORDER BY relname)
			 FROM pg_class WHERE relnamespace = 'public'::regnamespace) || ' | ' ||
			(SELECT string_agg(conname, ',' ORDER BY conname)
			 FROM pg_constraint WHERE connamespace = 'public'::regnamespace) || ' | ' ||
			(SELECT string_agg(proname, ',' ORDER BY proname)
			 FROM pg_proc WHERE pronamespace = 'public'::regnamespace) || ' | ' ||
			(SELECT string_agg(version_id::text || ':' || is_applied::text, ',' ORDER BY id)
			 FROM mutt_schema_version)`).Scan(&s)
	if err != nil {
		t.Fatalf("reading schema fingerprint: %v", err)
	}
	return s
}

func TestMigrateCreatesSchema(t *testing.T) {
	t.Parallel()
	pool := migrated(t)
	ctx := t.Context()

	t.Run("relations", func(t *testing.T) {
		tests := []struct {
			name string
			kind string // pg_class.relkind
		}{
			{"alert_rules", "r"},
			{"development_hosts", "r"},
			{"device_teams", "r"},
			{"event_audit_log", "p"},
			{"event_audit_log_default", "r"},
			{"config_audit_log", "r"},
			{"event_audit_log_archive", "r"},
			{"partition_health_summary", "v"},
			{VersionTable, "r"},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				var kind string
				err := pool.QueryRow(ctx, "SELECT relkind::text FROM pg_class WHERE oid = to_regclass($1)", tt.name).Scan(&kind)
				if err != nil {
					t.Fatalf("%s does not exist: %v", tt.name, err)
				}
				if kind != tt.kind {
					t.Errorf("relkind of %s = %q, want %q", tt.name, kind, tt.kind)
				}
			})
		}
	})

	t.Run("columns", func(t *testing.T) {
		tests := []struct{ table, columns string }{
			{"alert_rules", "id integer NOT NULL DEFAULT nextval('alert_rules_id_seq'::regclass), " +
				"match_string character varying(255), trap_oid character varying(255), syslog_severity integer, " +
				"match_type character varying(20) NOT NULL DEFAULT 'contains'::character varying, " +
				"priority integer NOT NULL DEFAULT 100, prod_handling character varying(100) NOT NULL, " +
				"dev_handling character varying(100) NOT NULL, team_assignment character varying(100) NOT NULL, " +
				"is_active boolean NOT NULL DEFAULT true"},
			{"development_hosts", "hostname character varying(255) NOT NULL"},
			{"device_teams", "hostname character varying(255) NOT NULL, team_assignment character varying(100) NOT NULL"},
			{"event_audit_log", "id bigint NOT NULL DEFAULT nextval('event_audit_log_id_seq'::regclass), " +
				"event_timestamp timestamp with time zone NOT NULL, hostname character varying(255) NOT NULL, " +
				"matched_rule_id integer NOT NULL, handling_decision character varying(100) NOT NULL, " +
				"forwarded_to_moog boolean NOT NULL DEFAULT false, raw_message text, event_id uuid NOT NULL"},
			{"config_audit_log", "id bigint NOT NULL DEFAULT nextval('config_audit_log_id_seq'::regclass), " +
				"changed_at timestamp with time zone NOT NULL DEFAULT now(), changed_by character varying(100) NOT NULL, " +
				"operation character varying(10) NOT NULL, table_name character varying(50) NOT NULL, " +
				"record_id integer NOT NULL, old_values jsonb, new_values jsonb, reason text, " +
				"correlation_id character varying(36)"},
			{"event_audit_log_archive", "id bigint NOT NULL DEFAULT nextval('event_audit_log_archive_id_seq'::regclass), " +
				"event_timestamp timestamp with time zone NOT NULL, hostname character varying(255) NOT NULL, " +
				"matched_rule_id integer NOT NULL, handling_decision character varying(100) NOT NULL, " +
				"forwarded_to_moog boolean NOT NULL DEFAULT false, raw_message text, " +
				"archived_at timestamp with time zone NOT NULL DEFAULT now(), " +
				"archived_from_partition character varying(50), original_id bigint, " +
				"original_partition_timestamp timestamp with time zone"},
		}
		for _, tt := range tests {
			t.Run(tt.table, func(t *testing.T) {
				var got string
				err := pool.QueryRow(ctx, `
					SELECT string_agg(a.attname || ' ' || format_type(a.atttypid, a.atttypmod)
					                  || CASE WHEN a.attnotnull THEN ' NOT NULL' ELSE '' END
					                  || COALESCE(' DEFAULT ' || pg_get_expr(d.adbin, d.adrelid), ''),
					                  ', ' ORDER BY a.attnum)
					FROM pg_attribute a
					LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
					WHERE a.attrelid = to_regclass($1) AND a.attnum > 0 AND NOT a.attisdropped`, tt.table).Scan(&got)
				if err != nil {
					t.Fatalf("reading columns of %s: %v", tt.table, err)
				}
				if got != tt.columns {
					t.Errorf("columns of %s:\n got: %s\nwant: %s", tt.table, got, tt.columns)
				}
			})
		}
	})

	t.Run("constraints", func(t *testing.T) {
		tests := []struct {
			name  string
			table string
			kind  string // pg_constraint.contype
			def   string // pg_get_constraintdef
		}{
			{"chk_syslog_severity", "alert_rules", "c", "CHECK (((syslog_severity IS NULL) OR ((syslog_severity >= 0) AND (syslog_severity <= 7))))"},
			{"chk_match_type", "alert_rules", "c", "CHECK (((match_type)::text = ANY ((ARRAY['contains'::character varying, 'regex'::character varying, 'oid_prefix'::character varying])::text[])))"},
			{"chk_match_criteria", "alert_rules", "c", "CHECK (((match_string IS NOT NULL) OR (trap_oid IS NOT NULL)))"},
			{"event_audit_log_pkey", "event_audit_log", "p", "PRIMARY KEY (id, event_timestamp)"},
			{"uq_event_audit_event", "event_audit_log", "u", "UNIQUE (event_id, event_timestamp)"},
			{"fk_event_audit_matched_rule", "event_audit_log", "f", "FOREIGN KEY (matched_rule_id) REFERENCES alert_rules(id) ON DELETE RESTRICT"},
			{"chk_config_audit_operation", "config_audit_log", "c", "CHECK (((operation)::text = ANY ((ARRAY['CREATE'::character varying, 'UPDATE'::character varying, 'DELETE'::character varying])::text[])))"},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				var kind, def string
				err := pool.QueryRow(ctx, `
					SELECT contype::text, pg_get_constraintdef(oid)
					FROM pg_constraint WHERE conname = $1 AND conrelid = to_regclass($2)`,
					tt.name, tt.table).Scan(&kind, &def)
				if err != nil {
					t.Fatalf("constraint %s on %s: %v", tt.name, tt.table, err)
				}
				if kind != tt.kind || def != tt.def {
					t.Errorf("constraint %s = %s %q, want %s %q", tt.name, kind, def, tt.kind, tt.def)
				}
			})
		}
	})

	t.Run("indexes", func(t *testing.T) {
		tests := []struct{ name, table, suffix string }{
			{"idx_alert_rules_match_type", "alert_rules", "USING btree (match_type)"},
			{"idx_alert_rules_is_active", "alert_rules", "USING btree (is_active)"},
			{"idx_audit_log_timestamp", "event_audit_log", "USING btree (event_timestamp)"},
			{"idx_audit_log_hostname_timestamp", "event_audit_log", "USING btree (hostname, event_timestamp DESC, id DESC)"},
			{"idx_audit_log_rule_id", "event_audit_log", "USING btree (matched_rule_id)"},
			{"idx_config_audit_log_table_record", "config_audit_log", "USING btree (table_name, record_id)"},
			{"idx_config_audit_log_changed_at", "config_audit_log", "USING btree (changed_at DESC)"},
			{"idx_config_audit_log_changed_by", "config_audit_log", "USING btree (changed_by)"},
			{"idx_config_audit_log_correlation_id", "config_audit_log", "USING btree (correlation_id) WHERE (correlation_id IS NOT NULL)"},
			{"idx_config_audit_log_old_values_gin", "config_audit_log", "USING gin (old_values)"},
			{"idx_config_audit_log_new_values_gin", "config_audit_log", "USING gin (new_values)"},
			{"idx_audit_archive_timestamp", "event_audit_log_archive", "USING btree (event_timestamp)"},
			{"idx_audit_archive_hostname", "event_audit_log_archive", "USING btree (hostname)"},
			{"idx_audit_archive_archived_at", "event_audit_log_archive", "USING btree (archived_at)"},
			{"idx_audit_archive_rule_id", "event_audit_log_archive", "USING btree (matched_rule_id)"},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				var def string
				err := pool.QueryRow(ctx,
					"SELECT indexdef FROM pg_indexes WHERE indexname = $1 AND tablename = $2",
					tt.name, tt.table).Scan(&def)
				if err != nil {
					t.Fatalf("index %s on %s: %v", tt.name, tt.table, err)
				}
				if !strings.HasSuffix(def, tt.suffix) {
					t.Errorf("index %s = %q, want it to end with %q", tt.name, def, tt.suffix)
				}
			})
		}
	})

	t.Run("default partition", func(t *testing.T) {
		var isDefault bool
		err := pool.QueryRow(ctx, `
			SELECT partdefid = 'event_audit_log_default'::regclass
			FROM pg_partitioned_table WHERE partrelid = 'event_audit_log'::regclass`).Scan(&isDefault)
		if err != nil {
			t.Fatalf("reading partitioning of event_audit_log: %v", err)
		}
		if !isDefault {
			t.Error("event_audit_log_default is not the default partition of event_audit_log")
		}
	})

	t.Run("functions", func(t *testing.T) {
		for _, sig := range []string{"create_monthly_partition(date)", "drop_old_partitions(integer)"} {
			var exists bool
			if err := pool.QueryRow(ctx, "SELECT to_regprocedure($1) IS NOT NULL", sig).Scan(&exists); err != nil {
				t.Fatalf("looking up %s: %v", sig, err)
			}
			if !exists {
				t.Errorf("function %s does not exist", sig)
			}
		}
	})

	t.Run("no sample rows", func(t *testing.T) {
		for _, table := range []string{"alert_rules", "development_hosts", "device_teams", "config_audit_log"} {
			var n int
			if err := pool.QueryRow(ctx, "SELECT count(*) FROM "+table).Scan(&n); err != nil {
				t.Fatalf("counting %s: %v", table, err)
			}
			if n != 0 {
				t.Errorf("%s has %d rows after migration, want 0", table, n)
			}
		}
	})
}

func TestMigrateConcurrently(t *testing.T) {
	t.Parallel()
	_, dsn := itest.Pool(t)
	ctx := t.Context()
	const processes = 3
	pools := make([]*pgxpool.Pool, processes)
	for i := range pools {
		p, err := pgxpool.New(ctx, dsn)
		if err != nil {
			t.Fatalf("opening pool: %v", err)
		}
		t.Cleanup(p.Close)
		pools[i] = p
	}
	errs := make([]error, processes)
	var wg sync.WaitGroup
	for i, p := range pools {
		wg.Go(func() { errs[i] = Migrate(ctx, p, nil) })
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("Migrate %d: %v", i, err)
		}
	}
	v, err := SchemaVersion(ctx, pools[0])
	if err != nil {
		t.Fatalf("SchemaVersion: %v", err)
	}
	if v != latestVersion {
		t.Errorf("SchemaVersion = %d, want %d", v, latestVersion)
	}
	var applied int
	err = pools[0].QueryRow(ctx, "SELECT count(*) FROM mutt_schema_version WHERE version_id > 0").Scan(&applied)
	if err != nil {
		t.Fatalf("counting applied migrations: %v", err)
	}
	if applied != latestVersion {
		t.Errorf("%d migrations recorded, want %d", applied, latestVersion)
	}
	names, err := partitionNames(ctx, pools[0])
	if err != nil {
		t.Fatalf("listing partitions: %v", err)
	}
	if len(names) != DefaultPartitionMonths+1 {
		t.Errorf("partitions = %v, want %d monthly and the default", names, DefaultPartitionMonths)
	}
}

func TestMigrateDownAndUpAgain(t *testing.T) {
	t.Parallel()
	pool := migrated(t)
	ctx := t.Context()
	provider, err := newProvider(pool)
	if err != nil {
		t.Fatalf("newProvider: %v", err)
	}
	defer provider.Close()
	if _, err := provider.DownTo(ctx, 0); err != nil {
		t.Fatalf("migrating down: %v", err)
	}
	var left []string
	rows, err := pool.Query(ctx, `
		SELECT relname FROM pg_class
		WHERE relnamespace = 'public'::regnamespace AND relkind IN ('r', 'p', 'v')
		  AND relname <> $1
		ORDER BY relname`, VersionTable)
	if err != nil {
		t.Fatalf("listing relations: %v", err)
	}
	for rows.Next() {
		var name string
		if err := rows.Scan(&name); err != nil {
			t.Fatalf("listing relations: %v", err)
		}
		left = append(left, name)
	}
	if err := rows.Err(); err != nil {
		t.Fatalf("listing relations: %v", err)
	}
	if len(left) != 0 {
		t.Errorf("relations left after migrating down: %v", left)
	}
	var funcs int
	if err := pool.QueryRow(ctx, "SELECT count(*) FROM pg_proc WHERE pronamespace = 'public'::regnamespace").Scan(&funcs); err != nil {
		t.Fatalf("counting functions: %v", err)
	}
	if funcs != 0 {
		t.Errorf("%d functions left after migrating down", funcs)
	}
	if v, err := SchemaVersion(ctx, pool); err != nil || v != 0 {
		t.Errorf("SchemaVersion after migrating down = %d, %v; want 0", v, err)
	}

	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := Migrate(ctx, pool, nil); err != nil {
		t.Fatalf("Migrate after migrating down: %v", err)
	}
	if v, err := SchemaVersion(ctx, pool); err != nil || v != latestVersion {
		t.Errorf("SchemaVersion after migrating up again = %d, %v; want %d", v, err, latestVersion)
	}
}
