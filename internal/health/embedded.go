package health

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/mutt-go/mutt/internal/embedded/datadir"
	"github.com/mutt-go/mutt/internal/embedded/sqlstore"
)

// embeddedChecks opens the embedded database, checks it answers and reads
// its schema version and the depth of every queue, and looks whether a
// server holds the data directory. Without a database the schema and
// queue checks are skipped: the database check already fails.
func (r *runner) embeddedChecks(ctx context.Context) []Check {
	specs := queueSpecs(r.opts.Config)
	var db *sqlstore.DB
	first := r.timed(ctx, CheckDatabase, func(ctx context.Context) (Status, string) {
		d, err := r.opts.OpenDatabase(ctx)
		if err != nil {
			return StatusFail, timeoutHint(ctx, err)
		}
		db = d
		if err := d.Ping(ctx); err != nil {
			return StatusFail, timeoutHint(ctx, fmt.Errorf("%s: %w", d.Path(), err))
		}
		return StatusOK, fmt.Sprintf("SELECT 1 on %s (SQLite)", d.Path())
	})
	server := r.timed(ctx, CheckServer, func(context.Context) (Status, string) { return r.serverStatus() })
	if db == nil {
		schema := Check{Name: CheckSchema, Status: StatusSkipped, Detail: "database unavailable"}
		return slices.Concat([]Check{first, schema}, skippedQueues(specs, "database unavailable"), []Check{server})
	}
	defer db.Close()
	schema := r.timed(ctx, CheckSchema, func(ctx context.Context) (Status, string) {
		v, err := db.SchemaVersion(ctx)
		if err != nil {
			return StatusFail, timeoutHint(ctx, err)
		}
		return StatusOK, fmt.Sprintf("schema version %d", v)
	})
	queues := r.queueChecks(ctx, specs, func(ctx context.Context, q queueSpec) (int64, error) {
		if q.dead {
			return db.DeadLetterCount(ctx, q.key)
		}
		return db.Len(ctx, q.key)
	})
	return slices.Concat([]Check{first, schema}, queues, []Check{server})
}

// serverStatus tries the data directory's lock without waiting: held, a
// server (or a restore) runs on the directory; free, it is released at once.
// A directory that does not exist is not created.
func (r *runner) serverStatus() (Status, string) {
	dir := r.opts.Config.Storage.DataDir
	if _, err := os.Stat(dir); err != nil {
		return StatusSkipped, fmt.Sprintf("no data directory: %v", err)
	}
	lock, err := datadir.Acquire(dir)
	switch {
	case errors.Is(err, datadir.ErrInUse):
		return StatusOK, fmt.Sprintf("a mutt process%s holds %s, as mutt serve does while it runs", lockHolder(dir), dir)
	case err != nil:
		return StatusFail, err.Error()
	}
	if err := lock.Release(); err != nil {
		return StatusFail, fmt.Sprintf("releasing %s: %v", lock.Path(), err)
	}
	if r.opts.ExpectRunning {
		return StatusFail, fmt.Sprintf("no server running: nothing holds %s; start mutt serve", filepath.Join(dir, datadir.LockFile))
	}
	return StatusOK, "no server running on " + dir
}

// lockHolder returns " (pid N)" from the lock file of dir, or "" when it
// names no pid.
func lockHolder(dir string) string {
	b, err := os.ReadFile(filepath.Join(dir, datadir.LockFile))
	if err != nil {
		return ""
	}
	pid := strings.TrimSpace(string(b))
	if _, err := strconv.Atoi(pid); err != nil {
		return ""
	}
	return " (pid " + pid + ")"
}
