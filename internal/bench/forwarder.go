package bench

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/redis/go-redis/v9"

	"github.com/mutt-go/mutt/internal/alerter"
	"github.com/mutt-go/mutt/internal/event"
	"github.com/mutt-go/mutt/internal/obs"
	"github.com/mutt-go/mutt/internal/queue"
	"github.com/mutt-go/mutt/internal/rules"
	"github.com/mutt-go/mutt/internal/sender"
)

// TargetForwarderAlertsPerSecond is the delivery target of one forwarder
// process with the rate limit off.
const TargetForwarderAlertsPerSecond = 10_000

// ForwarderOptions describe a forwarder run.
type ForwarderOptions struct {
	// Alerts is the number of alerts put on the alert queue before the
	// forwarder starts (default 200,000).
	Alerts int
	// Workers, BatchSize and Concurrency override the configured forwarder
	// workers, batch size and requests in flight per worker when positive.
	Workers     int
	BatchSize   int
	Concurrency int
	// Seed chooses the generated events the alerts are made of (default 1).
	Seed int64
}

func (o *ForwarderOptions) defaults() {
	if o.Alerts <= 0 {
		o.Alerts = 200_000
	}
	if o.Seed == 0 {
		o.Seed = 1
	}
}

// RunForwarder fills the alert queue with alerts shaped as the alerter
// queues them, then starts one forwarder wired as the forwarder role wires
// it (retry, breaker, rate limiter, webhook), with the rate limit off, and
// delivering to a fake Moogsoft behind a net/http server on a loopback
// port in this process. It is timed from the forwarder's start until the
// fake has received every alert's external ID; the run then waits for the
// last commits and checks that nothing is left queued, scheduled or
// dead-lettered.
func (e *Env) RunForwarder(ctx context.Context, o ForwarderOptions) (Result, error) {
	o.defaults()
	cfg := e.cfg
	fc := &cfg.Forwarder
	if o.Workers > 0 {
		fc.Workers = o.Workers
	}
	if o.BatchSize > 0 {
		fc.BatchSize = o.BatchSize
	}
	if o.Concurrency > 0 {
		fc.Concurrency = o.Concurrency
	}
	fc.RateLimit = 0
	id := fmt.Sprintf("forwarder-w%d-b%d-c%d", fc.Workers, fc.BatchSize, fc.Concurrency)
	breaker := "breaker on"
	if !fc.BreakerEnabled {
		breaker = "breaker off"
	}
	res := Result{
		ID: id, Kind: KindForwarder,
		Scenario: fmt.Sprintf("forwarder delivery of %d queued alerts to a fake Moogsoft over loopback HTTP, %d workers, batch %d, %d requests in flight per worker, rate limit off, %s",
			o.Alerts, fc.Workers, fc.BatchSize, fc.Concurrency, breaker),
		Workers: fc.Workers, ForwarderBatch: fc.BatchSize, Concurrency: fc.Concurrency,
		Target: Target{Metric: MetricAlertsPerSecond, Min: TargetForwarderAlertsPerSecond},
	}
	res.Notes = append(res.Notes, "the fake Moogsoft runs in the same process and shares the CPUs with the forwarder and Redis")
	if err := e.resetKeys(ctx); err != nil {
		return res, err
	}
	defer func() { _ = e.resetKeys(context.WithoutCancel(ctx)) }()

	e.say("%s: building and queueing %d alerts", id, o.Alerts)
	if err := e.queueAlerts(ctx, cfg.Keys.AlertQueue, o); err != nil {
		return res, err
	}
	moog, err := startFakeMoog(o.Alerts, nil, e.logger)
	if err != nil {
		return res, err
	}
	defer moog.stop()
	logger := e.logger.With("component", "forwarder")
	f, webhook, err := newForwarder(cfg, e.rdb, moog, obs.NewRegistry(), logger, nil)
	if err != nil {
		return res, err
	}
	defer func() { _ = webhook.Close() }()

	e.say("%s: delivering", id)
	m, err := e.startMeasuring(ctx, id)
	if err != nil {
		return res, err
	}
	runCtx, stop := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Go(func() {
		if err := f.Run(runCtx); err != nil && runCtx.Err() == nil {
			logger.Error("forwarder stopped", "error", err)
		}
	})
	start := time.Now()
	err = waitFor(ctx, "the fake Moogsoft to receive every alert", func() (int64, bool, error) {
		n := int64(moog.fake.Distinct())
		return n, n >= int64(o.Alerts), nil
	})
	elapsed := time.Since(start)
	if err == nil {
		// The fake has every alert once its last request is answered; the
		// batch's commit follows. Count its Redis calls too.
		err = waitFor(ctx, "the forwarder to commit its last batch", func() (int64, bool, error) {
			n, err := e.own.XLen(ctx, cfg.Keys.AlertQueue).Result()
			return -n, n == 0, err
		})
	}
	if err == nil {
		err = e.finish(ctx, m, &res, int64(o.Alerts), elapsed)
	} else {
		_, _ = m.stopProfile()
	}
	stop()
	wg.Wait()
	if err != nil {
		return res, err
	}
	res.check()
	res.Delivered = int64(moog.fake.Distinct())
	res.Duplicates = int64(moog.fake.Duplicates())
	left, err := e.leftovers(ctx, cfg)
	if err != nil {
		return res, err
	}
	if !left.empty() {
		return res, fmt.Errorf("after delivering every alert: %s", left)
	}
	return res, nil
}

// waitFor polls check until it reports done. It gives up when ctx ends or
// when the progress figure check returns has not changed for stallTimeout.
func waitFor(ctx context.Context, what string, check func() (progress int64, done bool, err error)) error {
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	var last int64
	lastChange := time.Now()
	for first := true; ; first = false {
		n, done, err := check()
		if err != nil {
			return fmt.Errorf("waiting for %s: %w", what, err)
		}
		if done {
			return nil
		}
		if first || n != last {
			last, lastChange = n, time.Now()
		} else if time.Since(lastChange) > stallTimeout {
			return fmt.Errorf("no progress for %s while waiting for %s (see the log)", stallTimeout, what)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
		}
	}
}

// queueAlerts puts the run's alerts on the alert queue as the alerter's
// commit does (XADD <queue> * e <alert>), in pipelines of 1000. The alerts
// are dropped on return, so the collector does not carry them into the
// timed part.
func (e *Env) queueAlerts(ctx context.Context, key string, o ForwarderOptions) error {
	alerts, err := prepareAlerts(o.Alerts, o.Seed, e.cfg.Ingest.RequiredFields)
	if err != nil {
		return err
	}
	const chunk = 1000
	for i := 0; i < len(alerts); i += chunk {
		_, err := e.own.Pipelined(ctx, func(p redis.Pipeliner) error {
			for _, a := range alerts[i:min(i+chunk, len(alerts))] {
				p.XAdd(ctx, &redis.XAddArgs{Stream: key, Values: []any{queue.PayloadField, a}})
			}
			return nil
		})
		if err != nil {
			return fmt.Errorf("filling the alert queue: %w", err)
		}
	}
	n, err := e.own.XLen(ctx, key).Result()
	if err != nil {
		return fmt.Errorf("measuring the alert queue: %w", err)
	}
	if n != int64(len(alerts)) {
		return fmt.Errorf("the alert queue holds %d alerts after filling, want %d", n, len(alerts))
	}
	runtime.GC()
	return nil
}

// benchSnapshot compiles RuleSet(rules) with the bench's development hosts
// and teams, numbering the rules from 1 as the database would.
func benchSnapshot(n int) (*rules.Snapshot, error) {
	set := RuleSet(n)
	for i := range set {
		set[i].ID = int64(i + 1)
	}
	snap, problems := rules.Compile(set, devHosts, deviceTeams)
	if len(problems) > 0 {
		return nil, fmt.Errorf("compiling the bench rules: %w", errors.Join(problems...))
	}
	return snap, nil
}

// prepareAlerts builds n alerts the way the alerter builds them for
// events a rule forwards: generated events, normalised as the ingestor
// does with an event ID of their own and the current time, decided by
// RuleSet(50). The generated events the rules forward are used in turn.
func prepareAlerts(n int, seed int64, required []string) ([][]byte, error) {
	snap, err := benchSnapshot(50)
	if err != nil {
		return nil, err
	}
	opts := &event.Options{RequiredFields: required}
	raw := sender.Generate(distinctEvents, seed)
	type forwarded struct {
		raw []byte
		d   rules.Decision
	}
	var fwd []forwarded
	for i, ev := range raw {
		norm, err := event.Normalize(ev, event.Stamp{}, opts)
		if err != nil {
			return nil, fmt.Errorf("normalising generated event %d: %w", i, err)
		}
		d := snap.Decide(rules.Event{Hostname: norm.Hostname, Message: norm.Message, TrapOID: norm.TrapOID, Severity: norm.Severity})
		if d.Forward {
			fwd = append(fwd, forwarded{raw: ev, d: d})
		}
	}
	if len(fwd) == 0 {
		return nil, errors.New("the bench rules forward none of the generated events")
	}
	now := time.Now().UTC()
	correlation := uuid.NewString()
	out := make([][]byte, 0, n)
	for i := range n {
		f := fwd[i%len(fwd)]
		ts := now.Add(-time.Duration(n-i) * time.Millisecond).Format(time.RFC3339Nano)
		id := uuid.NewString()
		ev, err := event.Normalize(restamp(f.raw, ts), event.Stamp{EventID: id, CorrelationID: correlation}, opts)
		if err != nil {
			return nil, fmt.Errorf("normalising alert %d: %w", i, err)
		}
		out = append(out, alerter.AppendAlert(make([]byte, 0, 256+len(ev.JSON)), &ev, id, f.d))
	}
	return out, nil
}
