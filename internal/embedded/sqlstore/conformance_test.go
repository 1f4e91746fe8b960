package sqlstore

import (
	"path/filepath"
	"testing"

	"github.com/mutt-go/mutt/internal/store/storetest"
)

var _ storetest.Interface = (*DB)(nil)

// openTemp opens a fresh database in the test's temporary directory.
func openTemp(t testing.TB) *DB {
	t.Helper()
	d, err := Open(t.Context(), filepath.Join(t.TempDir(), "mutt.db"))
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { _ = d.Close() })
	return d
}

// TestConformance runs the store conformance suite against SQLite.
func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) storetest.Interface { return openTemp(t) })
}
