package backup

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// writeSet writes one artifact of size bytes for component and the
// manifest of a set started at t, and returns the manifest.
func writeSet(t *testing.T, root, component string, at time.Time, size int) *Manifest {
	t.Helper()
	id := NewSetID(at, "host", "daily")
	dir := ArtifactDir(component, id, at)
	rel := dir + "/artifact.age"
	p := filepath.Join(root, filepath.FromSlash(rel))
	if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, make([]byte, size), 0o600); err != nil {
		t.Fatal(err)
	}
	m := &Manifest{SetID: id, StartedAt: at, Components: []Component{{
		Name: component, Status: StatusOK, Artifacts: []ArtifactInfo{{Path: rel, Bytes: int64(size)}},
	}}}
	if _, err := WriteManifest(root, m); err != nil {
		t.Fatal(err)
	}
	return m
}

func exists(t *testing.T, p string) bool {
	t.Helper()
	_, err := os.Stat(p)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		t.Fatal(err)
	}
	return err == nil
}

func TestDeleteSetsAndGarbage(t *testing.T) {
	tests := []struct {
		name      string
		deleteOld bool
		garbage   []string
		wantFreed int64
		wantErr   bool
	}{
		{name: "old set", deleteOld: true, wantFreed: 100},
		{name: "old set and garbage", deleteOld: true, garbage: []string{"redis/x.partial"}, wantFreed: 107},
		{name: "path outside root", garbage: []string{"../escape"}, wantErr: true},
		{name: "root itself", garbage: []string{"."}, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := t.TempDir()
			now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
			old := writeSet(t, root, ComponentRedis, now.AddDate(0, 0, -40), 100)
			fresh := writeSet(t, root, ComponentRedis, now, 50)
			if err := os.WriteFile(filepath.Join(root, "redis", "x.partial"), []byte("partial"), 0o600); err != nil {
				t.Fatal(err)
			}
			ms, err := ListManifests(root)
			if err != nil {
				t.Fatal(err)
			}
			var ids []string
			want := tt.wantFreed
			if tt.deleteOld {
				ids = []string{old.SetID}
				rel, _ := ManifestPath(old.SetID)
				info, err := os.Stat(filepath.Join(root, rel))
				if err != nil {
					t.Fatal(err)
				}
				want += info.Size() // the manifest is freed too
			}
			freed, err := DeleteSets(root, ms, ids)
			if err != nil {
				t.Fatalf("DeleteSets: %v", err)
			}
			n, err := RemoveGarbage(root, tt.garbage)
			if (err != nil) != tt.wantErr {
				t.Fatalf("RemoveGarbage error = %v, want error %t", err, tt.wantErr)
			}
			if freed+n != want {
				t.Errorf("freed %d bytes, want %d", freed+n, want)
			}
			if !exists(t, root) {
				t.Fatal("root removed")
			}
			oldMan, _ := ManifestPath(old.SetID)
			oldYear := filepath.Join(root, "redis", "2026", "01")
			if got := exists(t, filepath.Join(root, oldMan)); got == tt.deleteOld {
				t.Errorf("old manifest exists = %t", got)
			}
			if got := exists(t, oldYear); got == tt.deleteOld {
				t.Errorf("empty date directory %s exists = %t", oldYear, got)
			}
			freshMan, _ := ManifestPath(fresh.SetID)
			if !exists(t, filepath.Join(root, freshMan)) || !exists(t, filepath.Join(root, filepath.FromSlash(fresh.Components[0].Artifacts[0].Path))) {
				t.Error("fresh set touched")
			}
			if !exists(t, filepath.Join(root, "redis")) {
				t.Error("component directory removed")
			}
		})
	}
}

func TestDeleteSetsUnknownID(t *testing.T) {
	if _, err := DeleteSets(t.TempDir(), nil, []string{"20260101T000000Z-h-p-0000"}); err == nil {
		t.Fatal("DeleteSets of an unknown set succeeded")
	}
}
