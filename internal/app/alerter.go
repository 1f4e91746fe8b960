package app

import (
	"github.com/redis/go-redis/v9"

	"github.com/mutt-go/mutt/internal/alerter"
	"github.com/mutt-go/mutt/internal/config"
)

// AlerterOptions are the alerter's options from cfg (dynamic config may
// override the thresholds at run time).
func AlerterOptions(cfg config.Config) alerter.Options {
	return alerter.Options{
		PodName: cfg.PodName, IngestQueue: cfg.Keys.IngestQueue, AlertQueue: cfg.Keys.AlertQueue,
		DLQ: cfg.Keys.AlerterDLQ, UnhandledPrefix: cfg.Keys.UnhandledPrefix,
		Workers: cfg.Alerter.Workers, BatchSize: cfg.Alerter.BatchSize, Block: cfg.Alerter.Block,
		MaxRetries: cfg.Alerter.MaxRetries, ReclaimIdle: cfg.Alerter.ReclaimIdle,
		CacheReloadInterval: cfg.Alerter.CacheReloadInterval,
		UnhandledThreshold:  int64(cfg.Alerter.UnhandledThreshold), UnhandledExpiry: cfg.Alerter.UnhandledExpiry,
		UnhandledDefaultTeam: cfg.Alerter.UnhandledDefaultTeam,
		ShedWarnThreshold:    cfg.Alerter.Shedding.WarnThreshold, ShedThreshold: cfg.Alerter.Shedding.ShedThreshold,
		ShedMode: cfg.Alerter.Shedding.Mode, DeferSleep: cfg.Alerter.Shedding.DeferSleep,
		RequiredFields: cfg.Ingest.RequiredFields,
	}
}

// NewAlerterRedisBackend is the alerter's Redis backend over cfg's keys.
func NewAlerterRedisBackend(cfg config.Config, rdb redis.UniversalClient) *alerter.RedisBackend {
	return alerter.NewRedisBackend(rdb, alerter.RedisOptions{IngestQueue: cfg.Keys.IngestQueue,
		AlertQueue: cfg.Keys.AlertQueue, DLQ: cfg.Keys.AlerterDLQ, ReloadChannel: cfg.Keys.ReloadChannel})
}
