package backup

import (
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"
)

var fixedNow = time.Date(2025, 11, 10, 2, 0, 0, 0, time.UTC)

func sha256hex(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

func sampleManifest(setID string, started time.Time) *Manifest {
	return &Manifest{
		SetID: setID, Profile: "daily", Host: "mutt-prod-01", ToolVersion: "2.5.0", SchemaVersion: 12,
		StartedAt: started, FinishedAt: started.Add(3*time.Minute + 41*time.Second), Status: SetPartial,
		Encryption: Encryption{Scheme: SchemeX25519, Recipients: []string{"sha256:0011223344556677"}},
		Components: []Component{
			{
				Name: "postgres", Status: StatusOK,
				Source: map[string]any{"server_version": "15.4", "database": "mutt"},
				Counts: map[string]int64{"alert_rules": 52, "event_audit_log": 2210331},
				Artifacts: []ArtifactInfo{{
					Path:  ArtifactDir("postgres", setID, started) + "/mutt_postgres_20251110_020000.dump.age",
					Bytes: 48211233, SHA256: strings.Repeat("a", 64), PlainBytes: 48000000, PlainSHA256: strings.Repeat("b", 64), Format: "pg-custom",
				}},
				Verify:    &Verify{Level: VerifyQuick, Status: StatusOK, At: started.Add(3 * time.Minute), Detail: "toc entries 161"},
				StartedAt: started, FinishedAt: started.Add(time.Minute),
			},
			{Name: "vault", Status: StatusSkipped, Reason: "not in profile"},
		},
	}
}

func TestManifestRoundTrip(t *testing.T) {
	root := t.TempDir()
	id := NewSetID(fixedNow, "mutt-prod-01", "daily")
	m := sampleManifest(id, fixedNow)
	path, err := WriteManifest(root, m)
	if err != nil {
		t.Fatal(err)
	}
	want := filepath.Join(root, "manifests", "2025", "11", "10", id+".json")
	if path != want {
		t.Errorf("path %s, want %s", path, want)
	}
	if fi, _ := os.Stat(path); fi.Mode().Perm() != 0o600 {
		t.Errorf("manifest mode %v", fi.Mode().Perm())
	}
	assertNoPartial(t, root)
	got, err := ReadManifest(path)
	if err != nil {
		t.Fatal(err)
	}
	if got.Format != ManifestFormat {
		t.Errorf("format %q", got.Format)
	}
	if !reflect.DeepEqual(got, m) {
		t.Errorf("round trip differs:\n got %+v\nwant %+v", got, m)
	}
	raw, _ := os.ReadFile(path)
	for _, key := range []string{`"format": "mutt-backup-manifest/1"`, `"set_id"`, `"plain_sha256"`, `"schema_version": 12`, `"reason": "not in profile"`} {
		if !strings.Contains(string(raw), key) {
			t.Errorf("manifest JSON lacks %s", key)
		}
	}
	if !got.Verified("postgres") || got.Verified("vault") || got.Verified("redis") {
		t.Error("Verified wrong")
	}
	// Rewriting (a verification result) replaces the file atomically.
	m.Components[0].Verify.Level = VerifyDeep
	if _, err := WriteManifest(root, m); err != nil {
		t.Fatal(err)
	}
	if got, _ := ReadManifest(path); got.Components[0].Verify.Level != VerifyDeep {
		t.Error("rewrite not visible")
	}
}

func TestReadManifestRejects(t *testing.T) {
	dir := t.TempDir()
	tests := []struct{ name, body, want string }{
		{"not json", "{", "reading manifest"},
		{"wrong format", `{"format":"other/2","set_id":"20251110T020000Z-h-daily-0000"}`, "unsupported format"},
		{"bad set id", `{"format":"mutt-backup-manifest/1","set_id":"../../x"}`, "invalid set id"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := writeFile(t, filepath.Join(dir, tt.name+".json"), tt.body, 0o600)
			if _, err := ReadManifest(p); err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want %q", err, tt.want)
			}
		})
	}
	if _, err := WriteManifest(dir, &Manifest{SetID: "nope"}); err == nil {
		t.Error("WriteManifest accepted an invalid set id")
	}
}

func TestListManifests(t *testing.T) {
	root := t.TempDir()
	if ms, err := ListManifests(root); err != nil || len(ms) != 0 {
		t.Fatalf("empty root: %v %v", ms, err)
	}
	times := []time.Time{
		fixedNow.Add(-48 * time.Hour),
		fixedNow,
		fixedNow.Add(-time.Hour),
		fixedNow.Add(24 * time.Hour), // crosses a day directory
		fixedNow,                     // same second: set id breaks the tie
	}
	var ids []string
	for i, ts := range times {
		id := NewSetID(ts, "mutt-prod-01", []string{"daily", "redis"}[i%2])
		ids = append(ids, id)
		if _, err := WriteManifest(root, sampleManifest(id, ts)); err != nil {
			t.Fatal(err)
		}
	}
	// A manifest being written (or left by a crash) is never listed.
	stale := filepath.Join(root, "manifests", "2025", "11", "10", NewSetID(fixedNow.Add(time.Hour), "h", "daily")+".json.partial")
	writeFile(t, stale, `{"format":"mutt-backup-manifest/1"}`, 0o600)

	ms, err := ListManifests(root)
	if err != nil {
		t.Fatal(err)
	}
	if len(ms) != len(times) {
		t.Fatalf("listed %d, want %d", len(ms), len(times))
	}
	tieFirst, tieSecond := ids[1], ids[4]
	if tieFirst < tieSecond {
		tieFirst, tieSecond = tieSecond, tieFirst
	}
	want := []string{ids[3], tieFirst, tieSecond, ids[2], ids[0]}
	for i, m := range ms {
		if m.SetID != want[i] {
			t.Errorf("position %d: %s, want %s", i, m.SetID, want[i])
		}
	}

	writeFile(t, filepath.Join(root, "manifests", "2025", "11", "10", "broken.json"), "{", 0o600)
	if _, err := ListManifests(root); err == nil || !strings.Contains(err.Error(), "broken.json") {
		t.Errorf("broken manifest: err = %v", err)
	}
}

func TestNewSetID(t *testing.T) {
	re := regexp.MustCompile(`^\d{8}T\d{6}Z-[A-Za-z0-9.-]+-[A-Za-z0-9.-]+-[0-9a-f]{4}$`)
	tests := []struct{ name, host, profile, prefix string }{
		{"plain", "mutt-prod-01", "daily", "20251110T020000Z-mutt-prod-01-daily-"},
		{"odd characters", "mutt prod/01", "pre_upgrade", "20251110T020000Z-mutt-prod-01-pre-upgrade-"},
		{"empty host", "", "hourly", "20251110T020000Z-unknown-hourly-"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			local := fixedNow.In(time.FixedZone("CET", 3600))
			id := NewSetID(local, tt.host, tt.profile)
			if !re.MatchString(id) || !strings.HasPrefix(id, tt.prefix) {
				t.Fatalf("id %q", id)
			}
			ts, err := SetTime(id)
			if err != nil || !ts.Equal(fixedNow) {
				t.Fatalf("SetTime = %v, %v", ts, err)
			}
		})
	}
	seen := map[string]bool{}
	for range 50 {
		seen[NewSetID(fixedNow, "h", "p")] = true
	}
	if len(seen) < 40 {
		t.Errorf("only %d distinct ids in 50", len(seen))
	}
}

func TestLayout(t *testing.T) {
	id := "20251110T020000Z-mutt-prod-01-daily-3fa1"
	if got := ArtifactDir("postgres", id, fixedNow.Add(23*time.Hour).In(time.FixedZone("X", 5*3600))); got != "postgres/2025/11/11/"+id {
		t.Errorf("ArtifactDir = %s", got)
	}
	p, err := ManifestPath(id)
	if err != nil || p != filepath.Join("manifests", "2025", "11", "10", id+".json") {
		t.Errorf("ManifestPath = %s, %v", p, err)
	}
}

func TestSetStatus(t *testing.T) {
	tests := []struct {
		name string
		cs   []Component
		want string
	}{
		{"none", nil, SetFailed},
		{"all ok", []Component{{Status: StatusOK}, {Status: StatusOK}}, SetComplete},
		{"one failed", []Component{{Status: StatusOK}, {Status: StatusFailed}}, SetPartial},
		{"one skipped", []Component{{Status: StatusOK}, {Status: StatusSkipped}}, SetPartial},
		{"all failed", []Component{{Status: StatusFailed}, {Status: StatusSkipped}}, SetFailed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := SetStatus(tt.cs); got != tt.want {
				t.Errorf("SetStatus = %s, want %s", got, tt.want)
			}
		})
	}
}

// TestSetVisibleOnlyAfterManifest follows a run: artifacts first, manifest
// last; until the manifest exists the set is invisible and, once old enough,
// its artifacts are garbage.
func TestSetVisibleOnlyAfterManifest(t *testing.T) {
	root := t.TempDir()
	k := recipientKeys(t)
	id := NewSetID(fixedNow, "mutt-prod-01", "daily")
	dir := ArtifactDir("redis", id, fixedNow)
	info := writeArtifact(t, root, dir+"/dump_20251110_020000.rdb.zst.age", k, true, []byte("REDIS0011"))

	if ms, err := ListManifests(root); err != nil || len(ms) != 0 {
		t.Fatalf("set listed before its manifest: %v %v", ms, err)
	}
	if g, _ := FindGarbage(root, nil, fixedNow.Add(time.Hour)); len(g) != 0 {
		t.Errorf("run in progress treated as garbage: %v", g)
	}
	if g, _ := FindGarbage(root, nil, fixedNow.Add(25*time.Hour)); len(g) != 1 || g[0] != dir {
		t.Errorf("orphan not found: %v", g)
	}

	m := &Manifest{SetID: id, StartedAt: fixedNow, Components: []Component{{Name: "redis", Status: StatusOK, Artifacts: []ArtifactInfo{info}}}}
	m.Status = SetStatus(m.Components)
	if _, err := WriteManifest(root, m); err != nil {
		t.Fatal(err)
	}
	ms, err := ListManifests(root)
	if err != nil || len(ms) != 1 || ms[0].SetID != id || ms[0].Status != SetComplete {
		t.Fatalf("after manifest: %v %v", ms, err)
	}
	if g, _ := FindGarbage(root, ms, fixedNow.Add(25*time.Hour)); len(g) != 0 {
		t.Errorf("artifacts of a listed set treated as garbage: %v", g)
	}
	if err := VerifyArtifact(root, ms[0].Components[0].Artifacts[0]); err != nil {
		t.Fatal(err)
	}
}
