package remediation

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/mutt-go/mutt/internal/obs"
	"github.com/mutt-go/mutt/internal/queue"
	"github.com/mutt-go/mutt/internal/version"
)

// Dynamic configuration keys read at every cycle.
const (
	KeyInterval   = "remediation_interval"   // seconds between cycles
	KeyBatchSize  = "remediation_batch_size" // replays per DLQ per cycle
	KeyMaxReplays = "max_poison_retries"     // replays before an entry is dead
)

// Defaults for zero Options.
const (
	DefaultInterval   = 300 * time.Second
	DefaultBatchSize  = 10
	DefaultMaxReplays = 3
)

// ReasonMalformed is the dead-queue reason of an entry with no payload or
// no reason: nothing can be done with it but show it to an operator.
const ReasonMalformed = "malformed_entry"

// cycleTimeout bounds one cycle, which carries on after a stop so that it
// never leaves a half-done batch; every step is atomic, so cutting it short
// at the deadline loses nothing.
const cycleTimeout = time.Minute

// scanLimit bounds the entries one cycle examines per DLQ beyond its batch,
// so a DLQ full of entries bound for the dead queue is cleared over a few
// cycles instead of one very long one.
const scanLimit = 10_000

// Reasons written by the forwarder into the Moogsoft DLQ that would fail the
// same way again. Any other reason is replayed: the replay limit stops a
// reason MUTT does not know yet from cycling for ever.
var moogPermanent = map[string]bool{
	"http_4xx":        true,
	"redirect":        true,
	"malformed_alert": true,
}

// The alerter's reason for an event it cannot read; replaying it would only
// send it back.
var alerterPermanent = map[string]bool{
	"invalid_event": true,
}

// Options configure a Service. Queue names are full keys (Redis keys, or
// the embedded store's queue names, which are the same).
type Options struct {
	AlertQueue  string // replay target of the Moogsoft DLQ
	IngestQueue string // replay target of the alerter DLQ
	MoogDLQ     string
	AlerterDLQ  string
	DeadDLQ     string // terminal: nothing reads it but operators

	Interval   time.Duration // between cycles (DefaultInterval when zero)
	BatchSize  int           // replays per DLQ per cycle (DefaultBatchSize when zero)
	MaxReplays int           // replays allowed per entry (DefaultMaxReplays when zero)

	// Dynamic returns the runtime value of a dynamic key (KeyInterval,
	// KeyBatchSize, KeyMaxReplays) or fallback; nil means the static
	// values always apply.
	Dynamic func(name string, fallback int64) int64
	// MoogHealthy gates the Moogsoft DLQ replay; NewProbe builds one. Nil
	// means healthy.
	MoogHealthy func(ctx context.Context) error
	// BreakerOpen reports whether the shared Moogsoft circuit breaker is
	// open; replaying into an open breaker would only park the alerts
	// again. Nil means closed.
	BreakerOpen func(ctx context.Context) (bool, error)
	// AlertQueueLimit pauses the alerter DLQ replay while the alert queue
	// is longer than its answer: the pipeline is behind and replayed events
	// would only add to it. Nil, or an answer of zero or less, means no
	// limit.
	AlertQueueLimit func() int64
}

// Report says what one cycle did.
type Report struct {
	MoogReplayed    int // Moogsoft DLQ entries back on the alert queue
	AlerterReplayed int // alerter DLQ entries back on the ingest queue
	Dead            int // entries moved to the dead queue, from either DLQ
	// MoogSkipped and AlerterSkipped say why a DLQ was not replayed ("" when
	// it was).
	MoogSkipped    string
	AlerterSkipped string
}

// Service replays dead letters. Run it once per deployment: two services
// would not lose or duplicate entries (every move is atomic) but would
// replay twice the batch.
type Service struct {
	opts    Options
	q       Queues
	logger  *slog.Logger
	metrics *metrics
	moog    lane
	alerter lane

	stop     chan struct{}
	stopOnce sync.Once
}

// lane is one DLQ and where its entries go.
type lane struct {
	name      string // for logs and Report
	dlq       string
	target    string
	permanent map[string]bool
}

// New returns a service working on q (NewRedis, or the embedded store's);
// its metrics are registered on reg (a private registry when nil).
func New(opts Options, q Queues, reg *prometheus.Registry, logger *slog.Logger) *Service {
	if opts.Interval <= 0 {
		opts.Interval = DefaultInterval
	}
	if opts.BatchSize <= 0 {
		opts.BatchSize = DefaultBatchSize
	}
	if opts.MaxReplays <= 0 {
		opts.MaxReplays = DefaultMaxReplays
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	var r prometheus.Registerer = reg
	if reg == nil {
		r = prometheus.NewRegistry()
	}
	return &Service{
		opts:    opts,
		q:       q,
		logger:  logger,
		metrics: newMetrics(r),
		moog:    lane{name: "moog", dlq: opts.MoogDLQ, target: opts.AlertQueue, permanent: moogPermanent},
		alerter: lane{name: "alerter", dlq: opts.AlerterDLQ, target: opts.IngestQueue, permanent: alerterPermanent},
		stop:    make(chan struct{}),
	}
}

// Run runs a cycle at once and then one every interval until ctx ends or
// Close is called. A cycle in progress is finished first (within a
// minute). Cycle errors are logged, not returned: the next cycle tries
// again.
func (s *Service) Run(ctx context.Context) error {
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-s.stop:
			return nil
		default:
		}
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cycleTimeout)
		if _, err := s.Cycle(cctx); err != nil {
			s.logger.Error("remediation cycle failed", "err", err)
		}
		cancel()
		t := time.NewTimer(s.interval())
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-s.stop:
			t.Stop()
			return nil
		case <-t.C:
		}
	}
}

// Close makes Run return after its current cycle. It is safe to call more
// than once.
func (s *Service) Close() error {
	s.stopOnce.Do(func() { close(s.stop) })
	return nil
}

// HealthHandler answers 200 while the queues' storage answers (Redis:
// PING) and 503 otherwise. Moogsoft's state is deliberately not part of it:
// an outage there is what this service waits out, not a reason to restart
// it.
func (s *Service) HealthHandler() http.Handler {
	return obs.HealthHandler(map[string]any{"service": "mutt-remediation", "version": version.Version()}, s.q.Health())
}

// interval is the wait before the next cycle. The dynamic value is whole
// seconds; the static one keeps its precision unless overridden.
func (s *Service) interval() time.Duration {
	base := s.opts.Interval
	fallback := int64(base / time.Second)
	if v := s.dynamic(KeyInterval, fallback); v != fallback && v > 0 {
		return time.Duration(v) * time.Second
	}
	return base
}

func (s *Service) dynamic(name string, fallback int64) int64 {
	if s.opts.Dynamic == nil {
		return fallback
	}
	return s.opts.Dynamic(name, fallback)
}

// Cycle runs one remediation cycle: measure the queues, then replay each
// DLQ whose gate is open. The returned error joins every Redis failure (a
// failed measurement ends the cycle at once); a probe failure is not an
// error but a reason in Report.MoogSkipped.
func (s *Service) Cycle(ctx context.Context) (Report, error) {
	s.metrics.loops.Inc()
	began := time.Now()
	defer func() { s.metrics.duration.Observe(time.Since(began).Seconds()) }()

	var rep Report
	if err := s.measure(ctx); err != nil {
		// Redis is unreachable: every later step would fail the same way.
		return rep, err
	}
	var errs []error
	batch := int(s.dynamic(KeyBatchSize, int64(s.opts.BatchSize)))
	if batch <= 0 {
		batch = s.opts.BatchSize
	}
	maxReplays := int(s.dynamic(KeyMaxReplays, int64(s.opts.MaxReplays)))
	if maxReplays < 0 {
		maxReplays = s.opts.MaxReplays
	}

	if rep.MoogSkipped = s.moogGate(ctx); rep.MoogSkipped == "" {
		replayed, dead, err := s.drain(ctx, s.moog, batch, maxReplays)
		rep.MoogReplayed, rep.Dead = replayed, rep.Dead+dead
		if err != nil {
			errs = append(errs, err)
		}
	} else {
		s.logger.Warn("not replaying the moogsoft DLQ", "why", rep.MoogSkipped)
	}

	skip, err := s.alerterGate(ctx)
	if err != nil {
		errs = append(errs, err)
	}
	if rep.AlerterSkipped = skip; skip == "" {
		replayed, dead, err := s.drain(ctx, s.alerter, batch, maxReplays)
		rep.AlerterReplayed, rep.Dead = replayed, rep.Dead+dead
		if err != nil {
			errs = append(errs, err)
		}
	} else {
		s.logger.Info("not replaying the alerter DLQ", "why", rep.AlerterSkipped)
	}

	if rep.MoogReplayed+rep.AlerterReplayed+rep.Dead > 0 {
		if err := s.measure(ctx); err != nil {
			errs = append(errs, err)
		}
		s.logger.Info("remediation cycle", "moog_replayed", rep.MoogReplayed,
			"alerter_replayed", rep.AlerterReplayed, "dead", rep.Dead)
	}
	return rep, errors.Join(errs...)
}

// measure sets the depth gauges of both DLQs and the dead queue. It runs
// before any gate so that the gauges stay true while replay is paused.
func (s *Service) measure(ctx context.Context) error {
	keys := []string{s.opts.MoogDLQ, s.opts.AlerterDLQ, s.opts.DeadDLQ}
	lens, err := s.q.Lens(ctx, keys)
	if err != nil {
		s.metrics.replayFail.WithLabelValues(failRedis).Inc()
		return fmt.Errorf("measuring dead-letter queues: %w", err)
	}
	for i, k := range keys {
		s.metrics.depth.WithLabelValues(k).Set(float64(lens[i]))
	}
	return nil
}

// moogGate returns why the Moogsoft DLQ must wait, or "". It probes on
// every cycle, whatever the DLQ holds, so the health gauge stays current.
func (s *Service) moogGate(ctx context.Context) string {
	if s.opts.MoogHealthy != nil {
		if err := s.opts.MoogHealthy(ctx); err != nil {
			s.metrics.moogHealth.Set(0)
			return "moogsoft unhealthy: " + err.Error()
		}
	}
	s.metrics.moogHealth.Set(1)
	if s.opts.BreakerOpen == nil {
		return ""
	}
	open, err := s.opts.BreakerOpen(ctx)
	switch {
	case err != nil:
		return "circuit breaker state unknown: " + err.Error()
	case open:
		return "circuit breaker open"
	}
	return ""
}

// alerterGate returns why the alerter DLQ must wait, or "".
func (s *Service) alerterGate(ctx context.Context) (string, error) {
	if s.opts.AlertQueueLimit == nil {
		return "", nil
	}
	limit := s.opts.AlertQueueLimit()
	if limit <= 0 {
		return "", nil
	}
	n, err := s.q.QueueLen(ctx, s.opts.AlertQueue)
	if err != nil {
		s.metrics.replayFail.WithLabelValues(failRedis).Inc()
		return "alert queue length unknown: " + err.Error(), err
	}
	if n > limit {
		return fmt.Sprintf("alert queue holds %d alerts, above the limit of %d", n, limit), nil
	}
	return "", nil
}

// classify decides an entry's fate: replay (ok) or the dead queue.
func (l lane) classify(e queue.Entry) (Burial, bool) {
	if p, found := e.Fields[queue.PayloadField]; !found || p == "" {
		return Burial{ID: e.ID, Reason: ReasonMalformed, Detail: "entry has no payload"}, false
	}
	reason := e.Fields["reason"]
	if reason == "" {
		return Burial{ID: e.ID, Reason: ReasonMalformed, Detail: "entry has no reason"}, false
	}
	if l.permanent[reason] {
		detail := "not replayed: " + reason + " is a permanent failure"
		if msg := e.Fields["error"]; msg != "" {
			detail += ": " + msg
		}
		return Burial{ID: e.ID, Reason: reason, Detail: detail}, false
	}
	return Burial{}, true
}

// drain replays up to batch retryable entries of the lane's DLQ, oldest
// first, and moves the unreplayable ones it passes on the way to the dead
// queue.
func (s *Service) drain(ctx context.Context, l lane, batch, maxReplays int) (replayed, dead int, err error) {
	pageSize := min(max(batch, 100), 1000)
	var ids []string
	after := ""
	examined := 0
scan:
	for len(ids) < batch && examined < batch+scanLimit {
		page, err := s.q.List(ctx, l.dlq, after, time.Time{}, pageSize)
		if err != nil {
			s.metrics.replayFail.WithLabelValues(failRedis).Inc()
			return replayed, dead, fmt.Errorf("scanning the %s DLQ: %w", l.name, err)
		}
		var moves []Burial
		for _, e := range page {
			if len(ids) == batch {
				break
			}
			examined++
			after = e.ID
			if m, ok := l.classify(e); !ok {
				moves = append(moves, m)
			} else {
				ids = append(ids, e.ID)
			}
		}
		// Dead moves go now, before the replay, so that a failure later
		// in the cycle does not make the next cycle examine them again.
		n, err := s.bury(ctx, l.dlq, moves)
		dead += n
		if err != nil {
			return replayed, dead, err
		}
		if len(page) < pageSize {
			break scan
		}
	}
	if len(ids) == 0 {
		return replayed, dead, nil
	}
	res, err := s.q.Replay(ctx, l.dlq, l.target, s.opts.DeadDLQ, maxReplays, ids)
	replayed = res.Replayed
	dead += res.Dead
	s.metrics.replaySuccess.Add(float64(res.Replayed))
	s.metrics.replayed.WithLabelValues(l.target).Add(float64(res.Replayed))
	s.metrics.poison.Add(float64(res.Dead))
	s.metrics.dead.WithLabelValues("replay_limit").Add(float64(res.Dead))
	if err != nil {
		s.metrics.replayFail.WithLabelValues(failRedis).Inc()
		return replayed, dead, fmt.Errorf("replaying the %s DLQ: %w", l.name, err)
	}
	if res.Dead > 0 {
		s.logger.Warn("dead letters replayed too often moved to the dead queue",
			"dlq", l.dlq, "count", res.Dead, "max_replays", maxReplays)
	}
	return replayed, dead, nil
}

// bury moves entries to the dead queue and counts them.
func (s *Service) bury(ctx context.Context, dlq string, moves []Burial) (int, error) {
	if len(moves) == 0 {
		return 0, nil
	}
	res, err := s.q.Bury(ctx, dlq, s.opts.DeadDLQ, moves)
	if err != nil {
		s.metrics.replayFail.WithLabelValues(failRedis).Inc()
		return 0, fmt.Errorf("moving %d entries of %s to the dead queue: %w", len(moves), dlq, err)
	}
	if len(res) != len(moves) {
		return 0, fmt.Errorf("moving entries of %s to the dead queue: unexpected reply %v", dlq, res)
	}
	moved := 0
	byReason := map[string]int{}
	for i, m := range moves {
		if res[i] {
			moved++
			byReason[m.Reason]++
			s.metrics.dead.WithLabelValues(m.Reason).Inc()
		}
	}
	s.metrics.poison.Add(float64(moved))
	if moved > 0 {
		s.logger.Warn("unreplayable dead letters moved to the dead queue",
			"dlq", dlq, "count", moved, "by_reason", byReason)
	}
	return moved, nil
}
