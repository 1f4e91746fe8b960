package app

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/mutt-go/mutt/internal/forward"
	"github.com/mutt-go/mutt/internal/obs"
	"github.com/mutt-go/mutt/internal/remediation"
)

// startForwarder wires retry(breaker(ratelimit(webhook))) to the alert queue.
func (s *Server) startForwarder(listen func(string, string, http.Handler) error, run func(string, func(context.Context) error)) error {
	cfg := s.cfg
	fc := cfg.Forwarder
	log := s.logger.With("component", "forwarder")
	m := forward.NewMetrics(s.reg)
	webhook, err := forward.NewWebhook(forward.WebhookOptions{
		URL: fc.WebhookURL, APIKey: fc.APIKey, Timeout: fc.Timeout, Concurrency: fc.Concurrency, Metrics: m,
	})
	if err != nil {
		return err
	}
	var sender forward.Sender = forward.NewRateLimiter(webhook, forward.RateLimitOptions{
		Redis: s.rdb, Key: cfg.Keys.MoogRateLimit, Metrics: m, Logger: log,
		Limit: func() int64 { return s.dyn.Int("moog_rate_limit", int64(fc.RateLimit)) },
		Period: func() time.Duration {
			return time.Duration(s.dyn.Int("moog_rate_period", int64(fc.RatePeriod/time.Second))) * time.Second
		},
	})
	if fc.BreakerEnabled {
		breaker := forward.NewBreaker(sender, forward.BreakerOptions{
			Redis: s.rdb, KeyPrefix: cfg.Keys.BreakerPrefix, Metrics: m, Logger: log, Registerer: s.reg,
			Threshold: func() int64 { return s.dyn.Int("circuit_breaker_threshold", int64(fc.BreakerThreshold)) },
			OpenFor: func() time.Duration {
				return time.Duration(s.dyn.Int("circuit_breaker_timeout", int64(fc.BreakerTimeout/time.Second))) * time.Second
			},
		})
		sender = breaker
		// Keep the breaker gauges current while no alerts flow.
		run("breaker gauges", func(ctx context.Context) error {
			t := time.NewTicker(5 * time.Second)
			defer t.Stop()
			for {
				_, _ = breaker.State(ctx)
				select {
				case <-ctx.Done():
					return nil
				case <-t.C:
				}
			}
		})
	}
	sender = forward.NewRetrier(sender, forward.RetryOptions{
		MaxAttempts: fc.MaxRetries + 1, Base: fc.RetryBaseDelay, Max: fc.RetryMaxDelay,
	})
	f := forward.NewForwarder(forward.ForwarderOptions{
		PodName: cfg.PodName, AlertQueue: cfg.Keys.AlertQueue, MoogDLQ: cfg.Keys.MoogDLQ, DeadDLQ: cfg.Keys.DeadDLQ,
		RetryKey: cfg.Keys.MoogRetry, Workers: fc.Workers, BatchSize: fc.BatchSize, Block: fc.Block,
		ReclaimIdle: fc.ReclaimIdle,
	}, s.rdb, sender, s.reg, log)
	// Liveness is the process and Redis; Moogsoft's reachability is a
	// metric and the breaker's business, so an outage there does not get
	// forwarders restarted in a loop.
	health := obs.HealthHandler(
		map[string]any{"service": "mutt-moog-forwarder", "version": obs.APIVersion, "pod": cfg.PodName},
		obs.Check{Name: "Redis", Check: func(ctx context.Context) error { return s.rdb.Ping(ctx).Err() }},
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
		url := rc.HealthURL
		if url == "" {
			url = cfg.Forwarder.WebhookURL
		}
		probe = remediation.NewProbe(url, cfg.Forwarder.APIKey, rc.HealthTimeout, nil)
	}
	breakerKey := cfg.Keys.BreakerPrefix + ":state"
	svc := remediation.New(remediation.Options{
		AlertQueue: cfg.Keys.AlertQueue, IngestQueue: cfg.Keys.IngestQueue, MoogDLQ: cfg.Keys.MoogDLQ,
		AlerterDLQ: cfg.Keys.AlerterDLQ, DeadDLQ: cfg.Keys.DeadDLQ,
		Interval: rc.Interval, BatchSize: rc.BatchSize, MaxReplays: rc.MaxReplays,
		Dynamic:     s.dyn.Int,
		MoogHealthy: probe,
		BreakerOpen: func(ctx context.Context) (bool, error) {
			v, err := s.rdb.Get(ctx, breakerKey).Result()
			if errors.Is(err, redis.Nil) {
				return false, nil
			}
			return v == "OPEN", err
		},
		AlertQueueLimit: func() int64 {
			return s.dyn.Int("alerter_queue_shed_threshold", cfg.Alerter.Shedding.ShedThreshold)
		},
	}, s.rdb, s.reg, s.logger.With("component", "remediation"))
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
