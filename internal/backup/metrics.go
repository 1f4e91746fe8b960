package backup

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// DefaultMetricsFile is where node_exporter's textfile collector looks for
// MUTT's backup metrics when MUTT_BACKUP_METRICS_FILE is unset.
const DefaultMetricsFile = "/var/lib/node_exporter/textfile_collector/mutt_backup.prom"

// AlertTestComponent is the synthetic component `mutt backup alert-test`
// reports as failed so that MUTTBackupFailed fires end to end.
const AlertTestComponent = "alert-test"

// LocationLocal is the location label of the sets under the backup root.
const LocationLocal = "local"

const (
	drillsDir     = "drills"
	alertTestFile = "alert-test.json"
)

// DrillRecord is the outcome of one DR drill (`mutt restore drill`), kept
// under <root>/drills/ so the drill metrics and `backup status --quarterly`
// survive across runs.
type DrillRecord struct {
	// At is when the drill finished.
	At time.Time `json:"at"`
	// SetID is the set the drill restored.
	SetID string `json:"set_id,omitempty"`
	// RTOSeconds is the measured restore time per component; the key "total"
	// holds the whole drill.
	RTOSeconds map[string]float64 `json:"rto_seconds"`
	// TargetsMet reports whether every measurement was within its target.
	TargetsMet bool `json:"targets_met"`
	// Detail says which target was missed, if any.
	Detail string `json:"detail,omitempty"`
}

// DrillRecordOf summarises a drill report finished at for WriteDrillRecord.
func DrillRecordOf(r *DrillReport, at time.Time) DrillRecord {
	rec := DrillRecord{At: at.UTC(), SetID: r.SetID, TargetsMet: r.Passed, RTOSeconds: map[string]float64{"total": r.Total.Seconds()}}
	var missed []string
	for _, s := range r.Steps {
		rec.RTOSeconds[s.Component] = s.RTO.Seconds()
		if !s.Met {
			missed = append(missed, fmt.Sprintf("%s %s (%s, target %s)", s.Component, s.Status, s.RTO.Round(time.Second), s.Target))
		}
	}
	if !r.RPOMet {
		missed = append(missed, fmt.Sprintf("RPO %s (target %s)", r.RPO.Round(time.Second), r.RPOTarget))
	}
	if !r.Passed && len(missed) == 0 {
		missed = append(missed, "restored data differs from the source")
	}
	rec.Detail = strings.Join(missed, "; ")
	return rec
}

// WriteDrillRecord stores r as <root>/drills/<UTC time>.json, atomically.
func WriteDrillRecord(root string, r DrillRecord) error {
	if err := ensureRoot(root); err != nil {
		return err
	}
	data, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return fmt.Errorf("writing drill record: %w", err)
	}
	p := filepath.Join(root, drillsDir, r.At.UTC().Format(setTimeFmt)+".json")
	if err := writeFileAtomic(p, bytes.NewReader(append(data, '\n')), nil); err != nil {
		return fmt.Errorf("writing drill record: %w", err)
	}
	return nil
}

// ReadDrillRecords returns every drill record under root, newest first; a
// root without drills yields none.
func ReadDrillRecords(root string) ([]DrillRecord, error) {
	entries, err := os.ReadDir(filepath.Join(root, drillsDir))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading drill records: %w", err)
	}
	var out []DrillRecord
	for _, e := range entries {
		if e.IsDir() || !strings.HasSuffix(e.Name(), ".json") {
			continue
		}
		data, err := os.ReadFile(filepath.Join(root, drillsDir, e.Name()))
		if err != nil {
			return nil, fmt.Errorf("reading drill record %s: %w", e.Name(), err)
		}
		var r DrillRecord
		if err := json.Unmarshal(data, &r); err != nil {
			return nil, fmt.Errorf("reading drill record %s: %w", e.Name(), err)
		}
		out = append(out, r)
	}
	slices.SortFunc(out, func(a, b DrillRecord) int { return b.At.Compare(a.At) })
	return out, nil
}

// AlertTest records the last `mutt backup alert-test`: the synthetic
// component is reported failed from At until Until.
type AlertTest struct {
	At    time.Time `json:"at"`
	Until time.Time `json:"until"`
}

// WriteAlertTest stores the alert test marker under root.
func WriteAlertTest(root string, a AlertTest) error {
	if err := ensureRoot(root); err != nil {
		return err
	}
	data, err := json.Marshal(a)
	if err != nil {
		return fmt.Errorf("writing alert test marker: %w", err)
	}
	if err := writeFileAtomic(filepath.Join(root, alertTestFile), bytes.NewReader(append(data, '\n')), nil); err != nil {
		return fmt.Errorf("writing alert test marker: %w", err)
	}
	return nil
}

// ReadAlertTest returns the alert test marker under root and false when
// alert-test never ran.
func ReadAlertTest(root string) (AlertTest, bool, error) {
	var a AlertTest
	data, err := os.ReadFile(filepath.Join(root, alertTestFile))
	if errors.Is(err, fs.ErrNotExist) {
		return a, false, nil
	}
	if err != nil {
		return a, false, fmt.Errorf("reading alert test marker: %w", err)
	}
	if err := json.Unmarshal(data, &a); err != nil {
		return a, false, fmt.Errorf("reading alert test marker: %w", err)
	}
	return a, true, nil
}

// WriteMetricsFile renders the backup metrics of root at time now and
// writes them to path for node_exporter's textfile collector, through a
// temporary file and a rename so the collector never reads half a file.
// Every value comes from the manifests, drill records and alert test marker
// on disk, so timestamps and counts survive across runs. An empty path, or a
// path whose directory does not exist (no node_exporter on this host), is
// silently skipped.
func WriteMetricsFile(root, path string, now time.Time) error {
	if path == "" {
		return nil
	}
	dir := filepath.Dir(path)
	if fi, err := os.Stat(dir); err != nil || !fi.IsDir() {
		return nil
	}
	text, err := RenderMetrics(root, now)
	if err != nil {
		return err
	}
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".*.tmp")
	if err != nil {
		return fmt.Errorf("writing metrics file: %w", err)
	}
	tmp := f.Name()
	_, err = f.Write(text)
	if err == nil {
		// The collector runs as another user; the metrics hold no secret.
		err = f.Chmod(0o644)
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("writing metrics file %s: %w", path, err)
	}
	return nil
}

// componentMetrics are the per-component values of one rendering.
type componentMetrics struct {
	lastRun, lastSuccess, status, duration, size, dataAt float64
	attempted, succeeded                                 bool
	verify                                               map[string]float64 // level → last ok
	sets                                                 map[string]int     // location → sets
}

// RenderMetrics returns the backup metrics of root in the Prometheus text
// exposition format.
func RenderMetrics(root string, now time.Time) ([]byte, error) {
	ms, err := ListManifests(root)
	if err != nil {
		return nil, fmt.Errorf("rendering metrics: %w", err)
	}
	drills, err := ReadDrillRecords(root)
	if err != nil {
		return nil, fmt.Errorf("rendering metrics: %w", err)
	}
	at, hasTest, err := ReadAlertTest(root)
	if err != nil {
		return nil, fmt.Errorf("rendering metrics: %w", err)
	}

	comps := map[string]*componentMetrics{}
	get := func(name string) *componentMetrics {
		c := comps[name]
		if c == nil {
			c = &componentMetrics{verify: map[string]float64{}, sets: map[string]int{}}
			comps[name] = c
		}
		return c
	}
	remoteSync := map[string]float64{}
	// ms is newest first, so the first attempt seen is the last one.
	for _, m := range ms {
		for _, r := range m.Remotes {
			if r.Status == StatusOK && !r.SyncedAt.IsZero() {
				t := RemoteLabel(r.Target)
				remoteSync[t] = max(remoteSync[t], unixSeconds(r.SyncedAt))
			}
		}
		for i := range m.Components {
			c := &m.Components[i]
			if c.Status == StatusSkipped {
				continue
			}
			cm := get(c.Name)
			start, end := componentTimes(m, c)
			if !cm.attempted {
				cm.attempted = true
				cm.lastRun = unixSeconds(end)
				cm.duration = end.Sub(start).Seconds()
				if componentGood(c) {
					cm.status = 1
				}
			}
			if v := c.Verify; v != nil && v.Status == StatusOK {
				cm.verify[v.Level] = max(cm.verify[v.Level], unixSeconds(v.At))
			}
			if c.Status != StatusOK {
				continue
			}
			cm.sets[LocationLocal]++
			for _, r := range m.Remotes {
				if r.Status == StatusOK {
					cm.sets[RemoteLabel(r.Target)]++
				}
			}
			if !cm.succeeded {
				cm.succeeded = true
				cm.lastSuccess = unixSeconds(end)
				for _, a := range c.Artifacts {
					cm.size += float64(a.Bytes)
				}
				cm.dataAt = unixSeconds(dataTime(m, c))
			}
		}
	}
	if hasTest && now.Before(at.Until) {
		cm := get(AlertTestComponent)
		cm.attempted, cm.lastRun, cm.status = true, unixSeconds(at.At), 0
	}

	var b bytes.Buffer
	names := slices.Sorted(maps.Keys(comps))
	perComponent := func(name, help string, value func(*componentMetrics) (float64, bool)) {
		family(&b, name, "gauge", help)
		for _, n := range names {
			if v, ok := value(comps[n]); ok {
				sample(&b, name, v, "component", n)
			}
		}
	}
	perComponent("mutt_backup_last_run_timestamp_seconds", "End of the last backup attempt of the component.",
		func(c *componentMetrics) (float64, bool) { return c.lastRun, c.attempted })
	perComponent("mutt_backup_last_success_timestamp_seconds", "End of the last successful backup of the component.",
		func(c *componentMetrics) (float64, bool) { return c.lastSuccess, c.succeeded })
	perComponent("mutt_backup_last_status", "Outcome of the last backup attempt of the component: 1 ok, 0 failed.",
		func(c *componentMetrics) (float64, bool) { return c.status, c.attempted })
	perComponent("mutt_backup_duration_seconds", "Duration of the last backup attempt of the component.",
		func(c *componentMetrics) (float64, bool) { return c.duration, c.attempted && c.lastRun > 0 })
	perComponent("mutt_backup_size_bytes", "Stored size of the artifacts of the newest successful backup of the component.",
		func(c *componentMetrics) (float64, bool) { return c.size, c.succeeded })
	perComponent("mutt_backup_data_timestamp_seconds", "Source snapshot time of the newest successful backup of the component (RPO = now - this).",
		func(c *componentMetrics) (float64, bool) { return c.dataAt, c.succeeded })

	family(&b, "mutt_backup_verify_last_success_timestamp_seconds", "gauge", "Last successful verification of the component, by level (quick or deep).")
	for _, n := range names {
		for _, level := range slices.Sorted(maps.Keys(comps[n].verify)) {
			sample(&b, "mutt_backup_verify_last_success_timestamp_seconds", comps[n].verify[level], "component", n, "level", level)
		}
	}
	family(&b, "mutt_backup_remote_last_sync_success_timestamp_seconds", "gauge", "Last successful sync of a set to the remote.")
	for _, r := range slices.Sorted(maps.Keys(remoteSync)) {
		sample(&b, "mutt_backup_remote_last_sync_success_timestamp_seconds", remoteSync[r], "remote", r)
	}
	family(&b, "mutt_backup_sets", "gauge", "Successful backup sets kept, by component and location.")
	for _, n := range names {
		for _, loc := range slices.Sorted(maps.Keys(comps[n].sets)) {
			sample(&b, "mutt_backup_sets", float64(comps[n].sets[loc]), "component", n, "location", loc)
		}
	}
	if ratio, err := FilesystemUsedRatio(root); err == nil {
		family(&b, "mutt_backup_filesystem_used_ratio", "gauge", "Used fraction of the backup root's filesystem.")
		sample(&b, "mutt_backup_filesystem_used_ratio", ratio)
	}
	if st, ok := readArchiverStatus(root); ok {
		family(&b, "mutt_backup_wal_archive_lag_seconds", "gauge", "WAL archiving lag at the last `mutt backup status` (0: every completed segment archived).")
		sample(&b, "mutt_backup_wal_archive_lag_seconds", st.Lag.Seconds())
		family(&b, "mutt_backup_wal_archive_checked_timestamp_seconds", "gauge", "When the WAL archiving lag was last read from pg_stat_archiver.")
		sample(&b, "mutt_backup_wal_archive_checked_timestamp_seconds", unixSeconds(st.At))
		family(&b, "mutt_backup_wal_archive_failed_total", "counter", "archive_command failures counted by pg_stat_archiver since its reset.")
		sample(&b, "mutt_backup_wal_archive_failed_total", float64(st.FailedCount))
	}
	if len(drills) > 0 {
		d := drills[0]
		family(&b, "mutt_dr_drill_last_timestamp_seconds", "gauge", "End of the last DR drill.")
		sample(&b, "mutt_dr_drill_last_timestamp_seconds", unixSeconds(d.At), "component", "total")
		for _, c := range slices.Sorted(maps.Keys(d.RTOSeconds)) {
			if c != "total" {
				sample(&b, "mutt_dr_drill_last_timestamp_seconds", unixSeconds(d.At), "component", c)
			}
		}
		family(&b, "mutt_dr_drill_rto_seconds", "gauge", "Restore time measured by the last DR drill, by component.")
		for _, c := range slices.Sorted(maps.Keys(d.RTOSeconds)) {
			sample(&b, "mutt_dr_drill_rto_seconds", d.RTOSeconds[c], "component", c)
		}
	}
	return b.Bytes(), nil
}

// componentGood reports whether a component's backup succeeded and its
// verification, if any, did not fail.
func componentGood(c *Component) bool {
	return c.Status == StatusOK && (c.Verify == nil || c.Verify.Status == StatusOK)
}

// componentTimes returns a component's start and end, falling back to the
// set's when the component does not record them.
func componentTimes(m *Manifest, c *Component) (time.Time, time.Time) {
	start, end := c.StartedAt, c.FinishedAt
	if start.IsZero() {
		start = m.Time()
	}
	if end.IsZero() {
		end = m.FinishedAt
	}
	if end.IsZero() {
		end = start
	}
	return start, end
}

// dataTime is the source snapshot time of a component, or the set's start
// when the component did not record one.
func dataTime(m *Manifest, c *Component) time.Time {
	switch v := c.Source["snapshot_at"].(type) {
	case time.Time:
		return v
	case string:
		if t, err := time.Parse(time.RFC3339Nano, v); err == nil {
			return t
		}
	}
	if !c.StartedAt.IsZero() {
		return c.StartedAt
	}
	return m.Time()
}

// FilesystemUsedRatio returns the used fraction of the filesystem holding
// root, as df computes it: used / (used + available to unprivileged users).
func FilesystemUsedRatio(root string) (float64, error) {
	var st syscall.Statfs_t
	if err := syscall.Statfs(root, &st); err != nil {
		return 0, fmt.Errorf("measuring filesystem of %s: %w", root, err)
	}
	used := float64(st.Blocks - st.Bfree)
	total := used + float64(st.Bavail)
	if total == 0 {
		return 0, nil
	}
	return used / total, nil
}

// RemoteLabel is a remote target as a label value: the target without any
// user information or query (which may hold credentials).
func RemoteLabel(target string) string {
	u, err := url.Parse(target)
	if err != nil || u.Scheme == "" {
		return target
	}
	u.User, u.RawQuery, u.Fragment = nil, "", ""
	return u.String()
}

func unixSeconds(t time.Time) float64 {
	if t.IsZero() {
		return 0
	}
	return float64(t.UnixNano()) / 1e9
}

func family(b *bytes.Buffer, name, typ, help string) {
	fmt.Fprintf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, typ)
}

// sample writes one sample; labels are name, value pairs.
func sample(b *bytes.Buffer, name string, v float64, labels ...string) {
	b.WriteString(name)
	if len(labels) > 0 {
		b.WriteByte('{')
		for i := 0; i+1 < len(labels); i += 2 {
			if i > 0 {
				b.WriteByte(',')
			}
			b.WriteString(labels[i])
			b.WriteString(`="`)
			b.WriteString(labelEscaper.Replace(labels[i+1]))
			b.WriteByte('"')
		}
		b.WriteByte('}')
	}
	b.WriteByte(' ')
	b.WriteString(strconv.FormatFloat(v, 'f', -1, 64))
	b.WriteByte('\n')
}

var labelEscaper = strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`)
