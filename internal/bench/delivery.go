package bench

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"

	"github.com/mutt-go/mutt/internal/app"
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

// newForwarder wires a forwarder exactly as the forwarder role does
// (app.NewForwarder), pointed at the fake Moogsoft. Dynamic configuration is
// off in a run, so the rate limit and breaker settings are the static ones.
// What it leaves out is the role's HTTP endpoints and the loop that
// refreshes the breaker's gauges while no alerts flow. When wrap is not
// nil, the forwarder calls wrap(chain) instead of the chain.
func newForwarder(cfg config.Config, rdb redis.UniversalClient, moog *fakeMoog, reg prometheus.Registerer, logger *slog.Logger,
	wrap func(forward.Sender) forward.Sender) (*forward.Forwarder, *forward.Webhook, error) {
	cfg.Forwarder.WebhookURL = config.NewURL(moog.url)
	cfg.Forwarder.APIKey = secrets.New(moog.key)
	fw, err := app.NewForwarder(cfg, rdb, nil, reg, logger, wrap)
	if err != nil {
		return nil, nil, err
	}
	return fw.Forwarder, fw.Webhook, nil
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
