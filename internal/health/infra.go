package health

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"sync"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/redis/go-redis/v9"

	"github.com/mutt-go/mutt/internal/app"
	"github.com/mutt-go/mutt/internal/config"
	"github.com/mutt-go/mutt/internal/queue"
	"github.com/mutt-go/mutt/internal/store"
)

// Check names of the infrastructure: Redis and PostgreSQL, or in the
// embedded mode the database and the server holding the data directory
// (the schema check is of either database).
const (
	CheckRedis    = "redis"
	CheckPostgres = "postgres"
	CheckSchema   = "schema"
	CheckDatabase = "database"
	CheckServer   = "server"
)

// redisChecks connects to Redis, checks it and then, on the same client,
// the depth of every queue. Without a connection the queue checks are
// skipped: the redis check already fails.
func (r *runner) redisChecks(ctx context.Context) []Check {
	specs := queueSpecs(r.opts.Config)
	var client redis.UniversalClient
	first := r.timed(ctx, CheckRedis, func(ctx context.Context) (Status, string) {
		cfg := r.opts.Config.Redis
		cfg.MaxConnections = len(specs) + 1
		c, err := app.ConnectRedis(ctx, cfg, r.opts.Logger)
		if err != nil {
			return StatusFail, timeoutHint(ctx, err)
		}
		client = c
		return redisMemory(ctx, c, r.opts.Config.Redis.Addr())
	})
	if client == nil {
		return append([]Check{first}, skippedQueues(specs, "redis unavailable")...)
	}
	defer client.Close()
	return append([]Check{first}, r.queueChecks(ctx, specs, func(ctx context.Context, q queueSpec) (int64, error) {
		return queue.NewStream(client, q.key, "").Len(ctx)
	})...)
}

// queueChecks measures every queue of specs concurrently with depth.
func (r *runner) queueChecks(ctx context.Context, specs []queueSpec, depth func(context.Context, queueSpec) (int64, error)) []Check {
	out := make([]Check, len(specs))
	var wg sync.WaitGroup
	for i, q := range specs {
		wg.Go(func() {
			out[i] = r.timed(ctx, q.name, func(ctx context.Context) (Status, string) {
				n, err := depth(ctx, q)
				if err != nil {
					return StatusFail, timeoutHint(ctx, err)
				}
				return q.status(n)
			})
		})
	}
	wg.Wait()
	return out
}

// skippedQueues is a skipped check of every queue of specs, saying why.
func skippedQueues(specs []queueSpec, why string) []Check {
	out := make([]Check, len(specs))
	for i, q := range specs {
		out[i] = Check{Name: q.name, Status: StatusSkipped, Detail: why}
	}
	return out
}

// redisMemory reads INFO memory and judges the headroom.
func redisMemory(ctx context.Context, c redis.UniversalClient, addr string) (Status, string) {
	info, err := c.Info(ctx, "memory").Result()
	if err != nil {
		// PING succeeded (ConnectRedis checked it); some managed servers
		// refuse INFO, which is worth a look but not an outage.
		return StatusWarn, fmt.Sprintf("PONG from %s; reading INFO memory: %v", addr, err)
	}
	status, detail := memoryStatus(info)
	return status, fmt.Sprintf("PONG from %s; %s", addr, detail)
}

// postgresChecks connects to PostgreSQL, runs SELECT 1 and then compares
// the schema version with this binary's migrations.
func (r *runner) postgresChecks(ctx context.Context) []Check {
	var pool *pgxpool.Pool
	first := r.timed(ctx, CheckPostgres, func(ctx context.Context) (Status, string) {
		cfg := r.opts.Config.Postgres
		cfg.PoolMinConns, cfg.PoolMaxConns = 0, 2
		p, err := app.ConnectPostgres(ctx, cfg, r.opts.Logger)
		if err != nil {
			return StatusFail, timeoutHint(ctx, err)
		}
		pool = p
		var one int
		var version string
		if err := p.QueryRow(ctx, "SELECT 1, current_setting('server_version')").Scan(&one, &version); err != nil {
			return StatusFail, timeoutHint(ctx, fmt.Errorf("SELECT 1 on %s: %w", postgresAddr(cfg), err))
		}
		return StatusOK, fmt.Sprintf("SELECT 1 on %s (PostgreSQL %s)", postgresAddr(cfg), version)
	})
	if pool == nil {
		return []Check{first, {Name: CheckSchema, Status: StatusSkipped, Detail: "postgres unavailable"}}
	}
	defer pool.Close()
	schema := r.timed(ctx, CheckSchema, func(ctx context.Context) (Status, string) {
		latest, err := store.LatestVersion()
		if err != nil {
			return StatusFail, err.Error()
		}
		current, err := store.SchemaVersion(ctx, pool)
		if err != nil {
			return StatusFail, timeoutHint(ctx, err)
		}
		return schemaStatus(current, latest)
	})
	return []Check{first, schema}
}

// schemaStatus compares the database's schema version with the newest
// migration of the binary: both must be equal.
func schemaStatus(current, latest int64) (Status, string) {
	switch {
	case current == latest:
		return StatusOK, fmt.Sprintf("schema version %d, as this binary expects", current)
	case current == 0:
		return StatusFail, fmt.Sprintf("database not migrated (this binary expects schema version %d): run mutt migrate", latest)
	case current < latest:
		return StatusFail, fmt.Sprintf("schema version %d is older than this binary's %d: run mutt migrate", current, latest)
	default:
		return StatusFail, fmt.Sprintf("schema version %d is newer than this binary's %d: binary older than schema; "+
			"install the mutt release that migrated it", current, latest)
	}
}

// timeoutHint says so when the check ran out of time, which the bare
// error does not always make clear.
func timeoutHint(ctx context.Context, err error) string {
	if errors.Is(ctx.Err(), context.DeadlineExceeded) && !errors.Is(err, context.DeadlineExceeded) {
		return err.Error() + " (check timed out)"
	}
	return err.Error()
}

// postgresAddr names the PostgreSQL server for details.
func postgresAddr(cfg config.Postgres) string {
	if cfg.URL.IsSet() {
		return cfg.URL.String()
	}
	return net.JoinHostPort(cfg.Host, strconv.Itoa(cfg.Port)) + "/" + cfg.Name
}
