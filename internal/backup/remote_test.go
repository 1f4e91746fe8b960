package backup

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"

	"github.com/mutt-go/mutt/internal/secrets"
)

const testBucket = "mutt-backups-test"

// fakeS3 is a real S3-protocol server in the test: gofakes3 on its
// in-memory backend, plus the bucket lifecycle API gofakes3 lacks
// (?lifecycle PUT/GET/DELETE, kept as the XML the client sent).
type fakeS3 struct {
	backend *s3mem.Backend
	opts    S3Options

	mu        sync.Mutex
	lifecycle map[string][]byte
}

func newFakeS3(t *testing.T) *fakeS3 {
	t.Helper()
	f := &fakeS3{backend: s3mem.New(), lifecycle: map[string][]byte{}}
	faker := gofakes3.New(f.backend, gofakes3.WithLogger(gofakes3.DiscardLog()))
	if err := f.backend.CreateBucket(testBucket); err != nil {
		t.Fatal(err)
	}
	inner := faker.Server()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, ok := r.URL.Query()["lifecycle"]; ok {
			f.serveLifecycle(w, r)
			return
		}
		inner.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	f.opts = S3Options{
		Endpoint: strings.TrimPrefix(srv.URL, "http://"), Region: "us-east-1", Insecure: true,
		AccessKey: "test-access", SecretKey: secrets.New("test-secret"), MaxRetries: 1,
	}
	return f
}

func (f *fakeS3) serveLifecycle(w http.ResponseWriter, r *http.Request) {
	bucket := strings.Trim(r.URL.Path, "/")
	f.mu.Lock()
	defer f.mu.Unlock()
	switch r.Method {
	case http.MethodPut:
		body, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		f.lifecycle[bucket] = body
	case http.MethodGet:
		body, ok := f.lifecycle[bucket]
		if !ok {
			w.Header().Set("Content-Type", "application/xml")
			w.WriteHeader(http.StatusNotFound)
			io.WriteString(w, `<?xml version="1.0" encoding="UTF-8"?><Error><Code>NoSuchLifecycleConfiguration</Code><Message>The lifecycle configuration does not exist</Message></Error>`)
			return
		}
		w.Header().Set("Content-Type", "application/xml")
		w.Write(body)
	case http.MethodDelete:
		delete(f.lifecycle, bucket)
		w.WriteHeader(http.StatusNoContent)
	default:
		w.WriteHeader(http.StatusMethodNotAllowed)
	}
}

// remote opens the fake bucket as an s3:// remote under prefix for host.
func (f *fakeS3) remote(t *testing.T, prefix, host string) *S3Remote {
	t.Helper()
	st, err := OpenRemote("s3://"+testBucket+"/"+prefix, host, f.opts)
	if err != nil {
		t.Fatal(err)
	}
	return st.(*S3Remote)
}

// tamper replaces the bytes of a stored object, keeping its metadata (so
// the recorded checksum still claims the old content), as bit rot would.
func (f *fakeS3) tamper(t *testing.T, key string) {
	t.Helper()
	obj, err := f.backend.HeadObject(testBucket, key)
	if err != nil {
		t.Fatal(err)
	}
	data := bytes.Repeat([]byte{'X'}, int(obj.Size))
	if _, err := f.backend.PutObject(testBucket, key, obj.Metadata, bytes.NewReader(data), obj.Size, nil); err != nil {
		t.Fatal(err)
	}
}

// remoteImpl builds one RemoteStore implementation for the shared tests,
// with a way to corrupt an object behind its back.
type remoteImpl struct {
	name    string
	open    func(t *testing.T) (RemoteStore, func(t *testing.T, rel string))
	hasTags bool
}

func remoteImpls() []remoteImpl {
	return []remoteImpl{
		{name: "s3", hasTags: true, open: func(t *testing.T) (RemoteStore, func(*testing.T, string)) {
			f := newFakeS3(t)
			st := f.remote(t, "prod", "test-host")
			return st, func(t *testing.T, rel string) { f.tamper(t, "prod/test-host/"+rel) }
		}},
		{name: "dir", open: func(t *testing.T) (RemoteStore, func(*testing.T, string)) {
			dir := t.TempDir()
			st, err := OpenRemote("file://"+dir, "test-host", S3Options{})
			if err != nil {
				t.Fatal(err)
			}
			return st, func(t *testing.T, rel string) {
				p := filepath.Join(dir, "test-host", filepath.FromSlash(rel))
				fi, err := os.Stat(p)
				if err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(p, bytes.Repeat([]byte{'X'}, int(fi.Size())), 0o600); err != nil {
					t.Fatal(err)
				}
			}
		}},
	}
}

func hexSHA(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

func readAll(t *testing.T, st RemoteStore, rel string) []byte {
	t.Helper()
	rc, err := st.Get(t.Context(), rel)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestRemoteStoreConformance runs the same contract against every
// RemoteStore implementation.
func TestRemoteStoreConformance(t *testing.T) {
	for _, impl := range remoteImpls() {
		t.Run(impl.name, func(t *testing.T) {
			ctx := t.Context()
			st, _ := impl.open(t)
			data := []byte("encrypted artifact bytes")
			tags := map[string]string{TagComponent: "redis", TagProfile: "daily", TagPinned: "false"}
			rel := "redis/2026/03/01/set/a.age"
			if err := st.Put(ctx, rel, bytes.NewReader(data), int64(len(data)), ObjectMeta{SHA256: hexSHA(data), Tags: tags}); err != nil {
				t.Fatalf("Put: %v", err)
			}
			info, err := st.Stat(ctx, rel)
			if err != nil {
				t.Fatalf("Stat: %v", err)
			}
			if info.Size != int64(len(data)) {
				t.Errorf("Stat size = %d, want %d", info.Size, len(data))
			}
			if info.SHA256 != "" && info.SHA256 != hexSHA(data) {
				t.Errorf("Stat sha256 = %s, want %s or none", info.SHA256, hexSHA(data))
			}
			if impl.hasTags {
				if info.SHA256 != hexSHA(data) {
					t.Errorf("S3 does not return the recorded checksum: %q", info.SHA256)
				}
				for k, v := range tags {
					if info.Tags[k] != v {
						t.Errorf("tag %s = %q, want %q (all: %v)", k, info.Tags[k], v, info.Tags)
					}
				}
			}
			if got := readAll(t, st, rel); !bytes.Equal(got, data) {
				t.Errorf("Get = %q, want %q", got, data)
			}
			other := "manifests/2026/03/01/set.json"
			if err := st.Put(ctx, other, strings.NewReader("{}"), 2, ObjectMeta{}); err != nil {
				t.Fatal(err)
			}
			list, err := st.List(ctx, "manifests/")
			if err != nil {
				t.Fatal(err)
			}
			if len(list) != 1 || list[0].Path != other || list[0].Size != 2 {
				t.Errorf("List(manifests/) = %+v, want only %s", list, other)
			}
			if all, err := st.List(ctx, ""); err != nil || len(all) != 2 {
				t.Errorf("List(\"\") = %+v, %v; want 2 objects", all, err)
			}

			// A short body never becomes an object.
			short := "redis/2026/03/01/set/short.age"
			if err := st.Put(ctx, short, strings.NewReader("abc"), 10, ObjectMeta{}); err == nil {
				t.Error("Put of a short body succeeded")
			}
			if _, err := st.Stat(ctx, short); !errors.Is(err, ErrNotFound) {
				t.Errorf("Stat after a failed Put: %v, want ErrNotFound", err)
			}

			if err := st.Delete(ctx, rel); err != nil {
				t.Fatalf("Delete: %v", err)
			}
			if err := st.Delete(ctx, rel); err != nil {
				t.Errorf("second Delete: %v, want nil", err)
			}
			if _, err := st.Stat(ctx, rel); !errors.Is(err, ErrNotFound) {
				t.Errorf("Stat of deleted: %v, want ErrNotFound", err)
			}
			if _, err := st.Get(ctx, rel); !errors.Is(err, ErrNotFound) {
				t.Errorf("Get of deleted: %v, want ErrNotFound", err)
			}
			for _, bad := range []string{"", "/abs", "../up", "a/../../b", "a//b"} {
				if err := st.Put(ctx, bad, strings.NewReader("x"), 1, ObjectMeta{}); err == nil {
					t.Errorf("Put(%q) accepted a path outside the remote", bad)
				}
			}
		})
	}
}

func TestParseRemoteTarget(t *testing.T) {
	tests := []struct {
		in      string
		want    string
		wantErr bool
	}{
		{in: "s3://mutt-backups-prod", want: "s3://mutt-backups-prod/"},
		{in: "s3://mutt-backups-prod/", want: "s3://mutt-backups-prod/"},
		{in: " s3://b/a/b/ ", want: "s3://b/a/b/"},
		{in: "file:///mnt/backup-nas/mutt", want: "file:///mnt/backup-nas/mutt/"},
		{in: "s3:///nobucket", wantErr: true},
		{in: "s3://b/a/../c", wantErr: true},
		{in: "file://nas/mutt", wantErr: true},
		{in: "file:///", wantErr: true},
		{in: "rsync://host/x", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseRemoteTarget(tt.in)
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, wantErr %v", err, tt.wantErr)
			}
			if err == nil && got.String() != tt.want {
				t.Errorf("String() = %q, want %q", got.String(), tt.want)
			}
		})
	}
}

func TestDirRemoteNeedsMountedDirectory(t *testing.T) {
	_, err := OpenRemote("file://"+filepath.Join(t.TempDir(), "not-mounted"), "h", S3Options{})
	if err == nil || !strings.Contains(err.Error(), "mounted") {
		t.Errorf("OpenRemote on a missing directory: %v, want an error asking about the mount", err)
	}
}

// recordingStore wraps a RemoteStore and records the order of uploads.
type recordingStore struct {
	RemoteStore
	mu   sync.Mutex
	puts []string
}

func (r *recordingStore) Put(ctx context.Context, rel string, body io.Reader, size int64, meta ObjectMeta) error {
	r.mu.Lock()
	r.puts = append(r.puts, rel)
	r.mu.Unlock()
	return r.RemoteStore.Put(ctx, rel, body, size, meta)
}

// testSet writes an encrypted set with one artifact per component (data
// from comps) and its manifest, through the package's own artifact and
// manifest writers.
func testSet(t *testing.T, root string, keys *Keys, at time.Time, pinned bool, comps map[string][]byte) *Manifest {
	t.Helper()
	id := NewSetID(at, "test-host", "daily")
	m := &Manifest{
		Format: ManifestFormat, SetID: id, Profile: "daily", Pinned: pinned, Host: "test-host",
		StartedAt: at, FinishedAt: at.Add(time.Minute), Status: SetComplete, Encryption: keys.Encryption(),
	}
	for _, name := range []string{ComponentPostgres, ComponentRedis, ComponentConfig} {
		data, ok := comps[name]
		if !ok {
			continue
		}
		rel := ArtifactDir(name, id, at) + "/" + name + "_" + at.Format(StampFormat) + ".bin.zst.age"
		info := writeArtifact(t, root, rel, keys, true, data)
		m.Components = append(m.Components, Component{
			Name: name, Status: StatusOK, Artifacts: []ArtifactInfo{info},
			Verify: &Verify{Level: VerifyQuick, Status: StatusOK, At: at},
		})
	}
	if _, err := WriteManifest(root, m); err != nil {
		t.Fatal(err)
	}
	return m
}
