package backup

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"
)

// WALDir is the directory of the WAL archive below the backup root:
// segments and backup history files under wal/<timeline+log>/ (the first
// 16 hex digits of the name), timeline history files under wal/history/.
const WALDir = "wal"

// walEntryFormat identifies version 1 of a WAL entry's sidecar document.
const walEntryFormat = "mutt-wal/1"

// ErrWALConflict reports a push of a WAL file whose name is archived
// already with other content: PostgreSQL must never be told such a file is
// archived, and the archived one must not be replaced.
var ErrWALConflict = errors.New("a different WAL file of that name is archived already")

// ErrWALMissing reports a WAL file that is not in the archive.
var ErrWALMissing = errors.New("WAL file not in the archive")

// walNamePattern matches the file names PostgreSQL archives: segments,
// backup history files and timeline history files (and the ".partial"
// segment a promoted standby archives).
var walNamePattern = regexp.MustCompile(`^(?:[0-9A-F]{24}(?:\.partial|\.[0-9A-F]{8}\.backup)?|[0-9A-F]{8}\.history)$`)

// segmentPattern matches a full WAL segment name.
var segmentPattern = regexp.MustCompile(`^[0-9A-F]{24}$`)

// CheckWALName refuses anything that is not a WAL file name PostgreSQL
// archives; the name becomes part of a path, so this is what keeps
// "%f" from leaving the archive directory.
func CheckWALName(name string) error {
	if !walNamePattern.MatchString(name) {
		return fmt.Errorf("WAL file name %q is not a segment (24 hex digits), a backup history or a timeline history file", name)
	}
	return nil
}

// WALEntry is the sidecar document of one archived WAL file, written after
// its artifact: a WAL file is archived exactly when its entry exists.
type WALEntry struct {
	Format   string       `json:"format"`
	Name     string       `json:"name"`
	PushedAt time.Time    `json:"pushed_at"`
	Artifact ArtifactInfo `json:"artifact"`
}

// walRel returns the artifact and entry paths of WAL file name, relative
// to the root.
func walRel(name string) (artifact, entry string) {
	dir := path.Join(WALDir, "history")
	if !strings.HasSuffix(name, ".history") {
		dir = path.Join(WALDir, name[:16])
	}
	return path.Join(dir, name+".zst.age"), path.Join(dir, name+".json")
}

// readWALEntry loads the entry of name; a missing one wraps ErrWALMissing.
func readWALEntry(root, name string) (*WALEntry, error) {
	_, rel := walRel(name)
	data, err := os.ReadFile(filepath.Join(root, filepath.FromSlash(rel)))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%s: %w", name, ErrWALMissing)
	}
	if err != nil {
		return nil, fmt.Errorf("reading WAL entry of %s: %w", name, err)
	}
	var e WALEntry
	if err := json.Unmarshal(data, &e); err != nil {
		return nil, fmt.Errorf("reading WAL entry of %s: %w", name, err)
	}
	if e.Format != walEntryFormat || e.Name != name {
		return nil, fmt.Errorf("WAL entry of %s: format %q name %q, want %q %q", name, e.Format, e.Name, walEntryFormat, name)
	}
	return &e, nil
}

// WALPushResult says what PushWAL did.
type WALPushResult struct {
	Name string
	// Already is set when an identical file was archived before: nothing
	// was written.
	Already bool
	Entry   *WALEntry
}

// PushWAL archives the WAL file at src (PostgreSQL's %p) under root: the
// content is compressed and encrypted to a "*.partial" file that is
// fsynced and renamed (CreateArtifact), and only then is the sidecar entry
// written the same way, so a file is never reported archived half-written.
// Pushing a file archived already with the same content does nothing and
// succeeds (PostgreSQL retries after a crash between archiving and
// recording it); a different content under the same name wraps
// ErrWALConflict and changes nothing.
func PushWAL(root, src string, keys *Keys, now time.Time) (WALPushResult, error) {
	name := filepath.Base(src)
	res := WALPushResult{Name: name}
	if err := CheckWALName(name); err != nil {
		return res, err
	}
	if keys == nil {
		return res, errors.New("archiving WAL: no encryption keys configured")
	}
	data, err := os.ReadFile(src)
	if err != nil {
		return res, fmt.Errorf("archiving WAL %s: %w", name, err)
	}
	sum := sha256.Sum256(data)
	plainSHA := hex.EncodeToString(sum[:])
	if old, err := readWALEntry(root, name); err == nil {
		if old.Artifact.PlainSHA256 != plainSHA || old.Artifact.PlainBytes != int64(len(data)) {
			return res, fmt.Errorf("archiving WAL %s: %w (archived sha256 %s, %d bytes; this one %s, %d bytes); a second cluster may be archiving into this root",
				name, ErrWALConflict, old.Artifact.PlainSHA256, old.Artifact.PlainBytes, plainSHA, len(data))
		}
		if VerifyArtifact(root, old.Artifact) == nil {
			res.Already, res.Entry = true, old
			return res, nil
		}
		// The same content, but the archived copy is damaged: write it anew.
	} else if !errors.Is(err, ErrWALMissing) {
		return res, fmt.Errorf("archiving WAL %s: %w", name, err)
	}
	if err := ensureRoot(root); err != nil {
		return res, err
	}
	artRel, entryRel := walRel(name)
	w, err := CreateArtifact(root, artRel, keys, true)
	if err != nil {
		return res, fmt.Errorf("archiving WAL %s: %w", name, err)
	}
	if _, err := w.Write(data); err != nil {
		w.Abort()
		return res, fmt.Errorf("archiving WAL %s: %w", name, err)
	}
	if err := w.Close(); err != nil {
		return res, fmt.Errorf("archiving WAL %s: %w", name, err)
	}
	info := w.Info()
	info.Format = "wal"
	if info.PlainSHA256 != plainSHA {
		return res, fmt.Errorf("archiving WAL %s: %w: content changed while being archived", name, ErrCorrupt)
	}
	e := &WALEntry{Format: walEntryFormat, Name: name, PushedAt: now.UTC(), Artifact: info}
	doc, err := json.MarshalIndent(e, "", "  ")
	if err != nil {
		return res, fmt.Errorf("archiving WAL %s: %w", name, err)
	}
	if err := writeFileAtomic(filepath.Join(root, filepath.FromSlash(entryRel)), bytes.NewReader(doc), nil); err != nil {
		return res, fmt.Errorf("archiving WAL %s: recording it: %w", name, err)
	}
	res.Entry = e
	return res, nil
}

// FetchWAL writes the archived WAL file name to dst (PostgreSQL's %f and
// %p), checked against its recorded size and SHA-256 before and after
// decryption; dst appears only complete ("<dst>.partial" renamed). A file
// not in the archive wraps ErrWALMissing; a damaged one ErrCorrupt.
func FetchWAL(root, name, dst string, keys *Keys) error {
	if err := CheckWALName(name); err != nil {
		return err
	}
	e, err := readWALEntry(root, name)
	if err != nil {
		return err
	}
	if err := VerifyArtifact(root, e.Artifact); err != nil {
		if !errors.Is(err, ErrCorrupt) {
			err = fmt.Errorf("%w: %w", ErrCorrupt, err) // recorded, but unreadable
		}
		return fmt.Errorf("WAL segment %s: %w", name, err)
	}
	r, err := OpenArtifact(root, e.Artifact, keys)
	if err != nil {
		return fmt.Errorf("WAL segment %s: %w", name, err)
	}
	defer r.Close()
	// dst appears only whole; the plaintext checksum is checked before.
	err = writeFileAtomic(dst, r, func(n int64, sha string) error {
		if n != e.Artifact.PlainBytes || sha != e.Artifact.PlainSHA256 {
			return fmt.Errorf("%w: plaintext of %d bytes, sha256 %s; the entry says %d, %s", ErrCorrupt, n, sha, e.Artifact.PlainBytes, e.Artifact.PlainSHA256)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("WAL segment %s: %w", name, err)
	}
	return nil
}

// ListWAL returns the names of every archived WAL file (with an entry),
// sorted.
func ListWAL(root string) ([]string, error) {
	var out []string
	base := filepath.Join(root, WALDir)
	err := filepath.WalkDir(base, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) && p == base {
				return fs.SkipAll
			}
			return err
		}
		if d.IsDir() {
			return nil
		}
		if name, ok := strings.CutSuffix(d.Name(), ".json"); ok && CheckWALName(name) == nil {
			out = append(out, name)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("listing the WAL archive: %w", err)
	}
	sort.Strings(out)
	return out, nil
}

// LSN is a PostgreSQL write-ahead log location.
type LSN uint64

// ParseLSN reads "X/Y" (hex), as PostgreSQL prints locations.
func ParseLSN(s string) (LSN, error) {
	hi, lo, ok := strings.Cut(strings.TrimSpace(s), "/")
	if !ok {
		return 0, fmt.Errorf("LSN %q is not of the form X/Y", s)
	}
	h, err1 := strconv.ParseUint(hi, 16, 32)
	l, err2 := strconv.ParseUint(lo, 16, 32)
	if err1 != nil || err2 != nil {
		return 0, fmt.Errorf("LSN %q is not of the form X/Y with hex numbers", s)
	}
	return LSN(h<<32 | l), nil
}

// String prints l the way PostgreSQL does.
func (l LSN) String() string { return fmt.Sprintf("%X/%X", uint64(l)>>32, uint32(l)) }

// SegmentName returns the name of the WAL segment holding l on timeline
// tli, for segments of segBytes bytes.
func SegmentName(tli uint32, l LSN, segBytes uint64) string {
	seg := uint64(l) / segBytes
	perLog := uint64(0x100000000) / segBytes
	return fmt.Sprintf("%08X%08X%08X", tli, seg/perLog, seg%perLog)
}

// segmentNumber returns the timeline and the position of a segment name in
// the log (log*segmentsPerLog + seg), for segments of segBytes bytes.
func segmentNumber(name string, segBytes uint64) (tli uint32, n uint64, ok bool) {
	if len(name) < 24 || !segmentPattern.MatchString(name[:24]) {
		return 0, 0, false
	}
	t, _ := strconv.ParseUint(name[:8], 16, 32)
	log, _ := strconv.ParseUint(name[8:16], 16, 32)
	seg, _ := strconv.ParseUint(name[16:24], 16, 32)
	return uint32(t), log*(uint64(0x100000000)/segBytes) + seg, true
}

// nextSegment returns the name of the segment after name on its timeline.
func nextSegment(name string, segBytes uint64) string {
	tli, n, _ := segmentNumber(name, segBytes)
	perLog := uint64(0x100000000) / segBytes
	return fmt.Sprintf("%08X%08X%08X", tli, (n+1)/perLog, (n+1)%perLog)
}

// walChain returns the contiguous run of archived segments of timeline tli
// from first on. When the archive holds a segment of that timeline after
// a gap, the run is not the end of the archive but a hole: the error wraps
// ErrWALMissing and names the first missing segment.
func walChain(names []string, first string, segBytes uint64) ([]string, error) {
	have := map[string]bool{}
	var last string
	tli := first[:8]
	for _, n := range names {
		if segmentPattern.MatchString(n) && n[:8] == tli {
			have[n] = true
			if n > last {
				last = n
			}
		}
	}
	var chain []string
	for cur := first; have[cur]; cur = nextSegment(cur, segBytes) {
		chain = append(chain, cur)
	}
	next := first
	if len(chain) > 0 {
		next = nextSegment(chain[len(chain)-1], segBytes)
	}
	if last >= next {
		return chain, fmt.Errorf("WAL segment %s: %w, but later segments up to %s are: the archive has a hole", next, ErrWALMissing, last)
	}
	return chain, nil
}

// WALHole returns an error wrapping ErrWALMissing when segment name is
// missing from the archive although later segments of its timeline are
// there: a hole, not the end of the archive. It returns nil otherwise.
func WALHole(root, name string) error {
	if !segmentPattern.MatchString(name) {
		return nil
	}
	names, err := ListWAL(root)
	if err != nil {
		return err
	}
	for i := len(names) - 1; i >= 0; i-- {
		n := names[i]
		if segmentPattern.MatchString(n) && n[:8] == name[:8] && n > name {
			return fmt.Errorf("WAL segment %s: %w, but %s is: the archive has a hole", name, ErrWALMissing, n)
		}
	}
	return nil
}

// PlanWALPrune returns, relative to root, the archived WAL files (entry
// first, then artifact) that no base backup among kept needs: a base needs
// every segment (and backup history file) of its timeline or a later one
// from its start segment on, since a restore replays from there to any
// later time. Timeline history files are always kept. With no base among
// kept nothing is removed: the WAL may be waiting for its first base.
func PlanWALPrune(root string, kept []*Manifest) ([]string, error) {
	type need struct {
		tli   uint32
		first uint64
		seg   uint64
	}
	var needs []need
	for _, m := range kept {
		c := m.Component(ComponentPgBase)
		if c == nil || c.Status != StatusOK {
			continue
		}
		info, err := PgBaseInfoOf(c)
		if err != nil {
			continue
		}
		_, n, _ := segmentNumber(info.StartWAL, info.SegmentBytes)
		needs = append(needs, need{tli: info.Timeline, first: n, seg: info.SegmentBytes})
	}
	if len(needs) == 0 {
		return nil, nil
	}
	names, err := ListWAL(root)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, name := range names {
		if strings.HasSuffix(name, ".history") {
			continue
		}
		needed := false
		for _, nd := range needs {
			tli, n, ok := segmentNumber(name, nd.seg)
			if !ok || tli >= nd.tli && n >= nd.first {
				needed = true
				break
			}
		}
		if !needed {
			art, entry := walRel(name)
			out = append(out, entry, art)
		}
	}
	return out, nil
}
