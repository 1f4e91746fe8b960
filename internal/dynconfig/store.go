package dynconfig

import (
	"context"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// Store caches the dynamic values. A nil *Store is valid and always returns
// the fallback, which is how a service runs with dynamic config disabled.
type Store struct {
	backend Backend
	logger  *slog.Logger

	mu     sync.RWMutex
	values map[string]string
	// notify is closed and replaced whenever a value changes.
	notify chan struct{}
}

// New returns a store for the Redis keys under prefix. Call Run to load and
// watch.
func New(rdb redis.UniversalClient, prefix string, logger *slog.Logger) *Store {
	return NewFrom(NewRedis(rdb, prefix), logger)
}

// NewFrom returns a store reading backend. Call Run to load and watch.
func NewFrom(backend Backend, logger *slog.Logger) *Store {
	return &Store{backend: backend, logger: logger, values: map[string]string{}, notify: make(chan struct{})}
}

// Run loads every value, then keeps the cache current until ctx ends: a
// name the backend's watch delivers is re-read at once, and the whole set
// is re-read every 30 s, so a missed change costs at most that long.
func (s *Store) Run(ctx context.Context) error {
	// Watch before the first load, so no change can fall between the two.
	ch, err := s.backend.Watch(ctx)
	if err != nil {
		s.logger.Warn("subscribing to dynamic config updates", "error", err)
	}
	if err := s.refresh(ctx); err != nil {
		s.logger.Warn("loading dynamic config", "error", err)
	}
	tick := time.NewTicker(30 * time.Second)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case name, ok := <-ch:
			if !ok {
				return nil
			}
			if err := s.reload(ctx, name); err != nil {
				s.logger.Warn("reloading dynamic config key", "key", name, "error", err)
			}
		case <-tick.C:
			if err := s.refresh(ctx); err != nil {
				s.logger.Warn("refreshing dynamic config", "error", err)
			}
		}
	}
}

// Changed returns a channel closed at the next change of any value.
func (s *Store) Changed() <-chan struct{} {
	if s == nil {
		return nil
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.notify
}

func (s *Store) refresh(ctx context.Context) error {
	keys := Keys()
	names := make([]string, len(keys))
	for i, k := range keys {
		names[i] = k.Name
	}
	vals, err := s.backend.GetMany(ctx, names)
	if err != nil {
		return err
	}
	fresh := map[string]string{}
	for _, k := range keys {
		if v, ok := vals[k.Name]; ok && s.valid(k.Name, v) {
			fresh[k.Name] = v
		}
	}
	s.mu.Lock()
	changed := len(fresh) != len(s.values)
	for k, v := range fresh {
		if s.values[k] != v {
			changed = true
		}
	}
	s.values = fresh
	if changed {
		close(s.notify)
		s.notify = make(chan struct{})
	}
	s.mu.Unlock()
	return nil
}

func (s *Store) reload(ctx context.Context, name string) error {
	if _, ok := Lookup(name); !ok {
		return nil
	}
	v, found, err := s.backend.Get(ctx, name)
	if err != nil {
		return err
	}
	s.mu.Lock()
	if !found || !s.valid(name, v) {
		delete(s.values, name)
	} else {
		s.values[name] = v
	}
	close(s.notify)
	s.notify = make(chan struct{})
	s.mu.Unlock()
	return nil
}

// valid reports whether v passes the registry's rules for name, logging
// the value that does not: a bad value never reaches a service, which
// keeps its fallback instead.
func (s *Store) valid(name, v string) bool {
	if err := Validate(name, v); err != nil {
		s.logger.Warn("ignoring invalid dynamic config value", "error", err)
		return false
	}
	return true
}

// String returns the value of name, or fallback when it is unset or was
// invalid when read. Values are validated once, when they are loaded.
func (s *Store) String(name, fallback string) string {
	if s == nil {
		return fallback
	}
	s.mu.RLock()
	v, ok := s.values[name]
	s.mu.RUnlock()
	if !ok {
		return fallback
	}
	return v
}

// Int returns the valid integer value of name, or fallback.
func (s *Store) Int(name string, fallback int64) int64 {
	v := s.String(name, "")
	if v == "" {
		return fallback
	}
	n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
	if err != nil {
		return fallback
	}
	return n
}

// Float returns the valid numeric value of name, or fallback.
func (s *Store) Float(name string, fallback float64) float64 {
	v := s.String(name, "")
	if v == "" {
		return fallback
	}
	f, err := parseFloat(v)
	if err != nil {
		return fallback
	}
	return f
}

// Bool returns the valid boolean value of name (true or false in any case),
// or fallback.
func (s *Store) Bool(name string, fallback bool) bool {
	v := s.String(name, "")
	if v == "" {
		return fallback
	}
	b, err := ParseBool(v)
	if err != nil {
		return fallback
	}
	return b
}

// Set validates and stores a value and tells every service about it,
// without an audit row; operators and the API change values through the
// audited writer instead (package configadmin). Only a backend with a Set
// method of its own (RedisBackend) takes such writes.
func (s *Store) Set(ctx context.Context, name, value string) error {
	if err := Validate(name, value); err != nil {
		return err
	}
	w, ok := s.backend.(interface {
		Set(ctx context.Context, name, value string) error
	})
	if !ok {
		return fmt.Errorf("setting %s: the dynamic config backend takes audited writes only", name)
	}
	if err := w.Set(ctx, name, value); err != nil {
		return err
	}
	return s.reload(ctx, name)
}
