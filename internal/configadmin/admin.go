package configadmin

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"strings"

	"github.com/redis/go-redis/v9"

	"github.com/mutt-go/mutt/internal/dynconfig"
	"github.com/mutt-go/mutt/internal/rediskeys"
	"github.com/mutt-go/mutt/internal/store"
)

// AuditTable is the table_name of every config_audit_log row written for a
// dynamic config change.
const AuditTable = "dynamic_config"

// updatesName is the channel suffix, never a config name.
const updatesName = "updates"

// scanCount is the COUNT hint of each SCAN and the size of each MGET.
const scanCount = 100

// Errors of the writer; test with errors.Is.
var (
	// ErrInvalidValue is wrapped by Set for a value the registry refuses,
	// and by every writer for a name that cannot be a config name; an API
	// answers it with 400.
	ErrInvalidValue = errors.New("invalid value")
	// ErrNotFound is wrapped by Delete when the key is not set.
	ErrNotFound = store.ErrNotFound
)

// Admin reads and changes the dynamic values under one prefix. It is safe
// for concurrent use; the caller owns and closes the clients.
type Admin struct {
	rdb     redis.UniversalClient
	prefix  string // e.g. "mutt:config"
	channel string // prefix + ":updates"
	st      *store.Store
	logger  *slog.Logger
}

// New returns an Admin for the keys under prefix (e.g. "mutt:config") that
// records its changes through st.
func New(rdb redis.UniversalClient, prefix string, st *store.Store, logger *slog.Logger) *Admin {
	return &Admin{rdb: rdb, prefix: prefix, channel: prefix + ":" + updatesName, st: st, logger: logger}
}

// Entry is one stored value.
type Entry struct {
	Name, Value string
	Known       bool          // declared in the registry
	Key         dynconfig.Key // its declaration; zero when unknown
}

// List returns every value stored under the prefix, sorted by name. It
// enumerates Redis itself, so it sees what every instance wrote.
func (a *Admin) List(ctx context.Context) ([]Entry, error) {
	var names []string
	iter := a.rdb.Scan(ctx, 0, rediskeys.GlobEscape(a.prefix)+":*", scanCount).Iterator()
	for iter.Next(ctx) {
		name := strings.TrimPrefix(iter.Val(), a.prefix+":")
		if name != updatesName {
			names = append(names, name)
		}
	}
	if err := iter.Err(); err != nil {
		return nil, fmt.Errorf("scanning %s:*: %w", a.prefix, err)
	}
	sort.Strings(names)
	names = compactSorted(names) // SCAN may return a key twice
	out := make([]Entry, 0, len(names))
	for start := 0; start < len(names); start += scanCount {
		batch := names[start:min(start+scanCount, len(names))]
		keys := make([]string, len(batch))
		for i, n := range batch {
			keys[i] = a.key(n)
		}
		vals, err := a.rdb.MGet(ctx, keys...).Result()
		if err != nil {
			return nil, fmt.Errorf("reading %s:*: %w", a.prefix, err)
		}
		for i, raw := range vals {
			v, ok := raw.(string) // nil: deleted since the scan, or not a string
			if !ok {
				continue
			}
			k, known := dynconfig.Lookup(batch[i])
			out = append(out, Entry{Name: batch[i], Value: v, Known: known, Key: k})
		}
	}
	return out, nil
}

// Get reads the value of name from Redis; found is false when it is unset.
func (a *Admin) Get(ctx context.Context, name string) (value string, found bool, err error) {
	v, err := a.rdb.Get(ctx, a.key(name)).Result()
	if errors.Is(err, redis.Nil) {
		return "", false, nil
	}
	if err != nil {
		return "", false, fmt.Errorf("reading %s: %w", a.key(name), err)
	}
	return v, true, nil
}

func (a *Admin) key(name string) string { return a.prefix + ":" + name }

// checkName refuses names that cannot be config names.
func checkName(name string) error {
	switch {
	case name == "":
		return fmt.Errorf("%w: the key name is empty", ErrInvalidValue)
	case name == updatesName:
		return fmt.Errorf("%w: %q is reserved for the update channel", ErrInvalidValue, name)
	case strings.ContainsAny(name, " \t\r\n*?[]"):
		return fmt.Errorf("%w: key name %q contains a space or a glob character", ErrInvalidValue, name)
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
