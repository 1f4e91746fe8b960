package backup

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// fakeSet writes a manifest started at start with the given components, as
// Run would, and returns it.
func fakeSet(t *testing.T, root string, start time.Time, profile string, cs ...Component) *Manifest {
	t.Helper()
	m := &Manifest{
		Format: ManifestFormat, SetID: NewSetID(start, "mutt-test-01", profile), Profile: profile,
		Host: "mutt-test-01", StartedAt: start.UTC(), FinishedAt: start.Add(time.Minute).UTC(),
		Encryption: Encryption{Scheme: SchemeX25519}, Components: cs,
	}
	for i := range m.Components {
		c := &m.Components[i]
		if c.Status != StatusSkipped && c.StartedAt.IsZero() {
			c.StartedAt, c.FinishedAt = start.UTC(), start.Add(30*time.Second).UTC()
		}
	}
	m.Status = SetStatus(m.Components)
	if _, err := WriteManifest(root, m); err != nil {
		t.Fatal(err)
	}
	return m
}

// okComponent is a good, quick-verified component of size bytes.
func okComponent(name string, bytes int64, verifiedAt time.Time) Component {
	return Component{
		Name: name, Status: StatusOK,
		Artifacts: []ArtifactInfo{{Path: name + "/x/" + name + ".age", Bytes: bytes}},
		Verify:    &Verify{Level: VerifyQuick, Status: StatusOK, At: verifiedAt.UTC()},
	}
}

// parseMetrics parses the text exposition of a metrics file into
// "name{label="v",…}" → value, labels sorted as the parser reports them.
func parseMetrics(t *testing.T, data []byte) map[string]float64 {
	t.Helper()
	p := expfmt.NewTextParser(model.LegacyValidation)
	fams, err := p.TextToMetricFamilies(bytes.NewReader(data))
	if err != nil {
		t.Fatalf("metrics do not parse: %v\n%s", err, data)
	}
	out := map[string]float64{}
	for name, f := range fams {
		for _, m := range f.GetMetric() {
			var ls []string
			for _, l := range m.GetLabel() {
				ls = append(ls, l.GetName()+"="+l.GetValue())
			}
			out[name+"{"+strings.Join(ls, ",")+"}"] = m.GetGauge().GetValue()
		}
	}
	return out
}

func TestWriteMetricsFile(t *testing.T) {
	root := t.TempDir()
	now := time.Date(2025, 11, 10, 12, 0, 0, 0, time.UTC)
	old := now.Add(-26 * time.Hour)
	recent := now.Add(-2 * time.Hour)

	// An older good postgres set, synced and deep-verified; then a newer
	// one whose postgres failed while redis succeeded.
	pgOld := okComponent(ComponentPostgres, 1000, old)
	pgOld.Source = map[string]any{"snapshot_at": old.Add(5 * time.Second)}
	pgOld.Verify = &Verify{Level: VerifyDeep, Status: StatusOK, At: now.Add(-time.Hour)}
	first := fakeSet(t, root, old, "daily", pgOld, okComponent(ComponentRedis, 300, old))
	first.Remotes = []Remote{{Target: "s3://user:secret@mutt-backups-prod/x", Status: StatusOK, SyncedAt: old.Add(10 * time.Minute)}}
	if _, err := WriteManifest(root, first); err != nil {
		t.Fatal(err)
	}
	fakeSet(t, root, recent, "daily",
		Component{Name: ComponentPostgres, Status: StatusFailed, Reason: "pg_dump: connection refused"},
		okComponent(ComponentRedis, 400, recent),
		Component{Name: ComponentVault, Status: StatusSkipped, Reason: "not implemented yet"},
	)
	if err := WriteDrillRecord(root, DrillRecord{At: now.Add(-24 * time.Hour), RTOSeconds: map[string]float64{"postgres": 42.5, "total": 60}, TargetsMet: true}); err != nil {
		t.Fatal(err)
	}

	dir := t.TempDir()
	path := filepath.Join(dir, "mutt_backup.prom")
	if err := WriteMetricsFile(root, path, now); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	got := parseMetrics(t, data)
	ts := func(t time.Time) float64 { return float64(t.Unix()) }
	want := map[string]float64{
		`mutt_backup_last_status{component=postgres}`:                                             0,
		`mutt_backup_last_status{component=redis}`:                                                1,
		`mutt_backup_last_run_timestamp_seconds{component=postgres}`:                              ts(recent.Add(30 * time.Second)),
		`mutt_backup_last_success_timestamp_seconds{component=postgres}`:                          ts(old.Add(30 * time.Second)),
		`mutt_backup_last_success_timestamp_seconds{component=redis}`:                             ts(recent.Add(30 * time.Second)),
		`mutt_backup_duration_seconds{component=redis}`:                                           30,
		`mutt_backup_size_bytes{component=postgres}`:                                              1000,
		`mutt_backup_size_bytes{component=redis}`:                                                 400,
		`mutt_backup_data_timestamp_seconds{component=postgres}`:                                  ts(old.Add(5 * time.Second)),
		`mutt_backup_data_timestamp_seconds{component=redis}`:                                     ts(recent),
		`mutt_backup_verify_last_success_timestamp_seconds{component=postgres,level=deep}`:        ts(now.Add(-time.Hour)),
		`mutt_backup_verify_last_success_timestamp_seconds{component=redis,level=quick}`:          ts(recent),
		`mutt_backup_remote_last_sync_success_timestamp_seconds{remote=s3://mutt-backups-prod/x}`: ts(old.Add(10 * time.Minute)),
		`mutt_backup_sets{component=postgres,location=local}`:                                     1,
		`mutt_backup_sets{component=postgres,location=s3://mutt-backups-prod/x}`:                  1,
		`mutt_backup_sets{component=redis,location=local}`:                                        2,
		`mutt_dr_drill_last_timestamp_seconds{component=total}`:                                   ts(now.Add(-24 * time.Hour)),
		`mutt_dr_drill_rto_seconds{component=postgres}`:                                           42.5,
	}
	for k, v := range want {
		if g, ok := got[k]; !ok || g != v {
			t.Errorf("%s = %v (present %t), want %v", k, g, ok, v)
		}
	}
	if r, ok := got[`mutt_backup_filesystem_used_ratio{}`]; !ok || r <= 0 || r > 1 {
		t.Errorf("mutt_backup_filesystem_used_ratio = %v (present %t)", r, ok)
	}
	for k := range got {
		if strings.Contains(k, "vault") {
			t.Errorf("a skipped component is reported: %s", k)
		}
	}
	if bytes.Contains(data, []byte("secret")) {
		t.Errorf("metrics carry a remote's credentials:\n%s", data)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o644 {
		t.Errorf("metrics file mode %04o, want 0644 (node_exporter reads it)", fi.Mode().Perm())
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("metrics dir holds %d entries, want only the metrics file (no temp file left)", len(entries))
	}

	// Values come from disk: a later rendering reports the same history.
	if err := WriteMetricsFile(root, path, now.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	again, _ := os.ReadFile(path)
	if g := parseMetrics(t, again)[`mutt_backup_last_success_timestamp_seconds{component=postgres}`]; g != ts(old.Add(30*time.Second)) {
		t.Errorf("last success after a second write = %v", g)
	}
	if path, err := exec.LookPath("promtool"); err == nil {
		cmd := exec.Command(path, "check", "metrics")
		cmd.Stdin = bytes.NewReader(data)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("promtool check metrics: %v\n%s", err, out)
		}
	}
}

func TestWriteMetricsFileSkipsMissingDirectory(t *testing.T) {
	root := t.TempDir()
	path := filepath.Join(t.TempDir(), "absent", "mutt_backup.prom")
	if err := WriteMetricsFile(root, path, time.Now()); err != nil {
		t.Fatalf("missing directory: %v, want silently skipped", err)
	}
	if _, err := os.Stat(path); err == nil {
		t.Error("metrics file written into a directory that did not exist")
	}
	if err := WriteMetricsFile(root, "", time.Now()); err != nil {
		t.Errorf("empty path: %v", err)
	}
}

func TestAlertTestMetrics(t *testing.T) {
	root := t.TempDir()
	now := time.Date(2025, 11, 10, 12, 0, 0, 0, time.UTC)
	if err := WriteAlertTest(root, AlertTest{At: now, Until: now.Add(15 * time.Minute)}); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		at      time.Time
		present bool
	}{
		{name: "during the test", at: now.Add(5 * time.Minute), present: true},
		{name: "after the test", at: now.Add(16 * time.Minute), present: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			data, err := RenderMetrics(root, tt.at)
			if err != nil {
				t.Fatal(err)
			}
			v, ok := parseMetrics(t, data)[`mutt_backup_last_status{component=alert-test}`]
			if ok != tt.present || (ok && v != 0) {
				t.Errorf("alert-test status = %v (present %t), want present %t with 0", v, ok, tt.present)
			}
		})
	}
}

// promtool runs promtool with args in the rules directory, skipping when
// it is missing outside CI; under CI it must be installed.
func promtool(t *testing.T, args ...string) {
	t.Helper()
	path, err := exec.LookPath("promtool")
	if err != nil {
		if os.Getenv("CI") == "" {
			t.Skip("promtool not installed (Debian package prometheus); required when CI is set")
		}
		t.Fatalf("promtool not installed under CI: %v (apt-get install prometheus)", err)
	}
	cmd := exec.Command(path, args...)
	cmd.Dir = filepath.Join("..", "..", "deploy", "prometheus")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("promtool %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

func TestAlertRules(t *testing.T) {
	rules, err := os.ReadFile(filepath.Join("..", "..", "deploy", "prometheus", "mutt-backup-rules.yml"))
	if err != nil {
		t.Fatal(err)
	}
	for _, alert := range []string{"MUTTBackupFailed", "MUTTBackupStale", "MUTTBackupOffsiteStale",
		"MUTTBackupVerifyStale", "MUTTBackupDiskHigh", "MUTTDRDrillOverdue", "MUTTBackupWALArchiveLag"} {
		if !bytes.Contains(rules, []byte("alert: "+alert+"\n")) {
			t.Errorf("rules lack alert %s", alert)
		}
	}
	// Every metric the rules read is one WriteMetricsFile writes.
	root := t.TempDir()
	now := time.Now()
	fakeSet(t, root, now, "daily", okComponent(ComponentPostgres, 1, now))
	if err := WriteDrillRecord(root, DrillRecord{At: now, RTOSeconds: map[string]float64{"total": 1}}); err != nil {
		t.Fatal(err)
	}
	if err := WriteArchiverStatus(root, ArchiverStatus{ArchiveMode: "on", Lag: 42 * time.Second, At: now}); err != nil {
		t.Fatal(err)
	}
	rendered, err := RenderMetrics(root, now)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(rendered, []byte("mutt_backup_wal_archive_lag_seconds 42\n")) {
		t.Errorf("metrics lack the archiving lag:\n%s", rendered)
	}
	for _, name := range regexp.MustCompile(`mutt_(?:backup|dr)_[a-z_]+`).FindAllString(string(rules), -1) {
		if !bytes.Contains(rendered, []byte("# TYPE "+name+" ")) {
			t.Errorf("rules use %s, which the metrics file never has", name)
		}
	}
	promtool(t, "check", "rules", "mutt-backup-rules.yml")
	promtool(t, "test", "rules", "mutt-backup-rules_test.yml")
}
