package backup

import (
	"archive/tar"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// fakePrometheus answers the TSDB snapshot API like Prometheus does: it
// creates <data>/snapshots/<name> with one block and returns the name.
func fakePrometheus(t *testing.T, data string, status int) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || r.URL.Path != "/api/v1/admin/tsdb/snapshot" {
			http.NotFound(w, r)
			return
		}
		if status != http.StatusOK {
			w.WriteHeader(status)
			return
		}
		name := "20251110T023000Z-1a2b3c4d5e6f7a8b"
		block := filepath.Join(data, "snapshots", name, "01HBLOCK0000000000000000")
		if err := os.MkdirAll(filepath.Join(block, "chunks"), 0o755); err != nil {
			http.Error(w, err.Error(), 500)
			return
		}
		os.WriteFile(filepath.Join(block, "meta.json"), []byte(`{"ulid":"01HBLOCK0000000000000000"}`), 0o644)
		os.WriteFile(filepath.Join(block, "index"), []byte("index-bytes"), 0o644)
		os.WriteFile(filepath.Join(block, "chunks", "000001"), []byte(strings.Repeat("c", 1000)), 0o644)
		fmt.Fprintf(w, `{"status":"success","data":{"name":%q}}`, name)
	}))
	t.Cleanup(srv.Close)
	return srv
}

func TestBackupPrometheus(t *testing.T) {
	data := t.TempDir()
	keys := recipientKeys(t)
	root := t.TempDir()
	srv := fakePrometheus(t, data, http.StatusOK)
	m, err := Run(t.Context(), RunOptions{Root: root, Keys: keys, Profile: "weekly", Host: "h",
		Prometheus: &PrometheusSource{URL: srv.URL + "/", DataDir: data}})
	if err != nil {
		t.Fatal(err)
	}
	c := m.Component(ComponentPrometheus)
	if c.Status != StatusOK || len(c.Artifacts) != 1 || c.Counts["files"] != 3 || c.Counts["blocks"] != 1 || c.Counts["bytes"] != 1000+11+35 {
		t.Fatalf("prometheus: %s %q counts %v", c.Status, c.Reason, c.Counts)
	}
	if !strings.HasPrefix(filepath.Base(c.Artifacts[0].Path), "prometheus_") || !strings.HasSuffix(c.Artifacts[0].Path, ".tar.zst.age") {
		t.Fatalf("artifact name %s", c.Artifacts[0].Path)
	}
	if entries, _ := os.ReadDir(filepath.Join(data, "snapshots")); len(entries) != 0 {
		t.Fatalf("snapshot directory left behind: %v", entries)
	}
	r, err := OpenArtifact(root, c.Artifacts[0], keys)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	tr := tar.NewReader(r)
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		names = append(names, hdr.Name)
	}
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	want := []string{"01HBLOCK0000000000000000/", "01HBLOCK0000000000000000/chunks/", "01HBLOCK0000000000000000/chunks/000001",
		"01HBLOCK0000000000000000/index", "01HBLOCK0000000000000000/meta.json"}
	if !slices.Equal(names, want) {
		t.Fatalf("archive entries %v, want %v (relative to the snapshot, to untar into the data directory)", names, want)
	}
	if v := m.Component(ComponentVault); v.Status != StatusSkipped || v.Reason != reasonNotConfigured {
		t.Fatalf("vault in the weekly profile: %s %q", v.Status, v.Reason)
	}
}

func TestBackupPrometheusFailures(t *testing.T) {
	tests := []struct {
		name   string
		status int
		src    func(url, data string) *PrometheusSource
		want   string // status and reason substring
	}{
		{"not configured", http.StatusOK, func(string, string) *PrometheusSource { return nil }, "skipped: not configured"},
		{"admin API disabled", http.StatusNotFound, nil, "failed: snapshotting prometheus"},
		{"admin API method", http.StatusMethodNotAllowed, nil, "--web.enable-admin-api"},
		{"server error", http.StatusServiceUnavailable, nil, "503"},
		{"wrong data dir", http.StatusOK, func(url, _ string) *PrometheusSource {
			return &PrometheusSource{URL: url, DataDir: filepath.Join(os.TempDir(), "no-such-prometheus-dir")}
		}, "MUTT_BACKUP_PROMETHEUS_DATA_DIR"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			data := t.TempDir()
			root := t.TempDir()
			srv := fakePrometheus(t, data, tt.status)
			src := &PrometheusSource{URL: srv.URL, DataDir: data}
			if tt.src != nil {
				src = tt.src(srv.URL, data)
			}
			m, err := Run(t.Context(), RunOptions{Root: root, Keys: recipientKeys(t), Components: []string{ComponentPrometheus}, Host: "h", Prometheus: src})
			if err != nil {
				t.Fatal(err)
			}
			c := m.Component(ComponentPrometheus)
			if got := c.Status + ": " + c.Reason; !strings.Contains(got, tt.want) {
				t.Fatalf("got %q, want it to contain %q", got, tt.want)
			}
			if len(c.Artifacts) != 0 {
				t.Fatalf("artifacts of a failed component: %v", c.Artifacts)
			}
			assertNoPartial(t, root)
		})
	}
}
