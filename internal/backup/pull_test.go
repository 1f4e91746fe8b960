package backup

import (
	"bytes"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestPullIntoEmptyRoot(t *testing.T) {
	for _, impl := range remoteImpls() {
		t.Run(impl.name, func(t *testing.T) {
			ctx := t.Context()
			src := t.TempDir()
			keys := recipientKeys(t)
			data := testData(200_000, 5)
			at := time.Date(2026, 3, 1, 2, 0, 0, 0, time.UTC)
			older := testSet(t, src, keys, at, false, map[string][]byte{ComponentRedis: testData(100, 1)})
			newest := testSet(t, src, keys, at.Add(time.Hour), false, map[string][]byte{ComponentPostgres: data, ComponentConfig: testData(999, 2)})
			st, _ := impl.open(t)
			if _, err := Sync(ctx, SyncOptions{Root: src, Remotes: []RemoteStore{st}}); err != nil {
				t.Fatal(err)
			}

			for _, tt := range []struct {
				arg  string
				want *Manifest
			}{{"latest", newest}, {older.SetID, older}} {
				dst := t.TempDir()
				res, err := Pull(ctx, PullOptions{Root: dst, Remote: st, Set: tt.arg})
				if err != nil {
					t.Fatalf("Pull(%s): %v", tt.arg, err)
				}
				if res.SetID != tt.want.SetID || res.Downloaded != countArtifacts(tt.want) || res.Status != StatusOK {
					t.Errorf("Pull(%s) = %+v, want set %s with %d downloads", tt.arg, res, tt.want.SetID, countArtifacts(tt.want))
				}
				ms, err := ListManifests(dst)
				if err != nil || len(ms) != 1 || ms[0].SetID != tt.want.SetID {
					t.Fatalf("pulled root lists %v, %v", ms, err)
				}
				if errs := VerifyQuickSet(dst, ms[0], time.Now()); len(errs) != 0 {
					t.Errorf("backup verify after pull: %v", errs)
				}
				if len(ms[0].Remotes) == 0 || ms[0].Remotes[len(ms[0].Remotes)-1].Target != st.Target() {
					t.Errorf("pulled manifest does not record the remote: %+v", ms[0].Remotes)
				}
				noPartials(t, dst)
				// A second pull finds everything in place.
				res, err = Pull(ctx, PullOptions{Root: dst, Remote: st, Set: tt.want.SetID})
				if err != nil || res.Downloaded != 0 || res.Present != countArtifacts(tt.want) {
					t.Errorf("second pull: %+v, %v; want everything present", res, err)
				}
			}

			// The pulled artifact decrypts to the original data.
			dst := t.TempDir()
			if _, err := Pull(ctx, PullOptions{Root: dst, Remote: st, Set: newest.SetID}); err != nil {
				t.Fatal(err)
			}
			got, err := readArtifact(dst, newest.Component(ComponentPostgres).Artifacts[0], keys)
			if err != nil || !bytes.Equal(got, data) {
				t.Errorf("pulled postgres artifact: %d bytes, %v; want the original %d bytes", len(got), err, len(data))
			}
		})
	}
}

func TestPullTamperedSetFails(t *testing.T) {
	for _, impl := range remoteImpls() {
		t.Run(impl.name, func(t *testing.T) {
			ctx := t.Context()
			src := t.TempDir()
			m := testSet(t, src, recipientKeys(t), time.Date(2026, 3, 1, 2, 0, 0, 0, time.UTC), false,
				map[string][]byte{ComponentPostgres: testData(50_000, 1), ComponentRedis: testData(1000, 2)})
			st, corrupt := impl.open(t)
			if _, err := Sync(ctx, SyncOptions{Root: src, Remotes: []RemoteStore{st}}); err != nil {
				t.Fatal(err)
			}
			bad := m.Component(ComponentRedis).Artifacts[0]
			corrupt(t, bad.Path)

			dst := t.TempDir()
			res, err := Pull(ctx, PullOptions{Root: dst, Remote: st, Set: m.SetID})
			if err == nil || !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), bad.Path) {
				t.Fatalf("Pull of a tampered set: %v, want ErrCorrupt naming %s", err, bad.Path)
			}
			if res == nil || res.Status != StatusFailed || len(res.Failures) != 1 || res.Downloaded != 1 {
				t.Errorf("result = %+v, want one failure and the intact artifact downloaded", res)
			}
			if ms, err := ListManifests(dst); err != nil || len(ms) != 0 {
				t.Errorf("a tampered pull left manifests %v (%v): the set must not look usable", ms, err)
			}
			noPartials(t, dst)

			// A remote set without its manifest is not a set.
			mrel, _ := ManifestPath(m.SetID)
			if err := st.Delete(ctx, filepath.ToSlash(mrel)); err != nil {
				t.Fatal(err)
			}
			if _, err := Pull(ctx, PullOptions{Root: t.TempDir(), Remote: st, Set: m.SetID}); err == nil || !strings.Contains(err.Error(), "no manifest") {
				t.Errorf("Pull without a remote manifest: %v", err)
			}
			if _, err := Pull(ctx, PullOptions{Root: t.TempDir(), Remote: st, Set: "latest"}); err == nil {
				t.Error("Pull latest from a remote without manifests succeeded")
			}
		})
	}
}

func TestPullRejectsHostileManifest(t *testing.T) {
	ctx := t.Context()
	st, err := OpenRemote("file://"+t.TempDir(), "test-host", S3Options{})
	if err != nil {
		t.Fatal(err)
	}
	id := "20260301T020000Z-test-host-daily-abcd"
	mrel, _ := ManifestPath(id)
	doc := `{"format":"` + ManifestFormat + `","set_id":"` + id + `","components":[{"name":"redis","status":"ok","artifacts":[{"path":"../../etc/evil","bytes":1,"sha256":"` + strings.Repeat("0", 64) + `"}]}]}`
	if err := st.Put(ctx, filepath.ToSlash(mrel), strings.NewReader(doc), int64(len(doc)), ObjectMeta{}); err != nil {
		t.Fatal(err)
	}
	if _, err := Pull(ctx, PullOptions{Root: t.TempDir(), Remote: st, Set: id}); err == nil || !strings.Contains(err.Error(), "not a valid artifact") {
		t.Errorf("Pull of a manifest escaping the root: %v", err)
	}
}
