package sessiontest

import (
	"testing"
	"time"

	"github.com/mutt-go/mutt/internal/itest"
	"github.com/mutt-go/mutt/internal/web/auth"
)

// Run runs the suite; open returns an empty store of its own for each
// subtest and arranges its cleanup.
func Run(t *testing.T, open func(t *testing.T) auth.SessionStore) {
	tests := []struct {
		name string
		fn   func(t *testing.T, st auth.SessionStore)
	}{
		{"CreateGetDelete", testCreateGetDelete},
		{"Expiry", testExpiry},
		{"ThroughSessions", testThroughSessions},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { tt.fn(t, open(t)) })
	}
}

func wantIdentity(t *testing.T, st auth.SessionStore, id, want string) {
	t.Helper()
	got, found, err := st.Get(t.Context(), id)
	if err != nil {
		t.Fatal(err)
	}
	if want == "" && found || want != "" && (!found || got != want) {
		t.Fatalf("Get(%s) = %q, %v; want %q", id, got, found, want)
	}
}

func testCreateGetDelete(t *testing.T, st auth.SessionStore) {
	ctx := t.Context()
	wantIdentity(t, st, "s1", "")
	if ok, err := st.Create(ctx, "s1", "ops/ab12", time.Hour); err != nil || !ok {
		t.Fatalf("Create = %v, %v", ok, err)
	}
	if ok, err := st.Create(ctx, "s1", "intruder/ff00", time.Hour); err != nil || ok {
		t.Errorf("second Create of a live id = %v, %v; want refused", ok, err)
	}
	if ok, err := st.Create(ctx, "s2", "dev/cd34", time.Hour); err != nil || !ok {
		t.Fatalf("Create s2 = %v, %v", ok, err)
	}
	wantIdentity(t, st, "s1", "ops/ab12")
	wantIdentity(t, st, "s2", "dev/cd34")
	if err := st.Delete(ctx, "s1"); err != nil {
		t.Fatal(err)
	}
	wantIdentity(t, st, "s1", "")
	wantIdentity(t, st, "s2", "dev/cd34")
	if err := st.Delete(ctx, "s1"); err != nil {
		t.Errorf("Delete of a missing record: %v", err)
	}
}

func testExpiry(t *testing.T, st auth.SessionStore) {
	ctx := t.Context()
	if ok, err := st.Create(ctx, "short", "ops/ab12", 300*time.Millisecond); err != nil || !ok {
		t.Fatalf("Create = %v, %v", ok, err)
	}
	if ok, err := st.Create(ctx, "long", "ops/ab12", time.Hour); err != nil || !ok {
		t.Fatalf("Create = %v, %v", ok, err)
	}
	wantIdentity(t, st, "short", "ops/ab12")
	itest.Eventually(t, 3*time.Second, "the record expires", func() bool {
		_, found, err := st.Get(ctx, "short")
		return err == nil && !found
	})
	wantIdentity(t, st, "long", "ops/ab12")
	// An expired id is free again.
	if ok, err := st.Create(ctx, "short", "dev/cd34", time.Hour); err != nil || !ok {
		t.Fatalf("Create over an expired record = %v, %v", ok, err)
	}
	wantIdentity(t, st, "short", "dev/cd34")
}

// testThroughSessions signs in, looks up and revokes through auth.Sessions.
func testThroughSessions(t *testing.T, st auth.SessionStore) {
	const key = "conformance-key-0123456789"
	ring := auth.Single(key)
	id, _ := ring.Match(key)
	s := auth.NewSessionsFrom(st, []byte("0123456789abcdef0123456789abcdef"), time.Hour)
	r := issue(t, s, id)
	sess, err := s.Lookup(t.Context(), r, ring)
	if err != nil || sess == nil || sess.Identity != id {
		t.Fatalf("Lookup = %+v, %v", sess, err)
	}
	if err := s.Revoke(t.Context(), r); err != nil {
		t.Fatal(err)
	}
	if sess, err := s.Lookup(t.Context(), r, ring); err != nil || sess != nil {
		t.Errorf("Lookup after Revoke = %+v, %v", sess, err)
	}
}
