package app

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"

	"github.com/mutt-go/mutt/internal/config"
	"github.com/mutt-go/mutt/internal/dynconfig"
	"github.com/mutt-go/mutt/internal/embedded/roles"
	"github.com/mutt-go/mutt/internal/forward"
	"github.com/mutt-go/mutt/internal/obs"
	"github.com/mutt-go/mutt/internal/remediation"
	"github.com/mutt-go/mutt/internal/version"
)

// Forwarder is the forwarder role's components as NewForwarder wires them.
type Forwarder struct {
	Forwarder *forward.Forwarder
	Webhook   *forward.Webhook
	Breaker   *forward.Breaker // nil when the breaker is disabled
}

// NewForwarder wires retry(breaker(ratelimit(webhook))) to the alert queue
// from the configuration, reading the rate limit and breaker settings from
// dyn (nil: the static ones). wrap, when not nil, wraps the chain; the
// benchmarks observe deliveries with it.
func NewForwarder(cfg config.Config, rdb redis.UniversalClient, dyn *dynconfig.Store, reg prometheus.Registerer, logger *slog.Logger,
	wrap func(forward.Sender) forward.Sender) (*Forwarder, error) {
	return newForwarder(cfg, forwarderStorage{rdb: rdb}, dyn, reg, logger, wrap)
}

// forwarderStorage is where a forwarder keeps its queues and the state it
// shares: Redis (rdb) or, in embedded mode, the database (backend) with
// the token bucket and breaker state in process.
type forwarderStorage struct {
	rdb     redis.UniversalClient
	backend func(forward.ForwarderOptions) forward.Backend
	bucket  forward.TokenBucket
	breaker forward.BreakerStore
}

// forwarderOptions are the forwarder's options from cfg.
func forwarderOptions(cfg config.Config) forward.ForwarderOptions {
	fc := cfg.Forwarder
	return forward.ForwarderOptions{
		PodName: cfg.PodName, AlertQueue: cfg.Keys.AlertQueue, MoogDLQ: cfg.Keys.MoogDLQ, DeadDLQ: cfg.Keys.DeadDLQ,
		RetryKey: cfg.Keys.MoogRetry, Workers: fc.Workers, BatchSize: fc.BatchSize, Block: fc.Block,
		ReclaimIdle: fc.ReclaimIdle,
	}
}

func newForwarder(cfg config.Config, st forwarderStorage, dyn *dynconfig.Store, reg prometheus.Registerer, logger *slog.Logger,
	wrap func(forward.Sender) forward.Sender) (*Forwarder, error) {
	fc := cfg.Forwarder
	m := forward.NewMetrics(reg)
	webhook, err := forward.NewWebhook(forward.WebhookOptions{
		URL: fc.WebhookURL.Reveal(), APIKey: fc.APIKey, Timeout: fc.Timeout, Concurrency: fc.Concurrency, Metrics: m,
	})
	if err != nil {
		return nil, fmt.Errorf("building the Moogsoft webhook: %w", err)
	}
	seconds := func(name string, fallback time.Duration) func() time.Duration {
		return func() time.Duration { return time.Duration(dyn.Int(name, int64(fallback/time.Second))) * time.Second }
	}
	br := forward.BreakerOptions{
		KeyPrefix: cfg.Keys.BreakerPrefix, Metrics: m, Logger: logger, Registerer: reg,
		Threshold: func() int64 { return dyn.Int("circuit_breaker_threshold", int64(fc.BreakerThreshold)) },
		OpenFor:   seconds("circuit_breaker_timeout", fc.BreakerTimeout),
	}
	if fc.BreakerEnabled {
		br.Redis, br.Store = st.rdb, st.breaker
	}
	sender, breaker := forward.Chain(webhook,
		forward.RateLimitOptions{
			Redis: st.rdb, Bucket: st.bucket, Key: cfg.Keys.MoogRateLimit, Metrics: m, Logger: logger,
			Limit:  func() int64 { return dyn.Int("moog_rate_limit", int64(fc.RateLimit)) },
			Period: seconds("moog_rate_period", fc.RatePeriod),
		},
		br,
		forward.RetryOptions{MaxAttempts: fc.MaxRetries + 1, Base: fc.RetryBaseDelay, Max: fc.RetryMaxDelay, Metrics: m},
	)
	if wrap != nil {
		sender = wrap(sender)
	}
	opts := forwarderOptions(cfg)
	var f *forward.Forwarder
	if st.backend != nil {
		f = forward.New(opts, st.backend(opts), sender, reg, logger)
	} else {
		f = forward.NewForwarder(opts, st.rdb, sender, reg, logger)
	}
	return &Forwarder{Forwarder: f, Webhook: webhook, Breaker: breaker}, nil
}

// startForwarder runs the forwarder role with its HTTP endpoints.
func (s *Server) startForwarder(listen func(string, string, http.Handler) error, run func(string, func(context.Context) error)) error {
	cfg := s.cfg
	fc := cfg.Forwarder
	st := forwarderStorage{rdb: s.rdb}
	if s.db != nil {
		st = forwarderStorage{
			backend: func(o forward.ForwarderOptions) forward.Backend { return roles.NewForwardBackend(s.db, o) },
			bucket:  forward.NewLocalBucket(), breaker: forward.NewLocalBreakerStore(),
		}
	}
	fw, err := newForwarder(cfg, st, s.dyn, s.reg, s.logger.With("component", "forwarder"), nil)
	if err != nil {
		return err
	}
	s.breaker.Store(fw.Breaker)
	if b := fw.Breaker; b != nil {
		// Keep the breaker gauges current while no alerts flow.
		run("breaker gauges", func(ctx context.Context) error {
			t := time.NewTicker(5 * time.Second)
			defer t.Stop()
			for {
				_, _ = b.State(ctx)
				select {
				case <-ctx.Done():
					return nil
				case <-t.C:
				}
			}
		})
	}
	f := fw.Forwarder
	// Liveness is the process and its storage; Moogsoft's reachability is a
	// metric and the breaker's business, so an outage there does not get
	// forwarders restarted in a loop.
	health := obs.HealthHandler(
		map[string]any{"service": "mutt-moog-forwarder", "version": version.Version(), "pod": cfg.PodName},
		s.storageCheck(),
	)
	if err := s.listenRole(listen, "forwarder", fc.MetricsListen, fc.HealthListen, health); err != nil {
		return err
	}
	run("forwarder", f.Run)
	return nil
}

// startRemediation runs the dead-letter replay service.
func (s *Server) startRemediation(listen func(string, string, http.Handler) error, run func(string, func(context.Context) error)) error {
	cfg := s.cfg
	rc := cfg.Remediation
	var probe func(context.Context) error
	if rc.HealthCheck {
		url := rc.HealthURL.Reveal()
		if url == "" {
			url = cfg.Forwarder.WebhookURL.Reveal()
		}
		probe = remediation.NewProbe(url, cfg.Forwarder.APIKey, rc.HealthTimeout, nil)
	}
	var (
		queues      remediation.Queues
		breakerOpen func(context.Context) (bool, error)
	)
	if s.db != nil {
		queues = roles.NewDLQ(s.db)
		// The breaker lives in this process, in the forwarder role.
		breakerOpen = func(ctx context.Context) (bool, error) {
			b := s.breaker.Load()
			if b == nil {
				return false, nil
			}
			state, err := b.State(ctx)
			return state == "OPEN", err
		}
	} else {
		queues = remediation.NewRedis(s.rdb)
		breakerOpen = remediation.RedisBreakerOpen(s.rdb, cfg.Keys.BreakerPrefix+":state")
	}
	svc := remediation.New(remediation.Options{
		AlertQueue: cfg.Keys.AlertQueue, IngestQueue: cfg.Keys.IngestQueue, MoogDLQ: cfg.Keys.MoogDLQ,
		AlerterDLQ: cfg.Keys.AlerterDLQ, DeadDLQ: cfg.Keys.DeadDLQ,
		Interval: rc.Interval, BatchSize: rc.BatchSize, MaxReplays: rc.MaxReplays,
		Dynamic:     s.dyn.Int,
		MoogHealthy: probe,
		BreakerOpen: breakerOpen,
		AlertQueueLimit: func() int64 {
			return s.dyn.Int("alerter_queue_shed_threshold", cfg.Alerter.Shedding.ShedThreshold)
		},
	}, queues, s.reg, s.logger.With("component", "remediation"))
	if err := s.listenRole(listen, "remediation", rc.MetricsListen, rc.HealthListen, svc.HealthHandler()); err != nil {
		return err
	}
	if !rc.Enabled {
		// Idle but healthy: a disabled service must not be restarted in a loop.
		s.logger.Warn("remediation is disabled (REMEDIATION_ENABLED=false); serving health only")
		return nil
	}
	run("remediation", svc.Run)
	return nil
}

// listenRole serves a role's metrics port (with /health too, for probes
// that point there) and its health port.
func (s *Server) listenRole(listen func(string, string, http.Handler) error, role, metricsAddr, healthAddr string, health http.Handler) error {
	metricsMux := http.NewServeMux()
	metricsMux.Handle("GET /metrics", obs.MetricsHandler(s.reg))
	metricsMux.Handle("GET /health", health)
	healthMux := http.NewServeMux()
	healthMux.Handle("GET /health", health)
	if err := listen(role+"-metrics", metricsAddr, metricsMux); err != nil {
		return err
	}
	return listen(role+"-health", healthAddr, healthMux)
}
