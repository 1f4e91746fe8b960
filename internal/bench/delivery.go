package bench

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"

	"github.com/mutt-go/mutt/internal/config"
	"github.com/mutt-go/mutt/internal/fakemoog"
	"github.com/mutt-go/mutt/internal/forward"
	"github.com/mutt-go/mutt/internal/secrets"
)

// moogPath is where the fake Moogsoft takes events.
const moogPath = "/api/v1/events"

// fakeMoog is a fake Moogsoft on a loopback port behind a real net/http
// server, with the URL and key the forwarder is given.
type fakeMoog struct {
	fake *fakemoog.Server
	url  string // the webhook URL
	key  string
	stop func()
}

// startFakeMoog serves a fakemoog.Server that tracks up to maxIDs external
// IDs, through wrap when it is not nil (to look at each request first).
func startFakeMoog(maxIDs int, wrap func(*fakemoog.Server) http.Handler, logger *slog.Logger) (*fakeMoog, error) {
	key, err := randomKey()
	if err != nil {
		return nil, err
	}
	fake := fakemoog.New(fakemoog.Options{APIKey: key, MaxIDs: maxIDs})
	var h http.Handler = fake
	if wrap != nil {
		h = wrap(fake)
	}
	base, stop, err := serveLoopback(h, logger)
	if err != nil {
		return nil, err
	}
	return &fakeMoog{fake: fake, url: base + moogPath, key: key, stop: stop}, nil
}

// newForwarder wires a forwarder the way the forwarder role does:
// retry(breaker(ratelimit(webhook))) on the alert queue, with the breaker
// only when it is enabled. Dynamic configuration is off in a run, so the
// rate limit and breaker settings are the static ones. What it leaves out
// is the role's HTTP endpoints and the loop that refreshes the breaker's
// gauges while no alerts flow. When wrap is not nil, the forwarder calls
// wrap(chain) instead of the chain.
func newForwarder(cfg config.Config, rdb redis.UniversalClient, moog *fakeMoog, reg prometheus.Registerer, logger *slog.Logger,
	wrap func(forward.Sender) forward.Sender) (*forward.Forwarder, *forward.Webhook, error) {
	fc := cfg.Forwarder
	m := forward.NewMetrics(reg)
	webhook, err := forward.NewWebhook(forward.WebhookOptions{
		URL: moog.url, APIKey: secrets.New(moog.key), Timeout: fc.Timeout, Concurrency: fc.Concurrency, Metrics: m,
	})
	if err != nil {
		return nil, nil, fmt.Errorf("building the webhook: %w", err)
	}
	rateLimit, ratePeriod := int64(fc.RateLimit), fc.RatePeriod
	var sender forward.Sender = forward.NewRateLimiter(webhook, forward.RateLimitOptions{
		Redis: rdb, Key: cfg.Keys.MoogRateLimit, Metrics: m, Logger: logger,
		Limit:  func() int64 { return rateLimit },
		Period: func() time.Duration { return ratePeriod },
	})
	if fc.BreakerEnabled {
		threshold, openFor := int64(fc.BreakerThreshold), fc.BreakerTimeout
		sender = forward.NewBreaker(sender, forward.BreakerOptions{
			Redis: rdb, KeyPrefix: cfg.Keys.BreakerPrefix, Metrics: m, Logger: logger, Registerer: reg,
			Threshold: func() int64 { return threshold },
			OpenFor:   func() time.Duration { return openFor },
		})
	}
	sender = forward.NewRetrier(sender, forward.RetryOptions{
		MaxAttempts: fc.MaxRetries + 1, Base: fc.RetryBaseDelay, Max: fc.RetryMaxDelay,
	})
	if wrap != nil {
		sender = wrap(sender)
	}
	f := forward.NewForwarder(forward.ForwarderOptions{
		PodName: cfg.PodName, AlertQueue: cfg.Keys.AlertQueue, MoogDLQ: cfg.Keys.MoogDLQ, DeadDLQ: cfg.Keys.DeadDLQ,
		RetryKey: cfg.Keys.MoogRetry, Workers: fc.Workers, BatchSize: fc.BatchSize, Block: fc.Block,
		ReclaimIdle: fc.ReclaimIdle,
	}, rdb, sender, reg, logger)
	return f, webhook, nil
}

// deliveryLeftovers counts what a delivery run left outside Moogsoft: the
// alert queue, the retry schedule and both dead-letter queues.
type deliveryLeftovers struct {
	queued, scheduled, dlq, dead int64
}

func (l deliveryLeftovers) empty() bool {
	return l.queued == 0 && l.scheduled == 0 && l.dlq == 0 && l.dead == 0
}

func (l deliveryLeftovers) String() string {
	return fmt.Sprintf("%d alerts still queued, %d scheduled for retry, %d in the Moogsoft DLQ, %d in the terminal DLQ",
		l.queued, l.scheduled, l.dlq, l.dead)
}

// leftovers reads the delivery queues' lengths.
func (e *Env) leftovers(ctx context.Context, cfg config.Config) (deliveryLeftovers, error) {
	var l deliveryLeftovers
	cmds, err := e.own.Pipelined(ctx, func(p redis.Pipeliner) error {
		p.XLen(ctx, cfg.Keys.AlertQueue)
		p.ZCard(ctx, cfg.Keys.MoogRetry)
		p.XLen(ctx, cfg.Keys.MoogDLQ)
		p.XLen(ctx, cfg.Keys.DeadDLQ)
		return nil
	})
	if err != nil {
		return l, fmt.Errorf("measuring the delivery queues: %w", err)
	}
	n := make([]int64, len(cmds))
	for i, c := range cmds {
		n[i] = c.(*redis.IntCmd).Val()
	}
	l.queued, l.scheduled, l.dlq, l.dead = n[0], n[1], n[2], n[3]
	return l, nil
}
