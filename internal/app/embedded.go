package app

import (
	"context"
	"fmt"
	"slices"

	"github.com/mutt-go/mutt/internal/config"
	"github.com/mutt-go/mutt/internal/embedded/datadir"
	"github.com/mutt-go/mutt/internal/embedded/roles"
	"github.com/mutt-go/mutt/internal/embedded/sqlstore"
	"github.com/mutt-go/mutt/internal/ingest"
	"github.com/mutt-go/mutt/internal/obs"
	"github.com/mutt-go/mutt/internal/queue"
)

// storageMode is the storage the roles run on. Settings that name only
// Redis are accepted for roles that need no PostgreSQL (an ingestor or
// forwarder unit of a split deployment); any other mix is the error
// config.StorageMode gives.
func storageMode(cfg *config.Config, opts ServeOptions) (string, error) {
	mode, err := cfg.StorageMode()
	if err == nil {
		return mode, nil
	}
	needsPostgres := opts.Migrate || slices.Contains(opts.Roles, RoleAlerter) || slices.Contains(opts.Roles, RoleWebUI)
	if cfg.UsesRedis() && !needsPostgres {
		return config.StorageRedis, nil
	}
	return "", err
}

// openEmbedded takes the data directory for this process and opens its
// database, applying the migrations it lacks.
func (s *Server) openEmbedded(ctx context.Context) error {
	lock, err := datadir.Acquire(s.cfg.Storage.DataDir)
	if err != nil {
		return err
	}
	db, err := sqlstore.Open(ctx, s.cfg.Storage.DatabaseFile())
	if err != nil {
		_ = lock.Release()
		return fmt.Errorf("opening the embedded database (MUTT_DATA_DIR=%s): %w", s.cfg.Storage.DataDir, err)
	}
	s.lock, s.db = lock, db
	s.logger.Info("storage: embedded, one process on one data directory; no Redis or PostgreSQL is used",
		"data_dir", s.cfg.Storage.DataDir, "database", db.Path())
	return nil
}

// closeEmbedded closes the database and releases the data directory.
func (s *Server) closeEmbedded() {
	if s.db != nil {
		if err := s.db.Close(); err != nil {
			s.logger.Warn("closing the embedded database", "error", err)
		}
		s.db = nil
	}
	if s.lock != nil {
		_ = s.lock.Release()
		s.lock = nil
	}
}

// storageCheck is the health check of the storage the roles write to.
func (s *Server) storageCheck() obs.Check {
	if s.db != nil {
		return obs.Check{Name: "Embedded database", Check: s.db.Ping}
	}
	return obs.Check{Name: "Redis", Check: func(ctx context.Context) error { return s.rdb.Ping(ctx).Err() }}
}

// ingestProducer is the producer of the ingest queue in the mode that
// runs, with the cap dynamic config may move, and its Close.
func (s *Server) ingestProducer() (ingest.Producer, func() error) {
	cfg := s.cfg
	limit := func() int64 { return s.dyn.Int("max_ingest_queue_size", cfg.Ingest.MaxQueueSize) }
	if s.db != nil {
		p := roles.NewProducer(s.db, cfg.Keys.IngestQueue, limit, true, s.logger.With("component", "producer"))
		return p, p.Close
	}
	p := queue.NewProducer(s.rdb, cfg.Keys.IngestQueue, queue.ProducerOptions{Limit: limit, MetricsPrefix: cfg.Keys.MetricsPrefix})
	return p, p.Close
}

// embeddedAlerterQueues names the alerter's queues as the Redis keys do.
func embeddedAlerterQueues(cfg config.Config) roles.AlerterQueues {
	return roles.AlerterQueues{Ingest: cfg.Keys.IngestQueue, Alerts: cfg.Keys.AlertQueue, DLQ: cfg.Keys.AlerterDLQ}
}
