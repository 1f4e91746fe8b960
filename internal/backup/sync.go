package backup

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// Sync result statuses besides StatusOK and StatusFailed.
const (
	// SyncSkipped is a set that needed nothing (already synced, or holds
	// no artifact); Reason says which.
	SyncSkipped = "skipped"
)

// ProgressFunc receives the bytes handled so far and the total expected
// (an upper bound: artifacts found already on the remote count as handled).
type ProgressFunc func(done, total int64)

// SyncOptions describes one sync of a backup root to its remotes.
type SyncOptions struct {
	// Root is the local backup root.
	Root string
	// Remotes are the targets, each synced in turn.
	Remotes []RemoteStore
	// SetIDs restricts the sync to these sets; a set named here is checked
	// on the remote even when its manifest records it as synced.
	SetIDs []string
	// VerifyRemote re-downloads and hashes every object instead of
	// trusting the size and checksum metadata the remote reports; sets
	// recorded as synced are checked again, and a corrupt remote object
	// is uploaded anew.
	VerifyRemote bool
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Progress, when set, is called as bytes are uploaded or checked.
	Progress ProgressFunc
}

// SyncResult is the outcome of one set on one remote.
type SyncResult struct {
	Target string `json:"target"`
	SetID  string `json:"set_id"`
	Status string `json:"status"`
	Reason string `json:"reason,omitempty"`
	// Uploaded counts the objects written (artifacts and the manifest);
	// Present the artifacts found intact on the remote already.
	Uploaded int   `json:"uploaded"`
	Present  int   `json:"present"`
	Bytes    int64 `json:"bytes"`
	// Repaired lists remote artifacts that were corrupt and were
	// uploaded again.
	Repaired []string `json:"repaired,omitempty"`
}

// Sync copies the local sets that are not yet complete on each remote:
// every artifact first (one already present with the same size and SHA-256
// is not uploaded again), each checked after upload, then the manifest
// last; it then records the remote in the local manifest. Sets marked
// plaintext are refused. A failing set does not stop the others: it is
// reported in its SyncResult (and recorded as failed in the manifest). The
// error is non-nil only when nothing could be done: the root's Lock is held
// (wrapping ErrLocked), the manifests cannot be read, or a named set does
// not exist. It holds the root's Lock throughout, so prune cannot remove a
// set while it is being uploaded. Without SetIDs the WAL archive is synced
// too (syncWAL), reported with SetID WALSyncID.
func Sync(ctx context.Context, o SyncOptions) ([]SyncResult, error) {
	if o.Root == "" {
		return nil, errors.New("syncing backups: no backup root configured")
	}
	now := o.Now
	if now == nil {
		now = time.Now
	}
	unlock, err := Lock(o.Root)
	if err != nil {
		return nil, fmt.Errorf("syncing backups: %w", err)
	}
	defer unlock()
	ms, err := ListManifests(o.Root)
	if err != nil {
		return nil, fmt.Errorf("syncing backups: %w", err)
	}
	named := map[string]bool{}
	for _, id := range o.SetIDs {
		named[id] = true
	}
	if len(named) > 0 {
		var picked []*Manifest
		for _, m := range ms {
			if named[m.SetID] {
				picked = append(picked, m)
				delete(named, m.SetID)
			}
		}
		if len(named) > 0 {
			missing := slices.Sorted(maps.Keys(named))
			return nil, fmt.Errorf("syncing backups: no backup set %s under %s; run `mutt backup list`", strings.Join(missing, ", "), o.Root)
		}
		ms = picked
	}

	s := &syncer{o: o, now: now}
	// Plan first so that the progress total is known.
	type job struct {
		st RemoteStore
		m  *Manifest
	}
	var jobs []job
	var results []SyncResult
	for _, st := range o.Remotes {
		for _, m := range ms {
			if reason := s.skip(st, m); reason != "" {
				results = append(results, SyncResult{Target: st.Target(), SetID: m.SetID, Status: SyncSkipped, Reason: reason})
				continue
			}
			jobs = append(jobs, job{st, m})
			s.total += setBytes(m)
		}
	}
	for _, j := range jobs {
		if err := ctx.Err(); err != nil {
			return results, fmt.Errorf("syncing backups: %w", err)
		}
		results = append(results, s.syncSet(ctx, j.st, j.m))
	}
	if names, err := ListWAL(o.Root); err == nil && len(names) > 0 && len(o.SetIDs) == 0 {
		// The WAL archive goes along, after the sets whose bases need it.
		for _, st := range o.Remotes {
			results = append(results, s.syncWAL(ctx, st))
		}
	}
	return results, nil
}

// syncer carries one Sync call's state; it is used by one goroutine.
type syncer struct {
	o     SyncOptions
	now   func() time.Time
	done  int64
	total int64
}

func (s *syncer) progress(n int64) {
	s.done += n
	if s.o.Progress != nil {
		s.o.Progress(s.done, s.total)
	}
}

// skip says why m needs no sync to st, or "".
func (s *syncer) skip(st RemoteStore, m *Manifest) string {
	if countArtifacts(m) == 0 {
		return "holds no artifact"
	}
	if s.o.VerifyRemote || len(s.o.SetIDs) > 0 {
		return ""
	}
	for _, r := range m.Remotes {
		if r.Target == st.Target() && r.Status == StatusOK {
			return "already synced at " + r.SyncedAt.UTC().Format(time.RFC3339)
		}
	}
	return ""
}

func countArtifacts(m *Manifest) int {
	n := 0
	for _, c := range m.Components {
		n += len(c.Artifacts)
	}
	return n
}

func setBytes(m *Manifest) int64 {
	var n int64
	for _, c := range m.Components {
		for _, a := range c.Artifacts {
			n += a.Bytes
		}
	}
	return n
}

// syncSet uploads one set to st and records the outcome in its manifest.
func (s *syncer) syncSet(ctx context.Context, st RemoteStore, m *Manifest) SyncResult {
	res := SyncResult{Target: st.Target(), SetID: m.SetID, Status: StatusOK}
	err := s.uploadSet(ctx, st, m, &res)
	rec := Remote{Target: st.Target(), Status: StatusOK, SyncedAt: s.now().UTC()}
	if err != nil {
		res.Status, res.Reason = StatusFailed, err.Error()
		rec.Status, rec.SyncedAt = StatusFailed, time.Time{}
	}
	setRemote(m, rec)
	if _, werr := WriteManifest(s.o.Root, m); werr != nil {
		res.Status = StatusFailed
		res.Reason = joinReason(res.Reason, "recording the remote in the manifest: "+werr.Error())
	}
	return res
}

func joinReason(a, b string) string {
	if a == "" {
		return b
	}
	return a + "; " + b
}

// setRemote replaces or adds m's record of r.Target.
func setRemote(m *Manifest, r Remote) {
	for i := range m.Remotes {
		if m.Remotes[i].Target == r.Target {
			m.Remotes[i] = r
			return
		}
	}
	m.Remotes = append(m.Remotes, r)
}

func (s *syncer) uploadSet(ctx context.Context, st RemoteStore, m *Manifest, res *SyncResult) error {
	switch m.Encryption.Scheme {
	case SchemeX25519, SchemeScrypt:
	default:
		return fmt.Errorf("set %s is not encrypted (scheme %q): sync never uploads plaintext backups", m.SetID, m.Encryption.Scheme)
	}
	for _, c := range m.Components {
		for _, a := range c.Artifacts {
			if err := s.syncArtifact(ctx, st, m, c.Name, a, res); err != nil {
				return err
			}
		}
	}
	// The manifest goes last: a remote set without one is incomplete by
	// definition, so a sync cut short never looks like a usable set.
	rel, err := ManifestPath(m.SetID)
	if err != nil {
		return err
	}
	data, err := os.ReadFile(filepath.Join(s.o.Root, rel))
	if err != nil {
		return fmt.Errorf("reading manifest of %s: %w", m.SetID, err)
	}
	sum := sha256.Sum256(data)
	want := hex.EncodeToString(sum[:])
	relSlash := filepath.ToSlash(rel)
	meta := ObjectMeta{SHA256: want, Tags: objectTags(m, TagManifestComponent)}
	if err := st.Put(ctx, relSlash, bytes.NewReader(data), int64(len(data)), meta); err != nil {
		return fmt.Errorf("uploading manifest of %s: %w", m.SetID, err)
	}
	res.Uploaded++
	if err := checkRemote(ctx, st, relSlash, int64(len(data)), want, s.o.VerifyRemote); err != nil {
		return fmt.Errorf("checking uploaded manifest of %s: %w", m.SetID, err)
	}
	return nil
}

// syncArtifact makes sure artifact a of component is intact on st.
func (s *syncer) syncArtifact(ctx context.Context, st RemoteStore, m *Manifest, component string, a ArtifactInfo, res *SyncResult) error {
	if len(a.SHA256) != sha256.Size*2 {
		return fmt.Errorf("artifact %s has no SHA-256 in the manifest; run `mutt backup verify %s`", a.Path, m.SetID)
	}
	err := checkRemote(ctx, st, a.Path, a.Bytes, a.SHA256, s.o.VerifyRemote)
	switch {
	case err == nil:
		res.Present++
		s.progress(a.Bytes)
		return nil
	case errors.Is(err, ErrCorrupt):
		res.Repaired = append(res.Repaired, a.Path)
	case !errors.Is(err, ErrNotFound):
		return fmt.Errorf("checking remote artifact %s: %w", a.Path, err)
	}

	f, err := openArtifactFile(s.o.Root, a)
	if err != nil {
		return fmt.Errorf("uploading artifact %s: %w", a.Path, err)
	}
	defer f.Close()
	h := sha256.New()
	r := &progressReader{r: io.TeeReader(f, h), add: s.progress}
	meta := ObjectMeta{SHA256: a.SHA256, Tags: objectTags(m, component)}
	if err := st.Put(ctx, a.Path, r, a.Bytes, meta); err != nil {
		return fmt.Errorf("uploading artifact %s: %w", a.Path, err)
	}
	res.Uploaded++
	res.Bytes += a.Bytes
	if got := hex.EncodeToString(h.Sum(nil)); got != a.SHA256 {
		// The local copy changed since the manifest was written: do not
		// leave a copy on the remote that the manifest contradicts.
		derr := st.Delete(ctx, a.Path)
		return errors.Join(fmt.Errorf("uploading artifact %s: %w: local file has sha256 %s, manifest says %s; run `mutt backup verify %s`",
			a.Path, ErrCorrupt, got, a.SHA256, m.SetID), derr)
	}
	if err := checkRemote(ctx, st, a.Path, a.Bytes, a.SHA256, s.o.VerifyRemote); err != nil {
		return fmt.Errorf("checking uploaded artifact %s: %w", a.Path, err)
	}
	return nil
}

// progressReader reports every read to add.
type progressReader struct {
	r   io.Reader
	add func(int64)
}

func (p *progressReader) Read(b []byte) (int, error) {
	n, err := p.r.Read(b)
	if n > 0 {
		p.add(int64(n))
	}
	return n, err
}

// checkRemote verifies that rel on st has size bytes and SHA-256 want. With
// deep, or when the remote records no checksum, it downloads and hashes
// the object; otherwise it trusts the recorded checksum metadata. A
// mismatch wraps ErrCorrupt, a missing object ErrNotFound.
func checkRemote(ctx context.Context, st RemoteStore, rel string, size int64, want string, deep bool) error {
	info, err := st.Stat(ctx, rel)
	if err != nil {
		return err
	}
	if info.Size != size {
		return fmt.Errorf("%w: remote %s has %d bytes, manifest says %d", ErrCorrupt, rel, info.Size, size)
	}
	if !deep && info.SHA256 != "" {
		if info.SHA256 != want {
			return fmt.Errorf("%w: remote %s records sha256 %s, manifest says %s", ErrCorrupt, rel, info.SHA256, want)
		}
		return nil
	}
	rc, err := st.Get(ctx, rel)
	if err != nil {
		return err
	}
	defer rc.Close()
	h := sha256.New()
	n, err := io.Copy(h, rc)
	if err != nil {
		return fmt.Errorf("reading remote %s: %w", rel, err)
	}
	if n != size {
		return fmt.Errorf("%w: remote %s read %d bytes, manifest says %d", ErrCorrupt, rel, n, size)
	}
	if got := hex.EncodeToString(h.Sum(nil)); got != want {
		return fmt.Errorf("%w: remote %s has sha256 %s, manifest says %s", ErrCorrupt, rel, got, want)
	}
	return nil
}
