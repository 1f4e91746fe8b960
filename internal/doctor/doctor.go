package doctor

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/redis/go-redis/v9"

	"github.com/mutt-go/mutt/internal/config"
	"github.com/mutt-go/mutt/internal/health"
)

// Exit codes of `mutt doctor`, for scripts.
const (
	ExitOK       = 0 // every check ok or skipped
	ExitWarning  = 1 // at least one warning, no failure
	ExitCritical = 2 // at least one failure
)

// Finding is the outcome of one check.
type Finding struct {
	ID        string        `json:"id"`
	Status    health.Status `json:"status"`
	Value     string        `json:"value"`
	Threshold string        `json:"threshold,omitempty"`
	Remedy    string        `json:"remedy,omitempty"`
}

// Report is every finding, in the order of Checks, and the worst status.
type Report struct {
	Status   health.Status `json:"status"`
	Findings []Finding     `json:"findings"`
}

// ExitCode maps the report's status to ExitOK, ExitWarning or ExitCritical.
func (r Report) ExitCode() int {
	switch r.Status {
	case health.StatusFail:
		return ExitCritical
	case health.StatusWarn:
		return ExitWarning
	}
	return ExitOK
}

// Thresholds are the warn and fail levels of the checks.
type Thresholds struct {
	RedisMemoryWarn, RedisMemoryFail float64       // used_memory / maxmemory
	FragWarn, FragFail               float64       // mem_fragmentation_ratio, judged above FragMinBytes
	FragMinBytes                     int64         // below this much used memory fragmentation means nothing
	PendingIdleWarn, PendingIdleFail time.Duration // idle time of the oldest pending message
	DLQDepthWarn, DLQDepthFail       int64         // entries in a dead-letter queue
	DLQGrowthWarn, DLQGrowthFail     int64         // entries added to one in the last hour
	BreakerOpenFail                  time.Duration // how long OPEN may last before it fails
	PGConnectionsWarn                float64       // used / max_connections
	PGConnectionsFail                float64
	PartitionsAhead                  int           // monthly partitions after the current one
	VaultTTLWarn                     time.Duration // token lifetime left
	BackupWarn, BackupFail           time.Duration // age of the newest verified postgres set
	RetentionStale                   time.Duration // age of the last retention run
	ActiveDays                       int           // the audit active period retention enforces
	ClockWarn, ClockFail             time.Duration // |host − server| clock offset
}

// DefaultThresholds are the operations guide's levels.
func DefaultThresholds() Thresholds {
	return Thresholds{
		RedisMemoryWarn: 0.80, RedisMemoryFail: 0.95,
		FragWarn: 1.5, FragFail: 2.0, FragMinBytes: 64 << 20,
		PendingIdleWarn: 5 * time.Minute, PendingIdleFail: 15 * time.Minute,
		DLQDepthWarn: 100, DLQDepthFail: 1000,
		DLQGrowthWarn: 10, DLQGrowthFail: 1000,
		BreakerOpenFail:   10 * time.Minute,
		PGConnectionsWarn: 0.80, PGConnectionsFail: 0.95,
		PartitionsAhead: 3,
		VaultTTLWarn:    24 * time.Hour,
		BackupWarn:      26 * time.Hour, BackupFail: 48 * time.Hour,
		RetentionStale: 25 * time.Hour, ActiveDays: 90,
		ClockWarn: time.Second, ClockFail: 5 * time.Second,
	}
}

// Options are what Run checks and with which connections.
type Options struct {
	Config config.Config
	// Redis is required; every Redis check fails without an answer.
	Redis redis.UniversalClient
	// Postgres, when nil, skips the PostgreSQL checks.
	Postgres *pgxpool.Pool
	// PostgresError is why Postgres is nil, reported by pg.connections.
	PostgresError error
	// BackupRoot is the local backup root; "" skips backup.postgres.
	BackupRoot string
	// VaultTTL returns the remaining lifetime of the Vault token; nil
	// (Vault not configured) skips vault.token.
	VaultTTL func(ctx context.Context) (time.Duration, error)
	// Now is the host clock; time.Now when nil.
	Now func() time.Time
	// Thresholds; the zero value means DefaultThresholds.
	Thresholds Thresholds
	// Only, when not empty, runs only the checks with these IDs.
	Only []string
	// Timeout bounds each check; 5 s when zero.
	Timeout time.Duration
	Logger  *slog.Logger
}

// check is one diagnostic: an ID and the function that measures it.
type check struct {
	id  string
	run func(ctx context.Context, o *Options) Finding
}

// checks lists every diagnostic in report order.
var checks = []check{
	{"redis.memory", checkRedisMemory},
	{"redis.policy", checkRedisPolicy},
	{"redis.persistence", checkRedisPersistence},
	{"queue.pending", checkPending},
	{"queue.dlq", checkDLQ},
	{"cb.state", checkBreaker},
	{"pg.connections", checkPGConnections},
	{"pg.partitions", checkPartitions},
	{"vault.token", checkVault},
	{"backup.postgres", checkBackup},
	{"retention.last", checkRetention},
	{"retention.lag", checkArchivingLag},
	{"host.clock", checkClock},
}

// CheckIDs returns the IDs of every check, in report order.
func CheckIDs() []string {
	out := make([]string, len(checks))
	for i, c := range checks {
		out[i] = c.id
	}
	return out
}

// ValidateOnly names the first unknown check ID of only.
func ValidateOnly(only []string) error {
	for _, id := range only {
		if !slices.Contains(CheckIDs(), id) {
			return fmt.Errorf("unknown check %q (known: %s)", id, strings.Join(CheckIDs(), ", "))
		}
	}
	return nil
}

// Run runs the checks concurrently, each within the timeout, and returns
// the report.
func Run(ctx context.Context, o Options) Report {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Thresholds == (Thresholds{}) {
		o.Thresholds = DefaultThresholds()
	}
	if o.Timeout <= 0 {
		o.Timeout = 5 * time.Second
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	var selected []check
	for _, c := range checks {
		if len(o.Only) == 0 || slices.Contains(o.Only, c.id) {
			selected = append(selected, c)
		}
	}
	out := make([]Finding, len(selected))
	var wg sync.WaitGroup
	for i, c := range selected {
		wg.Go(func() {
			cctx, cancel := context.WithTimeout(ctx, o.Timeout)
			defer cancel()
			f := c.run(cctx, &o)
			f.ID = c.id
			out[i] = f
		})
	}
	wg.Wait()
	rep := Report{Status: health.StatusOK, Findings: out}
	for _, f := range out {
		rep.Status = health.Worst(rep.Status, f.Status)
	}
	return rep
}

// ok, warn, fail and skipped build findings.
func ok(value, threshold string) Finding {
	return Finding{Status: health.StatusOK, Value: value, Threshold: threshold}
}

func warn(value, threshold, remedy string) Finding {
	return Finding{Status: health.StatusWarn, Value: value, Threshold: threshold, Remedy: remedy}
}

func fail(value, threshold, remedy string) Finding {
	return Finding{Status: health.StatusFail, Value: value, Threshold: threshold, Remedy: remedy}
}

func skipped(why string) Finding {
	return Finding{Status: health.StatusSkipped, Value: why}
}

// judge returns fail, warn or ok for a measured value against two levels
// (higher is worse).
func judge(v, warnAt, failAt float64) health.Status {
	switch {
	case v > failAt:
		return health.StatusFail
	case v > warnAt:
		return health.StatusWarn
	}
	return health.StatusOK
}

// finding builds a finding of status s, with the remedy only when s is not ok.
func finding(s health.Status, value, threshold, remedy string) Finding {
	f := Finding{Status: s, Value: value, Threshold: threshold}
	if s != health.StatusOK {
		f.Remedy = remedy
	}
	return f
}
