package health

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/mutt-go/mutt/internal/config"
	"github.com/mutt-go/mutt/internal/embedded/sqlstore"
)

// DefaultTimeout bounds each check when Options.Timeout is zero.
const DefaultTimeout = 3 * time.Second

// Options says what Run checks and how long each check may take.
type Options struct {
	// Config gives the addresses, credentials, key names and thresholds.
	Config config.Config
	// Roles limits the role endpoints checked; nil means every role. A
	// role named here that does not answer fails instead of being skipped.
	Roles []string
	// Timeout bounds each check; zero means DefaultTimeout.
	Timeout time.Duration
	// HTTPClient probes the role endpoints; nil means a plain client.
	HTTPClient *http.Client
	// Logger receives one debug line per check; nil discards.
	Logger *slog.Logger
	// OpenDatabase, when set, selects the embedded mode: Run checks the
	// database it opens, its queues and the data directory's lock instead
	// of Redis and PostgreSQL, and closes it.
	OpenDatabase func(context.Context) (*sqlstore.DB, error)
	// ExpectRunning makes a host where no role answers fail (the roles
	// check), as `mutt health` wants; a restore, run while the services are
	// stopped, leaves it false.
	ExpectRunning bool
}

// Run performs every check concurrently and returns the report. It never
// fails as a whole: whatever goes wrong is a check's fail status.
func Run(ctx context.Context, opts Options) Report {
	if opts.Timeout <= 0 {
		opts.Timeout = DefaultTimeout
	}
	if opts.HTTPClient == nil {
		opts.HTTPClient = &http.Client{
			// A /health endpoint answers itself; a redirect is a wrong address.
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		}
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	r := &runner{opts: opts, red: newRedactor(opts.Config)}

	roles, requested := r.selectRoles()
	var (
		wg                      sync.WaitGroup
		storageChecks, pgChecks []Check
		roleChecks              = make([]Check, len(roles))
	)
	if opts.OpenDatabase != nil {
		wg.Go(func() { storageChecks = r.embeddedChecks(ctx) })
	} else {
		wg.Go(func() { storageChecks = r.redisChecks(ctx) })
		wg.Go(func() { pgChecks = r.postgresChecks(ctx) })
	}
	for i, name := range roles {
		wg.Go(func() { roleChecks[i] = r.roleCheck(ctx, name, requested) })
	}
	wg.Wait()

	checks := slices.Concat(storageChecks, pgChecks, roleChecks, noRoleRunning(roleChecks, requested || !opts.ExpectRunning))
	for i := range checks {
		checks[i].Detail = r.red.redact(checks[i].Detail)
		opts.Logger.Debug("health check", "check", checks[i].Name, "status", string(checks[i].Status),
			"detail", checks[i].Detail, "latency", checks[i].Latency)
	}
	return newReport(checks)
}

// runner holds what every check of one Run shares.
type runner struct {
	opts Options
	red  redactor
}

// selectRoles returns the roles to probe, in the canonical order followed by
// unknown names (which fail), and whether they were asked for explicitly.
func (r *runner) selectRoles() ([]string, bool) {
	if r.opts.Roles == nil {
		return RoleNames(), false
	}
	var out []string
	for _, name := range RoleNames() {
		if slices.Contains(r.opts.Roles, name) {
			out = append(out, name)
		}
	}
	for _, name := range r.opts.Roles {
		if !slices.Contains(out, name) {
			out = append(out, name)
		}
	}
	return out, true
}

// timed runs fn with the check timeout and fills in the name and latency.
func (r *runner) timed(ctx context.Context, name string, fn func(context.Context) (Status, string)) Check {
	cctx, cancel := context.WithTimeout(ctx, r.opts.Timeout)
	defer cancel()
	start := time.Now()
	status, detail := fn(cctx)
	return Check{Name: name, Status: status, Detail: detail, Latency: time.Since(start)}
}

// CheckRoles is the check that fails when no role answers at all.
const CheckRoles = "roles"

// noRoleRunning returns a failing check when none of the roles probed
// answered: a host where nothing of MUTT runs is not healthy, although each
// role alone may be skipped. skip turns the check off (roles named one by
// one fail by themselves; a restore expects nothing to run).
func noRoleRunning(roles []Check, skip bool) []Check {
	if skip || len(roles) == 0 {
		return nil
	}
	for _, c := range roles {
		if c.Status != StatusSkipped {
			return nil
		}
	}
	return []Check{{Name: CheckRoles, Status: StatusFail,
		Detail: "no MUTT role answers on its configured address: start them (mutt serve), or point the *_LISTEN / *_PORT_* variables at where they run"}}
}
