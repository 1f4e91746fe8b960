package heartbeat

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/mutt-go/mutt/internal/rediskeys"
	"github.com/mutt-go/mutt/internal/version"
)

// Defaults: a beat every Interval, each living TTL, so a killed process's
// heartbeat is gone within TTL and a live one survives two missed beats.
const (
	DefaultInterval = 5 * time.Second
	DefaultTTL      = 15 * time.Second
)

// Beat is the value of a heartbeat key.
type Beat struct {
	Role      string    `json:"role"`
	Instance  string    `json:"instance"`
	Host      string    `json:"host"`
	PID       int       `json:"pid"`
	Version   string    `json:"version"`
	StartedAt time.Time `json:"started_at"`
}

// String describes the beat for an operator: "alerter on host1 (pid 42,
// instance mutt-host1-ab12cd, MUTT 2.5.0, up since 2026-12-07T15:00:00Z)".
func (b Beat) String() string {
	return fmt.Sprintf("%s on %s (pid %d, instance %s, MUTT %s, up since %s)", b.Role, b.Host, b.PID, b.Instance,
		b.Version, b.StartedAt.UTC().Format(time.RFC3339))
}

// Key is the heartbeat key of role's instance under the key prefix.
func Key(prefix, role, instance string) string {
	return prefix + ":heartbeat:" + role + ":" + instance
}

// Options configure a Writer.
type Options struct {
	Prefix   string   // MUTT's key prefix (KeyPrefix)
	Instance string   // the process's consumer name (PodName)
	Roles    []string // the roles this process runs
	Interval time.Duration
	TTL      time.Duration
}

// Backend keeps the heartbeats: Redis (RedisBackend), or the embedded
// database. A beat is known by its role and instance. Implementations are
// safe for concurrent use.
type Backend interface {
	// Put writes every beat, replacing the one of the same role and
	// instance, each living ttl from now.
	Put(ctx context.Context, beats []Beat, ttl time.Duration) error
	// Delete removes the beats of the roles and instances of beats.
	Delete(ctx context.Context, beats []Beat) error
	// Live returns every beat whose lifetime is not over, in any order.
	Live(ctx context.Context) ([]Beat, error)
}

// Writer keeps the heartbeats of one process's roles.
type Writer struct {
	backend Backend
	opts    Options
	beats   []Beat
	logger  *slog.Logger
}

// New prepares the heartbeats of opts.Roles in Redis, under opts.Prefix;
// nothing is written until Run.
func New(opts Options, rdb redis.UniversalClient, logger *slog.Logger) *Writer {
	return NewFrom(opts, NewRedis(rdb, opts.Prefix), logger)
}

// NewFrom prepares the heartbeats of opts.Roles in backend (opts.Prefix is
// unused); nothing is written until Run.
func NewFrom(opts Options, backend Backend, logger *slog.Logger) *Writer {
	if opts.Interval <= 0 {
		opts.Interval = DefaultInterval
	}
	if opts.TTL <= 0 {
		opts.TTL = DefaultTTL
	}
	host, _ := os.Hostname()
	w := &Writer{backend: backend, opts: opts, logger: logger}
	started := time.Now().UTC().Truncate(time.Second)
	for _, role := range opts.Roles {
		w.beats = append(w.beats, Beat{Role: role, Instance: opts.Instance, Host: host, PID: os.Getpid(),
			Version: version.Version(), StartedAt: started})
	}
	return w
}

// Beat writes every heartbeat once, with the TTL.
func (w *Writer) Beat(ctx context.Context) error {
	if err := w.backend.Put(ctx, w.beats, w.opts.TTL); err != nil {
		return fmt.Errorf("writing heartbeats: %w", err)
	}
	return nil
}

// Run beats every Interval until ctx ends. A failed beat is logged and
// retried at the next tick: Redis trouble is every role's own business.
func (w *Writer) Run(ctx context.Context) error {
	t := time.NewTicker(w.opts.Interval)
	defer t.Stop()
	for {
		if err := w.Beat(ctx); err != nil && ctx.Err() == nil {
			w.logger.Warn("heartbeat", "error", err)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// Clear deletes the heartbeats: the roles stopped cleanly. Call it once
// their work in hand is finished.
func (w *Writer) Clear(ctx context.Context) error {
	if err := w.backend.Delete(ctx, w.beats); err != nil {
		return fmt.Errorf("deleting heartbeats: %w", err)
	}
	return nil
}

// Live returns the heartbeats in Redis under prefix, ordered by role and
// host (LiveFrom a RedisBackend).
func Live(ctx context.Context, rdb redis.UniversalClient, prefix string) ([]Beat, error) {
	return LiveFrom(ctx, NewRedis(rdb, prefix))
}

// LiveFrom returns the heartbeats of backend, ordered by role, host and
// instance.
func LiveFrom(ctx context.Context, backend Backend) ([]Beat, error) {
	out, err := backend.Live(ctx)
	if err != nil {
		return nil, err
	}
	slices.SortFunc(out, func(a, b Beat) int {
		return strings.Compare(a.Role+"\x00"+a.Host+"\x00"+a.Instance, b.Role+"\x00"+b.Host+"\x00"+b.Instance)
	})
	return out, nil
}

// RedisBackend keeps each beat, JSON-encoded, in the Redis string
// Key(prefix, role, instance) with the lifetime as its TTL.
type RedisBackend struct {
	rdb    redis.UniversalClient
	prefix string
}

var _ Backend = (*RedisBackend)(nil)

// NewRedis returns the heartbeats under MUTT's key prefix prefix.
func NewRedis(rdb redis.UniversalClient, prefix string) *RedisBackend {
	return &RedisBackend{rdb: rdb, prefix: prefix}
}

// Put writes the beats in one pipeline.
func (r *RedisBackend) Put(ctx context.Context, beats []Beat, ttl time.Duration) error {
	_, err := r.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for _, b := range beats {
			v, _ := json.Marshal(b) // a struct of plain fields always encodes
			p.Set(ctx, Key(r.prefix, b.Role, b.Instance), v, ttl)
		}
		return nil
	})
	return err
}

// Delete deletes the beats' keys.
func (r *RedisBackend) Delete(ctx context.Context, beats []Beat) error {
	keys := make([]string, 0, len(beats))
	for _, b := range beats {
		keys = append(keys, Key(r.prefix, b.Role, b.Instance))
	}
	if len(keys) == 0 {
		return nil
	}
	return r.rdb.Del(ctx, keys...).Err()
}

// Live lists the heartbeat keys under the prefix. A key that vanished
// between listing and reading is skipped; one whose value does not decode
// is still reported, by its key.
func (r *RedisBackend) Live(ctx context.Context) ([]Beat, error) {
	keys, err := rediskeys.WithPrefix(ctx, r.rdb, r.prefix+":heartbeat:")
	if err != nil {
		return nil, err
	}
	var out []Beat
	for _, k := range keys {
		v, err := r.rdb.Get(ctx, k).Bytes()
		if errors.Is(err, redis.Nil) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("reading heartbeat %s: %w", k, err)
		}
		var b Beat
		if json.Unmarshal(v, &b) != nil || b.Role == "" {
			b = Beat{Role: strings.TrimPrefix(k, r.prefix+":heartbeat:"), Host: "unknown host"}
		}
		out = append(out, b)
	}
	return out, nil
}
