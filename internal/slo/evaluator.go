package slo

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"
)

// Default timings of an evaluation.
const (
	DefaultRetryWait    = 2 * time.Second
	DefaultQueryTimeout = 5 * time.Second
	DefaultDeadline     = 20 * time.Second
)

// Evaluator evaluates every SLO against one Prometheus server. Its fields
// may be changed before the first Report and not after; Report is safe
// for concurrent use.
type Evaluator struct {
	// RetryWait is the pause before the one retry of a failed query.
	RetryWait time.Duration
	// QueryTimeout bounds each attempt of a query.
	QueryTimeout time.Duration
	// Deadline bounds a whole evaluation; queries still running when it
	// passes count as no data.
	Deadline time.Duration
	// Logger receives query failures; nil discards them.
	Logger *slog.Logger

	prometheusURL string
	settings      Settings
	client        *http.Client
}

// NewEvaluator returns an evaluator that queries the Prometheus server at
// prometheusURL (e.g. http://localhost:9090) with client (nil: a default
// client) and reads overrides from settings (nil: none).
func NewEvaluator(prometheusURL string, settings Settings, client *http.Client) *Evaluator {
	if client == nil {
		client = &http.Client{}
	}
	return &Evaluator{
		RetryWait:     DefaultRetryWait,
		QueryTimeout:  DefaultQueryTimeout,
		Deadline:      DefaultDeadline,
		prometheusURL: prometheusURL,
		settings:      settings,
		client:        client,
	}
}

// Component summarises an availability SLO in the shape dashboards read.
// The numbers are null when Prometheus returned no data.
type Component struct {
	Component            string   `json:"component"`
	Target               *float64 `json:"target"`
	Availability         *float64 `json:"availability"`
	ErrorBudgetRemaining *float64 `json:"error_budget_remaining"`
	BurnRate             *float64 `json:"burn_rate"`
	WindowHours          int      `json:"window_hours"`
	State                string   `json:"state"`
}

// Component states.
const (
	StateOK       = "ok"
	StateWarn     = "warn"
	StateCritical = "critical"
)

// Components holds the per-service summaries of the report.
type Components struct {
	Ingestor  Component `json:"ingestor"`
	Forwarder Component `json:"forwarder"`
}

// Report is the body of GET /api/v1/slo: the component summaries and every
// SLO's result in definition order.
type Report struct {
	Timestamp   time.Time  `json:"timestamp"`
	WindowHours int        `json:"window_hours"`
	Components  Components `json:"components"`
	SLOs        []Result   `json:"slos"`
}

// Critical returns the results whose status is critical.
func (r Report) Critical() []Result {
	var out []Result
	for _, s := range r.SLOs {
		if s.Status == StatusCritical {
			out = append(out, s)
		}
	}
	return out
}

// Report evaluates every SLO as of now, running the queries concurrently
// under e.Deadline. A query that fails makes its SLO critical with "No
// data from Prometheus"; Report itself fails only for an unusable
// Prometheus URL or when ctx ends first.
func (e *Evaluator) Report(ctx context.Context, now time.Time) (Report, error) {
	base, err := parseBaseURL(e.prometheusURL)
	if err != nil {
		return Report{}, err
	}
	defs := Definitions()
	for i := range defs {
		defs[i] = resolve(defs[i], e.settings)
	}
	qctx, cancel := context.WithTimeout(ctx, e.Deadline)
	defer cancel()
	values := make([]*float64, len(defs))
	var wg sync.WaitGroup
	for i, d := range defs {
		wg.Go(func() { values[i] = e.queryValue(qctx, base, d.Query) })
	}
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return Report{}, fmt.Errorf("evaluating SLOs: %w", err)
	}
	r := Report{
		Timestamp:   now.UTC().Truncate(time.Second),
		WindowHours: globalWindowHours(e.settings, DefaultWindowHours),
		SLOs:        make([]Result, len(defs)),
	}
	for i, d := range defs {
		r.SLOs[i] = judge(d, values[i])
		switch d.Name {
		case IngestorAvailability:
			r.Components.Ingestor = component("ingestor", r.SLOs[i])
		case ForwarderAvailability:
			r.Components.Forwarder = component("forwarder", r.SLOs[i])
		}
	}
	return r, nil
}

// component maps an availability result to its component summary.
func component(name string, res Result) Component {
	c := Component{
		Component:   name,
		WindowHours: res.WindowHours,
		State:       StateCritical,
	}
	if res.ActualValue == nil {
		return c
	}
	c.Target, c.Availability = res.Target, res.ActualValue
	c.ErrorBudgetRemaining, c.BurnRate = res.ErrorBudgetRemaining, res.BurnRate
	switch res.Status {
	case StatusOK:
		c.State = StateOK
	case StatusBreaching, StatusWarning:
		c.State = StateWarn
	}
	return c
}

// parseBaseURL checks that raw is an http(s) URL with a host and drops a
// trailing slash from its path.
func parseBaseURL(raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("parsing Prometheus URL %q: %w", raw, err)
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("prometheus URL %q: want http://host:port or https://host:port", raw)
	}
	u.Path = strings.TrimSuffix(u.Path, "/")
	u.RawQuery, u.Fragment = "", ""
	return u, nil
}

// logger is e.Logger, or one that discards.
func (e *Evaluator) logger() *slog.Logger {
	if e.Logger == nil {
		return slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	return e.Logger
}
