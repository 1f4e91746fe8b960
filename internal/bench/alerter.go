package bench

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/mutt-go/mutt/internal/alerter"
	"github.com/mutt-go/mutt/internal/app"
	"github.com/mutt-go/mutt/internal/event"
	"github.com/mutt-go/mutt/internal/obs"
	"github.com/mutt-go/mutt/internal/queue"
	"github.com/mutt-go/mutt/internal/rules"
	"github.com/mutt-go/mutt/internal/sender"
	"github.com/mutt-go/mutt/internal/store"
)

// TargetAlerterEventsPerSecond is the alerter's drain target with 50 rules,
// audit writes included.
const TargetAlerterEventsPerSecond = 25_000

// stallTimeout ends a drain that has made no progress for this long.
const stallTimeout = 60 * time.Second

// AlerterOptions describe an alerter run.
type AlerterOptions struct {
	// Events is the number of events put on the ingest queue before the
	// alerter starts (default 200,000).
	Events int
	// Rules is the size of the rule set (default 50; see RuleSet).
	Rules int
	// Workers and BatchSize override the configured alerter workers and
	// batch size when positive.
	Workers   int
	BatchSize int
	// Seed chooses the generated events (default 1).
	Seed int64
	// Handled is the share of events, in percent, that a paging rule
	// handles: 0 keeps RuleSet's mix (about 43 % handled, 28 % forwarded),
	// 100 uses PagingRuleSet, so every event writes an audit row and an
	// alert. No other value is accepted.
	Handled int
	// Window, when positive, also reports the throughput of every Window
	// events drained, so that a slowdown as the audit table grows shows.
	Window int
	// Ceiling, when set, measures after the drain the PostgreSQL ceiling
	// of the same audit writes: the drain's rows inserted again into the
	// emptied table through the same store call, with the alerter's worker
	// count and batch size, and nothing else running (see AuditCeiling).
	Ceiling bool
}

// AlerterProfiles are the named alerter runs of `mutt bench alerter
// --profile`.
var AlerterProfiles = map[string]AlerterOptions{
	// all-handled: every event is handled by a rule that pages, 2,000,000
	// of them into the current month's partition, with windows of 250,000
	// and the PostgreSQL ceiling of the same run.
	"all-handled": {Events: 2_000_000, Handled: 100, Window: 250_000, Ceiling: true},
}

// Check reports options no run can use.
func (o AlerterOptions) Check() error {
	switch {
	case o.Handled != 0 && o.Handled != 100:
		return fmt.Errorf("handled: %d is not supported; use 0 (the rule set's own mix) or 100 (every event pages)", o.Handled)
	case o.Window < 0:
		return fmt.Errorf("window: must be 0 (none) or a number of events, got %d", o.Window)
	}
	return nil
}

func (o *AlerterOptions) defaults() {
	if o.Events <= 0 {
		o.Events = 200_000
	}
	if o.Rules <= 0 {
		o.Rules = 50
	}
	if o.Seed == 0 {
		o.Seed = 1
	}
}

func (o AlerterOptions) ruleSet() []rules.Rule {
	if o.Handled == 100 {
		return PagingRuleSet(o.Rules)
	}
	return RuleSet(o.Rules)
}

// expected is what the rules should make of the queued events.
type expected struct {
	handled, unhandled, forwarded int64
}

// RunAlerter fills the ingest queue with normalised events, as the ingestor
// would have queued them, then starts an alerter wired as the alerter role
// wires it and times it from start until the ingest queue is empty, which
// is when every batch has been committed (the commit deletes the batch's
// entries). The audit rows written must be exactly the events the rules
// handle.
func (e *Env) RunAlerter(ctx context.Context, o AlerterOptions) (Result, error) {
	o.defaults()
	if err := o.Check(); err != nil {
		return Result{}, err
	}
	cfg := e.cfg
	if o.Workers > 0 {
		cfg.Alerter.Workers = o.Workers
	}
	if o.BatchSize > 0 {
		cfg.Alerter.BatchSize = o.BatchSize
	}
	id := fmt.Sprintf("alerter-rules%d-w%d-b%d", o.Rules, cfg.Alerter.Workers, cfg.Alerter.BatchSize)
	mix := "audit writes included"
	if o.Handled == 100 {
		id = fmt.Sprintf("alerter-paging-rules%d-w%d-b%d", o.Rules, cfg.Alerter.Workers, cfg.Alerter.BatchSize)
		mix = "every event handled and paged (one audit row and one alert each)"
	}
	res := Result{
		ID: id, Kind: KindAlerter,
		Scenario: fmt.Sprintf("alerter drain of %d queued events, %d rules, %d workers, batch %d, %s",
			o.Events, o.Rules, cfg.Alerter.Workers, cfg.Alerter.BatchSize, mix),
		Rules: o.Rules, Workers: cfg.Alerter.Workers, AlerterBatch: cfg.Alerter.BatchSize,
		Target: Target{Metric: MetricEventsPerSecond, Min: TargetAlerterEventsPerSecond},
	}
	if err := e.resetKeys(ctx); err != nil {
		return res, err
	}
	defer func() { _ = e.resetKeys(context.WithoutCancel(ctx)) }()
	st, snap, err := e.prepareRules(ctx, o.ruleSet())
	if err != nil {
		return res, err
	}

	e.say("%s: normalising and queueing %d events", id, o.Events)
	want, err := e.queueEvents(ctx, o, snap)
	if err != nil {
		return res, err
	}
	if o.Handled == 100 && (want.forwarded != int64(o.Events) || want.unhandled != 0) {
		return res, fmt.Errorf("the paging rule set forwards %d of %d events, want all", want.forwarded, o.Events)
	}
	e.checkpoint(ctx)

	a := alerter.New(app.AlerterOptions(cfg), app.NewAlerterRedisBackend(cfg, e.rdb), st, st, nil, obs.NewRegistry(), e.logger.With("component", "alerter"))

	e.say("%s: draining", id)
	m, err := e.startMeasuring(ctx, id)
	if err != nil {
		return res, err
	}
	waits := e.sampleWaits(ctx)
	runCtx, stop := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Go(func() {
		if err := a.Run(runCtx); err != nil && runCtx.Err() == nil {
			e.logger.Error("alerter stopped", "error", err)
		}
	})
	start := time.Now()
	marks := newWindowMarks(start, int64(o.Events), int64(o.Window))
	err = e.waitDrained(ctx, cfg.Keys.IngestQueue, int64(o.Events), marks.drained)
	elapsed := time.Since(start)
	res.Waits = waits.stop()
	res.Windows = marks.windows()
	if err == nil {
		err = e.finish(ctx, m, &res, int64(o.Events), elapsed)
	} else {
		_, _ = m.stopProfile()
	}
	stop()
	wg.Wait()
	if err != nil {
		return res, err
	}
	res.check()

	if err := e.pool.QueryRow(ctx, "SELECT count(*) FROM event_audit_log").Scan(&res.Handled); err != nil {
		return res, fmt.Errorf("counting audit rows: %w", err)
	}
	res.Unhandled = want.unhandled
	if res.Alerts, err = e.own.XLen(ctx, cfg.Keys.AlertQueue).Result(); err != nil {
		return res, fmt.Errorf("measuring the alert queue: %w", err)
	}
	if res.DeadLetters, err = e.own.XLen(ctx, cfg.Keys.AlerterDLQ).Result(); err != nil {
		return res, fmt.Errorf("measuring the dead-letter queue: %w", err)
	}
	res.Notes = append(res.Notes, fmt.Sprintf("expected from the rules: %d handled (%.0f %%), %d forwarded, %d unhandled",
		want.handled, 100*float64(want.handled)/float64(o.Events), want.forwarded, want.unhandled))
	switch {
	case res.Handled != want.handled:
		return res, fmt.Errorf("the alerter wrote %d audit rows, want %d", res.Handled, want.handled)
	case res.Alerts < want.forwarded:
		return res, fmt.Errorf("the alerter queued %d alerts, want at least %d", res.Alerts, want.forwarded)
	case res.DeadLetters != 0:
		return res, fmt.Errorf("the alerter dead-lettered %d events", res.DeadLetters)
	}
	if o.Ceiling {
		e.say("%s: measuring the PostgreSQL ceiling of the same audit writes", id)
		same, reference, err := e.AuditCeiling(ctx, st, o, snap, cfg.Alerter.Workers, cfg.Alerter.BatchSize)
		if err != nil {
			return res, err
		}
		res.Ceiling, res.Reference = &same, &reference
		res.addCeiling()
	}
	return res, nil
}

// queueEvents puts the run's events on the ingest queue. The payloads are
// dropped on return, so the collector does not carry them into the timed
// part.
func (e *Env) queueEvents(ctx context.Context, o AlerterOptions, snap *rules.Snapshot) (expected, error) {
	payloads, want, err := prepareEvents(o.Events, o.Seed, snap, e.cfg.Ingest.RequiredFields)
	if err != nil {
		return want, err
	}
	if err := e.fill(ctx, payloads); err != nil {
		return want, err
	}
	runtime.GC()
	return want, nil
}

// prepareEvents generates n events stamped with the current time, so they
// land in the current month's audit partition, normalises them as the
// ingestor does (with a time-ordered event id, as the ingestor assigns),
// and works out what the rules will decide for them.
func prepareEvents(n int, seed int64, snap *rules.Snapshot, required []string) ([][]byte, expected, error) {
	var want expected
	opts := &event.Options{RequiredFields: required}
	now := time.Now().UTC()
	correlation := uuid.NewString()
	raw := sender.Generate(n, seed)
	out := make([][]byte, 0, len(raw))
	for i, ev := range raw {
		ts := now.Add(-time.Duration(len(raw)-i) * time.Millisecond).Format(time.RFC3339Nano)
		eid, err := uuid.NewV7()
		if err != nil {
			return nil, want, fmt.Errorf("making an event id: %w", err)
		}
		norm, err := event.Normalize(restamp(ev, ts), event.Stamp{EventID: eid.String(), CorrelationID: correlation}, opts)
		if err != nil {
			return nil, want, fmt.Errorf("normalising generated event %d: %w", i, err)
		}
		d := snap.Decide(rules.Event{Hostname: norm.Hostname, Message: norm.Message, TrapOID: norm.TrapOID, Severity: norm.Severity})
		switch {
		case d.Rule == nil:
			want.unhandled++
		case d.Forward:
			want.handled++
			want.forwarded++
		default:
			want.handled++
		}
		out = append(out, norm.JSON)
	}
	return out, want, nil
}

// restamp replaces the value of the first "timestamp" member of a generated
// event (which sender.Generate writes as a plain string) with ts.
func restamp(ev []byte, ts string) []byte {
	const key = `"timestamp":"`
	i := bytes.Index(ev, []byte(key))
	if i < 0 {
		return ev
	}
	start := i + len(key)
	end := bytes.IndexByte(ev[start:], '"')
	if end < 0 {
		return ev
	}
	out := make([]byte, 0, len(ev)+len(ts))
	out = append(out, ev[:start]...)
	out = append(out, ts...)
	return append(out, ev[start+end:]...)
}

// fill appends payloads to the ingest queue through a queue.Producer, as
// the ingestor does, several requests at a time.
func (e *Env) fill(ctx context.Context, payloads [][]byte) error {
	p := queue.NewProducer(e.own, e.cfg.Keys.IngestQueue, queue.ProducerOptions{
		Limit: func() int64 { return int64(len(payloads)) + 1 }, MetricsPrefix: e.cfg.Keys.MetricsPrefix,
	})
	defer p.Close()
	const chunk, parallel = 500, 8
	errs := make(chan error, parallel)
	var wg sync.WaitGroup
	next := make(chan [][]byte)
	for range parallel {
		wg.Go(func() {
			for c := range next {
				if _, err := p.Produce(ctx, c); err != nil {
					errs <- fmt.Errorf("filling the ingest queue: %w", err)
					return
				}
			}
		})
	}
	var err error
feed:
	for i := 0; i < len(payloads); i += chunk {
		select {
		case next <- payloads[i:min(i+chunk, len(payloads))]:
		case err = <-errs:
			break feed
		}
	}
	close(next)
	wg.Wait()
	if err == nil {
		select {
		case err = <-errs:
		default:
		}
	}
	if err != nil {
		return err
	}
	n, err := e.own.XLen(ctx, e.cfg.Keys.IngestQueue).Result()
	if err != nil {
		return fmt.Errorf("measuring the ingest queue: %w", err)
	}
	if n != int64(len(payloads)) {
		return fmt.Errorf("the ingest queue holds %d events after filling, want %d", n, len(payloads))
	}
	return nil
}

// waitDrained polls the ingest queue until it is empty, telling progress,
// when not nil, how many events have been drained at each poll. It gives
// up when ctx ends or when the queue has not shrunk for stallTimeout.
func (e *Env) waitDrained(ctx context.Context, key string, total int64, progress func(drained int64, at time.Time)) error {
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	last, lastChange := total, time.Now()
	for {
		n, err := e.own.XLen(ctx, key).Result()
		if err != nil {
			return fmt.Errorf("measuring the ingest queue: %w", err)
		}
		if progress != nil {
			progress(total-n, time.Now())
		}
		if n == 0 {
			return nil
		}
		if n != last {
			last, lastChange = n, time.Now()
		} else if time.Since(lastChange) > stallTimeout {
			return fmt.Errorf("the alerter made no progress for %s; %d of %d events are still queued (see its log)", stallTimeout, n, total)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
		}
	}
}

// prepareRules loads a bench rule set into the scratch database and returns
// the store and the compiled snapshot the scenario checks against.
func (e *Env) prepareRules(ctx context.Context, set []rules.Rule) (*store.Store, *rules.Snapshot, error) {
	if err := loadRuleSet(ctx, e.pool, set); err != nil {
		return nil, nil, err
	}
	st := store.New(e.pool)
	loaded, err := st.LoadRuleSet(ctx)
	if err != nil {
		return nil, nil, err
	}
	snap, problems := rules.Compile(loaded.Rules, loaded.DevHosts, loaded.Teams)
	if len(problems) > 0 {
		return nil, nil, fmt.Errorf("compiling the bench rules: %w", errors.Join(problems...))
	}
	return st, snap, nil
}
