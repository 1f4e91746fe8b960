package roles

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"github.com/mutt-go/mutt/internal/configadmin"
	"github.com/mutt-go/mutt/internal/dynconfig"
	"github.com/mutt-go/mutt/internal/embedded/sqlstore"
	"github.com/mutt-go/mutt/internal/heartbeat"
	"github.com/mutt-go/mutt/internal/ratestats"
	"github.com/mutt-go/mutt/internal/store"
	"github.com/mutt-go/mutt/internal/web/auth"
)

// WatchPoll is how often DynConfig.Watch looks for changes: well within the
// second dynconfig.Backend promises, and cheap (one indexed lookup).
const WatchPoll = 250 * time.Millisecond

// DynConfig keeps the dynamic config values in the embedded database: the
// services' reads (dynconfig.Backend) and the audited writer's
// compare-and-set (configadmin.Backend), whose value and audit row commit
// in one transaction.
type DynConfig struct {
	db *sqlstore.DB
}

var (
	_ dynconfig.Backend   = (*DynConfig)(nil)
	_ configadmin.Backend = (*DynConfig)(nil)
)

// NewDynConfig returns the dynamic config backend of db.
func NewDynConfig(db *sqlstore.DB) *DynConfig { return &DynConfig{db: db} }

// Get returns the value of name.
func (c *DynConfig) Get(ctx context.Context, name string) (string, bool, error) {
	return c.db.ConfigValue(ctx, name)
}

// GetMany returns the values of the names that are set, in one query.
func (c *DynConfig) GetMany(ctx context.Context, names []string) (map[string]string, error) {
	return c.db.ConfigValues(ctx, names)
}

// List returns every value that is set.
func (c *DynConfig) List(ctx context.Context) (map[string]string, error) {
	return c.db.ConfigList(ctx)
}

// CompareAndSet swaps the value and writes its audit row in one SQLite
// transaction.
func (c *DynConfig) CompareAndSet(ctx context.Context, name string, old, next *string, change store.ConfigChange) (bool, error) {
	return c.db.CompareAndSetConfig(ctx, name, old, next, change)
}

// Watch polls the change counter every WatchPoll, so that a change written
// by any process on the same file (`mutt config`) is delivered within a
// second. A failed poll is retried at the next one; the Store's periodic
// full read covers a longer outage.
func (c *DynConfig) Watch(ctx context.Context) (<-chan string, error) {
	version, err := c.db.ConfigVersion(ctx)
	if err != nil {
		return nil, fmt.Errorf("watching dynamic config: %w", err)
	}
	out := make(chan string, 100)
	go func() {
		defer close(out)
		t := time.NewTicker(WatchPoll)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
			names, latest, err := c.db.ConfigChangesSince(ctx, version)
			if err != nil {
				continue
			}
			version = latest
			for _, n := range names {
				select {
				case out <- n:
				case <-ctx.Done():
					return
				}
			}
		}
	}()
	return out, nil
}

// Sessions keeps the dashboard session records in the embedded database.
type Sessions struct {
	db  *sqlstore.DB
	now func() time.Time
}

var _ auth.SessionStore = (*Sessions)(nil)

// NewSessions returns the session records of db.
func NewSessions(db *sqlstore.DB) *Sessions { return &Sessions{db: db, now: time.Now} }

// Create stores the record until ttl from now.
func (s *Sessions) Create(ctx context.Context, id, identity string, ttl time.Duration) (bool, error) {
	return s.db.CreateSession(ctx, id, identity, s.now().Add(ttl))
}

// Get reads the live record.
func (s *Sessions) Get(ctx context.Context, id string) (string, bool, error) {
	return s.db.Session(ctx, id)
}

// Delete removes the record.
func (s *Sessions) Delete(ctx context.Context, id string) error { return s.db.DeleteSession(ctx, id) }

// Heartbeats keeps the roles' heartbeats in the embedded database, for
// the tools that must not run beside the services.
type Heartbeats struct {
	db  *sqlstore.DB
	now func() time.Time
}

var _ heartbeat.Backend = (*Heartbeats)(nil)

// NewHeartbeats returns the heartbeats of db.
func NewHeartbeats(db *sqlstore.DB) *Heartbeats { return &Heartbeats{db: db, now: time.Now} }

func stored(beats []heartbeat.Beat) []sqlstore.Heartbeat {
	out := make([]sqlstore.Heartbeat, len(beats))
	for i, b := range beats {
		v, _ := json.Marshal(b) // a struct of plain fields always encodes
		out[i] = sqlstore.Heartbeat{Role: b.Role, Instance: b.Instance, Beat: v}
	}
	return out
}

// Put writes the beats, alive for ttl.
func (h *Heartbeats) Put(ctx context.Context, beats []heartbeat.Beat, ttl time.Duration) error {
	return h.db.PutHeartbeats(ctx, stored(beats), h.now().Add(ttl))
}

// Delete removes the beats.
func (h *Heartbeats) Delete(ctx context.Context, beats []heartbeat.Beat) error {
	return h.db.DeleteHeartbeats(ctx, stored(beats))
}

// Live returns the beats not expired; one whose value does not decode is
// reported by its role and instance.
func (h *Heartbeats) Live(ctx context.Context) ([]heartbeat.Beat, error) {
	rows, err := h.db.LiveHeartbeats(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]heartbeat.Beat, 0, len(rows))
	for _, r := range rows {
		var b heartbeat.Beat
		if json.Unmarshal(r.Beat, &b) != nil || b.Role == "" {
			b = heartbeat.Beat{Role: r.Role, Instance: r.Instance, Host: "unknown host"}
		}
		out = append(out, b)
	}
	return out, nil
}

// IngestRates reads the ingest minute counts of the embedded database for
// the rate report; the ingest producer adds them with
// sqlstore.DB.AddIngestCounts.
type IngestRates struct {
	db *sqlstore.DB
}

var _ ratestats.Source = (*IngestRates)(nil)

// NewIngestRates returns the ingest counts of db.
func NewIngestRates(db *sqlstore.DB) *IngestRates { return &IngestRates{db: db} }

// Counts reads the newest minutes and the hours' totals, summed from the
// minutes.
func (r *IngestRates) Counts(ctx context.Context, minutes int, hourStarts []time.Time) ([]float64, []float64, error) {
	newest, err := r.db.IngestMinutes(ctx, minutes)
	if err != nil {
		return nil, nil, err
	}
	counts := make([]float64, len(newest))
	for i, m := range newest {
		counts[i] = float64(m.Events)
	}
	totals := make([]float64, len(hourStarts))
	if len(hourStarts) == 0 {
		return counts, totals, nil
	}
	from := slices.MinFunc(hourStarts, time.Time.Compare).Truncate(time.Hour)
	to := slices.MaxFunc(hourStarts, time.Time.Compare).Truncate(time.Hour).Add(time.Hour)
	hours, err := r.db.IngestHours(ctx, from, to)
	if err != nil {
		return nil, nil, err
	}
	byHour := make(map[int64]int64, len(hours))
	for _, h := range hours {
		byHour[h.Minute.Unix()] = h.Events
	}
	for i, h := range hourStarts {
		totals[i] = float64(byHour[h.Truncate(time.Hour).Unix()])
	}
	return counts, totals, nil
}

// QueueDepths measures the embedded queues for the dashboard's overview
// (ui.QueueDepths), one indexed lookup each.
type QueueDepths struct {
	db *sqlstore.DB
}

// NewQueueDepths returns the queue lengths of db.
func NewQueueDepths(db *sqlstore.DB) *QueueDepths { return &QueueDepths{db: db} }

// Depths returns the length of each queue.
func (q *QueueDepths) Depths(ctx context.Context, keys []string) ([]int64, []error) {
	lens, errs := make([]int64, len(keys)), make([]error, len(keys))
	for i, k := range keys {
		lens[i], errs[i] = q.db.Len(ctx, k)
	}
	return lens, errs
}
