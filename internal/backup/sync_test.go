package backup

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

func syncFixture(t *testing.T, root string, keys *Keys) []*Manifest {
	t.Helper()
	at := time.Date(2026, 3, 1, 2, 0, 0, 0, time.UTC)
	return []*Manifest{
		testSet(t, root, keys, at, false, map[string][]byte{
			ComponentPostgres: testData(300_000, 1), ComponentRedis: testData(20_000, 2),
		}),
		testSet(t, root, keys, at.Add(6*time.Hour), true, map[string][]byte{ComponentConfig: testData(5_000, 3)}),
	}
}

func resultFor(t *testing.T, rs []SyncResult, id string) SyncResult {
	t.Helper()
	for _, r := range rs {
		if r.SetID == id {
			return r
		}
	}
	t.Fatalf("no sync result for %s in %+v", id, rs)
	return SyncResult{}
}

func TestSyncUploadsArtifactsThenManifest(t *testing.T) {
	for _, impl := range remoteImpls() {
		t.Run(impl.name, func(t *testing.T) {
			ctx := t.Context()
			root := t.TempDir()
			keys := recipientKeys(t)
			sets := syncFixture(t, root, keys)
			inner, _ := impl.open(t)
			rec := &recordingStore{RemoteStore: inner}
			var lastDone, lastTotal int64
			now := time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC)
			rs, err := Sync(ctx, SyncOptions{Root: root, Remotes: []RemoteStore{rec}, Now: func() time.Time { return now },
				Progress: func(done, total int64) { lastDone, lastTotal = done, total }})
			if err != nil {
				t.Fatal(err)
			}
			for _, m := range sets {
				r := resultFor(t, rs, m.SetID)
				if r.Status != StatusOK || r.Uploaded != len(m.Components)+1 || r.Present != 0 {
					t.Errorf("set %s: %+v, want ok with %d uploads", m.SetID, r, len(m.Components)+1)
				}
				// Order: every artifact of the set before its manifest.
				mrel, _ := ManifestPath(m.SetID)
				mi := slices.Index(rec.puts, filepath.ToSlash(mrel))
				if mi < 0 {
					t.Fatalf("manifest of %s never uploaded: %v", m.SetID, rec.puts)
				}
				for _, c := range m.Components {
					ai := slices.Index(rec.puts, c.Artifacts[0].Path)
					if ai < 0 || ai > mi {
						t.Errorf("artifact %s uploaded at %d, manifest at %d: %v", c.Artifacts[0].Path, ai, mi, rec.puts)
					}
					if err := checkRemote(ctx, inner, c.Artifacts[0].Path, c.Artifacts[0].Bytes, c.Artifacts[0].SHA256, true); err != nil {
						t.Errorf("remote copy: %v", err)
					}
					if impl.hasTags {
						info, err := inner.Stat(ctx, c.Artifacts[0].Path)
						if err != nil {
							t.Fatal(err)
						}
						want := map[string]string{TagComponent: c.Name, TagProfile: "daily", TagPinned: map[bool]string{true: "true", false: "false"}[m.Pinned]}
						for k, v := range want {
							if info.Tags[k] != v {
								t.Errorf("%s tag %s = %q, want %q", c.Artifacts[0].Path, k, info.Tags[k], v)
							}
						}
					}
				}
				// The local manifest records the remote.
				local, err := ReadManifest(filepath.Join(root, mrel))
				if err != nil {
					t.Fatal(err)
				}
				if len(local.Remotes) != 1 || local.Remotes[0].Target != inner.Target() || local.Remotes[0].Status != StatusOK || !local.Remotes[0].SyncedAt.Equal(now) {
					t.Errorf("local manifest remotes = %+v", local.Remotes)
				}
			}
			if lastTotal == 0 || lastDone != lastTotal {
				t.Errorf("progress ended at %d of %d", lastDone, lastTotal)
			}
		})
	}
}

func TestSyncResyncSkipsExisting(t *testing.T) {
	for _, impl := range remoteImpls() {
		t.Run(impl.name, func(t *testing.T) {
			ctx := t.Context()
			root := t.TempDir()
			sets := syncFixture(t, root, recipientKeys(t))
			inner, _ := impl.open(t)
			if _, err := Sync(ctx, SyncOptions{Root: root, Remotes: []RemoteStore{inner}}); err != nil {
				t.Fatal(err)
			}

			// Recorded as synced: nothing is touched.
			rec := &recordingStore{RemoteStore: inner}
			rs, err := Sync(ctx, SyncOptions{Root: root, Remotes: []RemoteStore{rec}})
			if err != nil {
				t.Fatal(err)
			}
			for _, r := range rs {
				if r.Status != SyncSkipped || !strings.Contains(r.Reason, "already synced") {
					t.Errorf("second sync: %+v, want skipped as already synced", r)
				}
			}
			if len(rec.puts) != 0 {
				t.Errorf("second sync uploaded %v", rec.puts)
			}

			// Named: checked on the remote; artifacts present are not sent
			// again, the manifest is.
			m := sets[0]
			rs, err = Sync(ctx, SyncOptions{Root: root, Remotes: []RemoteStore{rec}, SetIDs: []string{m.SetID}})
			if err != nil {
				t.Fatal(err)
			}
			r := resultFor(t, rs, m.SetID)
			if r.Status != StatusOK || r.Present != len(m.Components) || r.Uploaded != 1 || r.Bytes != 0 {
				t.Errorf("named resync: %+v, want %d present and only the manifest uploaded", r, len(m.Components))
			}
			mrel, _ := ManifestPath(m.SetID)
			if !slices.Equal(rec.puts, []string{filepath.ToSlash(mrel)}) {
				t.Errorf("named resync uploaded %v", rec.puts)
			}
			if _, err := Sync(ctx, SyncOptions{Root: root, Remotes: []RemoteStore{rec}, SetIDs: []string{"20260301T000000Z-nope-daily-0000"}}); err == nil {
				t.Error("sync of an unknown set succeeded")
			}
		})
	}
}

func TestSyncVerifyRemoteDetectsCorruption(t *testing.T) {
	for _, impl := range remoteImpls() {
		t.Run(impl.name, func(t *testing.T) {
			ctx := t.Context()
			root := t.TempDir()
			sets := syncFixture(t, root, recipientKeys(t))
			st, corrupt := impl.open(t)
			if _, err := Sync(ctx, SyncOptions{Root: root, Remotes: []RemoteStore{st}}); err != nil {
				t.Fatal(err)
			}
			a := sets[0].Components[0].Artifacts[0]
			corrupt(t, a.Path)

			if impl.hasTags {
				// S3 keeps the checksum recorded at upload: trusting it
				// misses bit rot, which is what --verify-remote is for.
				rs, err := Sync(ctx, SyncOptions{Root: root, Remotes: []RemoteStore{st}, SetIDs: []string{sets[0].SetID}})
				if err != nil {
					t.Fatal(err)
				}
				if r := resultFor(t, rs, sets[0].SetID); len(r.Repaired) != 0 {
					t.Errorf("metadata check claims a repair: %+v", r)
				}
			}
			rs, err := Sync(ctx, SyncOptions{Root: root, Remotes: []RemoteStore{st}, VerifyRemote: true})
			if err != nil {
				t.Fatal(err)
			}
			r := resultFor(t, rs, sets[0].SetID)
			if r.Status != StatusOK || !slices.Equal(r.Repaired, []string{a.Path}) {
				t.Errorf("verify-remote: %+v, want %s repaired", r, a.Path)
			}
			if other := resultFor(t, rs, sets[1].SetID); other.Status != StatusOK || other.Uploaded != 1 || len(other.Repaired) != 0 {
				t.Errorf("intact set under verify-remote: %+v, want only its manifest rewritten", other)
			}
			if err := checkRemote(ctx, st, a.Path, a.Bytes, a.SHA256, true); err != nil {
				t.Errorf("after repair: %v", err)
			}
		})
	}
}

func TestSyncRefusesPlaintextAndCorruptLocal(t *testing.T) {
	ctx := t.Context()
	root := t.TempDir()
	keys := recipientKeys(t)
	sets := syncFixture(t, root, keys)
	plain, corrupt, good := sets[0], sets[1], testSet(t, root, keys, time.Date(2026, 3, 3, 0, 0, 0, 0, time.UTC), false,
		map[string][]byte{ComponentRedis: testData(1000, 9)})
	plain.Encryption = Encryption{Scheme: "plaintext"}
	if _, err := WriteManifest(root, plain); err != nil {
		t.Fatal(err)
	}
	a := corrupt.Components[0].Artifacts[0]
	p := filepath.Join(root, filepath.FromSlash(a.Path))
	if err := os.WriteFile(p, make([]byte, a.Bytes), 0o600); err != nil {
		t.Fatal(err)
	}
	st, err := OpenRemote("file://"+t.TempDir(), "test-host", S3Options{})
	if err != nil {
		t.Fatal(err)
	}
	rs, err := Sync(ctx, SyncOptions{Root: root, Remotes: []RemoteStore{st}})
	if err != nil {
		t.Fatal(err)
	}
	if r := resultFor(t, rs, plain.SetID); r.Status != StatusFailed || !strings.Contains(r.Reason, "plaintext") {
		t.Errorf("plaintext set: %+v, want failed naming plaintext", r)
	}
	if r := resultFor(t, rs, corrupt.SetID); r.Status != StatusFailed || !strings.Contains(r.Reason, a.Path) {
		t.Errorf("corrupt local set: %+v, want failed naming %s", r, a.Path)
	}
	if r := resultFor(t, rs, good.SetID); r.Status != StatusOK {
		t.Errorf("a failing set stopped the others: %+v", r)
	}
	objs, err := st.List(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range objs {
		if strings.Contains(o.Path, plain.SetID) || strings.Contains(o.Path, corrupt.SetID) {
			t.Errorf("refused set left %s on the remote", o.Path)
		}
	}
	for _, m := range []*Manifest{plain, corrupt} {
		mrel, _ := ManifestPath(m.SetID)
		local, err := ReadManifest(filepath.Join(root, mrel))
		if err != nil {
			t.Fatal(err)
		}
		if len(local.Remotes) != 1 || local.Remotes[0].Status != StatusFailed {
			t.Errorf("set %s remotes = %+v, want the failure recorded", m.SetID, local.Remotes)
		}
	}
	// Failed sets are retried on the next sync.
	rs, err = Sync(ctx, SyncOptions{Root: root, Remotes: []RemoteStore{st}})
	if err != nil {
		t.Fatal(err)
	}
	if r := resultFor(t, rs, plain.SetID); r.Status != StatusFailed {
		t.Errorf("failed set not retried: %+v", r)
	}
}

func TestSyncLocked(t *testing.T) {
	root := t.TempDir()
	unlock, err := Lock(root)
	if err != nil {
		t.Fatal(err)
	}
	defer unlock()
	if _, err := Sync(t.Context(), SyncOptions{Root: root}); !errors.Is(err, ErrLocked) {
		t.Errorf("Sync with the lock held: %v, want ErrLocked", err)
	}
}
