package forward

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"

	"github.com/mutt-go/mutt/internal/queue"
)

// ConsumerGroup is the alert queue's consumer group shared by all forwarders.
const ConsumerGroup = "forwarder"

// ForwarderOptions configure a Forwarder.
type ForwarderOptions struct {
	PodName     string
	AlertQueue  string
	MoogDLQ     string
	DeadDLQ     string
	RetryKey    string // the schedule of alerts waiting for their next attempt
	Workers     int
	BatchSize   int
	Block       time.Duration
	ReclaimIdle time.Duration
	// MaxDeliveries bounds how often one entry may be handed to a consumer
	// that then died without finishing it; past it the entry is poison.
	MaxDeliveries int64
}

// Forwarder consumes the alert queue and delivers each alert through a
// Sender. What the Sender cannot deliver now is rescheduled (Retry, Park) or
// dead-lettered (Failed); every batch ends in one atomic Commit of its
// Backend, so a crash leaves its alerts pending for another forwarder (or
// for itself after a restart), never lost.
type Forwarder struct {
	opts    ForwarderOptions
	backend Backend
	sender  Sender
	logger  *slog.Logger
	metrics *forwarderMetrics
}

type forwarderMetrics struct {
	processed   *prometheus.CounterVec
	deadLetters *prometheus.CounterVec
	dlqDepth    prometheus.Gauge
	pending     prometheus.Gauge
	retryDepth  prometheus.Gauge
	queueDepth  prometheus.Gauge
	reclaimed   prometheus.Counter
}

func newForwarderMetrics(reg prometheus.Registerer) *forwarderMetrics {
	m := &forwarderMetrics{
		processed: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "mutt_moog_alerts_processed_total",
			Help: "Alerts by outcome: success, dlq (dead-lettered), error (rescheduled after a failure), parked (waiting on the rate limit or the breaker).",
		}, []string{"status"}),
		deadLetters: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "mutt_moog_dead_letters_total", Help: "Alerts dead-lettered by reason.",
		}, []string{"reason"}),
		dlqDepth:   prometheus.NewGauge(prometheus.GaugeOpts{Name: "mutt_moog_dlq_depth", Help: "Length of the Moogsoft dead-letter queue."}),
		pending:    prometheus.NewGauge(prometheus.GaugeOpts{Name: "mutt_moog_processing_list_depth", Help: "Alerts delivered to forwarders and not yet finished."}),
		retryDepth: prometheus.NewGauge(prometheus.GaugeOpts{Name: "mutt_moog_retry_queue_depth", Help: "Alerts waiting for their next attempt."}),
		queueDepth: prometheus.NewGauge(prometheus.GaugeOpts{Name: "mutt_moog_alert_queue_depth", Help: "Length of the alert queue."}),
		reclaimed:  prometheus.NewCounter(prometheus.CounterOpts{Name: "mutt_moog_reclaimed_total", Help: "Pending alerts taken over from stopped forwarders."}),
	}
	reg.MustRegister(m.processed, m.deadLetters, m.dlqDepth, m.pending, m.retryDepth, m.queueDepth, m.reclaimed)
	for _, s := range []string{"success", "dlq", "error", "parked"} {
		m.processed.WithLabelValues(s)
	}
	return m
}

// NewForwarder builds a forwarder on Redis under the keys of opts; nothing
// runs until Run.
func NewForwarder(opts ForwarderOptions, rdb redis.UniversalClient, sender Sender, reg prometheus.Registerer, logger *slog.Logger) *Forwarder {
	return New(opts, NewRedisBackend(rdb, opts, logger), sender, reg, logger)
}

// New builds a forwarder on backend; the queue names of opts label dead
// letters (AlertQueue is their source). Nothing runs until Run.
func New(opts ForwarderOptions, backend Backend, sender Sender, reg prometheus.Registerer, logger *slog.Logger) *Forwarder {
	if opts.MaxDeliveries <= 0 {
		opts.MaxDeliveries = 10
	}
	return &Forwarder{
		opts: opts, backend: backend, sender: sender, logger: logger,
		metrics: newForwarderMetrics(reg),
	}
}

// Run delivers until ctx ends; the batch in hand is finished first.
func (f *Forwarder) Run(ctx context.Context) error {
	if err := f.backend.Alerts.Prepare(ctx); err != nil {
		return err
	}
	var wg sync.WaitGroup
	run := func(fn func(context.Context)) {
		wg.Add(1)
		go func() { defer wg.Done(); fn(ctx) }()
	}
	run(f.moveLoop)
	run(f.reclaimLoop)
	run(f.monitorLoop)
	for i := range f.opts.Workers {
		consumer := f.opts.PodName + "-" + strconv.Itoa(i)
		run(func(ctx context.Context) { f.workLoop(ctx, consumer) })
	}
	wg.Wait()
	return nil
}

// Close exists for the common component lifecycle; the connections belong
// to the caller.
func (f *Forwarder) Close() error { return nil }

// drainGrace is how long a batch in hand may take to finish after a stop.
const drainGrace = 15 * time.Second

func (f *Forwarder) workLoop(ctx context.Context, consumer string) {
	log := f.logger.With("consumer", consumer)
	pctx, cancel := queue.DrainContext(ctx, drainGrace)
	defer cancel()
	// A restart under the same name delivers its own alerts in flight
	// first, instead of leaving them to the reclaimer's idle timeout.
	n, err := f.backend.Alerts.Recover(pctx, consumer, f.opts.BatchSize, func(ctx context.Context, msgs []queue.Message) error {
		_, err := f.process(ctx, consumer, msgs)
		return err
	})
	if err != nil && ctx.Err() == nil {
		log.Warn("delivering alerts pending from before a restart; the reclaimer will retry them", "error", err)
	} else if n > 0 {
		log.Info("delivered alerts pending from before a restart", "count", n)
	}
	var pause time.Duration
	for ctx.Err() == nil {
		if pause > 0 {
			queue.Sleep(ctx, pause)
		}
		msgs, err := f.backend.Alerts.Read(ctx, consumer, f.opts.BatchSize, min(f.opts.Block, queue.MaxBlock))
		if err != nil {
			if ctx.Err() == nil {
				log.Warn("reading alert queue", "error", err)
				queue.Sleep(ctx, time.Second)
			}
			continue
		}
		if len(msgs) == 0 {
			pause = 0
			continue
		}
		pause, err = f.process(pctx, consumer, msgs)
		if err != nil && ctx.Err() == nil {
			log.Warn("delivering batch; it stays pending and will be retried", "error", err, "batch", len(msgs))
			pause = time.Second
		}
	}
}

// holdLimit is the longest park a worker waits out with the alert in hand;
// longer ones (an open breaker) go to the schedule instead.
const holdLimit = time.Second

// process delivers one batch, committing outcomes as they are known: what
// was delivered, failed or must wait long is acknowledged at once, and only
// the alerts waiting for rate-limit tokens stay in hand, so a crash repeats
// as few deliveries as possible. It returns a pause for the worker when
// nothing could be attempted (an open breaker), so workers do not spin.
func (f *Forwarder) process(ctx context.Context, consumer string, msgs []queue.Message) (time.Duration, error) {
	c := &DeliveryCommit{IDs: make([]string, 0, len(msgs))}
	held := make([]queue.Message, 0, len(msgs))
	for _, m := range msgs {
		switch {
		case m.Payload == nil:
			c.IDs = append(c.IDs, m.ID)
			c.Dead = append(c.Dead, f.deadLetter(m, "malformed_alert", "entry has no payload field", 0))
		case m.Deliveries > f.opts.MaxDeliveries:
			c.IDs = append(c.IDs, m.ID)
			c.Dead = append(c.Dead, f.deadLetter(m, "max_deliveries",
				fmt.Sprintf("handed to forwarders %d times without finishing", m.Deliveries), 0))
		default:
			held = append(held, m)
		}
	}
	pause := time.Duration(0)
	touched := time.Now()
	for len(held) > 0 {
		alerts := make([]Alert, len(held))
		for i, m := range held {
			alerts[i] = Alert{ID: m.ID, Payload: m.Payload, Attempt: int(m.Attempts) + 1}
		}
		results := f.sender.Send(ctx, alerts)
		var waitMore []queue.Message
		wait := holdLimit
		parkedLong, minPark := 0, time.Duration(-1)
		now := time.Now()
		for i, r := range results {
			m := held[i]
			if r.Outcome == Park && r.RetryAfter <= holdLimit && ctx.Err() == nil {
				waitMore = append(waitMore, m)
				wait = min(wait, r.RetryAfter)
				continue
			}
			c.IDs = append(c.IDs, m.ID)
			switch r.Outcome {
			case Delivered:
				f.metrics.processed.WithLabelValues("success").Inc()
			case Retry:
				c.Schedule = append(c.Schedule, Scheduled{
					ID: m.ID, Payload: m.Payload, Attempts: m.Attempts + 1, Replays: m.Replays, Due: now.Add(r.RetryAfter),
				})
				f.metrics.processed.WithLabelValues("error").Inc()
			case Park:
				parkedLong++
				if minPark < 0 || r.RetryAfter < minPark {
					minPark = r.RetryAfter
				}
				c.Schedule = append(c.Schedule, Scheduled{
					ID: m.ID, Payload: m.Payload, Attempts: m.Attempts, Replays: m.Replays, Due: now.Add(r.RetryAfter),
				})
				f.metrics.processed.WithLabelValues("parked").Inc()
			case Failed:
				detail := ""
				if r.Err != nil {
					detail = r.Err.Error()
				}
				dl := f.deadLetter(m, r.Reason, detail, r.Status)
				dl.Attempts = m.Attempts + 1
				if r.Reason == "malformed_alert" {
					// It can never be delivered: straight to the terminal queue.
					c.Dead = append(c.Dead, dl)
				} else {
					c.DLQ = append(c.DLQ, dl)
				}
			}
		}
		if err := f.commitAndCount(ctx, c); err != nil {
			return 0, err
		}
		c = &DeliveryCommit{}
		if parkedLong > 0 && parkedLong == len(results) {
			pause = min(max(minPark, 50*time.Millisecond), time.Second)
		}
		held = waitMore
		if len(held) == 0 {
			break
		}
		// Jitter spreads the workers of all forwarders over the limiter's
		// refill, so tokens are not all contended for at the same instant.
		if !queue.Sleep(ctx, max(wait, 2*time.Millisecond)+rand.N(8*time.Millisecond)) {
			break
		}
		// Still ours: keep other forwarders' reclaimers off these alerts.
		if time.Since(touched) > f.opts.ReclaimIdle/4 {
			ids := make([]string, len(held))
			for i, m := range held {
				ids[i] = m.ID
			}
			if err := f.backend.Alerts.Touch(ctx, consumer, ids); err != nil {
				f.logger.Warn("refreshing held alerts", "error", err)
			}
			touched = time.Now()
		}
	}
	// Whatever is still held (a stop came while waiting for tokens) goes to
	// the schedule, attempt unspent, due at once.
	now := time.Now()
	for _, m := range held {
		c.IDs = append(c.IDs, m.ID)
		c.Schedule = append(c.Schedule, Scheduled{ID: m.ID, Payload: m.Payload, Attempts: m.Attempts, Replays: m.Replays, Due: now})
	}
	if err := f.commitAndCount(ctx, c); err != nil {
		return 0, err
	}
	return pause, nil
}

// commitAndCount commits c (when it holds anything) and counts its dead
// letters.
func (f *Forwarder) commitAndCount(ctx context.Context, c *DeliveryCommit) error {
	if c.empty() {
		return nil
	}
	if err := f.commitWithRetry(ctx, c); err != nil {
		return err
	}
	for _, list := range [][]queue.DeadLetter{c.DLQ, c.Dead} {
		for _, d := range list {
			f.metrics.processed.WithLabelValues("dlq").Inc()
			f.metrics.deadLetters.WithLabelValues(d.Reason).Inc()
		}
	}
	return nil
}

func (f *Forwarder) deadLetter(m queue.Message, reason, detail string, status int) queue.DeadLetter {
	return queue.DeadLetter{
		Payload: m.Payload, Reason: reason, Error: detail, Source: f.opts.AlertQueue, SourceID: m.ID,
		Deliveries: m.Deliveries, Attempts: m.Attempts, Replays: m.Replays, Status: status,
	}
}

func (f *Forwarder) commitWithRetry(ctx context.Context, c *DeliveryCommit) error {
	wait := 100 * time.Millisecond
	for {
		_, err := f.backend.Commits.Commit(ctx, *c)
		if err == nil {
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		f.logger.Warn("committing delivery batch; retrying", "error", err)
		if !queue.Sleep(ctx, wait) {
			return ctx.Err()
		}
		wait = min(2*wait, 5*time.Second)
	}
}

// moveLoop puts alerts whose wait is over back on the alert queue.
func (f *Forwarder) moveLoop(ctx context.Context) {
	for ctx.Err() == nil {
		moved, next, err := f.backend.Schedule.MoveDue(ctx, 1000)
		if err != nil {
			if ctx.Err() == nil {
				f.logger.Warn("moving due alerts", "error", err)
			}
			queue.Sleep(ctx, time.Second)
			continue
		}
		if moved == 1000 {
			continue
		}
		wait := 250 * time.Millisecond
		if next >= 0 && next < wait {
			wait = max(next, 5*time.Millisecond)
		}
		queue.Sleep(ctx, wait)
	}
}

// reclaimLoop takes over alerts left pending by forwarders that stopped:
// first what its own name held before a restart, then, every half idle
// time, whatever any consumer has held for the idle time.
func (f *Forwarder) reclaimLoop(ctx context.Context) {
	consumer := f.opts.PodName + "-reclaim"
	src := f.backend.Alerts
	process := func(ctx context.Context, msgs []queue.Message) error {
		_, err := f.process(ctx, consumer, msgs)
		return err
	}
	interval := max(f.opts.ReclaimIdle/2, 500*time.Millisecond)
	recovered := false
	for {
		if !recovered {
			n, err := src.Recover(ctx, consumer, f.opts.BatchSize, process)
			recovered = err == nil
			if err != nil && ctx.Err() == nil {
				f.logger.Warn("taking back pending alerts", "error", err)
			} else if n > 0 {
				f.logger.Info("took back pending alerts", "consumer", consumer, "count", n)
			}
		}
		for ctx.Err() == nil {
			msgs, err := src.Reclaim(ctx, consumer, f.opts.ReclaimIdle, f.opts.BatchSize)
			if err != nil {
				if ctx.Err() == nil {
					f.logger.Warn("reclaiming pending alerts", "error", err)
				}
				break
			}
			if len(msgs) == 0 {
				break
			}
			f.metrics.reclaimed.Add(float64(len(msgs)))
			f.logger.Info("reclaimed pending alerts", "count", len(msgs))
			if err := process(ctx, msgs); err != nil {
				if ctx.Err() == nil {
					f.logger.Warn("delivering reclaimed alerts", "error", err)
				}
				break
			}
		}
		if !queue.Sleep(ctx, interval) {
			return
		}
	}
}

// monitorLoop samples queue depths for the gauges.
func (f *Forwarder) monitorLoop(ctx context.Context) {
	b := f.backend
	for {
		if n, err := b.Alerts.Len(ctx); err == nil {
			f.metrics.queueDepth.Set(float64(n))
		}
		if n, err := b.Alerts.PendingCount(ctx); err == nil {
			f.metrics.pending.Set(float64(n))
		}
		if b.MoogDLQ != nil {
			if n, err := b.MoogDLQ.Len(ctx); err == nil {
				f.metrics.dlqDepth.Set(float64(n))
			}
		}
		if n, err := b.Schedule.Len(ctx); err == nil {
			f.metrics.retryDepth.Set(float64(n))
		}
		if !queue.Sleep(ctx, time.Second) {
			return
		}
	}
}
