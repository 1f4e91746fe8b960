package configadmin

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"github.com/jackc/pgx/v5"
	"github.com/redis/go-redis/v9"

	"github.com/mutt-go/mutt/internal/dynconfig"
	"github.com/mutt-go/mutt/internal/store"
)

// RedisPostgres keeps the values in Redis (dynconfig.RedisBackend) and the
// audit rows in PostgreSQL, in ADR 0005's order: the row is inserted
// first, in a transaction that commits only after a script has swapped the
// value in Redis, and a commit that fails after the swap undoes it.
type RedisPostgres struct {
	*dynconfig.RedisBackend
	st     *store.Store
	logger *slog.Logger
}

var _ Backend = (*RedisPostgres)(nil)

// NewRedisPostgres returns the backend of the Redis keys under prefix that
// records changes through st (which may be nil for a reader that never
// writes).
func NewRedisPostgres(rdb redis.UniversalClient, prefix string, st *store.Store, logger *slog.Logger) *RedisPostgres {
	return &RedisPostgres{RedisBackend: dynconfig.NewRedis(rdb, prefix), st: st, logger: logger}
}

// errRaced rolls back an attempt whose old value changed under it.
var errRaced = errors.New("changed concurrently")

// CompareAndSet records change and swaps the value in one PostgreSQL
// transaction around one Redis script.
func (b *RedisPostgres) CompareAndSet(ctx context.Context, name string, old, next *string, change store.ConfigChange) (bool, error) {
	swapped := false
	err := b.st.InTx(ctx, func(tx pgx.Tx) error {
		if _, err := store.RecordConfigChangeTx(ctx, tx, change); err != nil {
			return err
		}
		ok, err := b.swap(ctx, name, old, next)
		if err != nil {
			return err
		}
		if !ok {
			return errRaced
		}
		swapped = true
		return nil
	})
	switch {
	case errors.Is(err, errRaced):
		return false, nil
	case err != nil && swapped:
		// The commit failed after Redis took the change: undo it, so
		// that nothing stands unrecorded.
		if _, rerr := b.swap(ctx, name, next, old); rerr != nil {
			b.logger.Error("dynamic config changed but not audited, and the change could not be undone",
				"key", name, "error", err, "undo_error", rerr)
		}
		return false, fmt.Errorf("recording the change (undone in Redis): %w", err)
	case err != nil:
		return false, err
	}
	return true, nil
}

// casSetScript sets KEYS[1] to ARGV[3] only if it still holds ARGV[2]
// (ARGV[1] = "1") or is still absent (ARGV[1] = "0"), then publishes the
// name ARGV[5] on channel ARGV[4]. It returns 1 when it wrote.
var casSetScript = redis.NewScript(`
local cur = redis.call('GET', KEYS[1])
if ARGV[1] == '1' then
  if cur ~= ARGV[2] then return 0 end
elseif cur then
  return 0
end
redis.call('SET', KEYS[1], ARGV[3])
redis.call('PUBLISH', ARGV[4], ARGV[5])
return 1
`)

// casDelScript deletes KEYS[1] only if it still holds ARGV[1], then
// publishes the name ARGV[3] on channel ARGV[2]. It returns 1 when it
// deleted.
var casDelScript = redis.NewScript(`
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
redis.call('DEL', KEYS[1])
redis.call('PUBLISH', ARGV[2], ARGV[3])
return 1
`)

// swap replaces old with next in Redis (nil: absent) and publishes the name.
// ok is false when the key no longer holds old. When Redis answers with an
// error the swap may still have happened (the reply was lost), so the key
// is read again to tell.
func (b *RedisPostgres) swap(ctx context.Context, name string, old, next *string) (ok bool, err error) {
	key := b.Key(name)
	var res any
	switch {
	case next != nil:
		expect, oldVal := "0", ""
		if old != nil {
			expect, oldVal = "1", *old
		}
		res, err = casSetScript.Run(ctx, b.Client(), []string{key}, expect, oldVal, *next, b.Channel(), name).Result()
	case old != nil:
		res, err = casDelScript.Run(ctx, b.Client(), []string{key}, *old, b.Channel(), name).Result()
	default:
		return true, nil
	}
	if err != nil {
		if cur, found, gerr := b.Get(ctx, name); gerr == nil && sameValue(cur, found, next) && !sameValue(cur, found, old) {
			return true, nil
		}
		return false, fmt.Errorf("writing %s: %w", key, err)
	}
	n, _ := res.(int64)
	return n == 1, nil
}

// sameValue reports whether a read (cur, found) shows v (nil: absent).
func sameValue(cur string, found bool, v *string) bool {
	if v == nil {
		return !found
	}
	return found && cur == *v
}
