package dynconfig

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/mutt-go/mutt/internal/rediskeys"
)

// Backend is where the dynamic values are kept: Redis, or the embedded
// database. Implementations are safe for concurrent use.
type Backend interface {
	// Get returns the value of name; ok is false when it is unset.
	Get(ctx context.Context, name string) (value string, ok bool, err error)
	// GetMany returns the values of the names that are set, in one round
	// trip; an unset name has no entry.
	GetMany(ctx context.Context, names []string) (map[string]string, error)
	// List returns every stored value by name, known to the registry or
	// not.
	List(ctx context.Context) (map[string]string, error)
	// Watch delivers the name of each changed key, within a second of the
	// change, until ctx ends; then the channel is closed. A change made
	// before Watch returned may be missed, so callers read after watching.
	// An error with a nil channel means no watch runs; with a channel, the
	// watch started impaired and recovers on its own.
	Watch(ctx context.Context) (<-chan string, error)
}

// updatesSuffix names the Redis channel of changes, never a config name.
const updatesSuffix = "updates"

// listBatch is the COUNT hint of each SCAN and the size of each MGET of
// List.
const listBatch = 100

// RedisBackend keeps each value in the Redis string <prefix>:<name> and
// announces a change by publishing the bare name on <prefix>:updates.
type RedisBackend struct {
	rdb     redis.UniversalClient
	prefix  string
	channel string
}

var _ Backend = (*RedisBackend)(nil)

// NewRedis returns the Redis backend of the keys under prefix (e.g.
// "mutt:config").
func NewRedis(rdb redis.UniversalClient, prefix string) *RedisBackend {
	return &RedisBackend{rdb: rdb, prefix: prefix, channel: prefix + ":" + updatesSuffix}
}

// Client returns the Redis client, for writers that run scripts on it.
func (b *RedisBackend) Client() redis.UniversalClient { return b.rdb }

// Key returns the Redis key of name.
func (b *RedisBackend) Key(name string) string { return b.prefix + ":" + name }

// Channel returns the Redis channel a change is published on.
func (b *RedisBackend) Channel() string { return b.channel }

// Get reads <prefix>:<name>.
func (b *RedisBackend) Get(ctx context.Context, name string) (string, bool, error) {
	v, err := b.rdb.Get(ctx, b.Key(name)).Result()
	if errors.Is(err, redis.Nil) {
		return "", false, nil
	}
	if err != nil {
		return "", false, fmt.Errorf("reading %s: %w", b.Key(name), err)
	}
	return v, true, nil
}

// GetMany reads the names with one MGET.
func (b *RedisBackend) GetMany(ctx context.Context, names []string) (map[string]string, error) {
	out := make(map[string]string, len(names))
	if len(names) == 0 {
		return out, nil
	}
	keys := make([]string, len(names))
	for i, n := range names {
		keys[i] = b.Key(n)
	}
	vals, err := b.rdb.MGet(ctx, keys...).Result()
	if err != nil {
		return nil, fmt.Errorf("reading %s:*: %w", b.prefix, err)
	}
	for i, raw := range vals {
		if v, ok := raw.(string); ok { // nil: unset, or not a string
			out[names[i]] = v
		}
	}
	return out, nil
}

// List enumerates the keys under the prefix with SCAN and reads them in
// MGETs of 100, so it sees what every instance wrote.
func (b *RedisBackend) List(ctx context.Context) (map[string]string, error) {
	var names []string
	iter := b.rdb.Scan(ctx, 0, rediskeys.GlobEscape(b.prefix)+":*", listBatch).Iterator()
	for iter.Next(ctx) {
		name := strings.TrimPrefix(iter.Val(), b.prefix+":")
		if name != updatesSuffix {
			names = append(names, name)
		}
	}
	if err := iter.Err(); err != nil {
		return nil, fmt.Errorf("scanning %s:*: %w", b.prefix, err)
	}
	sort.Strings(names)
	names = compactSorted(names) // SCAN may return a key twice
	out := make(map[string]string, len(names))
	for start := 0; start < len(names); start += listBatch {
		vals, err := b.GetMany(ctx, names[start:min(start+listBatch, len(names))])
		if err != nil {
			return nil, err
		}
		for n, v := range vals {
			out[n] = v
		}
	}
	return out, nil
}

// Watch subscribes to the updates channel and returns once Redis has
// confirmed the subscription, so that no change falls between the watch
// and a read that follows it. The subscription reconnects on its own; a
// payload that is a whole key is delivered as its name.
func (b *RedisBackend) Watch(ctx context.Context) (<-chan string, error) {
	sub := b.rdb.Subscribe(ctx, b.channel)
	_, confirmErr := sub.Receive(ctx)
	if confirmErr != nil {
		confirmErr = fmt.Errorf("subscribing to %s: %w", b.channel, confirmErr)
	}
	in := sub.Channel(redis.WithChannelHealthCheckInterval(10 * time.Second))
	out := make(chan string, listBatch)
	go func() {
		defer close(out)
		defer sub.Close()
		for {
			select {
			case <-ctx.Done():
				return
			case msg, ok := <-in:
				if !ok {
					return
				}
				select {
				case out <- strings.TrimPrefix(msg.Payload, b.prefix+":"):
				case <-ctx.Done():
					return
				}
			}
		}
	}()
	return out, confirmErr
}

// Set stores value under name and publishes the name, without an audit
// row (Store.Set).
func (b *RedisBackend) Set(ctx context.Context, name, value string) error {
	if err := b.rdb.Set(ctx, b.Key(name), value, 0).Err(); err != nil {
		return fmt.Errorf("setting %s: %w", name, err)
	}
	if err := b.rdb.Publish(ctx, b.channel, name).Err(); err != nil {
		return fmt.Errorf("announcing %s: %w", name, err)
	}
	return nil
}

func compactSorted(s []string) []string {
	out := s[:0]
	for i, v := range s {
		if i == 0 || v != s[i-1] {
			out = append(out, v)
		}
	}
	return out
}
