package configadmin

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/mutt-go/mutt/internal/dynconfig"
	"github.com/mutt-go/mutt/internal/store"
)

// Change is one change made: Old is nil when the key did not exist, New is
// empty for a delete.
type Change struct {
	Name string
	Old  *string
	New  string
}

// operation is the config_audit_log operation of the change.
func (c Change) operation(deleted bool) string {
	switch {
	case deleted:
		return store.OpDelete
	case c.Old == nil:
		return store.OpCreate
	}
	return store.OpUpdate
}

// maxAttempts bounds the retries when another writer changes the same key
// between the read of its old value and the write.
const maxAttempts = 5

// writeTimeout bounds a change once it has started: from then on the
// caller's cancellation is ignored, so that Redis and the audit log are
// never left disagreeing because a request went away.
const writeTimeout = 15 * time.Second

// Set validates value and stores it under name with its audit row. Unknown
// names are accepted with a warning (nothing reads them); for known names
// the registry's rules and the rules between keys apply, and a violation
// wraps ErrInvalidValue. The audit row commits only once Redis has taken
// the value; when Redis fails, the row is rolled back and the error
// returned.
func (a *Admin) Set(ctx context.Context, name, value string, actor store.Actor) (Change, error) {
	if err := checkName(name); err != nil {
		return Change{}, err
	}
	if err := a.validate(ctx, name, value); err != nil {
		return Change{}, err
	}
	c, _, err := a.apply(ctx, name, actor, func(*string) (*string, bool, error) { return &value, false, nil })
	return c, err
}

// Delete removes name with its audit row; it wraps ErrNotFound when name is
// not set.
func (a *Admin) Delete(ctx context.Context, name string, actor store.Actor) (Change, error) {
	if err := checkName(name); err != nil {
		return Change{}, err
	}
	c, _, err := a.apply(ctx, name, actor, func(old *string) (*string, bool, error) {
		if old == nil {
			return nil, false, fmt.Errorf("dynamic config key %s is not set: %w", name, ErrNotFound)
		}
		return nil, false, nil
	})
	return c, err
}

// Seed writes the registry default of every non-reserved key that is unset,
// or, with force, of every one whose value differs from its default, each
// with its audit row, and returns the changes made. Without force a default
// that would break a rule between keys with a stored value is skipped with
// a warning.
func (a *Admin) Seed(ctx context.Context, force bool, actor store.Actor) ([]Change, error) {
	var changes []Change
	for _, k := range dynconfig.Keys() {
		if k.Reserved || k.Default == "" {
			continue
		}
		if !force {
			if err := dynconfig.ValidateWith(k.Name, k.Default, a.currentFunc(ctx)); err != nil {
				a.logger.Warn("not seeding a default that conflicts with a stored value", "key", k.Name, "error", err)
				continue
			}
		}
		def := k.Default
		c, changed, err := a.apply(ctx, k.Name, actor, func(old *string) (*string, bool, error) {
			skip := old != nil && (!force || *old == def)
			return &def, skip, nil
		})
		if err != nil {
			return changes, fmt.Errorf("seeding %s: %w", k.Name, err)
		}
		if changed {
			changes = append(changes, c)
		}
	}
	return changes, nil
}

// validate applies the registry to a known name and warns about the rest.
func (a *Admin) validate(ctx context.Context, name, value string) error {
	k, known := dynconfig.Lookup(name)
	if !known {
		a.logger.Warn("setting a dynamic config key the registry does not know; nothing reads it", "key", name)
		return nil
	}
	if k.Reserved {
		a.logger.Warn("setting a reserved dynamic config key; nothing reads it", "key", name)
	}
	err := dynconfig.ValidateWith(name, value, a.currentFunc(ctx))
	var ve *dynconfig.ValueError
	if errors.As(err, &ve) {
		return fmt.Errorf("%w for %s: %s", ErrInvalidValue, ve.Key, ve.Reason)
	}
	return err
}

// currentFunc reads other keys for the rules between keys. A read error
// counts as unset; the write that follows reports it.
func (a *Admin) currentFunc(ctx context.Context) func(string) (string, bool) {
	return func(n string) (string, bool) {
		v, ok, err := a.Get(ctx, n)
		return v, ok && err == nil
	}
}

// apply makes one change of name with its audit row. decide sees the
// current value and returns the new one (nil: delete), or skip to change
// nothing. The backend's compare-and-set makes the change only if the value
// is still the one recorded as old, so the row's old value is exact; when
// it is not, apply reads again, at most maxAttempts times.
func (a *Admin) apply(ctx context.Context, name string, actor store.Actor,
	decide func(old *string) (next *string, skip bool, err error)) (Change, bool, error) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), writeTimeout)
	defer cancel()
	for range maxAttempts {
		cur, found, err := a.Get(ctx, name)
		if err != nil {
			return Change{}, false, err
		}
		var old *string
		if found {
			old = &cur
		}
		next, skip, err := decide(old)
		if err != nil || skip {
			return Change{Name: name, Old: old}, false, err
		}
		c := Change{Name: name, Old: old}
		if next != nil {
			c.New = *next
		}
		row := store.ConfigChange{
			ChangedBy: actor.ChangedBy, Operation: c.operation(next == nil), TableName: AuditTable,
			RecordID: store.HashRecordID(name), Reason: actor.Reason, CorrelationID: actor.CorrelationID,
		}
		if old != nil {
			row.Old = map[string]string{"key": name, "value": *old}
		}
		if next != nil {
			row.New = map[string]string{"key": name, "value": *next}
		}
		swapped, err := a.backend.CompareAndSet(ctx, name, old, next, row)
		if err != nil {
			return Change{}, false, fmt.Errorf("changing %s: %w", name, err)
		}
		if !swapped {
			continue // changed under us: read the old value again
		}
		return c, true, nil
	}
	return Change{}, false, fmt.Errorf("changing %s: changed by someone else %d times in a row; try again", name, maxAttempts)
}
