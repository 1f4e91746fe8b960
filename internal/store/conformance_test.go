package store_test

import (
	"testing"

	"github.com/mutt-go/mutt/internal/itest"
	"github.com/mutt-go/mutt/internal/store"
	"github.com/mutt-go/mutt/internal/store/storetest"
)

var _ storetest.Interface = (*store.Store)(nil)

// TestConformance runs the store conformance suite against PostgreSQL, each
// subtest on a database of its own.
func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) storetest.Interface {
		pool, _ := itest.Pool(t)
		if err := store.Migrate(t.Context(), pool, nil); err != nil {
			t.Fatalf("Migrate: %v", err)
		}
		return store.New(pool)
	})
}
