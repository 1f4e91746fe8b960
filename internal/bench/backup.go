package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"filippo.io/age"
	"github.com/jackc/pgx/v5"

	"github.com/mutt-go/mutt/internal/backup"
	"github.com/mutt-go/mutt/internal/store"
)

// SeedOptions describe the data SeedAudit writes into the scratch database.
type SeedOptions struct {
	// Rows is the number of event_audit_log rows (default 1,000,000).
	Rows int
	// Rules is the number of alert_rules rows (default 1,000).
	Rules int
	// Hosts is the number of distinct hostnames (default 1,000). The first,
	// BusyHost, has a tenth of the rows; the others share the rest evenly.
	Hosts int
	// Months is the number of monthly partitions the rows spread over,
	// ending with the current month (default 4).
	Months int
}

func (o *SeedOptions) defaults() {
	if o.Rows <= 0 {
		o.Rows = 1_000_000
	}
	if o.Rules <= 0 {
		o.Rules = 1_000
	}
	if o.Hosts < 2 {
		o.Hosts = 1_000
	}
	if o.Months <= 0 {
		o.Months = 4
	}
}

// BusyHost is the hostname SeedAudit gives a tenth of the audit rows.
const BusyHost = "host-0000.dc1.example.net"

// seedHost returns the hostname of host number n (0 is BusyHost), as the
// seeding SQL spells it.
func seedHost(n int) string { return fmt.Sprintf("host-%04d.dc1.example.net", n) }

// Seeded says what SeedAudit wrote and how large the database became.
type Seeded struct {
	Rows        int64    `json:"rows"`
	Rules       int64    `json:"rules"`
	Hosts       int      `json:"hosts"`
	BusyHostRow int64    `json:"busy_host_rows"`
	DevHosts    int64    `json:"development_hosts"`
	Teams       int64    `json:"device_teams"`
	ConfigAudit int64    `json:"config_audit_rows"`
	Partitions  []string `json:"partitions"`
	Seconds     float64  `json:"seconds"`
	// DatabaseBytes is pg_database_size of the scratch database after
	// VACUUM ANALYZE; AuditBytes the event_audit_log partitions with their
	// indexes.
	DatabaseBytes int64 `json:"database_bytes"`
	AuditBytes    int64 `json:"audit_bytes"`
}

// seedChunk is the number of audit rows one INSERT writes, so that no
// transaction grows without bound and progress can be shown.
const seedChunk = 100_000

// seedAuditSQL writes audit rows $1..$2 of $3, timestamps spread evenly
// from $4 over $5 seconds, over $6 hosts and the existing rules; raw
// messages are about 200 bytes of syslog with hex (incompressible) parts,
// like real ones.
const seedAuditSQL = `
WITH r AS (SELECT array_agg(id ORDER BY id) AS ids FROM alert_rules)
INSERT INTO event_audit_log (event_timestamp, hostname, matched_rule_id, handling_decision,
                             forwarded_to_moog, raw_message, event_id)
SELECT $4::timestamptz + make_interval(secs => $5::float8 * i / $3::bigint),
       h.name,
       r.ids[1 + (i * 31) % cardinality(r.ids)],
       (ARRAY['Page_and_ticket', 'Ticket_only', 'Page_only', 'Log_only', 'Ignore'])[1 + i % 5],
       i % 4 <> 0,
       format('<%s>1 %s %s sshd[%s]: %%SEC-6-IPACCESSLOGP: list edge-in denied tcp 10.%s.%s.%s(%s) -> 192.0.2.%s(443), 1 packet; session %s%s',
              8 + i % 184, to_char($4::timestamptz + make_interval(secs => $5::float8 * i / $3::bigint), 'YYYY-MM-DD"T"HH24:MI:SS"Z"'),
              h.name, 1000 + i % 64000, i % 256, (i / 256) % 256, (i / 65536) % 256, 1024 + i % 60000, i % 254,
              md5(i::text), left(md5((i + 1)::text), 16)),
       gen_random_uuid()
FROM generate_series($1::bigint, $2::bigint) AS i
CROSS JOIN r
CROSS JOIN LATERAL (
    SELECT CASE WHEN i % 10 = 0 THEN $7::text
                ELSE format('host-%s.dc1.example.net', lpad((1 + (i * 7919) % ($6::int - 1))::text, 4, '0'))
           END AS name) h`

// seedRulesSQL writes $1 rules: 60 % contains, 25 % regex, 15 % trap OID
// prefix, one in 20 inactive, a few with a severity filter.
const seedRulesSQL = `
INSERT INTO alert_rules (match_string, trap_oid, syslog_severity, match_type, priority,
                         prod_handling, dev_handling, team_assignment, is_active)
SELECT CASE WHEN i % 20 < 12 THEN format('%%FAC%s-%s-MNEMONIC_%s', i % 97, i % 8, i)
            WHEN i % 20 < 17 THEN format('%%FAC%s-\d-(?:UP|DOWN)_%s: \S+', i % 89, i)
       END,
       CASE WHEN i % 20 >= 17 THEN format('1.3.6.1.4.1.%s.%s.%s', 9 + i % 50, i % 17, i) END,
       CASE WHEN i % 13 = 0 THEN i % 8 END,
       CASE WHEN i % 20 < 12 THEN 'contains' WHEN i % 20 < 17 THEN 'regex' ELSE 'oid_prefix' END,
       1 + i % 500,
       (ARRAY['Page_and_ticket', 'Ticket_only', 'Page_only', 'Log_only', 'Ignore'])[1 + i % 5],
       (ARRAY['Ticket_only', 'Ignore', 'Log_only'])[1 + i % 3],
       (ARRAY['NetOps', 'Security', 'Hardware', 'AppNet', 'Storage', 'Voice'])[1 + i % 6],
       i % 20 <> 7
FROM generate_series(1, $1::int) AS i`

// seedControlSQL writes development hosts and device teams for some of the
// audited hosts, and the config_audit_log rows the control plane would have
// left: a CREATE per rule, host and team, and an UPDATE for every fourth
// rule.
var seedControlSQL = []string{
	`INSERT INTO development_hosts (hostname)
SELECT format('host-%s.dc1.example.net', lpad(i::text, 4, '0')) FROM generate_series(1, $1::int - 1, 20) AS i`,
	`INSERT INTO device_teams (hostname, team_assignment)
SELECT format('host-%s.dc1.example.net', lpad(i::text, 4, '0')),
       (ARRAY['NetOps', 'Security', 'Hardware', 'AppNet', 'Storage', 'Voice'])[1 + i % 6]
FROM generate_series(1, $1::int - 1, 2) AS i`,
	`INSERT INTO config_audit_log (changed_at, changed_by, operation, table_name, record_id, new_values, reason, correlation_id)
SELECT now() - make_interval(days => 120) + make_interval(secs => id * 60), 'api-key:default', 'CREATE', 'alert_rules', id,
       jsonb_build_object('match_string', match_string, 'trap_oid', trap_oid, 'match_type', match_type,
                          'priority', priority, 'prod_handling', prod_handling, 'dev_handling', dev_handling,
                          'team_assignment', team_assignment, 'is_active', is_active),
       'initial rule set import', gen_random_uuid()::text
FROM alert_rules`,
	`INSERT INTO config_audit_log (changed_at, changed_by, operation, table_name, record_id, old_values, new_values, reason, correlation_id)
SELECT now() - make_interval(days => 30) + make_interval(secs => id * 120), 'jdoe', 'UPDATE', 'alert_rules', id,
       jsonb_build_object('priority', priority + 10), jsonb_build_object('priority', priority),
       'tune priority after incident review', gen_random_uuid()::text
FROM alert_rules WHERE id % 4 = 0`,
	`INSERT INTO config_audit_log (changed_at, changed_by, operation, table_name, record_id, new_values, reason)
SELECT now() - make_interval(days => 60), 'jdoe', 'CREATE', 'development_hosts', row_number() OVER (ORDER BY hostname),
       jsonb_build_object('hostname', hostname), 'lab device'
FROM development_hosts`,
	`INSERT INTO config_audit_log (changed_at, changed_by, operation, table_name, record_id, new_values, reason)
SELECT now() - make_interval(days => 60), 'asmith', 'CREATE', 'device_teams', row_number() OVER (ORDER BY hostname),
       jsonb_build_object('hostname', hostname, 'team_assignment', team_assignment), 'ownership review'
FROM device_teams`,
}

// SeedAudit fills the scratch database as a MUTT database looks after months
// of use: o.Rules rules, development hosts and device teams, their
// config_audit_log rows, and o.Rows event_audit_log rows spread over
// o.Months monthly partitions (created here) and o.Hosts hostnames, then
// runs VACUUM ANALYZE, as autovacuum would have long since. It writes with
// INSERT … SELECT generate_series, so seeding costs the server's time, not
// round trips.
func (e *Env) SeedAudit(ctx context.Context, o SeedOptions) (Seeded, error) {
	o.defaults()
	start := time.Now()
	s := Seeded{Hosts: o.Hosts}
	now := time.Now().UTC()
	first := time.Date(now.Year(), now.Month(), 1, 0, 0, 0, 0, time.UTC).AddDate(0, -(o.Months - 1), 0)
	if _, err := store.EnsurePartitions(ctx, e.pool, first, o.Months+2); err != nil {
		return s, fmt.Errorf("seeding: %w", err)
	}
	if _, err := e.pool.Exec(ctx, seedRulesSQL, o.Rules); err != nil {
		return s, fmt.Errorf("seeding rules: %w", err)
	}
	for _, q := range seedControlSQL {
		var err error
		if strings.Contains(q, "$1") {
			_, err = e.pool.Exec(ctx, q, o.Hosts)
		} else {
			_, err = e.pool.Exec(ctx, q)
		}
		if err != nil {
			return s, fmt.Errorf("seeding control-plane tables: %w", err)
		}
	}
	span := now.Sub(first).Seconds()
	for lo := 1; lo <= o.Rows; lo += seedChunk {
		hi := min(lo+seedChunk-1, o.Rows)
		e.say("seed: audit rows %d–%d of %d", lo, hi, o.Rows)
		if _, err := e.pool.Exec(ctx, seedAuditSQL, lo, hi, o.Rows, first, span, o.Hosts, BusyHost); err != nil {
			return s, fmt.Errorf("seeding audit rows %d to %d: %w", lo, hi, err)
		}
	}
	e.say("seed: VACUUM ANALYZE")
	if _, err := e.pool.Exec(ctx, "VACUUM (ANALYZE)"); err != nil {
		return s, fmt.Errorf("seeding: vacuum analyze: %w", err)
	}
	err := e.pool.QueryRow(ctx, `
SELECT (SELECT count(*) FROM event_audit_log), (SELECT count(*) FROM event_audit_log WHERE hostname = $1),
       (SELECT count(*) FROM alert_rules), (SELECT count(*) FROM development_hosts),
       (SELECT count(*) FROM device_teams), (SELECT count(*) FROM config_audit_log),
       pg_database_size(current_database()),
       (SELECT coalesce(sum(pg_total_relation_size(inhrelid)), 0)::bigint FROM pg_inherits
        WHERE inhparent = 'event_audit_log'::regclass),
       (SELECT coalesce(array_agg(c.relname::text ORDER BY c.relname), '{}') FROM pg_inherits i
        JOIN pg_class c ON c.oid = i.inhrelid
        WHERE i.inhparent = 'event_audit_log'::regclass
          AND EXISTS (SELECT 1 FROM pg_class p WHERE p.oid = i.inhrelid AND p.reltuples > 0))`, BusyHost).
		Scan(&s.Rows, &s.BusyHostRow, &s.Rules, &s.DevHosts, &s.Teams, &s.ConfigAudit, &s.DatabaseBytes, &s.AuditBytes, &s.Partitions)
	if err != nil {
		return s, fmt.Errorf("seeding: measuring the database: %w", err)
	}
	if s.Rows != int64(o.Rows) || s.Rules != int64(o.Rules) {
		return s, fmt.Errorf("seeding: wrote %d audit rows and %d rules, want %d and %d", s.Rows, s.Rules, o.Rows, o.Rules)
	}
	s.Seconds = time.Since(start).Seconds()
	return s, nil
}

// BackupOptions describe a backup-and-restore run.
type BackupOptions struct {
	Seed SeedOptions
	// Dir is where the temporary backup root is created (default the
	// system's temporary directory); it is removed at the end.
	Dir string
	// SkipDeep leaves out the deep verification.
	SkipDeep bool
}

// Phase is one timed step of a backup-and-restore run.
type Phase struct {
	Name    string  `json:"name"`
	Seconds float64 `json:"seconds"`
	// MBPerSecond is the database size (pg_database_size before the
	// backup) over Seconds, in MB (10^6 bytes) a second; for the quick
	// verification, the artifact's size over Seconds.
	MBPerSecond float64 `json:"mb_per_second"`
	// CPU time during the step: this process, and the whole machine.
	// pg_dump, pg_restore and the server sessions serving them exit when
	// done, so their time shows only in the machine's.
	ProcessCPUSeconds  float64 `json:"process_cpu_seconds"`
	MachineBusySeconds float64 `json:"machine_busy_seconds"`
	Detail             string  `json:"detail,omitempty"`
}

// BackupResult is the outcome of RunBackup.
type BackupResult struct {
	Machine     Machine   `json:"machine"`
	Started     time.Time `json:"started"`
	LoadAverage string    `json:"load_average_before"`
	Seed        Seeded    `json:"seed"`
	SetID       string    `json:"set_id"`
	// ArtifactBytes is the encrypted artifact as stored, DumpBytes the
	// pg_dump custom-format archive inside it.
	ArtifactBytes int64   `json:"artifact_bytes"`
	DumpBytes     int64   `json:"dump_bytes"`
	Phases        []Phase `json:"phases"`
	// RestoreSeconds is the wall time of `mutt restore postgres`' work,
	// the recovery time of the database; RTOSeconds is its target.
	RestoreSeconds float64 `json:"restore_seconds"`
	RTOSeconds     float64 `json:"rto_seconds"`
	// RowsWithinRTO extrapolates the restore rate to the audit rows a
	// restore could bring back within the RTO.
	RowsWithinRTO int64    `json:"rows_within_rto"`
	Met           bool     `json:"met"`
	Notes         []string `json:"notes,omitempty"`
}

// TargetMet reports whether the restore fitted within the RTO.
func (r BackupResult) TargetMet() bool { return r.Met }

// Target describes the target for messages.
func (r BackupResult) Target() string {
	return fmt.Sprintf("restore postgres %.1f s, RTO %s", r.RestoreSeconds, time.Duration(r.RTOSeconds*float64(time.Second)))
}

// RunBackup seeds the scratch database (SeedAudit) and then times what an
// operator runs, through the same internal/backup calls as the CLI: `mutt
// backup run --components postgres` (pg_dump into an age-encrypted
// artifact, with its quick verification), `mutt backup verify` (quick),
// `mutt backup verify --deep` (a test restore into a throw-away database
// with row counts compared) and `mutt restore postgres` (scratch restore,
// row counts, swap, audit partitions). The backup root and encryption key
// are temporary; every database made along the way is dropped.
func (e *Env) RunBackup(ctx context.Context, o BackupOptions) (res BackupResult, err error) {
	res = BackupResult{Machine: e.machine, Started: time.Now(), LoadAverage: loadAverage(),
		RTOSeconds: backup.RTOTarget(backup.ComponentPostgres).Seconds()}
	defer func() {
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
		defer cancel()
		err = errors.Join(err, e.dropDerivedDatabases(cctx))
	}()
	if res.Seed, err = e.SeedAudit(ctx, o.Seed); err != nil {
		return res, err
	}
	root, err := os.MkdirTemp(o.Dir, namePrefix+"backup_")
	if err != nil {
		return res, fmt.Errorf("creating a backup root: %w", err)
	}
	defer os.RemoveAll(root)
	keys, err := benchKeys(root)
	if err != nil {
		return res, err
	}
	version, err := store.SchemaVersion(ctx, e.pool)
	if err != nil {
		return res, err
	}
	dbURL := e.cfg.Postgres.URL.Reveal()
	mb := float64(res.Seed.DatabaseBytes) / 1e6
	data := filepath.Join(root, "data")

	var m *backup.Manifest
	err = e.phase(&res, "backup run --components postgres (pg_dump, age, quick verify)", mb, func() (string, error) {
		var err error
		m, err = backup.Run(ctx, backup.RunOptions{
			Root: data, Keys: keys, Components: []string{backup.ComponentPostgres}, Host: "bench",
			ToolVersion: "bench", SchemaVersion: version,
			Postgres: &backup.PostgresDumpOptions{DatabaseURL: dbURL},
		})
		if err != nil {
			return "", err
		}
		c := m.Component(backup.ComponentPostgres)
		if m.Status != backup.SetComplete || c == nil || len(c.Artifacts) == 0 {
			reason := ""
			if c != nil {
				reason = c.Reason
			}
			return "", fmt.Errorf("backup set %s is %s: %s", m.SetID, m.Status, reason)
		}
		res.SetID = m.SetID
		res.ArtifactBytes, res.DumpBytes = c.Artifacts[0].Bytes, c.Artifacts[0].PlainBytes
		return fmt.Sprintf("%s audit rows counted in the dump's snapshot", group(float64(c.Counts["event_audit_log"]))), nil
	})
	if err != nil {
		return res, err
	}
	err = e.phase(&res, "verify (quick: size, SHA-256, age header)", float64(res.ArtifactBytes)/1e6, func() (string, error) {
		return "", errors.Join(backup.VerifyQuickSet(data, m, time.Now())...)
	})
	if err != nil {
		return res, err
	}
	if !o.SkipDeep {
		err = e.phase(&res, "verify --deep (restore into a throw-away database, row counts)", mb, func() (string, error) {
			if err := errors.Join(backup.DeepVerify(ctx, backup.DeepVerifyOptions{
				Root: data, Manifest: m, Keys: keys, DatabaseURL: dbURL, Components: []string{backup.ComponentPostgres},
			})...); err != nil {
				return "", err
			}
			if c := m.Component(backup.ComponentPostgres); c.Verify != nil {
				return c.Verify.Detail, nil
			}
			return "", nil
		})
		if err != nil {
			return res, err
		}
	}
	err = e.phase(&res, "restore postgres (scratch restore, row counts, swap, partitions)", mb, func() (string, error) {
		r, err := backup.RestorePostgresSet(ctx, backup.PostgresRestoreOptions{Root: data, Manifest: m, Keys: keys, DatabaseURL: dbURL})
		// The swap ended every session of the old database.
		e.pool.Reset()
		if err != nil {
			return "", err
		}
		if _, err := store.EnsurePartitions(ctx, e.pool, time.Now(), store.DefaultPartitionMonths+1); err != nil {
			return "", fmt.Errorf("creating audit partitions after the restore: %w", err)
		}
		if r.Counts["event_audit_log"] != res.Seed.Rows {
			return "", fmt.Errorf("restored %d audit rows, want %d", r.Counts["event_audit_log"], res.Seed.Rows)
		}
		return fmt.Sprintf("%s audit rows restored; the previous database was kept as %s (dropped by the bench)",
			group(float64(r.Counts["event_audit_log"])), r.PreRestore), nil
	})
	if err != nil {
		return res, err
	}
	restore := res.Phases[len(res.Phases)-1]
	res.RestoreSeconds = restore.Seconds
	res.Met = res.RestoreSeconds < res.RTOSeconds
	if res.RestoreSeconds > 0 {
		res.RowsWithinRTO = int64(float64(res.Seed.Rows) * res.RTOSeconds / res.RestoreSeconds)
	}
	return res, nil
}

// phase times one step and appends it to res; step returns a detail line.
func (e *Env) phase(res *BackupResult, name string, mb float64, step func() (string, error)) error {
	e.say("backup: %s", name)
	before := sampleCPU()
	start := time.Now()
	detail, err := step()
	elapsed := time.Since(start)
	after := sampleCPU()
	if err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	p := Phase{
		Name: name, Seconds: elapsed.Seconds(), Detail: detail,
		ProcessCPUSeconds:  (after.process - before.process).Seconds(),
		MachineBusySeconds: (after.machineBusy - before.machineBusy).Seconds(),
	}
	if p.Seconds > 0 {
		p.MBPerSecond = mb / p.Seconds
	}
	res.Phases = append(res.Phases, p)
	return nil
}

// dropDerivedDatabases drops every database named after the scratch
// database plus "_…" (restore scratch, verify scratch, the kept
// pre-restore database), which only this run can have made.
func (e *Env) dropDerivedDatabases(ctx context.Context) error {
	if e.database == "" {
		return nil
	}
	conn, err := pgx.Connect(ctx, e.adminURL)
	if err != nil {
		return fmt.Errorf("dropping the backup run's databases: connecting: %w", err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	rows, err := conn.Query(ctx, "SELECT datname FROM pg_database WHERE starts_with(datname, $1)", e.database+"_")
	if err != nil {
		return fmt.Errorf("listing the backup run's databases: %w", err)
	}
	names, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return fmt.Errorf("listing the backup run's databases: %w", err)
	}
	var errs []error
	for _, n := range names {
		if _, err := conn.Exec(ctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{n}.Sanitize()+" WITH (FORCE)"); err != nil {
			errs = append(errs, fmt.Errorf("dropping database %s: %w", n, err))
		}
	}
	return errors.Join(errs...)
}

// benchKeys makes a throw-away age key pair in dir and loads it as the
// backup CLI would from MUTT_BACKUP_RECIPIENTS_FILE and
// MUTT_BACKUP_IDENTITY_FILE.
func benchKeys(dir string) (*backup.Keys, error) {
	id, err := age.GenerateX25519Identity()
	if err != nil {
		return nil, fmt.Errorf("generating a backup key: %w", err)
	}
	recipients, identity := filepath.Join(dir, "recipients.txt"), filepath.Join(dir, "identity.txt")
	if err := os.WriteFile(recipients, []byte(id.Recipient().String()+"\n"), 0o600); err != nil {
		return nil, fmt.Errorf("writing the backup key: %w", err)
	}
	if err := os.WriteFile(identity, []byte(id.String()+"\n"), 0o600); err != nil {
		return nil, fmt.Errorf("writing the backup key: %w", err)
	}
	keys, err := backup.LoadKeys(recipients, "", identity)
	if err != nil {
		return nil, fmt.Errorf("loading the backup key: %w", err)
	}
	return keys, nil
}

// loadAverage returns the 1, 5 and 15 minute load averages of
// /proc/loadavg, or "" where there is none.
func loadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return ""
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return ""
	}
	return strings.Join(f[:3], ", ")
}

// writeSeed renders what SeedAudit wrote.
func writeSeed(b *strings.Builder, s Seeded) {
	fmt.Fprintf(b, "  data        %s audit rows in %d partitions (%s), %s hosts (%s rows on the busiest), %s rules, %s dev hosts, %s teams, %s config audit rows; seeded in %.1f s\n",
		group(float64(s.Rows)), len(s.Partitions), strings.Join(s.Partitions, ", "), group(float64(s.Hosts)), group(float64(s.BusyHostRow)),
		group(float64(s.Rules)), group(float64(s.DevHosts)), group(float64(s.Teams)), group(float64(s.ConfigAudit)), s.Seconds)
	fmt.Fprintf(b, "  size        database %.1f MB (pg_database_size), event_audit_log with indexes %.1f MB\n",
		float64(s.DatabaseBytes)/1e6, float64(s.AuditBytes)/1e6)
}

// WriteText renders the result for people.
func (r BackupResult) WriteText(w io.Writer) error {
	var b strings.Builder
	writeHeader(&b, r.Machine, r.Started, r.LoadAverage)
	fmt.Fprintf(&b, "\nbackup and restore of the postgres component, %s audit rows, through the backup CLI's code (pg_dump and pg_restore in PATH)\n", group(float64(r.Seed.Rows)))
	writeSeed(&b, r.Seed)
	if r.ArtifactBytes > 0 && len(r.Phases) > 0 {
		fmt.Fprintf(&b, "  artifact    %.1f MB encrypted (pg_dump custom format %.1f MB), %.1f× smaller than the database, written at %.1f MB/s; set %s\n",
			float64(r.ArtifactBytes)/1e6, float64(r.DumpBytes)/1e6, float64(r.Seed.DatabaseBytes)/float64(r.ArtifactBytes),
			float64(r.ArtifactBytes)/1e6/r.Phases[0].Seconds, r.SetID)
	}
	b.WriteString("  MB/s        of the database (pg_database_size) per second of the step; for the quick verification, of the artifact\n")
	for _, p := range r.Phases {
		fmt.Fprintf(&b, "  %-66s %7.2f s  %6.1f MB/s  (CPU: mutt %.1f s, machine busy %.1f of %.1f s)\n",
			p.Name, p.Seconds, p.MBPerSecond, p.ProcessCPUSeconds, p.MachineBusySeconds, p.Seconds*float64(r.Machine.CPUs))
		if p.Detail != "" {
			fmt.Fprintf(&b, "  %-66s %s\n", "", p.Detail)
		}
	}
	if r.RestoreSeconds > 0 {
		verdict := "MISSED"
		if r.Met {
			verdict = "met"
		}
		fmt.Fprintf(&b, "  RTO         restore postgres %.1f s against the %s PostgreSQL RTO: %s (%.0f× headroom); at this rate (linear extrapolation) %s restores about %s audit rows\n",
			r.RestoreSeconds, time.Duration(r.RTOSeconds*float64(time.Second)), verdict, r.RTOSeconds/r.RestoreSeconds,
			time.Duration(r.RTOSeconds*float64(time.Second)), group(float64(r.RowsWithinRTO)))
	}
	for _, n := range r.Notes {
		fmt.Fprintf(&b, "  note        %s\n", n)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// writeHeader renders the machine lines of a scenario report.
func writeHeader(b *strings.Builder, m Machine, started time.Time, load string) {
	fmt.Fprintf(b, "MUTT benchmark, %s\n", started.UTC().Format(time.RFC3339))
	fmt.Fprintf(b, "machine   %d CPUs", m.CPUs)
	if m.CPUModel != "" {
		fmt.Fprintf(b, " (%s)", m.CPUModel)
	}
	fmt.Fprintf(b, ", %s, %s, Redis %s, PostgreSQL %s\n", m.OS, m.GoVersion, orUnknown(m.Redis), orUnknown(m.PostgreSQL))
	if load != "" {
		fmt.Fprintf(b, "load      %s (1, 5, 15 min) before the run; the machine is shared\n", load)
	}
}
