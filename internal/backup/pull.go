package backup

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
	"time"
)

// maxManifestBytes bounds a downloaded manifest; real ones are a few KiB.
const maxManifestBytes = 16 << 20

// PullOptions describes fetching one set from a remote into the local root.
type PullOptions struct {
	// Root is the local backup root.
	Root string
	// Remote is where the set is read from.
	Remote RemoteStore
	// Set is a set id or "latest" (the newest manifest on the remote).
	Set string
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Progress, when set, is called as bytes are downloaded or checked.
	Progress ProgressFunc
	// Trusted, when set, must have signed the remote manifest
	// (CheckSignature); a set that fails the check is refused before
	// anything is downloaded. Nil pulls unsigned and unchecked sets.
	Trusted *TrustedKeys
}

// PullResult is the outcome of Pull.
type PullResult struct {
	Target string `json:"target"`
	SetID  string `json:"set_id"`
	Status string `json:"status"`
	// Downloaded counts the artifacts fetched; Present those already
	// intact in the local root.
	Downloaded int   `json:"downloaded"`
	Present    int   `json:"present"`
	Bytes      int64 `json:"bytes"`
	// Failures names every artifact that is missing or does not match
	// the manifest.
	Failures []string  `json:"failures,omitempty"`
	Manifest *Manifest `json:"-"`
}

// Pull downloads a set: its manifest first (to know what to fetch), then
// every artifact into the local root through "*.partial" files that are
// checked against the manifest's size and SHA-256 before being renamed into
// place. The local manifest is written last and only when every artifact
// matches, so a set is usable locally only when all of it arrived intact;
// otherwise the error names each bad artifact. Artifacts already present
// and intact are not downloaded again. It holds the root's Lock.
func Pull(ctx context.Context, o PullOptions) (*PullResult, error) {
	if o.Root == "" {
		return nil, errors.New("pulling backup: no backup root configured")
	}
	if o.Remote == nil {
		return nil, errors.New("pulling backup: no remote given")
	}
	now := o.Now
	if now == nil {
		now = time.Now
	}
	target := o.Remote.Target()
	id := o.Set
	if id == "latest" {
		var err error
		if id, err = latestRemoteSet(ctx, o.Remote); err != nil {
			return nil, fmt.Errorf("pulling latest set from %s: %w", target, err)
		}
	}
	m, err := fetchManifest(ctx, o.Remote, id)
	if err != nil {
		return nil, fmt.Errorf("pulling set %s from %s: %w", id, target, err)
	}
	if o.Trusted != nil {
		if err := o.Trusted.CheckSignature(m); err != nil {
			return nil, fmt.Errorf("pulling from %s: %w", target, err)
		}
	}
	unlock, err := Lock(o.Root)
	if err != nil {
		return nil, fmt.Errorf("pulling set %s: %w", id, err)
	}
	defer unlock()

	res := &PullResult{Target: target, SetID: id, Status: StatusOK, Manifest: m}
	var total, done int64
	for _, c := range m.Components {
		for _, a := range c.Artifacts {
			total += a.Bytes
		}
	}
	progress := func(n int64) {
		done += n
		if o.Progress != nil {
			o.Progress(done, total)
		}
	}
	var errs []error
	for _, c := range m.Components {
		for _, a := range c.Artifacts {
			if err := ctx.Err(); err != nil {
				return res, fmt.Errorf("pulling set %s: %w", id, err)
			}
			fetched, err := pullArtifact(ctx, o.Root, o.Remote, a, progress)
			switch {
			case err != nil:
				errs = append(errs, err)
				res.Failures = append(res.Failures, err.Error())
			case fetched:
				res.Downloaded++
				res.Bytes += a.Bytes
			default:
				res.Present++
				progress(a.Bytes)
			}
		}
	}
	if len(errs) > 0 {
		res.Status = StatusFailed
		return res, fmt.Errorf("pulling set %s from %s: the set is not usable: %w", id, target, errors.Join(errs...))
	}
	setRemote(m, Remote{Target: target, Status: StatusOK, SyncedAt: now().UTC()})
	if _, err := WriteManifest(o.Root, m); err != nil {
		res.Status = StatusFailed
		return res, fmt.Errorf("pulling set %s: %w", id, err)
	}
	return res, nil
}

// latestRemoteSet returns the id of the newest manifest on st.
func latestRemoteSet(ctx context.Context, st RemoteStore) (string, error) {
	objs, err := st.List(ctx, manifestsDir+"/")
	if err != nil {
		return "", err
	}
	var best string
	var bestT time.Time
	for _, o := range objs {
		id, ok := strings.CutSuffix(path.Base(o.Path), ".json")
		if !ok {
			continue
		}
		t, err := SetTime(id)
		if err != nil {
			continue
		}
		if best == "" || t.After(bestT) || (t.Equal(bestT) && id > best) {
			best, bestT = id, t
		}
	}
	if best == "" {
		return "", errors.New("no backup set on the remote")
	}
	return best, nil
}

// fetchManifest downloads and checks the manifest of set id.
func fetchManifest(ctx context.Context, st RemoteStore, id string) (*Manifest, error) {
	rel, err := ManifestPath(id)
	if err != nil {
		return nil, err
	}
	rc, err := st.Get(ctx, filepath.ToSlash(rel))
	if err != nil {
		if errors.Is(err, ErrNotFound) {
			return nil, fmt.Errorf("no manifest on the remote (the set is incomplete there or does not exist): %w", err)
		}
		return nil, err
	}
	defer rc.Close()
	data, err := io.ReadAll(io.LimitReader(rc, maxManifestBytes+1))
	if err != nil {
		return nil, fmt.Errorf("reading manifest: %w", err)
	}
	if len(data) > maxManifestBytes {
		return nil, fmt.Errorf("manifest larger than %d bytes", maxManifestBytes)
	}
	var m Manifest
	if err := json.Unmarshal(data, &m); err != nil {
		return nil, fmt.Errorf("reading manifest: %w", err)
	}
	if m.Format != ManifestFormat {
		return nil, fmt.Errorf("manifest has format %q, want %q", m.Format, ManifestFormat)
	}
	if m.SetID != id {
		return nil, fmt.Errorf("manifest describes set %q", m.SetID)
	}
	for _, c := range m.Components {
		for _, a := range c.Artifacts {
			p := filepath.FromSlash(a.Path)
			if !filepath.IsLocal(p) || strings.HasPrefix(a.Path, manifestsDir+"/") || len(a.SHA256) != sha256.Size*2 {
				return nil, fmt.Errorf("manifest entry %q is not a valid artifact", a.Path)
			}
		}
	}
	return &m, nil
}

// pullArtifact makes a intact under root, downloading it unless a local
// copy already matches; fetched says whether it downloaded.
func pullArtifact(ctx context.Context, root string, st RemoteStore, a ArtifactInfo, progress func(int64)) (fetched bool, err error) {
	final := filepath.Join(root, filepath.FromSlash(a.Path))
	if f, err := os.Open(final); err == nil {
		cerr := checkCiphertext(f, a)
		f.Close()
		if cerr == nil {
			return false, nil
		}
	} else if !errors.Is(err, fs.ErrNotExist) {
		return false, fmt.Errorf("artifact %s: %w", a.Path, err)
	}
	if err := downloadArtifact(ctx, final, st, a, progress); err != nil {
		return false, fmt.Errorf("artifact %s: %w", a.Path, err)
	}
	return true, nil
}

func downloadArtifact(ctx context.Context, final string, st RemoteStore, a ArtifactInfo, progress func(int64)) error {
	rc, err := st.Get(ctx, a.Path)
	if err != nil {
		return err
	}
	defer rc.Close()
	// One byte more than expected is read so that a longer object is
	// caught without downloading all of it.
	src := &progressReader{r: io.LimitReader(ctxReader{ctx, rc}, a.Bytes+1), add: progress}
	return writeFileAtomic(final, src, func(n int64, sum string) error {
		if n != a.Bytes {
			return fmt.Errorf("%w: remote has %d bytes, manifest says %d", ErrCorrupt, n, a.Bytes)
		}
		if sum != a.SHA256 {
			return fmt.Errorf("%w: remote has sha256 %s, manifest says %s", ErrCorrupt, sum, a.SHA256)
		}
		return nil
	})
}
