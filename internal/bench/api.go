package bench

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/mutt-go/mutt/internal/secrets"
	"github.com/mutt-go/mutt/internal/store"
	"github.com/mutt-go/mutt/internal/web"
)

// TargetAPIP99Millis is the p99 latency, in milliseconds, every measured
// control-plane API request must stay under.
const TargetAPIP99Millis = 50

// APIOptions describe a control-plane API run.
type APIOptions struct {
	Seed SeedOptions
	// Requests is the number of timed requests per endpoint and
	// concurrency (default 2,000).
	Requests int
	// Concurrency lists the numbers of requests in flight to measure
	// (default 1 and 8).
	Concurrency []int
	// Warmup is the number of untimed requests per endpoint first
	// (default 200).
	Warmup int
}

func (o *APIOptions) defaults() {
	if o.Requests <= 0 {
		o.Requests = 2_000
	}
	if len(o.Concurrency) == 0 {
		o.Concurrency = []int{1, 8}
	}
	if o.Warmup <= 0 {
		o.Warmup = 200
	}
}

// EndpointLatency is what one endpoint did at one concurrency.
type EndpointLatency struct {
	Endpoint          string  `json:"endpoint"`
	Concurrency       int     `json:"concurrency"`
	Requests          int     `json:"requests"`
	Seconds           float64 `json:"seconds"`
	RequestsPerSecond float64 `json:"requests_per_second"`
	// Latencies run from sending a request to having read the last byte
	// of its response.
	P50Millis float64 `json:"p50_ms"`
	P95Millis float64 `json:"p95_ms"`
	P99Millis float64 `json:"p99_ms"`
	MaxMillis float64 `json:"max_ms"`
	// ResponseBytes is the body size of the first response.
	ResponseBytes int64 `json:"response_bytes"`
	Met           bool  `json:"met"`
}

// QueryPlan is EXPLAIN (ANALYZE, BUFFERS) of one statement the API sent.
type QueryPlan struct {
	Name string   `json:"name"`
	SQL  string   `json:"sql"`
	Args []string `json:"args"`
	Plan []string `json:"plan"`
}

// APIResult is the outcome of RunAPI.
type APIResult struct {
	Machine         Machine           `json:"machine"`
	Started         time.Time         `json:"started"`
	LoadAverage     string            `json:"load_average_before"`
	Seed            Seeded            `json:"seed"`
	TargetP99Millis float64           `json:"target_p99_ms"`
	Endpoints       []EndpointLatency `json:"endpoints"`
	Plans           []QueryPlan       `json:"plans"`
	Met             bool              `json:"met"`
	Notes           []string          `json:"notes,omitempty"`
}

// TargetMet reports whether every endpoint's p99 stayed under the target.
func (r APIResult) TargetMet() bool { return r.Met }

// Target describes the target for messages.
func (r APIResult) Target() string {
	worst := 0.0
	for _, ep := range r.Endpoints {
		worst = max(worst, ep.P99Millis)
	}
	return fmt.Sprintf("worst p99 %.2f ms, target < %g ms", worst, r.TargetP99Millis)
}

// apiCase is one endpoint to measure: path returns the path of request k,
// check validates a decoded first response.
type apiCase struct {
	name  string
	path  func(k int) string
	check func(body []byte) error
}

// RunAPI seeds the scratch database (SeedAudit), serves the control-plane
// API (web.New, wired as the webui role wires it, over the configured
// PostgreSQL pool) on a loopback port of this process, and drives GET
// /api/v2/rules and GET /api/v2/audit-logs with a hostname filter (a
// different ordinary host each request, and the busiest host) from a Go
// HTTP client, each with o.Requests requests at every concurrency of
// o.Concurrency in a closed loop. Then it shows EXPLAIN (ANALYZE, BUFFERS)
// of the exact statements the store sent for the audit search.
func (e *Env) RunAPI(ctx context.Context, o APIOptions) (res APIResult, err error) {
	o.defaults()
	res = APIResult{Machine: e.machine, Started: time.Now(), LoadAverage: loadAverage(), TargetP99Millis: TargetAPIP99Millis}
	if res.Seed, err = e.SeedAudit(ctx, o.Seed); err != nil {
		return res, err
	}
	key, err := randomKey()
	if err != nil {
		return res, err
	}
	cfg := e.cfg.Web
	cfg.APIKey, cfg.APIKeyNext, cfg.APIKeysFile = secrets.New(key), secrets.Secret{}, ""
	cfg.Dev = false
	if cfg.RateLimitPerMinute > 0 {
		res.Notes = append(res.Notes, fmt.Sprintf("the configured rate limit of %d requests a minute is off for the run", cfg.RateLimitPerMinute))
		cfg.RateLimitPerMinute = 0
	}
	srv, err := web.New(cfg, web.Deps{
		Store: store.New(e.pool), Redis: e.rdb, Keys: e.cfg.Keys, Logger: e.logger.With("component", "webui"),
		Registerer: prometheus.NewRegistry(),
	})
	if err != nil {
		return res, fmt.Errorf("building the web server: %w", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return res, fmt.Errorf("listening on a loopback port: %w", err)
	}
	srvCtx, stop := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Go(func() {
		if err := srv.Serve(srvCtx, ln); err != nil {
			e.logger.Error("web server stopped", "error", err)
		}
	})
	defer func() {
		stop()
		wg.Wait()
	}()

	maxC := slices.Max(o.Concurrency)
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: maxC, MaxConnsPerHost: maxC, DisableCompression: true}}
	defer client.CloseIdleConnections()
	base := "http://" + ln.Addr().String()
	pageSize := cfg.AuditLogPageSize
	hosts := res.Seed.Hosts
	cases := []apiCase{
		{name: fmt.Sprintf("GET /api/v2/rules (%s rules)", group(float64(res.Seed.Rules))),
			path: func(int) string { return "/api/v2/rules" }, check: checkRules(res.Seed.Rules)},
		{name: fmt.Sprintf("GET /api/v2/audit-logs?hostname=<one of %d ordinary hosts>", hosts-1),
			path: func(k int) string {
				return "/api/v2/audit-logs?hostname=" + seedHost(1+(k*37)%(hosts-1))
			}, check: checkAuditPage(pageSize, 0)},
		{name: fmt.Sprintf("GET /api/v2/audit-logs?hostname=<busiest host, %s rows>", group(float64(res.Seed.BusyHostRow))),
			path: func(int) string { return "/api/v2/audit-logs?hostname=" + BusyHost }, check: checkAuditPage(pageSize, res.Seed.BusyHostRow)},
	}
	res.Met = true
	for _, c := range cases {
		e.say("api: %s: warm-up", c.name)
		first, err := e.get(ctx, client, base+c.path(0), key)
		if err != nil {
			return res, err
		}
		if err := c.check(first); err != nil {
			return res, fmt.Errorf("%s: %w", c.name, err)
		}
		if _, _, err := e.drive(ctx, client, base, key, 4, o.Warmup, c.path); err != nil {
			return res, fmt.Errorf("%s: warm-up: %w", c.name, err)
		}
		for _, conc := range o.Concurrency {
			e.say("api: %s: %d requests, %d in flight", c.name, o.Requests, conc)
			durs, elapsed, err := e.drive(ctx, client, base, key, conc, o.Requests, c.path)
			if err != nil {
				return res, fmt.Errorf("%s: %w", c.name, err)
			}
			slices.Sort(durs)
			ep := EndpointLatency{
				Endpoint: c.name, Concurrency: conc, Requests: o.Requests, Seconds: elapsed.Seconds(),
				RequestsPerSecond: float64(o.Requests) / elapsed.Seconds(),
				P50Millis:         millis(percentile(durs, 50)), P95Millis: millis(percentile(durs, 95)),
				P99Millis: millis(percentile(durs, 99)), MaxMillis: millis(durs[len(durs)-1]),
				ResponseBytes: int64(len(first)),
			}
			ep.Met = ep.P99Millis < TargetAPIP99Millis
			res.Met = res.Met && ep.Met
			res.Endpoints = append(res.Endpoints, ep)
		}
	}
	e.say("api: query plans")
	if res.Plans, err = e.auditPlans(ctx, pageSize, seedHost(1), BusyHost); err != nil {
		return res, err
	}
	return res, nil
}

// get fetches one URL and returns its body, which must come with 200.
func (e *Env) get(ctx context.Context, client *http.Client, url, key string) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, fmt.Errorf("building request: %w", err)
	}
	req.Header.Set("X-API-KEY", key)
	resp, err := client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("GET %s: %w", req.URL.Path, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("GET %s: reading the response: %w", req.URL.Path, err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: status %d: %.200s", req.URL.Path, resp.StatusCode, body)
	}
	return body, nil
}

// drive sends n requests, conc at a time in a closed loop, and returns the
// latency of each and the wall time of all. The first failure stops it.
func (e *Env) drive(ctx context.Context, client *http.Client, base, key string, conc, n int, path func(int) string) ([]time.Duration, time.Duration, error) {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	durs := make([]time.Duration, n)
	var next atomic.Int64
	var wg sync.WaitGroup
	start := time.Now()
	for range conc {
		wg.Go(func() {
			for {
				k := int(next.Add(1) - 1)
				if k >= n || ctx.Err() != nil {
					return
				}
				t0 := time.Now()
				if _, err := e.get(ctx, client, base+path(k), key); err != nil {
					cancel(err)
					return
				}
				durs[k] = time.Since(t0)
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	if err := context.Cause(ctx); err != nil {
		return nil, 0, err
	}
	return durs, elapsed, nil
}

// checkRules checks a rules answer holds want rules.
func checkRules(want int64) func([]byte) error {
	return func(body []byte) error {
		var v struct {
			Rules []json.RawMessage `json:"rules"`
		}
		if err := json.Unmarshal(body, &v); err != nil {
			return fmt.Errorf("decoding the answer: %w", err)
		}
		if int64(len(v.Rules)) != want {
			return fmt.Errorf("%d rules in the answer, want %d", len(v.Rules), want)
		}
		return nil
	}
}

// checkAuditPage checks an audit answer is a full first page (or all rows
// when fewer match) and, when total > 0, that it counts total rows.
func checkAuditPage(pageSize int, total int64) func([]byte) error {
	return func(body []byte) error {
		var v struct {
			Logs       []json.RawMessage `json:"logs"`
			Pagination struct {
				Total     int64 `json:"total"`
				Estimated bool  `json:"total_estimated"`
			} `json:"pagination"`
		}
		if err := json.Unmarshal(body, &v); err != nil {
			return fmt.Errorf("decoding the answer: %w", err)
		}
		// Above the store's count cap the total is the planner's estimate:
		// accept it within 10 %.
		off := v.Pagination.Total - total
		if v.Pagination.Estimated && total > 0 && off*10 > -total && off*10 < total {
			off = 0
		}
		if v.Pagination.Total <= 0 || (total > 0 && off != 0) {
			return fmt.Errorf("the answer counts %d rows, want %d", v.Pagination.Total, total)
		}
		if want := min(int64(pageSize), v.Pagination.Total); int64(len(v.Logs)) != want {
			return fmt.Errorf("%d rows on the first page, want %d", len(v.Logs), want)
		}
		return nil
	}
}

// auditPlans runs the store's audit search for each host through a
// connection that records the statements it sends, then shows EXPLAIN
// (ANALYZE, BUFFERS) of each; the data is warm from the timed runs, as it
// is in steady use.
func (e *Env) auditPlans(ctx context.Context, pageSize int, hosts ...string) ([]QueryPlan, error) {
	pc, err := pgxpool.ParseConfig(e.cfg.Postgres.URL.Reveal())
	if err != nil {
		return nil, fmt.Errorf("query plans: %w", err)
	}
	rec := &sqlRecorder{match: "FROM event_audit_log"}
	pc.ConnConfig.Tracer = rec
	pc.MaxConns = 1
	pool, err := pgxpool.NewWithConfig(ctx, pc)
	if err != nil {
		return nil, fmt.Errorf("query plans: connecting: %w", err)
	}
	defer pool.Close()
	st := store.New(pool)
	var plans []QueryPlan
	for _, h := range hosts {
		rec.reset()
		if _, _, _, err := st.SearchEventAudit(ctx, store.EventAuditFilter{Hostname: h, Limit: pageSize}); err != nil {
			return nil, fmt.Errorf("query plans: %w", err)
		}
		for _, s := range rec.statements() {
			kind := "page"
			switch {
			case strings.HasPrefix(strings.TrimSpace(s.sql), "EXPLAIN"):
				// The planner's estimate of a total above the count cap:
				// its cost is planning, shown by the count query's plan.
				continue
			case strings.Contains(s.sql, "count(*)"):
				kind = "count"
			}
			p, err := explain(ctx, pool, s.sql, s.args)
			if err != nil {
				return nil, err
			}
			p.Name = fmt.Sprintf("audit search, %s query, hostname %s", kind, h)
			plans = append(plans, p)
		}
	}
	if len(plans) == 0 {
		return nil, errors.New("query plans: the audit search sent no statement on event_audit_log")
	}
	return plans, nil
}

// explain returns EXPLAIN (ANALYZE, BUFFERS) of sql with args.
func explain(ctx context.Context, pool *pgxpool.Pool, sql string, args []any) (QueryPlan, error) {
	p := QueryPlan{SQL: strings.TrimSpace(sql)}
	for _, a := range args {
		p.Args = append(p.Args, fmt.Sprint(a))
	}
	rows, err := pool.Query(ctx, "EXPLAIN (ANALYZE, BUFFERS) "+sql, args...)
	if err != nil {
		return p, fmt.Errorf("explaining %.60s: %w", p.SQL, err)
	}
	if p.Plan, err = pgx.CollectRows(rows, pgx.RowTo[string]); err != nil {
		return p, fmt.Errorf("explaining %.60s: %w", p.SQL, err)
	}
	return p, nil
}

// recorded is one statement a connection sent.
type recorded struct {
	sql  string
	args []any
}

// sqlRecorder is a pgx tracer that keeps the statements, single or
// batched, whose SQL contains match. Safe for concurrent use.
type sqlRecorder struct {
	match string
	mu    sync.Mutex
	list  []recorded
}

var (
	_ pgx.QueryTracer = (*sqlRecorder)(nil)
	_ pgx.BatchTracer = (*sqlRecorder)(nil)
)

func (r *sqlRecorder) add(sql string, args []any) {
	if !strings.Contains(sql, r.match) {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.list = append(r.list, recorded{sql: sql, args: slices.Clone(args)})
}

func (r *sqlRecorder) reset() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.list = nil
}

func (r *sqlRecorder) statements() []recorded {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.list)
}

// TraceQueryStart records a single statement.
func (r *sqlRecorder) TraceQueryStart(ctx context.Context, _ *pgx.Conn, d pgx.TraceQueryStartData) context.Context {
	r.add(d.SQL, d.Args)
	return ctx
}

// TraceQueryEnd does nothing.
func (r *sqlRecorder) TraceQueryEnd(context.Context, *pgx.Conn, pgx.TraceQueryEndData) {}

// TraceBatchStart does nothing; the statements come one by one.
func (r *sqlRecorder) TraceBatchStart(ctx context.Context, _ *pgx.Conn, _ pgx.TraceBatchStartData) context.Context {
	return ctx
}

// TraceBatchQuery records a statement of a batch.
func (r *sqlRecorder) TraceBatchQuery(_ context.Context, _ *pgx.Conn, d pgx.TraceBatchQueryData) {
	r.add(d.SQL, d.Args)
}

// TraceBatchEnd does nothing.
func (r *sqlRecorder) TraceBatchEnd(context.Context, *pgx.Conn, pgx.TraceBatchEndData) {}

// WriteText renders the result for people.
func (r APIResult) WriteText(w io.Writer) error {
	var b strings.Builder
	writeHeader(&b, r.Machine, r.Started, r.LoadAverage)
	fmt.Fprintf(&b, "\ncontrol-plane API latency, served in-process on a loopback port, closed loop\n")
	writeSeed(&b, r.Seed)
	for _, ep := range r.Endpoints {
		verdict := "MISSED"
		if ep.Met {
			verdict = "met"
		}
		fmt.Fprintf(&b, "  %s, concurrency %d\n", ep.Endpoint, ep.Concurrency)
		fmt.Fprintf(&b, "      p50 %.2f ms, p95 %.2f ms, p99 %.2f ms, max %.2f ms; %s requests/s (%s requests in %.2f s, %s bytes each); p99 < %g ms: %s\n",
			ep.P50Millis, ep.P95Millis, ep.P99Millis, ep.MaxMillis, group(ep.RequestsPerSecond), group(float64(ep.Requests)),
			ep.Seconds, group(float64(ep.ResponseBytes)), r.TargetP99Millis, verdict)
	}
	b.WriteString("  latency     from sending the request to reading the last byte of the response\n")
	for _, p := range r.Plans {
		fmt.Fprintf(&b, "\n  plan: %s\n    %s\n    args: %s\n", p.Name, strings.ReplaceAll(p.SQL, "\n", "\n    "), strings.Join(p.Args, ", "))
		for _, line := range p.Plan {
			fmt.Fprintf(&b, "    | %s\n", line)
		}
	}
	for _, n := range r.Notes {
		fmt.Fprintf(&b, "  note        %s\n", n)
	}
	_, err := io.WriteString(w, b.String())
	return err
}
