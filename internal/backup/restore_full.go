package backup

import (
	"context"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/redis/go-redis/v9"

	"github.com/mutt-go/mutt/internal/store"
)

// Seed RTO targets (scenario table of the backup guide, and the full-system
// ceiling of §1.4) and RPO targets per component.
const (
	RTOPostgres = 30 * time.Minute
	RTORedis    = 15 * time.Minute
	RTOConfig   = 15 * time.Minute
	RTOVault    = 20 * time.Minute
	RTOFull     = 2 * time.Hour
)

// RTOTarget returns the recovery time objective of a component, "full" for
// the whole system, and 0 for one without a target.
func RTOTarget(component string) time.Duration {
	if component == "full" {
		return RTOFull
	}
	return objectives(component).RTO
}

// RPOTarget returns the recovery point objective of a component: 24 h for
// the database and configuration, 6 h for Redis, 7 days for Vault.
func RPOTarget(component string) time.Duration {
	return objectives(component).RPO
}

// objectives returns the registered component's objectives; the dynamic
// configuration step of a restore has those of the config component.
func objectives(component string) Objectives {
	if component == stepDynamicConfig {
		component = ComponentConfig
	}
	if spec, ok := NewRegistry().Lookup(component); ok {
		return spec.Objectives()
	}
	return Objectives{}
}

// stepDynamicConfig names the dynamic-configuration step of a full restore.
const stepDynamicConfig = "dynamic-config"

// StepResult is one step of a full restore or drill with its measured
// duration (the step's RTO) and its target.
type StepResult struct {
	Component string        `json:"component"`
	Status    string        `json:"status"`
	Detail    string        `json:"detail,omitempty"`
	RTO       time.Duration `json:"rto_ns"`
	Target    time.Duration `json:"target_ns"`
	// Met is true when the step succeeded within its target.
	Met bool `json:"met"`
}

// RestoreOptions say which set a restore replays and into what: RestoreFull
// reads all of them, a component's Restore the fields of its own target.
type RestoreOptions struct {
	Root     string
	Manifest *Manifest
	Keys     *Keys
	// DatabaseURL is the live MUTT database; PgRestore as for
	// RestorePostgresSet.
	DatabaseURL string
	PgRestore   string
	// Redis is the live server; ConfigPrefix its dynamic config prefix.
	Redis        redis.UniversalClient
	ConfigPrefix string
	// ConfigTargetDir is where configuration files go; empty means "/".
	ConfigTargetDir string
	// WithVault restores the Vault secrets too, through Vault.
	WithVault     bool
	Vault         VaultKV
	VaultNotFound func(error) bool
	// DataDir is the embedded mode's data directory (sqlite).
	DataDir string
	// Safety, when set, describes a pre-restore safety backup taken first
	// (its Profile and Components are set by RestoreFull).
	Safety *RunOptions
	// Progress, when set, receives one line per finished step.
	Progress io.Writer
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// FullRestoreResult is the outcome of RestoreFull.
type FullRestoreResult struct {
	SetID string `json:"set_id"`
	// SafetySet is the pre-restore safety set, if one was taken, and
	// SafetyWarnings its components that could not be backed up.
	SafetySet      string   `json:"safety_set,omitempty"`
	SafetyWarnings []string `json:"safety_warnings,omitempty"`
	// PreRestoreDB is the previous live database, kept.
	PreRestoreDB string       `json:"pre_restore_db,omitempty"`
	Schema       SchemaPlan   `json:"schema"`
	Steps        []StepResult `json:"steps"`
	// Total is the measured RTO of the whole restore.
	Total       time.Duration `json:"total_ns"`
	TotalTarget time.Duration `json:"total_target_ns"`
}

// RestoreFull restores a whole set in the order postgres, redis (replace,
// default classes), dynamic config, configuration files, with Vault first
// when WithVault is set (the database role's password lives there). Before
// anything is changed it checks every needed artifact against the manifest
// and the schema version against the binary, then takes the safety backup.
// Each step verifies its own result; the first failing step stops the
// restore and is reported with the steps done before it.
func RestoreFull(ctx context.Context, o RestoreOptions) (FullRestoreResult, error) {
	now := o.Now
	if now == nil {
		now = time.Now
	}
	start := now()
	m := o.Manifest
	res := FullRestoreResult{SetID: m.SetID, TotalTarget: RTOFull}
	if !o.Keys.CanDecrypt() {
		return res, fmt.Errorf("restoring set %s: %w (set %s)", m.SetID, ErrNoIdentity, settingIdentity)
	}
	need := []string{ComponentPostgres, ComponentRedis}
	hasConfig := m.Component(ComponentConfig) != nil && m.Component(ComponentConfig).Status == StatusOK
	if hasConfig {
		need = append(need, ComponentConfig)
	}
	if o.WithVault {
		if o.Vault == nil {
			return res, errors.New("restoring vault: no Vault client configured (MUTT_BACKUP_VAULT_*)")
		}
		need = append(need, ComponentVault)
	}
	for _, name := range need {
		if _, err := VerifyComponent(o.Root, m, name); err != nil {
			return res, fmt.Errorf("restoring set %s: nothing changed: %w", m.SetID, err)
		}
	}
	binary, err := BinarySchemaVersion()
	if err != nil {
		return res, err
	}
	if res.Schema, err = CheckSchema(m.SchemaVersion, binary); err != nil {
		return res, fmt.Errorf("restoring set %s: nothing changed: %w", m.SetID, err)
	}

	if o.Safety != nil {
		safety := *o.Safety
		safety.Profile = ProfilePreRestore
		safety.Components = need
		safety.Label = "before restore of " + m.SetID
		safety.Progress = nil
		sm, err := Run(ctx, safety)
		if err != nil {
			return res, fmt.Errorf("restoring set %s: taking the pre-restore safety backup (use --no-safety-backup to skip): %w", m.SetID, err)
		}
		res.SafetySet = sm.SetID
		for _, c := range sm.Components {
			if c.Status != StatusOK {
				// A disaster often means the source is gone; that must not
				// block the restore, but it is reported.
				res.SafetyWarnings = append(res.SafetyWarnings, c.Name+": "+c.Reason)
			}
		}
	}

	step := func(name string, fn func() (string, error)) error {
		t0 := now()
		detail, err := fn()
		s := StepResult{Component: name, Status: StatusOK, Detail: detail, RTO: now().Sub(t0), Target: RTOTarget(name)}
		if err != nil {
			s.Status, s.Detail = StatusFailed, err.Error()
		}
		s.Met = err == nil && (s.Target == 0 || s.RTO <= s.Target)
		res.Steps = append(res.Steps, s)
		if o.Progress != nil {
			fmt.Fprintf(o.Progress, "%-15s %s in %s: %s\n", name, s.Status, s.RTO.Round(time.Millisecond), s.Detail)
		}
		return err
	}
	finish := func(err error) (FullRestoreResult, error) {
		res.Total = now().Sub(start)
		if err != nil {
			return res, fmt.Errorf("restoring set %s: %w", m.SetID, err)
		}
		return res, nil
	}

	if o.WithVault {
		if err := step(ComponentVault, func() (string, error) {
			return vaultComponent{}.Restore(ctx, o)
		}); err != nil {
			return finish(err)
		}
	}
	if err := step(ComponentPostgres, func() (string, error) {
		pr, err := RestorePostgresSet(ctx, PostgresRestoreOptions{Root: o.Root, Manifest: m, Keys: o.Keys, DatabaseURL: o.DatabaseURL, PgRestore: o.PgRestore, Now: o.Now})
		if err != nil {
			return "", err
		}
		res.PreRestoreDB, res.Schema = pr.PreRestore, pr.Schema
		if err := ensureRestoredPartitions(ctx, o.DatabaseURL, now()); err != nil {
			return "", err
		}
		detail := fmt.Sprintf("%d table counts match the manifest", len(pr.Counts))
		if pr.Schema.Migrate {
			detail += fmt.Sprintf("; migrated from schema %d to %d before the swap", pr.Schema.Backup, pr.Schema.Binary)
		}
		return detail, nil
	}); err != nil {
		return finish(err)
	}
	if err := step(ComponentRedis, func() (string, error) {
		classes := DefaultRedisRestoreClasses()
		rr, err := RestoreRedisSet(ctx, o.Root, m, o.Keys, o.Redis, classes, true)
		if err != nil {
			return "", err
		}
		var want int64
		for _, cl := range classes {
			want += m.Component(ComponentRedis).Counts[cl]
		}
		if rr.Restored+rr.Skipped != want {
			return "", fmt.Errorf("restored %d keys and skipped %d expired of the classes %s, the manifest counts %d", rr.Restored, rr.Skipped, strings.Join(classes, ","), want)
		}
		return fmt.Sprintf("%d keys replaced, %d expired since the backup", rr.Restored, rr.Skipped), nil
	}); err != nil {
		return finish(err)
	}
	if !hasConfig {
		return finish(nil)
	}
	if err := step(stepDynamicConfig, func() (string, error) {
		pool, err := pgxpool.New(ctx, o.DatabaseURL)
		if err != nil {
			return "", fmt.Errorf("connecting to the restored database for the audit: %w", err)
		}
		defer pool.Close()
		dr, err := RestoreDynamicConfig(ctx, DynamicConfigRestoreOptions{
			Root: o.Root, Manifest: m, Keys: o.Keys, Redis: o.Redis, Prefix: o.ConfigPrefix, Auditor: store.New(pool),
		})
		if err != nil {
			return "", err
		}
		return fmt.Sprintf("%d keys set, %d already current", len(dr.Set), len(dr.Unchanged)), nil
	}); err != nil {
		return finish(err)
	}
	err = step(ComponentConfig, func() (string, error) {
		cr, err := RestoreConfigFiles(ctx, ConfigRestoreOptions{Root: o.Root, Manifest: m, Keys: o.Keys, TargetDir: o.ConfigTargetDir, Now: o.Now})
		if err != nil {
			return "", err
		}
		if err := checkRestoredFiles(m.Component(ComponentConfig), o.ConfigTargetDir); err != nil {
			return "", err
		}
		return fmt.Sprintf("%d added, %d changed, %d unchanged; hashes match the manifest", len(cr.Added), len(cr.Changed), len(cr.Unchanged)), nil
	})
	return finish(err)
}

// ensureRestoredPartitions makes sure the restored database has the audit
// partitions of this month and the next ones: the set may predate them.
func ensureRestoredPartitions(ctx context.Context, url string, now time.Time) error {
	pool, err := pgxpool.New(ctx, url)
	if err != nil {
		return fmt.Errorf("connecting to the restored database: %w", err)
	}
	defer pool.Close()
	if _, err := store.EnsurePartitions(ctx, pool, now, store.DefaultPartitionMonths); err != nil {
		return fmt.Errorf("creating audit partitions in the restored database: %w", err)
	}
	return nil
}

// checkRestoredFiles compares every file the config component recorded
// with what is now on disk under target.
func checkRestoredFiles(c *Component, target string) error {
	if target == "" {
		target = "/"
	}
	var bad []string
	for p, want := range manifestFileHashes(c) {
		got, err := fileSHA256(filepath.Join(target, filepath.FromSlash(strings.TrimPrefix(p, "/"))))
		if err != nil || got != want {
			bad = append(bad, p)
		}
	}
	if len(bad) > 0 {
		return fmt.Errorf("restored files differ from the manifest: %s", strings.Join(bad, ", "))
	}
	return nil
}
