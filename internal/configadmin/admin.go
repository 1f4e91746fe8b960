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
	"github.com/mutt-go/mutt/internal/store"
)

// AuditTable is the table_name of every config_audit_log row written for a
// dynamic config change.
const AuditTable = "dynamic_config"

// updatesName is the channel suffix, never a config name.
const updatesName = "updates"

// Errors of the writer; test with errors.Is.
var (
	// ErrInvalidValue is wrapped by Set for a value the registry refuses,
	// and by every writer for a name that cannot be a config name; an API
	// answers it with 400.
	ErrInvalidValue = errors.New("invalid value")
	// ErrNotFound is wrapped by Delete when the key is not set.
	ErrNotFound = store.ErrNotFound
)

// Backend is where the Admin reads and writes the values: Redis with the
// audit log in PostgreSQL, or the embedded database. Implementations are
// safe for concurrent use.
type Backend interface {
	// Get returns the value of name; found is false when it is unset.
	Get(ctx context.Context, name string) (value string, found bool, err error)
	// List returns every stored value by name.
	List(ctx context.Context) (map[string]string, error)
	// CompareAndSet replaces the value of name with next (nil: delete)
	// only if it still holds old (nil: unset), records change in the
	// config audit log and tells every reader of the name. The value and
	// the row both happen or neither does; swapped is false, with no row
	// and nothing changed, when the value was no longer old.
	CompareAndSet(ctx context.Context, name string, old, next *string, change store.ConfigChange) (swapped bool, err error)
}

// Admin reads and changes the dynamic values through one Backend. It is
// safe for concurrent use; the caller owns and closes the clients.
type Admin struct {
	backend Backend
	logger  *slog.Logger
}

// New returns an Admin for the Redis keys under prefix (e.g. "mutt:config")
// that records its changes through st (RedisPostgres).
func New(rdb redis.UniversalClient, prefix string, st *store.Store, logger *slog.Logger) *Admin {
	return NewFrom(NewRedisPostgres(rdb, prefix, st, logger), logger)
}

// NewFrom returns an Admin over backend.
func NewFrom(backend Backend, logger *slog.Logger) *Admin {
	return &Admin{backend: backend, logger: logger}
}

// Entry is one stored value.
type Entry struct {
	Name, Value string
	Known       bool          // declared in the registry
	Key         dynconfig.Key // its declaration; zero when unknown
}

// List returns every value stored, sorted by name. It asks the backend
// itself, so it sees what every instance wrote.
func (a *Admin) List(ctx context.Context) ([]Entry, error) {
	vals, err := a.backend.List(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]Entry, 0, len(vals))
	for name, v := range vals {
		k, known := dynconfig.Lookup(name)
		out = append(out, Entry{Name: name, Value: v, Known: known, Key: k})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// Get reads the value of name; found is false when it is unset.
func (a *Admin) Get(ctx context.Context, name string) (value string, found bool, err error) {
	return a.backend.Get(ctx, name)
}

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
