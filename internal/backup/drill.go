package backup

import (
	"context"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/redis/go-redis/v9"
)

// DrillOptions say which set the DR drill restores and where the scratch
// targets live.
type DrillOptions struct {
	Root     string
	Manifest *Manifest
	Keys     *Keys
	// DatabaseURL is the live MUTT database: the scratch database
	// "<db>_drill_<rand>" is created on its server, and its tables are the
	// source the restored ones are compared with.
	DatabaseURL string
	PgRestore   string
	// Redis and RedisServer choose the scratch Redis as for DeepVerify.
	Redis       redis.UniversalClient
	RedisServer string
	// Keep leaves the scratch database, Redis data and config directory in
	// place for inspection.
	Keep bool
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// DrillTable compares one restored table with the manifest and the source.
type DrillTable struct {
	Name string `json:"name"`
	Rows int64  `json:"rows"`
	// ManifestRows is the count recorded at backup time, -1 when the
	// manifest has none for this table.
	ManifestRows int64  `json:"manifest_rows"`
	SourceRows   int64  `json:"source_rows"`
	MD5          string `json:"md5"`
	SourceMD5    string `json:"source_md5"`
	// Result is "identical", "source changed since the snapshot" or
	// "differs".
	Result string `json:"result"`
}

// DrillReport is the outcome of a DR drill.
type DrillReport struct {
	SetID      string    `json:"set_id"`
	SnapshotAt time.Time `json:"snapshot_at"`
	// RPO is the age of the restored data; RPOTarget the objective of the
	// most demanding restored component.
	RPO       time.Duration `json:"rpo_ns"`
	RPOTarget time.Duration `json:"rpo_target_ns"`
	RPOMet    bool          `json:"rpo_met"`
	Steps     []StepResult  `json:"steps"`
	// Total is the measured RTO of the whole drill.
	Total       time.Duration `json:"total_ns"`
	TotalTarget time.Duration `json:"total_target_ns"`
	Tables      []DrillTable  `json:"tables"`
	Keys        RedisCompare  `json:"keys"`
	// Kept lists the scratch targets left in place with Keep.
	Kept []string `json:"kept,omitempty"`
	// Passed is true when every step succeeded, every table and key
	// matched, and every RTO and the RPO are within their targets.
	Passed bool `json:"passed"`
}

// Drill performs the quarterly DR drill: it restores the set into scratch
// targets — a new PostgreSQL database on the live server, a private Redis
// (see DeepVerify), a temporary config root — measuring each step, then
// compares every table's row count with the manifest and its rows' MD5 with
// the live source, and every key's DUMP with the export. Scratch targets
// are removed afterwards unless Keep is set, also when ctx is cancelled.
// The error is non-nil only when the drill could not run at all; failed
// steps and mismatches are in the report.
func Drill(ctx context.Context, o DrillOptions) (*DrillReport, error) {
	now := o.Now
	if now == nil {
		now = time.Now
	}
	m := o.Manifest
	rep := &DrillReport{SetID: m.SetID, TotalTarget: RTOFull, Tables: []DrillTable{}}
	for _, name := range []string{ComponentPostgres, ComponentRedis} {
		if _, err := VerifyComponent(o.Root, m, name); err != nil {
			return nil, fmt.Errorf("drill: %w", err)
		}
	}
	if !o.Keys.CanDecrypt() {
		return nil, fmt.Errorf("drill: %w (set %s)", ErrNoIdentity, settingIdentity)
	}
	db, err := newScratchDB(o.DatabaseURL, "drill")
	if err != nil {
		return nil, fmt.Errorf("drill: %w", err)
	}
	rep.SnapshotAt = snapshotTime(m)
	start := now()
	passed := true
	step := func(name string, fn func() (string, error)) error {
		t0 := now()
		detail, err := fn()
		s := StepResult{Component: name, Status: StatusOK, Detail: detail, RTO: now().Sub(t0), Target: RTOTarget(name)}
		if err != nil {
			s.Status, s.Detail = StatusFailed, err.Error()
		}
		s.Met = err == nil && (s.Target == 0 || s.RTO <= s.Target)
		passed = passed && s.Met
		rep.Steps = append(rep.Steps, s)
		return err
	}

	// PostgreSQL into a scratch database.
	if o.Keep {
		rep.Kept = append(rep.Kept, "database "+db.Name)
	} else {
		defer db.drop(ctx)
	}
	pgc := m.Component(ComponentPostgres)
	pgErr := step(ComponentPostgres, func() (string, error) {
		counts, err := restorePostgresArtifact(ctx, o.Root, pgc.Artifacts[0], o.Keys, db.AdminURL, db.Name, o.PgRestore)
		if err != nil {
			return "", err
		}
		if diff := countDiff(pgc.Counts, counts); diff != "" {
			return "", fmt.Errorf("%w: %s", ErrCountMismatch, diff)
		}
		binary, err := BinarySchemaVersion()
		if err != nil {
			return "", err
		}
		plan, err := migrateRestored(ctx, db.URL, binary)
		if err != nil {
			return "", err
		}
		detail := fmt.Sprintf("restored into %s; %d table counts match the manifest", db.Name, len(pgc.Counts))
		if plan.Migrate {
			detail += fmt.Sprintf("; migrated from schema %d to %d", plan.Backup, plan.Binary)
		}
		return detail, nil
	})
	if pgErr == nil {
		tables, ok, err := compareTables(ctx, db.URL, o.DatabaseURL, pgc.Counts)
		rep.Tables = tables
		if err != nil {
			return nil, fmt.Errorf("drill: comparing tables: %w", err)
		}
		passed = passed && ok
	}

	// Redis into a private server, then the dynamic config on top.
	scratch, err := openScratchRedis(ctx, o.Redis, o.RedisServer)
	if err != nil {
		passed = false
		rep.Steps = append(rep.Steps, StepResult{Component: ComponentRedis, Status: StatusFailed, Detail: "starting a scratch redis: " + err.Error(), Target: RTORedis})
	} else {
		defer func() {
			kept, _ := scratch.Close(o.Keep)
			if kept != "" {
				rep.Kept = append(rep.Kept, "redis "+kept)
			}
		}()
		rc := m.Component(ComponentRedis)
		_ = step(ComponentRedis, func() (string, error) {
			if err := scratch.claim(ctx); err != nil {
				return "", err
			}
			res, err := restoreRedisArtifact(ctx, o.Root, rc.Artifacts[0], o.Keys, scratch.Client)
			if err != nil {
				return "", err
			}
			if want := rc.Counts["keys"]; res.Restored+res.Skipped != want {
				return "", fmt.Errorf("restored %d keys and skipped %d expired, the manifest says %d", res.Restored, res.Skipped, want)
			}
			cmp, err := compareRedisExport(ctx, o.Root, rc.Artifacts[0], o.Keys, scratch.Client)
			rep.Keys = cmp
			if err != nil {
				return "", err
			}
			if cmp.MismatchCount > 0 {
				return "", fmt.Errorf("%d keys differ from the export: %s", cmp.MismatchCount, strings.Join(cmp.Mismatched, ", "))
			}
			return fmt.Sprintf("%d keys restored into %s; every DUMP matches the export", res.Restored, scratch.Desc), nil
		})
		if c := m.Component(ComponentConfig); c != nil && c.Status == StatusOK {
			_ = step(ComponentConfig, func() (string, error) {
				return drillConfig(ctx, o, c, scratch.Client, &rep.Kept)
			})
		}
	}
	if c := m.Component(ComponentVault); c != nil && c.Status == StatusOK {
		_ = step(ComponentVault, func() (string, error) {
			doc, err := loadVaultExport(o.Root, m, o.Keys)
			if err != nil {
				return "", err
			}
			return fmt.Sprintf("%d paths decrypted and checked in memory (not written to any Vault)", len(doc.Secrets)), nil
		})
	}
	rep.Total = now().Sub(start)
	rep.RPO = now().Sub(rep.SnapshotAt)
	for _, s := range rep.Steps {
		if t := RPOTarget(s.Component); t > 0 && (rep.RPOTarget == 0 || t < rep.RPOTarget) {
			rep.RPOTarget = t
		}
	}
	rep.RPOMet = rep.RPOTarget == 0 || rep.RPO <= rep.RPOTarget
	rep.Passed = passed && rep.RPOMet && rep.Total <= rep.TotalTarget
	return rep, nil
}

// drillConfig extracts the config archive into a temporary root and writes
// the dynamic configuration into the scratch Redis.
func drillConfig(ctx context.Context, o DrillOptions, c *Component, rdb redis.UniversalClient, kept *[]string) (string, error) {
	dir, err := os.MkdirTemp("", "mutt-drill-config-")
	if err != nil {
		return "", err
	}
	if o.Keep {
		*kept = append(*kept, "config "+dir)
	} else {
		defer os.RemoveAll(dir)
	}
	cr, err := RestoreConfigFiles(ctx, ConfigRestoreOptions{Root: o.Root, Manifest: o.Manifest, Keys: o.Keys, TargetDir: dir, Now: o.Now})
	if err != nil {
		return "", err
	}
	if err := checkRestoredFiles(c, dir); err != nil {
		return "", err
	}
	detail := fmt.Sprintf("%d files restored under %s, hashes match", len(cr.Added), dir)
	if _, ok := c.Counts["dynamic_config"]; ok {
		doc, err := loadDynamicConfig(o.Root, o.Manifest, o.Keys)
		if err != nil {
			return "", err
		}
		dr, err := RestoreDynamicConfig(ctx, DynamicConfigRestoreOptions{Root: o.Root, Manifest: o.Manifest, Keys: o.Keys, Redis: rdb, Prefix: doc.Prefix})
		if err != nil {
			return "", err
		}
		detail += fmt.Sprintf("; %d dynamic config keys applied", len(dr.Set)+len(dr.Unchanged))
	}
	return detail, nil
}

// snapshotTime is when the set's data was read: the PostgreSQL snapshot
// time when recorded, else the set's start.
func snapshotTime(m *Manifest) time.Time {
	if c := m.Component(ComponentPostgres); c != nil {
		switch v := c.Source["snapshot_at"].(type) {
		case time.Time:
			return v.UTC()
		case string:
			if t, err := time.Parse(time.RFC3339Nano, v); err == nil {
				return t.UTC()
			}
		}
	}
	return m.Time()
}

// compareTables checks every table of the restored database: its row
// count against the manifest (where recorded) and the MD5 of its rows
// against the source database. Differences from the source count as
// failures only while the source still holds the manifest's counts, i.e.
// has not moved on since the snapshot. ok is false on any failure.
func compareTables(ctx context.Context, restoredURL, sourceURL string, manifest map[string]int64) ([]DrillTable, bool, error) {
	restored, err := pgx.Connect(ctx, restoredURL)
	if err != nil {
		return nil, false, fmt.Errorf("connecting to the restored database: %w", err)
	}
	defer restored.Close(context.WithoutCancel(ctx))
	source, err := pgx.Connect(ctx, sourceURL)
	if err != nil {
		return nil, false, fmt.Errorf("connecting to the source database: %w", err)
	}
	defer source.Close(context.WithoutCancel(ctx))
	names, err := userTables(ctx, restored)
	if err != nil {
		return nil, false, err
	}
	var out []DrillTable
	sourceUnchanged := true
	for _, n := range names {
		t := DrillTable{Name: n, ManifestRows: -1}
		if want, ok := manifest[n]; ok {
			t.ManifestRows = want
		}
		if t.Rows, t.MD5, err = TableChecksum(ctx, restored, n); err != nil {
			return nil, false, err
		}
		if t.SourceRows, t.SourceMD5, err = TableChecksum(ctx, source, n); err != nil {
			t.SourceRows, t.SourceMD5 = -1, ""
		}
		if t.ManifestRows >= 0 && t.SourceRows != t.ManifestRows {
			sourceUnchanged = false
		}
		out = append(out, t)
	}
	ok := true
	for i := range out {
		t := &out[i]
		switch {
		case t.ManifestRows >= 0 && t.Rows != t.ManifestRows:
			t.Result, ok = "differs", false
		case t.MD5 == t.SourceMD5:
			t.Result = "identical"
		case !sourceUnchanged:
			t.Result = "source changed since the snapshot"
		default:
			t.Result, ok = "differs", false
		}
	}
	return out, ok, nil
}

// userTables lists the ordinary and partitioned tables of the public
// schema, without partitions (their rows are counted in the parent).
func userTables(ctx context.Context, conn *pgx.Conn) ([]string, error) {
	rows, err := conn.Query(ctx, `
SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p') AND NOT c.relispartition
ORDER BY c.relname`)
	if err != nil {
		return nil, fmt.Errorf("listing tables: %w", err)
	}
	names, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("listing tables: %w", err)
	}
	return names, nil
}

// TableChecksum returns the row count of a public table and the MD5 of its
// rows' MD5s in primary-key order (all columns when it has no primary key),
// so two databases holding the same rows give the same checksum.
func TableChecksum(ctx context.Context, conn *pgx.Conn, table string) (int64, string, error) {
	rows, err := conn.Query(ctx, `
SELECT a.attname FROM pg_index i
JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey)
WHERE i.indrelid = to_regclass($1) AND i.indisprimary
ORDER BY array_position(i.indkey::int2[], a.attnum)`, "public."+table)
	if err != nil {
		return 0, "", fmt.Errorf("reading the primary key of %s: %w", table, err)
	}
	cols, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return 0, "", fmt.Errorf("reading the primary key of %s: %w", table, err)
	}
	order := "t::text"
	if len(cols) > 0 {
		quoted := make([]string, len(cols))
		for i, c := range cols {
			quoted[i] = "t." + pgx.Identifier{c}.Sanitize()
		}
		order = strings.Join(quoted, ", ")
	}
	q := "SELECT count(*), coalesce(md5(string_agg(md5(t::text), '' ORDER BY " + order + ")), '') FROM " +
		pgx.Identifier{"public", table}.Sanitize() + " t"
	var n int64
	var sum string
	if err := conn.QueryRow(ctx, q).Scan(&n, &sum); err != nil {
		return 0, "", fmt.Errorf("checksumming %s: %w", table, err)
	}
	return n, sum, nil
}
