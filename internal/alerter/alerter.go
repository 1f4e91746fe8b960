package alerter

import (
	"context"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/mutt-go/mutt/internal/dynconfig"
	"github.com/mutt-go/mutt/internal/event"
	"github.com/mutt-go/mutt/internal/queue"
	"github.com/mutt-go/mutt/internal/rules"
	"github.com/mutt-go/mutt/internal/store"
)

// ConsumerGroup is the ingest queue's consumer group shared by all alerters.
const ConsumerGroup = "alerter"

// RuleSource loads the rules, development hosts and teams.
type RuleSource interface {
	LoadRuleSet(ctx context.Context) (store.RuleSet, error)
}

// AuditWriter records handled events.
type AuditWriter interface {
	InsertAudit(ctx context.Context, rows []store.AuditRow) (int64, error)
}

// Options configure an Alerter. Durations and thresholds that dynamic
// config may override are the static fallbacks.
type Options struct {
	PodName         string
	IngestQueue     string
	AlertQueue      string
	DLQ             string
	UnhandledPrefix string
	Workers         int
	BatchSize       int
	Block           time.Duration
	MaxRetries      int
	ReclaimIdle     time.Duration

	CacheReloadInterval  time.Duration
	UnhandledThreshold   int64
	UnhandledExpiry      time.Duration
	UnhandledDefaultTeam string

	ShedWarnThreshold int64
	ShedThreshold     int64
	ShedMode          string
	DeferSleep        time.Duration

	RequiredFields []string
}

// Alerter applies rules to the ingest queue. Create it with New, start it
// with Run.
type Alerter struct {
	opts    Options
	backend Backend
	source  RuleSource
	audit   AuditWriter
	dyn     *dynconfig.Store
	logger  *slog.Logger
	metrics *metrics
	evOpts  event.Options

	snapshot atomic.Pointer[rules.Snapshot]
	reloadCh chan struct{}
	// shedState holds the current load-shedding decision (shedNone, …) and
	// the depth that caused it, set by the monitor goroutine.
	shedState atomic.Int64
	shedDepth atomic.Int64
}

// Shedding decisions.
const (
	shedNone int64 = iota
	shedDefer
	shedDLQ
)

// New builds an alerter over backend; nothing runs until Run. audit
// writes the audit rows a backend does not write in its commit, and the
// rows of a batch the database refused, one by one.
func New(opts Options, backend Backend, source RuleSource, audit AuditWriter, dyn *dynconfig.Store, reg prometheus.Registerer, logger *slog.Logger) *Alerter {
	return &Alerter{
		opts: opts, backend: backend, source: source, audit: audit, dyn: dyn, logger: logger,
		metrics:  newMetrics(reg),
		evOpts:   event.Options{RequiredFields: opts.RequiredFields},
		reloadCh: make(chan struct{}, 1),
	}
}

// Ready reports whether the rules have been loaded; until then the alerter
// consumes nothing and its health check fails.
func (a *Alerter) Ready() bool { return a.snapshot.Load() != nil }

// Snapshot returns the current compiled rules, or nil before the first load.
func (a *Alerter) Snapshot() *rules.Snapshot { return a.snapshot.Load() }

// Reload asks for the rules to be reloaded now (SIGHUP, tests).
func (a *Alerter) Reload() {
	select {
	case a.reloadCh <- struct{}{}:
	default:
	}
}

// Run works until ctx ends. Workers finish the batch in hand before
// returning, so a stop never leaves half a batch committed.
func (a *Alerter) Run(ctx context.Context) error {
	if err := a.backend.Prepare(ctx); err != nil {
		return err
	}
	var wg sync.WaitGroup
	run := func(f func(context.Context)) {
		wg.Add(1)
		go func() { defer wg.Done(); f(ctx) }()
	}
	// Know the downstream depth before the first read, so a backlog is
	// respected from the start.
	var warned time.Time
	a.checkDepths(ctx, &warned)
	run(a.reloadLoop)
	run(a.monitorLoop)
	run(a.reclaimLoop)
	for i := range a.opts.Workers {
		consumer := a.opts.PodName + "-" + strconv.Itoa(i)
		run(func(ctx context.Context) { a.workLoop(ctx, consumer) })
	}
	wg.Wait()
	return nil
}

// Close releases nothing of its own; the backend belongs to the caller. It exists so every component has the same lifecycle.
func (a *Alerter) Close() error { return nil }

// drainGrace is how long a batch in hand may take to finish after a stop.
const drainGrace = 10 * time.Second

func (a *Alerter) workLoop(ctx context.Context, consumer string) {
	log := a.logger.With("consumer", consumer)
	pctx, cancel := queue.DrainContext(ctx, drainGrace)
	defer cancel()
	backoff := newBackoff()
	recovered := false
	for ctx.Err() == nil {
		if !a.Ready() {
			if !queue.Sleep(ctx, 50*time.Millisecond) {
				return
			}
			continue
		}
		if !recovered {
			// A restart under the same name finishes its own work in flight
			// first, instead of leaving it to the reclaimer's idle timeout.
			recovered = true
			if n, err := a.backend.RecoverPending(pctx, consumer, a.opts.BatchSize, a.process); err != nil && ctx.Err() == nil {
				log.Warn("finishing messages pending from before a restart; the reclaimer will retry them", "error", err)
			} else if n > 0 {
				log.Info("finished messages pending from before a restart", "count", n)
			}
		}
		switch a.shedState.Load() {
		case shedDefer:
			a.metrics.shed.WithLabelValues("defer").Inc()
			queue.Sleep(ctx, time.Duration(a.dyn.Int("alerter_defer_sleep_ms", a.opts.DeferSleep.Milliseconds()))*time.Millisecond)
			continue
		case shedDLQ:
			if err := a.shedBatch(ctx, consumer); err != nil {
				log.Warn("shedding load", "error", err)
			}
			queue.Sleep(ctx, 50*time.Millisecond)
			continue
		}
		msgs, err := a.backend.Read(ctx, consumer, a.opts.BatchSize, min(a.opts.Block, queue.MaxBlock))
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			log.Warn("reading ingest queue", "error", err)
			queue.Sleep(ctx, backoff.next())
			continue
		}
		backoff.reset()
		if len(msgs) == 0 {
			continue
		}
		if err := a.process(pctx, msgs); err != nil && ctx.Err() == nil {
			log.Warn("processing batch; it stays pending and will be retried", "error", err, "batch", len(msgs))
		}
	}
}

// process handles one batch end to end. On error nothing was acknowledged:
// the messages stay pending for redelivery.
func (a *Alerter) process(ctx context.Context, msgs []queue.Message) error {
	start := time.Now()
	snap := a.snapshot.Load()
	threshold := a.dyn.Int("unhandled_threshold", a.opts.UnhandledThreshold)
	expiry := a.dyn.Int("unhandled_expiry_seconds", int64(a.opts.UnhandledExpiry/time.Second))

	c := &Batch{IDs: make([]string, 0, len(msgs)), Threshold: threshold, Expiry: time.Duration(expiry) * time.Second}
	var unhandledEvents []unhandledEvent
	rows := make([]store.AuditRow, 0, len(msgs))
	// rowAlert maps each audit row to its alert's index in c.alerts (-1 when
	// the decision sends none), so a rejected row can take its alert back.
	rowAlert := make([]int, 0, len(msgs))
	rowMsg := make([]int, 0, len(msgs))
	var handled, unhandled int
	// Alerts are appended to one buffer and cut from it as they are
	// written: one allocation per batch, not one per alert.
	var arena []byte
	for i, m := range msgs {
		c.IDs = append(c.IDs, m.ID)
		if m.Deliveries > int64(a.opts.MaxRetries)+1 {
			c.Dead = append(c.Dead, a.deadLetter(m, reasonMaxRetries,
				fmt.Sprintf("delivered %d times without being processed (limit %d retries)", m.Deliveries, a.opts.MaxRetries)))
			continue
		}
		ev, err := event.Decode(m.Payload, &a.evOpts)
		if err != nil {
			c.Dead = append(c.Dead, a.deadLetter(m, reasonInvalid, err.Error()))
			continue
		}
		id := a.eventID(ev.ID, m.ID)
		d := snap.Decide(rules.Event{Hostname: ev.Hostname, Message: ev.Message, TrapOID: ev.TrapOID, Severity: ev.Severity})
		if d.Rule == nil {
			unhandled++
			team := snap.Team(ev.Hostname, a.opts.UnhandledDefaultTeam)
			c.UnhandledKeys = append(c.UnhandledKeys, a.opts.UnhandledPrefix+":"+ev.Hostname+":"+rules.UnhandledSignature(ev.Message))
			unhandledEvents = append(unhandledEvents, unhandledEvent{ev: ev, eventID: id, team: team})
			continue
		}
		handled++
		alertIdx := -1
		if d.Forward {
			// A new chunk when this alert may not fit, sized for the
			// rest of the batch: the alerts already cut stay where they
			// are, so nothing is copied as the batch's alerts grow.
			if need := alertOverhead + len(ev.JSON) + 2*len(ev.Message); cap(arena)-len(arena) < need {
				arena = make([]byte, 0, max(need*(len(msgs)-i), minArena))
				if c.Alerts == nil {
					c.Alerts = make([][]byte, 0, len(msgs)-i)
				}
			}
			alertIdx = len(c.Alerts)
			start := len(arena)
			arena = AppendAlert(arena, &ev, id, d)
			c.Alerts = append(c.Alerts, arena[start:len(arena):len(arena)])
		}
		rows = append(rows, store.AuditRow{
			EventID: id, Timestamp: ev.Timestamp, Hostname: ev.Hostname, RuleID: d.Rule.ID,
			Handling: d.Handling, Forwarded: d.Forward, Raw: ev.JSON,
		})
		rowAlert = append(rowAlert, alertIdx)
		rowMsg = append(rowMsg, i)
	}

	if len(unhandledEvents) > 0 {
		c.MetaAlert = func(k int) []byte {
			u := &unhandledEvents[k]
			return appendMetaAlert(nil, &u.ev, u.eventID, u.team, threshold, expiry)
		}
	}

	// reject dead-letters the audit rows the database refused and takes
	// their alerts back.
	reject := func(rejected map[int]string) {
		if len(rejected) == 0 {
			return
		}
		drop := make(map[int]bool, len(rejected))
		for ri, why := range rejected {
			c.Dead = append(c.Dead, a.deadLetter(msgs[rowMsg[ri]], reasonAuditRejected, why))
			if rowAlert[ri] >= 0 {
				drop[rowAlert[ri]] = true
			}
			handled--
		}
		kept := c.Alerts[:0]
		for i, al := range c.Alerts {
			if !drop[i] {
				kept = append(kept, al)
			}
		}
		c.Alerts = kept
	}
	if len(rows) > 0 {
		if a.backend.AuditInCommit() {
			c.Audit = rows
		} else {
			rejected, err := a.writeAudit(ctx, rows)
			if err != nil {
				return err
			}
			reject(rejected)
		}
	}

	res, err := a.commitWithRetry(ctx, c)
	if err != nil && len(c.Audit) > 0 && store.IsRowError(err) {
		// The transaction refused a row: find which, one by one (each
		// accepted row is written on the way, idempotently), and commit the
		// batch without them.
		rejected, rerr := a.writeAuditRowByRow(ctx, rows)
		if rerr != nil {
			return rerr
		}
		reject(rejected)
		c.Audit = nil
		res, err = a.commitWithRetry(ctx, c)
	}
	if err != nil {
		return err
	}
	if res.Acked == 0 {
		// Another consumer finished this batch first; its metrics count it.
		return nil
	}
	elapsed := time.Since(start).Seconds()
	for range msgs {
		a.metrics.latency.Observe(elapsed)
	}
	a.metrics.batchSize.Observe(float64(len(msgs)))
	a.metrics.events.WithLabelValues("handled").Add(float64(handled))
	a.metrics.events.WithLabelValues("unhandled").Add(float64(unhandled))
	a.metrics.alerts.Add(float64(len(c.Alerts)) + float64(res.MetaAlerts))
	a.metrics.metaAlerts.Add(float64(res.MetaAlerts))
	for _, d := range c.Dead {
		a.metrics.deadLetters.WithLabelValues(d.Reason).Inc()
		status := "error"
		if d.Reason == reasonMaxRetries {
			status = "poison"
		}
		a.metrics.events.WithLabelValues(status).Inc()
	}
	return nil
}

// minArena is the smallest chunk of a batch's alert buffer.
const minArena = 16 << 10

// unhandledEvent is what building an unhandled event's meta-alert needs.
type unhandledEvent struct {
	ev      event.Event
	eventID string
	team    string
}

// eventID returns the event's own id, or, for an event written by a
// producer that assigned none, a UUID derived from its queue entry ID, which
// stays the same on every redelivery.
func (a *Alerter) eventID(id, entryID string) string {
	if id != "" {
		if _, err := uuid.Parse(id); err == nil {
			return id
		}
	}
	return uuid.NewSHA1(uuid.NameSpaceOID, []byte(a.opts.IngestQueue+"/"+entryID)).String()
}

func (a *Alerter) deadLetter(m queue.Message, reason, detail string) queue.DeadLetter {
	return queue.DeadLetter{
		Payload: m.Payload, Reason: reason, Error: detail,
		Source: a.opts.IngestQueue, SourceID: m.ID, Deliveries: m.Deliveries, Replays: m.Replays,
	}
}

// writeAudit inserts rows. A failure of the database itself is retried
// here, holding the batch, until it succeeds or ctx ends; rows the database
// refuses on their own merits are returned (index → reason) so that only
// they are dead-lettered.
func (a *Alerter) writeAudit(ctx context.Context, rows []store.AuditRow) (map[int]string, error) {
	backoff := newBackoff()
	for {
		t := time.Now()
		_, err := a.audit.InsertAudit(ctx, rows)
		if err == nil {
			a.metrics.dbWriteMillis.Observe(float64(time.Since(t).Microseconds()) / 1000)
			return nil, nil
		}
		if store.IsRowError(err) {
			return a.writeAuditRowByRow(ctx, rows)
		}
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		a.logger.Warn("writing audit batch; retrying", "error", err, "rows", len(rows))
		if !queue.Sleep(ctx, backoff.next()) {
			return nil, ctx.Err()
		}
	}
}

func (a *Alerter) writeAuditRowByRow(ctx context.Context, rows []store.AuditRow) (map[int]string, error) {
	rejected := map[int]string{}
	for i := range rows {
		backoff := newBackoff()
		for {
			_, err := a.audit.InsertAudit(ctx, rows[i:i+1])
			if err == nil {
				break
			}
			if store.IsRowError(err) {
				rejected[i] = err.Error()
				break
			}
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			if !queue.Sleep(ctx, backoff.next()) {
				return nil, ctx.Err()
			}
		}
	}
	return rejected, nil
}

// commitWithRetry retries the commit on errors of the storage itself.
// Retrying is safe: a commit acknowledges first and does nothing for
// messages no longer pending. An audit row the database refused is
// returned at once: retrying the same rows cannot succeed.
func (a *Alerter) commitWithRetry(ctx context.Context, c *Batch) (CommitResult, error) {
	backoff := newBackoff()
	for {
		t := time.Now()
		res, err := a.backend.Commit(ctx, c)
		if err == nil {
			if len(c.Audit) > 0 {
				a.metrics.dbWriteMillis.Observe(float64(time.Since(t).Microseconds()) / 1000)
			}
			return res, nil
		}
		if ctx.Err() != nil {
			return res, ctx.Err()
		}
		if len(c.Audit) > 0 && store.IsRowError(err) {
			return res, err
		}
		a.logger.Warn("committing batch; retrying", "error", err)
		if !queue.Sleep(ctx, backoff.next()) {
			return res, ctx.Err()
		}
	}
}

// shedBatch moves a few of the oldest waiting events to the DLQ, recording
// why, while the alert queue is over the shed threshold.
func (a *Alerter) shedBatch(ctx context.Context, consumer string) error {
	msgs, err := a.backend.Read(ctx, consumer, 10, -1)
	if err != nil || len(msgs) == 0 {
		return err
	}
	reason := "queue_depth_exceeded:" + strconv.FormatInt(a.shedDepth.Load(), 10) + ">" +
		strconv.FormatInt(a.dyn.Int("alerter_queue_shed_threshold", a.opts.ShedThreshold), 10)
	c := &Batch{}
	for _, m := range msgs {
		c.IDs = append(c.IDs, m.ID)
		c.Dead = append(c.Dead, a.deadLetter(m, reasonShed, reason))
	}
	if _, err := a.commitWithRetry(ctx, c); err != nil {
		return err
	}
	a.metrics.shed.WithLabelValues("dlq").Add(float64(len(msgs)))
	a.metrics.deadLetters.WithLabelValues(reasonShed).Add(float64(len(msgs)))
	return nil
}

// reloadLoop loads the rules at start (retrying until it succeeds: an
// alerter without rules would call every event unhandled) and then on the
// timer, on Reload, and on a message on the reload channel.
func (a *Alerter) reloadLoop(ctx context.Context) {
	requests := a.backend.ReloadRequests(ctx)
	backoff := newBackoff()
	for ctx.Err() == nil && !a.Ready() {
		if err := a.reload(ctx); err != nil {
			a.logger.Error("loading rules; the alerter waits until they load", "error", err)
			queue.Sleep(ctx, backoff.next())
		}
	}
	for {
		interval := time.Duration(a.dyn.Int("cache_reload_interval", int64(a.opts.CacheReloadInterval/time.Second))) * time.Second
		timer := time.NewTimer(interval)
		select {
		case <-ctx.Done():
			timer.Stop()
			return
		case <-timer.C:
		case <-a.reloadCh:
		case <-requests:
		case <-a.dyn.Changed():
			// The interval may have changed: recompute it, no reload.
			timer.Stop()
			continue
		}
		timer.Stop()
		if err := a.reload(ctx); err != nil {
			a.logger.Error("reloading rules; keeping the previous ones", "error", err)
		}
	}
}

func (a *Alerter) reload(ctx context.Context) error {
	start := time.Now()
	set, err := a.source.LoadRuleSet(ctx)
	if err != nil {
		a.metrics.reloadFailures.Inc()
		return fmt.Errorf("loading rule set: %w", err)
	}
	snap, problems := rules.Compile(set.Rules, set.DevHosts, set.Teams)
	for _, p := range problems {
		a.logger.Warn("rule left out of the cache", "error", p)
	}
	a.snapshot.Store(snap)
	a.metrics.reloads.Inc()
	a.metrics.reloadLatency.Observe(time.Since(start).Seconds())
	a.metrics.rulesCount.Set(float64(snap.RuleCount()))
	a.metrics.devHostsCount.Set(float64(snap.DevHostCount()))
	a.metrics.teamsCount.Set(float64(snap.TeamCount()))
	a.logger.Info("rules loaded", "rules", snap.RuleCount(), "dev_hosts", snap.DevHostCount(), "teams", snap.TeamCount(), "rejected", len(problems))
	return nil
}

// monitorLoop watches queue depths on a timer (not per message) and sets
// the load-shedding state the workers obey.
func (a *Alerter) monitorLoop(ctx context.Context) {
	tick := time.NewTicker(250 * time.Millisecond)
	defer tick.Stop()
	var lastWarn time.Time
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		a.checkDepths(ctx, &lastWarn)
	}
}

// checkDepths updates the depth gauges and the load-shedding state.
func (a *Alerter) checkDepths(ctx context.Context, lastWarn *time.Time) {
	d, err := a.backend.Depths(ctx)
	if err != nil {
		return
	}
	depth := d.Alerts
	a.metrics.alertQueueDepth.Set(float64(depth))
	if d.Ingest >= 0 {
		a.metrics.ingestDepth.Set(float64(d.Ingest))
	}
	if d.Pending >= 0 {
		a.metrics.pendingDepth.Set(float64(d.Pending))
	}
	if d.DLQ >= 0 {
		a.metrics.dlqDepth.Set(float64(d.DLQ))
	}
	shed := a.dyn.Int("alerter_queue_shed_threshold", a.opts.ShedThreshold)
	warn := a.dyn.Int("alerter_queue_warn_threshold", a.opts.ShedWarnThreshold)
	mode := a.dyn.String("alerter_shed_mode", a.opts.ShedMode)
	state := shedNone
	if depth > shed {
		switch mode {
		case "defer":
			state = shedDefer
		case "dlq":
			state = shedDLQ
		}
	}
	if depth > warn && time.Since(*lastWarn) > 30*time.Second {
		*lastWarn = time.Now()
		a.logger.Warn("alert queue is long", "depth", depth, "warn_threshold", warn, "shed_threshold", shed, "shed_mode", mode)
	}
	a.shedDepth.Store(depth)
	a.shedState.Store(state)
}

// reclaimLoop takes over messages left pending by consumers that stopped
// (crashed, killed, or stuck) and processes them, continuously.
func (a *Alerter) reclaimLoop(ctx context.Context) {
	a.backend.ReclaimLoop(ctx, a.opts.PodName+"-reclaim", a.opts.ReclaimIdle, a.opts.BatchSize, a.Ready,
		func(n int) { a.metrics.reclaimed.Add(float64(n)) }, a.process, a.logger)
}

// backoff doubles from 100 ms to 5 s.
type backoff struct{ d time.Duration }

func newBackoff() *backoff { return &backoff{} }

func (b *backoff) next() time.Duration {
	if b.d == 0 {
		b.d = 100 * time.Millisecond
	} else {
		b.d = min(2*b.d, 5*time.Second)
	}
	return b.d
}

func (b *backoff) reset() { b.d = 0 }
