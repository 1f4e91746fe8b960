package store

import (
	"errors"
	"slices"
	"strings"
	"testing"
)

// oddHostnames are stored and found verbatim: quotes, SQL, LIKE wildcards,
// backslashes and non-ASCII text are data, never syntax.
var oddHostnames = []string{
	"router'1",
	`sw"2; DROP TABLE development_hosts; --`,
	"%",
	"_",
	`back\slash`,
	"тест-узел",
}

func TestDevHosts(t *testing.T) {
	t.Parallel()
	pool := migrated(t)
	st := New(pool)
	ctx := t.Context()

	hosts, err := st.ListDevHosts(ctx)
	if err != nil || hosts == nil || len(hosts) != 0 {
		t.Fatalf("ListDevHosts of none = %#v, %v; want an empty slice", hosts, err)
	}
	added := append([]string{"lab-b", "lab-a"}, oddHostnames...)
	for _, h := range added {
		if err := st.AddDevHost(ctx, h, testActor); err != nil {
			t.Fatalf("AddDevHost(%q): %v", h, err)
		}
		checkChange(t, lastChange(t, pool), testActor, OpCreate, "development_hosts", HashRecordID(h),
			nil, map[string]any{"hostname": h})
	}
	hosts, err = st.ListDevHosts(ctx)
	if err != nil {
		t.Fatalf("ListDevHosts: %v", err)
	}
	// The order is the database collation's: check membership, and that
	// lab-a precedes lab-b although it was added later.
	if len(hosts) != len(added) {
		t.Errorf("ListDevHosts = %q, want %d hosts", hosts, len(added))
	}
	for _, h := range added {
		if !slices.Contains(hosts, h) {
			t.Errorf("%q not stored verbatim; have %q", h, hosts)
		}
	}
	if slices.Index(hosts, "lab-a") > slices.Index(hosts, "lab-b") {
		t.Errorf("ListDevHosts not ordered by hostname: %q", hosts)
	}

	before := countChanges(t, pool)
	if err := st.AddDevHost(ctx, "lab-a", testActor); !errors.Is(err, ErrConflict) {
		t.Errorf("AddDevHost of a listed host: %v, want ErrConflict", err)
	}
	if err := st.AddDevHost(ctx, strings.Repeat("h", 256), testActor); !errors.Is(err, ErrInvalidConfigChange) {
		t.Errorf("AddDevHost of a 256-character name: %v, want ErrInvalidConfigChange", err)
	}
	if err := st.DeleteDevHost(ctx, "lab-z", testActor); !errors.Is(err, ErrNotFound) {
		t.Errorf("DeleteDevHost of a missing host: %v, want ErrNotFound", err)
	}
	// "%" must delete only the host named "%".
	if err := st.DeleteDevHost(ctx, "%", testActor); err != nil {
		t.Fatalf("DeleteDevHost(%%): %v", err)
	}
	if n := countChanges(t, pool); n != before+1 {
		t.Errorf("%d audit rows written, want 1", n-before)
	}
	checkChange(t, lastChange(t, pool), testActor, OpDelete, "development_hosts", HashRecordID("%"),
		map[string]any{"hostname": "%"}, nil)
	hosts, err = st.ListDevHosts(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(hosts) != len(added)-1 || slices.Contains(hosts, "%") {
		t.Errorf("after deleting %%: %q", hosts)
	}
}

func TestDevHostWritesRollBackWhenAuditFails(t *testing.T) {
	t.Parallel()
	pool := migrated(t)
	st := New(pool)
	ctx := t.Context()
	if err := st.AddDevHost(ctx, "kept", testActor); err != nil {
		t.Fatal(err)
	}
	if _, err := pool.Exec(ctx, `ALTER TABLE config_audit_log ADD CONSTRAINT test_refuse CHECK (reason IS DISTINCT FROM 'refuse')`); err != nil {
		t.Fatal(err)
	}
	before := countChanges(t, pool)
	for _, a := range []Actor{{ChangedBy: strings.Repeat("a", 101)}, {ChangedBy: "tester", Reason: "refuse"}} {
		if err := st.AddDevHost(ctx, "new", a); err == nil {
			t.Error("AddDevHost succeeded without its audit row")
		}
		if err := st.DeleteDevHost(ctx, "kept", a); err == nil {
			t.Error("DeleteDevHost succeeded without its audit row")
		}
	}
	hosts, err := st.ListDevHosts(ctx)
	if err != nil || !slices.Equal(hosts, []string{"kept"}) {
		t.Errorf("hosts after failed writes = %q, %v; want [kept]", hosts, err)
	}
	if n := countChanges(t, pool); n != before {
		t.Errorf("%d audit rows written", n-before)
	}
}
