package backup

import (
	"archive/tar"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// DefaultPrometheusDataDir is Prometheus's data directory when
// MUTT_BACKUP_PROMETHEUS_DATA_DIR is not set.
const DefaultPrometheusDataDir = "/var/lib/prometheus"

// PrometheusSource says which Prometheus the prometheus component snapshots.
type PrometheusSource struct {
	// URL is the server's base URL (http://127.0.0.1:9090).
	URL string
	// DataDir is its data directory on this host; the snapshot appears
	// under DataDir/snapshots/<name>.
	DataDir string
	// Client makes the request; nil means http.DefaultClient.
	Client *http.Client
}

// PrometheusResult describes an archived TSDB snapshot.
type PrometheusResult struct {
	// Snapshot is the name Prometheus gave the snapshot.
	Snapshot string
	// Files and Bytes count the archived regular files; Blocks the
	// top-level block directories.
	Files, Bytes, Blocks int64
}

// SnapshotPrometheus asks Prometheus for a TSDB snapshot (POST
// /api/v1/admin/tsdb/snapshot, which needs --web.enable-admin-api), writes
// the snapshot directory as a tar stream to w, entries relative to it so it
// untars straight into a data directory, and deletes the snapshot
// directory afterwards, also when archiving failed.
func SnapshotPrometheus(ctx context.Context, src PrometheusSource, w io.Writer) (PrometheusResult, error) {
	var res PrometheusResult
	name, err := requestPrometheusSnapshot(ctx, src)
	if err != nil {
		return res, err
	}
	res.Snapshot = name
	dir := filepath.Join(src.DataDir, "snapshots", name)
	defer os.RemoveAll(dir)
	if fi, err := os.Stat(dir); err != nil || !fi.IsDir() {
		return res, fmt.Errorf("snapshotting prometheus: snapshot %s is not a directory here (is MUTT_BACKUP_PROMETHEUS_DATA_DIR %s the server's data directory?)", dir, src.DataDir)
	}
	tw := tar.NewWriter(w)
	err = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil || rel == "." {
			return err
		}
		rel = filepath.ToSlash(rel)
		fi, err := d.Info()
		if err != nil {
			return err
		}
		switch {
		case d.IsDir():
			if !strings.Contains(rel, "/") {
				res.Blocks++
			}
			return writeTarHeader(tw, fi, "", rel+"/")
		case fi.Mode().IsRegular():
			f, err := os.Open(p)
			if err != nil {
				return err
			}
			defer f.Close()
			n, size, err := writeTarFile(tw, f, rel, nil)
			if err != nil {
				return err
			}
			if n != size {
				return fmt.Errorf("%s shrank while it was archived", rel)
			}
			res.Files++
			res.Bytes += n
		}
		return nil
	})
	if err != nil {
		return res, fmt.Errorf("archiving prometheus snapshot %s: %w", name, err)
	}
	if err := tw.Close(); err != nil {
		return res, fmt.Errorf("archiving prometheus snapshot %s: %w", name, err)
	}
	return res, nil
}

// requestPrometheusSnapshot creates a snapshot and returns its name.
func requestPrometheusSnapshot(ctx context.Context, src PrometheusSource) (string, error) {
	client := src.Client
	if client == nil {
		client = http.DefaultClient
	}
	url := strings.TrimRight(src.URL, "/") + "/api/v1/admin/tsdb/snapshot"
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, nil)
	if err != nil {
		return "", fmt.Errorf("snapshotting prometheus: %w", err)
	}
	resp, err := client.Do(req)
	if err != nil {
		return "", fmt.Errorf("snapshotting prometheus: %w", err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	switch {
	case resp.StatusCode == http.StatusNotFound || resp.StatusCode == http.StatusMethodNotAllowed:
		return "", fmt.Errorf("snapshotting prometheus: %s answered %s: the admin API is disabled; start Prometheus with --web.enable-admin-api", url, resp.Status)
	case resp.StatusCode/100 != 2:
		return "", fmt.Errorf("snapshotting prometheus: %s answered %s: %s", url, resp.Status, strings.TrimSpace(string(body)))
	}
	var doc struct {
		Status string `json:"status"`
		Data   struct {
			Name string `json:"name"`
		} `json:"data"`
		Error string `json:"error"`
	}
	if err := json.Unmarshal(body, &doc); err != nil {
		return "", fmt.Errorf("snapshotting prometheus: decoding the answer: %w", err)
	}
	if doc.Status != "success" {
		return "", fmt.Errorf("snapshotting prometheus: status %q: %s", doc.Status, doc.Error)
	}
	name := doc.Data.Name
	if name == "" || filepath.Base(name) != name || !filepath.IsLocal(name) {
		return "", errors.New("snapshotting prometheus: the answer names no usable snapshot directory")
	}
	return name, nil
}

// prometheusComponent implements ComponentSpec for ComponentPrometheus.
type prometheusComponent struct {
	checksummed
	restoredElsewhere
}

var _ ComponentSpec = prometheusComponent{restoredElsewhere: restoredElsewhere{how: prometheusRestoreHow}}

// prometheusRestoreHow says how the Prometheus data comes back.
const prometheusRestoreHow = "stop Prometheus and unpack the snapshot into its data directory with age, zstd and tar (the backup guide, Prometheus data)"

// Name implements ComponentSpec.
func (prometheusComponent) Name() string { return ComponentPrometheus }

// Profiles implements ComponentSpec.
func (prometheusComponent) Profiles() []string { return []string{"weekly"} }

// Storage implements ComponentSpec: Prometheus watches both modes.
func (prometheusComponent) Storage() string { return "" }

// Retention implements ComponentSpec.
func (prometheusComponent) Retention() time.Duration { return 30 * day }

// Objectives implements ComponentSpec: the metrics history has none.
func (prometheusComponent) Objectives() Objectives { return Objectives{} }

// Backup implements ComponentSpec: a TSDB snapshot taken through the admin
// API, archived from the data directory.
func (prometheusComponent) Backup(ctx context.Context, o *RunOptions, c *Component, sink ArtifactSink) error {
	if o.Prometheus == nil {
		return errNotConfigured
	}
	return sink.Artifact("prometheus_"+sink.Stamp()+".tar.zst.age", true, "tar", func(w io.Writer) error {
		res, err := SnapshotPrometheus(ctx, *o.Prometheus, w)
		if err != nil {
			return err
		}
		c.Counts = map[string]int64{"files": res.Files, "bytes": res.Bytes, "blocks": res.Blocks}
		c.Source = map[string]any{"url": o.Prometheus.URL, "snapshot": res.Snapshot}
		return nil
	})
}

// DeepVerify implements ComponentSpec: there is no test restore of the
// metrics history; the quick verification stands.
func (prometheusComponent) DeepVerify(context.Context, DeepVerifyOptions, *Component) (string, error) {
	return "", errNoDeepVerify
}
