package backup

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/redis/go-redis/v9"
)

// ErrCountMismatch means a restored database does not hold the row counts the
// manifest recorded at backup time.
var ErrCountMismatch = errors.New("restored row counts differ from the manifest")

// VerifyComponent returns component name of m after quick-verifying every
// one of its artifacts (size, SHA-256, age header). It is the check done
// before anything is changed by a restore.
func VerifyComponent(root string, m *Manifest, name string) (*Component, error) {
	c := m.Component(name)
	if c == nil || c.Status != StatusOK {
		return nil, fmt.Errorf("set %s has no successful %s component", m.SetID, name)
	}
	if len(c.Artifacts) == 0 {
		return nil, fmt.Errorf("set %s: component %s has no artifact", m.SetID, name)
	}
	for _, a := range c.Artifacts {
		if err := VerifyArtifact(root, a); err != nil {
			return nil, err
		}
	}
	return c, nil
}

// QueueGroup names a stream and the consumer group reading it.
type QueueGroup struct {
	Stream string
	Group  string
}

// LiveConsumers lists the consumers of the given groups that were active
// within the last idle, as "stream/group/consumer (idle …)". A stream or
// group that does not exist has no consumers.
func LiveConsumers(ctx context.Context, rdb redis.UniversalClient, groups []QueueGroup, idle time.Duration) ([]string, error) {
	var live []string
	for _, g := range groups {
		cs, err := rdb.XInfoConsumers(ctx, g.Stream, g.Group).Result()
		if err != nil {
			msg := err.Error()
			if strings.Contains(msg, "NOGROUP") || strings.Contains(msg, "no such key") {
				continue
			}
			return nil, fmt.Errorf("listing consumers of %s group %s: %w", g.Stream, g.Group, err)
		}
		for _, c := range cs {
			if c.Idle < idle {
				live = append(live, fmt.Sprintf("%s/%s/%s (idle %s)", g.Stream, g.Group, c.Name, c.Idle.Round(time.Millisecond)))
			}
		}
	}
	return live, nil
}

// RestoreRedisSet verifies the redis component of m and restores its keys
// with RestoreRedis. A wrong key or a damaged artifact is reported before
// any key is written.
func RestoreRedisSet(ctx context.Context, root string, m *Manifest, keys *Keys, rdb redis.UniversalClient, classes []string, replace bool) (RedisRestoreResult, error) {
	c, err := VerifyComponent(root, m, ComponentRedis)
	if err != nil {
		return RedisRestoreResult{}, err
	}
	a, ok := artifactOfFormat(c, "jsonl")
	if !ok {
		a = c.Artifacts[0]
	}
	r, err := OpenArtifact(root, a, keys)
	if err != nil {
		return RedisRestoreResult{}, err
	}
	res, err := RestoreRedis(ctx, rdb, r, classes, replace)
	if cerr := r.Close(); err == nil && cerr != nil {
		err = cerr
	}
	if err != nil {
		return res, fmt.Errorf("restoring set %s: %w", m.SetID, err)
	}
	return res, nil
}

// PostgresRestoreOptions say what RestorePostgresSet restores and where.
type PostgresRestoreOptions struct {
	// Root is the backup root holding the set.
	Root string
	// Manifest is the set to restore.
	Manifest *Manifest
	// Keys must be able to decrypt the artifact.
	Keys *Keys
	// DatabaseURL points at the live database (URL or keyword/value form);
	// the swap itself is done from the "postgres" database of its server.
	DatabaseURL string
	// PgRestore is the pg_restore to use; empty means the one in PATH.
	PgRestore string
	// Now stamps the scratch and kept databases' names (a random suffix
	// follows the stamp); nil means time.Now.
	Now func() time.Time
}

// PostgresRestoreResult describes a finished PostgreSQL restore.
type PostgresRestoreResult struct {
	// Database is the live database, now holding the restored data.
	Database string
	// PreRestore is the name the previous live database was renamed to;
	// empty when there was none.
	PreRestore string
	// Counts are the restored row counts of the critical tables.
	Counts map[string]int64
	// Schema says whether the restored database was migrated to the
	// binary's schema version before the swap.
	Schema SchemaPlan
}

// RestorePostgresSet restores the postgres component of the set into a new
// scratch database, checks its row counts against the manifest and only
// then swaps it in: the live database is renamed to
// "<db>_pre_restore_<stamp>_<4 hex>" and the scratch database takes its name (which
// it simply gets when no live database exists any more). Any
// failure before the swap leaves the live database untouched and the
// scratch database dropped.
func RestorePostgresSet(ctx context.Context, o PostgresRestoreOptions) (PostgresRestoreResult, error) {
	var res PostgresRestoreResult
	c, err := VerifyComponent(o.Root, o.Manifest, ComponentPostgres)
	if err != nil {
		return res, err
	}
	cfg, err := pgx.ParseConfig(o.DatabaseURL)
	if err != nil {
		return res, errors.New("restoring postgres: the database connection string does not parse")
	}
	live := cfg.Database
	if live == "" || live == "postgres" {
		return res, fmt.Errorf("restoring postgres: the connection string must name the MUTT database, not %q", live)
	}
	now := time.Now
	if o.Now != nil {
		now = o.Now
	}
	// The random suffix keeps two restores within one second apart.
	stamp := now().UTC().Format(StampFormat) + "_" + randHex(2)
	scratch := live + "_restore_" + stamp
	old := live + "_pre_restore_" + stamp
	if len(old) > 63 {
		return res, fmt.Errorf("restoring postgres: database name %q is too long to keep the old database as %q", live, old)
	}
	adminURL := pgWithDatabase(o.DatabaseURL, "postgres")
	binary, err := BinarySchemaVersion()
	if err != nil {
		return res, err
	}
	if _, err := CheckSchema(o.Manifest.SchemaVersion, binary); err != nil {
		return res, fmt.Errorf("restoring postgres from set %s: %w", o.Manifest.SetID, err)
	}

	r, err := OpenArtifact(o.Root, c.Artifacts[0], o.Keys)
	if err != nil {
		return res, err
	}
	counts, err := RestorePostgres(ctx, adminURL, scratch, o.PgRestore, r)
	cerr := r.Close()
	if err != nil {
		return res, err
	}
	admin, err := pgx.Connect(ctx, adminURL)
	if err != nil {
		return res, errors.Join(fmt.Errorf("restoring postgres: connecting to the server: %w", pgScrub(err, cfg.Password)),
			fmt.Errorf("scratch database %s is left behind", scratch))
	}
	defer admin.Close(context.WithoutCancel(ctx))
	dropScratch := func(cause error) error {
		dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		defer cancel()
		if _, err := admin.Exec(dctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{scratch}.Sanitize()+" WITH (FORCE)"); err != nil {
			return errors.Join(cause, fmt.Errorf("dropping scratch database %s: %w", scratch, err))
		}
		return cause
	}
	if cerr != nil {
		return res, dropScratch(fmt.Errorf("restoring postgres: %w", cerr))
	}
	if diff := countDiff(c.Counts, counts); diff != "" {
		return res, dropScratch(fmt.Errorf("restoring postgres from set %s: %w: %s", o.Manifest.SetID, ErrCountMismatch, diff))
	}
	// An older schema is brought up to date while the data is still in the
	// scratch database, so the services never see a half-migrated live one.
	plan, err := migrateRestored(ctx, pgWithDatabase(o.DatabaseURL, scratch), binary)
	if err != nil {
		return res, dropScratch(fmt.Errorf("restoring postgres from set %s: %w", o.Manifest.SetID, err))
	}
	var exists bool
	if err := admin.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)", live).Scan(&exists); err != nil {
		return res, dropScratch(fmt.Errorf("restoring postgres: looking for database %s: %w", live, err))
	}
	if !exists {
		// Total loss: there is nothing to keep, the scratch database only
		// needs the live name.
		if _, err := admin.Exec(ctx, "ALTER DATABASE "+pgx.Identifier{scratch}.Sanitize()+" RENAME TO "+pgx.Identifier{live}.Sanitize()); err != nil {
			return res, dropScratch(fmt.Errorf("restoring postgres: renaming %s to %s: %w", scratch, live, err))
		}
		return PostgresRestoreResult{Database: live, Counts: counts, Schema: plan}, nil
	}
	if err := swapDatabases(ctx, admin, live, scratch, old); err != nil {
		return res, dropScratch(err)
	}
	return PostgresRestoreResult{Database: live, PreRestore: old, Counts: counts, Schema: plan}, nil
}

// countDiff describes every table whose restored count differs from the
// manifest's; empty means they all match.
func countDiff(want, got map[string]int64) string {
	var diffs []string
	for _, t := range slices.Sorted(maps.Keys(want)) {
		if got[t] != want[t] {
			diffs = append(diffs, fmt.Sprintf("%s: manifest %d, restored %d", t, want[t], got[t]))
		}
	}
	return strings.Join(diffs, "; ")
}

// swapDatabases renames live to old and scratch to live. New sessions are
// refused on the live database while its others are terminated, so the
// rename cannot lose a race against a reconnecting client. If the second
// rename fails the first is undone: there is never a moment after which no
// database carries the live name except between the two statements.
func swapDatabases(ctx context.Context, admin *pgx.Conn, live, scratch, old string) error {
	liveID, scratchID, oldID := pgx.Identifier{live}.Sanitize(), pgx.Identifier{scratch}.Sanitize(), pgx.Identifier{old}.Sanitize()
	if _, err := admin.Exec(ctx, "ALTER DATABASE "+liveID+" WITH ALLOW_CONNECTIONS false"); err != nil {
		return fmt.Errorf("restoring postgres: refusing new sessions on %s: %w", live, err)
	}
	renamed := false
	defer func() {
		// The kept database stays reachable for inspection, and a live one
		// that was not swapped must accept sessions again.
		name := liveID
		if renamed {
			name = oldID
		}
		_, _ = admin.Exec(context.WithoutCancel(ctx), "ALTER DATABASE "+name+" WITH ALLOW_CONNECTIONS true")
	}()
	var err error
	for range 5 {
		if _, err = admin.Exec(ctx, "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()", live); err != nil {
			return fmt.Errorf("restoring postgres: terminating sessions on %s: %w", live, err)
		}
		if _, err = admin.Exec(ctx, "ALTER DATABASE "+liveID+" RENAME TO "+oldID); err == nil {
			break
		}
		// A terminated backend can take a moment to go away.
		select {
		case <-ctx.Done():
			return fmt.Errorf("restoring postgres: renaming %s: %w", live, ctx.Err())
		case <-time.After(200 * time.Millisecond):
		}
	}
	if err != nil {
		return fmt.Errorf("restoring postgres: renaming %s to %s: %w", live, old, err)
	}
	renamed = true
	if _, err := admin.Exec(ctx, "ALTER DATABASE "+scratchID+" RENAME TO "+liveID); err != nil {
		if _, uerr := admin.Exec(context.WithoutCancel(ctx), "ALTER DATABASE "+oldID+" RENAME TO "+liveID); uerr != nil {
			return fmt.Errorf("restoring postgres: renaming %s to %s: %w; and renaming %s back to %s: %w", scratch, live, err, old, live, uerr)
		}
		renamed = false
		return fmt.Errorf("restoring postgres: renaming %s to %s: %w", scratch, live, err)
	}
	return nil
}

// ProfilePreRestore is the profile of the safety sets a restore takes before
// it overwrites anything; "latest" never resolves to one of them.
const ProfilePreRestore = "pre-restore"

// FindSet resolves a set argument: a set id, "latest" (the newest set, not a
// pre-restore safety set, in which every named component is ok and passed its
// last verification) or "latest-verified" (the same with a passing deep
// verification). Without components any component counts.
func FindSet(root, arg string, components ...string) (*Manifest, error) {
	ms, err := ListManifests(root)
	if err != nil {
		return nil, err
	}
	if arg != "latest" && arg != "latest-verified" {
		if _, err := SetTime(arg); err != nil {
			return nil, fmt.Errorf("%q is neither a set id nor latest or latest-verified; run `mutt backup list`", arg)
		}
		for _, m := range ms {
			if m.SetID == arg {
				return m, nil
			}
		}
		return nil, fmt.Errorf("no backup set %s under %s; run `mutt backup list`", arg, root)
	}
	deep := arg == "latest-verified"
	for _, m := range ms {
		if m.Profile == ProfilePreRestore {
			continue
		}
		if setUsable(m, components, deep) {
			return m, nil
		}
	}
	what := "any component"
	if len(components) > 0 {
		what = strings.Join(components, ", ")
	}
	level := "verified"
	if deep {
		level = "deep-verified"
	}
	return nil, fmt.Errorf("no %s backup set under %s holds %s; run `mutt backup list`", level, root, what)
}

// setUsable reports whether every named component (or, with none named, at
// least one) of m is ok and verified, deeply when deep is set.
func setUsable(m *Manifest, components []string, deep bool) bool {
	good := func(c *Component) bool {
		if c == nil || c.Status != StatusOK || c.Verify == nil || c.Verify.Status != StatusOK {
			return false
		}
		return !deep || c.Verify.Level == VerifyDeep
	}
	if len(components) == 0 {
		for i := range m.Components {
			if good(&m.Components[i]) {
				return true
			}
		}
		return false
	}
	for _, name := range components {
		if !good(m.Component(name)) {
			return false
		}
	}
	return true
}
