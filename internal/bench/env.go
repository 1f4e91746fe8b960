package bench

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net/url"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/redis/go-redis/v9"

	"github.com/mutt-go/mutt/internal/app"
	"github.com/mutt-go/mutt/internal/config"
	"github.com/mutt-go/mutt/internal/store"
)

// The local servers, used when the configuration names no URL.
const (
	// DefaultRedisURL is the Redis of this machine.
	DefaultRedisURL = "redis://127.0.0.1:6379/0"
	// DefaultAdminDatabaseURL is the postgres database of this machine's
	// PostgreSQL, as its superuser.
	DefaultAdminDatabaseURL = "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"
)

// namePrefix starts the name of every scratch database and key prefix, so
// that leftovers of a killed run are easy to recognise.
const namePrefix = "mutt_bench_"

// Options say where the benchmarks run.
type Options struct {
	// Config is MUTT's configuration. Its tuning (alerter workers and batch
	// size, pool sizes, body limit, …) is used as is; its Redis and
	// PostgreSQL addresses are replaced by RedisURL and the scratch
	// database, and its key names by the scratch prefix. The throughput
	// scenarios block at most 500 ms on an empty queue, so they stop soon
	// after a drain; the end-to-end scenario uses the blocks as given.
	Config config.Config
	// RedisURL is the Redis to run against (default DefaultRedisURL).
	RedisURL string
	// AdminDatabaseURL is a database on the PostgreSQL server to run against
	// where the scratch database can be created and dropped (default
	// DefaultAdminDatabaseURL).
	AdminDatabaseURL string
	// Logger receives the components' logs; nil discards them.
	Logger *slog.Logger
	// Progress, when not nil, receives a line as each phase starts.
	Progress io.Writer
	// ProfileDir, when not empty, receives a CPU profile of each scenario's
	// timed part, named <scenario id>.cpu.pprof.
	ProfileDir string
}

// Env is a scratch database and key prefix with connections to them. Create
// it with Setup and always Close it: Close drops the database and deletes
// the keys.
type Env struct {
	cfg        config.Config
	shipped    config.Config // the configuration as given, before the harness's changes
	adminURL   string
	database   string
	logger     *slog.Logger
	progress   io.Writer
	profileDir string

	rdb      redis.UniversalClient // the components' client; every call is counted
	counter  *callCounter
	own      redis.UniversalClient // the harness's client for INFO and polling
	ownCalls *callCounter
	pool     *pgxpool.Pool
	machine  Machine
}

// Setup creates a database and a key prefix named mutt_bench_<random>,
// applies the schema and connects to both. On error nothing is left behind.
func Setup(ctx context.Context, opts Options) (_ *Env, err error) {
	if opts.RedisURL == "" {
		opts.RedisURL = DefaultRedisURL
	}
	if opts.AdminDatabaseURL == "" {
		opts.AdminDatabaseURL = DefaultAdminDatabaseURL
	}
	logger := opts.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	name, err := randomName()
	if err != nil {
		return nil, err
	}
	e := &Env{
		adminURL: opts.AdminDatabaseURL, logger: logger, progress: opts.Progress,
		profileDir: opts.ProfileDir, counter: newCallCounter(), ownCalls: newCallCounter(),
		machine: newMachine(),
	}
	defer func() {
		if err != nil {
			cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
			defer cancel()
			err = errors.Join(err, e.Close(cctx))
		}
	}()

	dbURL, err := databaseURL(opts.AdminDatabaseURL, name)
	if err != nil {
		return nil, err
	}
	if err := e.adminExec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()); err != nil {
		return nil, fmt.Errorf("creating scratch database %s: %w", name, err)
	}
	e.database = name

	e.shipped = opts.Config
	cfg := opts.Config
	cfg.KeyPrefix = name
	cfg.Keys = config.Keys{}
	cfg.PodName = name
	cfg.Finish()
	cfg.Redis.URL = config.NewURL(opts.RedisURL)
	cfg.Postgres.URL = config.NewURL(dbURL)
	// Nobody drains the alert queue here; shedding would stall the alerter
	// and the warning would repeat every 30 s.
	cfg.Alerter.Shedding.Mode = config.ShedOff
	cfg.Alerter.Shedding.WarnThreshold = math.MaxInt64
	// A worker blocks this long on an empty queue, so it is also how long a
	// stop takes after a drain; while events wait it makes no difference.
	cfg.Alerter.Block = min(cfg.Alerter.Block, 500*time.Millisecond)
	cfg.Forwarder.Block = min(cfg.Forwarder.Block, 500*time.Millisecond)
	// Runtime overrides are another service's data: a run uses the static
	// configuration only.
	cfg.DynamicConfigEnabled = false
	e.cfg = cfg

	if e.rdb, err = app.ConnectRedis(ctx, cfg.Redis, logger); err != nil {
		return nil, err
	}
	e.rdb.AddHook(e.counter)
	if e.own, err = app.ConnectRedis(ctx, cfg.Redis, logger); err != nil {
		return nil, err
	}
	e.own.AddHook(e.ownCalls)
	if e.pool, err = app.ConnectPostgres(ctx, cfg.Postgres, logger); err != nil {
		return nil, err
	}
	if err := store.Migrate(ctx, e.pool, logger); err != nil {
		return nil, fmt.Errorf("migrating scratch database: %w", err)
	}
	if _, err := store.EnsurePartitions(ctx, e.pool, time.Now(), 3); err != nil {
		return nil, fmt.Errorf("creating audit partitions: %w", err)
	}

	e.machine.Redis = serverVersion(ctx, e.own)
	e.machine.LocalRedis = isLocalRedis(e.own)
	_ = e.pool.QueryRow(ctx, "SHOW server_version").Scan(&e.machine.PostgreSQL)
	return e, nil
}

// Machine describes the machine and servers of the run.
func (e *Env) Machine() Machine { return e.machine }

// Name returns the scratch database name, which is also the key prefix.
func (e *Env) Name() string { return e.cfg.KeyPrefix }

// Close drops the scratch database and deletes every key under the scratch
// prefix, then closes the connections. Give it a context that is not
// already cancelled (context.WithoutCancel) when cleaning up after Ctrl-C.
func (e *Env) Close(ctx context.Context) error {
	var errs []error
	if e.pool != nil {
		e.pool.Close()
		e.pool = nil
	}
	if e.database != "" {
		if err := e.adminExec(ctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{e.database}.Sanitize()+" WITH (FORCE)"); err != nil {
			errs = append(errs, fmt.Errorf("dropping scratch database %s: %w", e.database, err))
		}
		e.database = ""
	}
	if e.own != nil {
		if err := deleteKeys(ctx, e.own, e.cfg.KeyPrefix+":*"); err != nil {
			errs = append(errs, err)
		}
		_ = e.own.Close()
		e.own = nil
	}
	if e.rdb != nil {
		_ = e.rdb.Close()
		e.rdb = nil
	}
	return errors.Join(errs...)
}

func (e *Env) adminExec(ctx context.Context, sql string) error {
	conn, err := pgx.Connect(ctx, e.adminURL)
	if err != nil {
		return fmt.Errorf("connecting to PostgreSQL at %s: %w", redactURL(e.adminURL), err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	_, err = conn.Exec(ctx, sql)
	return err
}

// resetKeys empties the scratch key space between scenarios.
func (e *Env) resetKeys(ctx context.Context) error {
	return deleteKeys(ctx, e.own, e.cfg.KeyPrefix+":*")
}

// say writes a progress line.
func (e *Env) say(format string, args ...any) {
	if e.progress != nil {
		fmt.Fprintf(e.progress, "bench: "+format+"\n", args...)
	}
}

func randomName() (string, error) {
	var b [6]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("choosing a scratch name: %w", err)
	}
	return namePrefix + hex.EncodeToString(b[:]), nil
}

// databaseURL returns admin with its database replaced by name.
func databaseURL(admin, name string) (string, error) {
	u, err := url.Parse(admin)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		return "", fmt.Errorf("admin database URL %q: want postgres://user@host:port/database", redactURL(admin))
	}
	u.Path = "/" + name
	u.RawPath = ""
	return u.String(), nil
}

// redactURL hides a URL's password for messages.
func redactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(unparsable URL)"
	}
	return u.Redacted()
}
