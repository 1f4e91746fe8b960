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
	r, err := OpenArtifact(root, c.Artifacts[0], keys)
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
	// Now stamps the scratch and kept databases' names; nil means time.Now.
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
}

// RestorePostgresSet restores the postgres component of the set into a new
// scratch database, checks its row counts against the manifest and only
// then swaps it in: the live database is renamed to
// "<db>_pre_restore_<stamp>" and the scratch database takes its name (which
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
	stamp := now().UTC().Format(StampFormat)
	scratch := live + "_restore_" + stamp
	old := live + "_pre_restore_" + stamp
	if len(old) > 63 {
		return res, fmt.Errorf("restoring postgres: database name %q is too long to keep the old database as %q", live, old)
	}
	adminURL := pgWithDatabase(o.DatabaseURL, "postgres")

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
		return PostgresRestoreResult{Database: live, Counts: counts}, nil
	}
	if err := swapDatabases(ctx, admin, live, scratch, old); err != nil {
		return res, dropScratch(err)
	}
	return PostgresRestoreResult{Database: live, PreRestore: old, Counts: counts}, nil
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
