package dynconfig

import (
	"context"
	"errors"
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
	rdb     redis.UniversalClient
	prefix  string // e.g. "mutt:config"
	channel string // e.g. "mutt:config:updates"
	logger  *slog.Logger

	mu     sync.RWMutex
	values map[string]string
	// notify is closed and replaced whenever a value changes.
	notify chan struct{}
}

// New returns a store for the keys under prefix. Call Run to load and watch.
func New(rdb redis.UniversalClient, prefix string, logger *slog.Logger) *Store {
	return &Store{
		rdb: rdb, prefix: prefix, channel: prefix + ":updates", logger: logger,
		values: map[string]string{}, notify: make(chan struct{}),
	}
}

// Run loads every value, then keeps the cache current until ctx ends: a
// name published on the updates channel is re-read at once, and the whole
// set is re-read every 30 s and after the subscription reconnects, so a
// missed message costs at most that long.
func (s *Store) Run(ctx context.Context) error {
	sub := s.rdb.Subscribe(ctx, s.channel)
	defer sub.Close()
	// Wait for the subscription to be confirmed before the first load, so no
	// change can fall between the two.
	if _, err := sub.Receive(ctx); err != nil {
		s.logger.Warn("subscribing to dynamic config updates", "error", err)
	}
	if err := s.refresh(ctx); err != nil {
		s.logger.Warn("loading dynamic config", "error", err)
	}
	ch := sub.Channel(redis.WithChannelHealthCheckInterval(10 * time.Second))
	tick := time.NewTicker(30 * time.Second)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case msg, ok := <-ch:
			if !ok {
				return nil
			}
			if err := s.reload(ctx, msg.Payload); err != nil {
				s.logger.Warn("reloading dynamic config key", "key", msg.Payload, "error", err)
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
		names[i] = s.prefix + ":" + k.Name
	}
	vals, err := s.rdb.MGet(ctx, names...).Result()
	if err != nil {
		return fmt.Errorf("reading %s:*: %w", s.prefix, err)
	}
	fresh := map[string]string{}
	for i, raw := range vals {
		if v, ok := raw.(string); ok && s.valid(keys[i].Name, v) {
			fresh[keys[i].Name] = v
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
	name = strings.TrimPrefix(name, s.prefix+":")
	if _, ok := Lookup(name); !ok {
		return nil
	}
	v, err := s.rdb.Get(ctx, s.prefix+":"+name).Result()
	absent := errors.Is(err, redis.Nil)
	if err != nil && !absent {
		return err
	}
	s.mu.Lock()
	if absent || !s.valid(name, v) {
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
// audited writer instead (package configadmin).
func (s *Store) Set(ctx context.Context, name, value string) error {
	if err := Validate(name, value); err != nil {
		return err
	}
	if err := s.rdb.Set(ctx, s.prefix+":"+name, value, 0).Err(); err != nil {
		return fmt.Errorf("setting %s: %w", name, err)
	}
	if err := s.rdb.Publish(ctx, s.channel, name).Err(); err != nil {
		return fmt.Errorf("announcing %s: %w", name, err)
	}
	return s.reload(ctx, name)
}
