package backup

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

const testSegBytes = 16 << 20

func writeSegment(t *testing.T, dir, name string, fill byte) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, bytes.Repeat([]byte{fill}, 64<<10), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestPushWAL(t *testing.T) {
	root, keys, src := t.TempDir(), recipientKeys(t), t.TempDir()
	seg := writeSegment(t, src, "000000010000000000000003", 'a')

	res, err := PushWAL(root, seg, keys, fixedNow)
	if err != nil || res.Already {
		t.Fatalf("first push: %+v, %v", res, err)
	}
	// PostgreSQL may push a segment again after a crash: the same content
	// succeeds and writes nothing.
	art := filepath.Join(root, "wal", "0000000100000000", "000000010000000000000003.zst.age")
	before, err := os.Stat(art)
	if err != nil {
		t.Fatal(err)
	}
	res, err = PushWAL(root, seg, keys, fixedNow)
	if err != nil || !res.Already {
		t.Fatalf("identical re-push: %+v, %v; want success without writing", res, err)
	}
	if after, _ := os.Stat(art); !after.ModTime().Equal(before.ModTime()) {
		t.Error("an identical re-push rewrote the artifact")
	}

	// Another file under the same name is refused and changes nothing.
	other := writeSegment(t, t.TempDir(), "000000010000000000000003", 'b')
	if _, err := PushWAL(root, other, keys, fixedNow); !errors.Is(err, ErrWALConflict) {
		t.Fatalf("different segment under an archived name: %v, want ErrWALConflict", err)
	}
	out := filepath.Join(t.TempDir(), "RECOVERYXLOG")
	if err := FetchWAL(root, "000000010000000000000003", out, keys); err != nil {
		t.Fatal(err)
	}
	got, _ := os.ReadFile(out)
	want, _ := os.ReadFile(seg)
	if !bytes.Equal(got, want) {
		t.Error("the archived segment changed after a refused push")
	}

	// No temporary file is left; only the artifact and its entry.
	var files []string
	filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			files = append(files, d.Name())
		}
		return err
	})
	slices.Sort(files)
	if !slices.Equal(files, []string{"000000010000000000000003.json", "000000010000000000000003.zst.age"}) {
		t.Errorf("archive holds %v", files)
	}

	for _, bad := range []string{"../../etc/passwd", "000000010000000000000003/../x", "RECOVERYXLOG", "00000001000000000000000G"} {
		p := filepath.Join(src, filepath.Base(bad))
		os.WriteFile(p, []byte("x"), 0o600)
		if _, err := PushWAL(root, filepath.Join(src, bad), keys, fixedNow); err == nil || !strings.Contains(err.Error(), "WAL file name") {
			t.Errorf("push of %q: %v, want the name refused", bad, err)
		}
	}
}

func TestFetchWALDamaged(t *testing.T) {
	root, keys, src := t.TempDir(), recipientKeys(t), t.TempDir()
	for i, n := range []string{"000000010000000000000003", "000000010000000000000004", "000000010000000000000005"} {
		if _, err := PushWAL(root, writeSegment(t, src, n, byte('a'+i)), keys, fixedNow); err != nil {
			t.Fatal(err)
		}
	}
	dst := filepath.Join(t.TempDir(), "seg")
	if err := FetchWAL(root, "000000010000000000000006", dst, keys); !errors.Is(err, ErrWALMissing) || WALHole(root, "000000010000000000000006") != nil {
		t.Errorf("past the end: %v, want ErrWALMissing and no hole", err)
	}
	art := filepath.Join(root, "wal", "0000000100000000", "000000010000000000000004.zst.age")
	data, _ := os.ReadFile(art)
	data[len(data)/2] ^= 1
	os.WriteFile(art, data, 0o600)
	if err := FetchWAL(root, "000000010000000000000004", dst, keys); !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), "000000010000000000000004") {
		t.Errorf("corrupt segment: %v, want ErrCorrupt naming it", err)
	}
	if _, err := os.Stat(dst); err == nil {
		t.Error("a corrupt segment was written out")
	}
	os.Remove(filepath.Join(root, "wal", "0000000100000000", "000000010000000000000004.json"))
	if err := WALHole(root, "000000010000000000000004"); !errors.Is(err, ErrWALMissing) {
		t.Errorf("missing segment with later ones archived: %v, want a hole", err)
	}
	names, _ := ListWAL(root)
	chain, err := walChain(names, "000000010000000000000003", testSegBytes)
	if !slices.Equal(chain, []string{"000000010000000000000003"}) || err == nil || !strings.Contains(err.Error(), "000000010000000000000004") {
		t.Errorf("walChain = %v, %v; want the run up to the hole and the hole named", chain, err)
	}
}

func TestSegmentNames(t *testing.T) {
	tests := []struct {
		lsn  string
		want string
	}{
		{"0/2000028", "000000010000000000000002"},
		{"0/FFFFFFFF", "0000000100000000000000FF"},
		{"1/0", "000000010000000100000000"},
	}
	for _, tt := range tests {
		l, err := ParseLSN(tt.lsn)
		if err != nil {
			t.Fatal(err)
		}
		if got := SegmentName(1, l, testSegBytes); got != tt.want {
			t.Errorf("SegmentName(%s) = %s, want %s", tt.lsn, got, tt.want)
		}
		if l.String() != tt.lsn {
			t.Errorf("LSN %s prints as %s", tt.lsn, l)
		}
	}
	if got := nextSegment("0000000100000000000000FF", testSegBytes); got != "000000010000000100000000" {
		t.Errorf("nextSegment across a log = %s", got)
	}
	if _, err := ParseLSN("12345"); err == nil {
		t.Error("LSN without a slash accepted")
	}
}

func TestPlanWALPrune(t *testing.T) {
	root, keys, src := t.TempDir(), recipientKeys(t), t.TempDir()
	names := []string{
		"000000010000000000000003", "000000010000000000000004", "000000010000000000000004.00000028.backup",
		"000000010000000000000005", "000000010000000000000006", "00000002.history", "000000020000000000000006",
	}
	for _, n := range names {
		if _, err := PushWAL(root, writeSegment(t, src, n, 'x'), keys, fixedNow); err != nil {
			t.Fatal(err)
		}
	}
	base := func(start string) *Manifest {
		return &Manifest{SetID: "s-" + start, Components: []Component{{Name: ComponentPgBase, Status: StatusOK, Source: map[string]any{
			"timeline": float64(1), "start_lsn": "0/5000028", "stop_lsn": "0/5000100", "start_wal": start, "stop_wal": start,
			"stop_time": fixedNow.Format(time.RFC3339Nano), "wal_segment_bytes": float64(testSegBytes),
		}}}}
	}
	tests := []struct {
		name string
		kept []*Manifest
		want []string
	}{
		{"no base keeps everything", nil, nil},
		{"oldest kept base decides", []*Manifest{base("000000010000000000000006"), base("000000010000000000000005")},
			[]string{"000000010000000000000003", "000000010000000000000004", "000000010000000000000004.00000028.backup"}},
		{"a later timeline stays", []*Manifest{base("000000010000000000000006")},
			[]string{"000000010000000000000003", "000000010000000000000004", "000000010000000000000004.00000028.backup", "000000010000000000000005"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := PlanWALPrune(root, tt.kept)
			if err != nil {
				t.Fatal(err)
			}
			var want []string
			for _, n := range tt.want {
				art, entry := walRel(n)
				want = append(want, entry, art)
			}
			if !slices.Equal(got, want) {
				t.Errorf("PlanWALPrune\n got %v\nwant %v", got, want)
			}
		})
	}
}

func TestArchiveLag(t *testing.T) {
	started := fixedNow.Add(-time.Hour)
	tests := []struct {
		name string
		s    ArchiverStatus
		want time.Duration
	}{
		{"all completed segments archived", ArchiverStatus{CurrentWAL: "000000010000000000000005", LastArchivedWAL: "000000010000000000000004", LastArchivedAt: fixedNow.Add(-time.Hour), At: fixedNow}, 0},
		{"a backup history file counts by its segment", ArchiverStatus{CurrentWAL: "000000010000000000000005", LastArchivedWAL: "000000010000000000000004.00000028.backup", LastArchivedAt: fixedNow.Add(-time.Hour), At: fixedNow}, 0},
		{"two segments waiting", ArchiverStatus{CurrentWAL: "000000010000000000000006", LastArchivedWAL: "000000010000000000000004", LastArchivedAt: fixedNow.Add(-90 * time.Second), At: fixedNow}, 90 * time.Second},
		{"never archived", ArchiverStatus{CurrentWAL: "000000010000000000000003", At: fixedNow}, time.Hour},
		{"standby", ArchiverStatus{At: fixedNow}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := archiveLag(tt.s, started, testSegBytes); got != tt.want {
				t.Errorf("lag = %s, want %s", got, tt.want)
			}
		})
	}
}

func TestSyncWAL(t *testing.T) {
	root, keys, src := t.TempDir(), recipientKeys(t), t.TempDir()
	for _, n := range []string{"000000010000000000000003", "000000010000000000000004"} {
		if _, err := PushWAL(root, writeSegment(t, src, n, 'w'), keys, fixedNow); err != nil {
			t.Fatal(err)
		}
	}
	remoteDir := t.TempDir()
	st, err := OpenRemote("file://"+remoteDir, "host", S3Options{})
	if err != nil {
		t.Fatal(err)
	}
	sync := func() SyncResult {
		t.Helper()
		res, err := Sync(t.Context(), SyncOptions{Root: root, Remotes: []RemoteStore{st}})
		if err != nil || len(res) != 1 || res[0].SetID != WALSyncID {
			t.Fatalf("sync: %+v, %v", res, err)
		}
		return res[0]
	}
	if r := sync(); r.Status != StatusOK || r.Uploaded != 4 {
		t.Fatalf("first sync %+v, want 2 artifacts and 2 entries uploaded", r)
	}
	if r := sync(); r.Status != StatusOK || r.Uploaded != 0 || r.Present != 2 {
		t.Errorf("second sync %+v, want both present and nothing uploaded", r)
	}
	// The remote copy decrypts to the segment: fetch from a root that is
	// the remote's host directory.
	out := filepath.Join(t.TempDir(), "seg")
	if err := FetchWAL(filepath.Join(remoteDir, "host"), "000000010000000000000004", out, keys); err != nil {
		t.Errorf("fetching from the remote copy: %v", err)
	}
}

func TestRestorePITRRefusesBadTargets(t *testing.T) {
	keys := recipientKeys(t)
	locked := filepath.Join(t.TempDir(), "locked")
	if err := os.MkdirAll(filepath.Join(locked, "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(locked, 0o700); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		o    PITROptions
		want string
	}{
		{"relative", PITROptions{DataDir: "pitr", Port: 5433}, "not an absolute path"},
		{"shell characters", PITROptions{DataDir: "/tmp/x$(reboot)", Port: 5433}, "holds a quote"},
		{"port", PITROptions{DataDir: "/tmp/pitr", Port: 70000}, "port 70000"},
		{"both targets", PITROptions{DataDir: "/tmp/pitr", Port: 5433, TargetTime: fixedNow, TargetLSN: 5}, "not both"},
		{"no base", PITROptions{DataDir: "/tmp/pitr", Port: 5433}, "take one with `mutt backup run --profile base`"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.o.Root, tt.o.Keys = t.TempDir(), keys
			if _, err := RestorePITR(t.Context(), tt.o); err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("RestorePITR: %v, want %q", err, tt.want)
			}
		})
	}
	if os.Geteuid() == 0 {
		if err := reachable(filepath.Join(locked, "sub"), 101, 104); err == nil || !strings.Contains(err.Error(), "cannot enter "+locked) {
			t.Errorf("reachable through a 0700 root directory: %v", err)
		}
	}
}
