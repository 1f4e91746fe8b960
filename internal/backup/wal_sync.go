package backup

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
)

// WALSyncID is the SetID of the SyncResult that reports the WAL archive.
const WALSyncID = "wal"

// syncWAL copies the archived WAL files st lacks: for each, the artifact
// first (checked after upload), then its entry, so that on the remote too a
// file is archived exactly when its entry exists. Files already there with
// the recorded size (and checksum, where the remote keeps one) are left.
// The caller leaves it out when the root archives no WAL.
func (s *syncer) syncWAL(ctx context.Context, st RemoteStore) SyncResult {
	res := SyncResult{Target: st.Target(), SetID: WALSyncID, Status: StatusOK}
	fail := func(err error) SyncResult {
		res.Status, res.Reason = StatusFailed, err.Error()
		return res
	}
	names, err := ListWAL(s.o.Root)
	if err != nil {
		return fail(err)
	}
	objs, err := st.List(ctx, WALDir+"/")
	if err != nil {
		return fail(fmt.Errorf("listing remote WAL: %w", err))
	}
	remote := map[string]ObjectInfo{}
	for _, o := range objs {
		remote[o.Path] = o
	}
	tags := map[string]string{TagComponent: WALSyncID, TagProfile: ProfileBase, TagPinned: "false"}
	var errs []error
	for _, name := range names {
		if err := ctx.Err(); err != nil {
			return fail(err)
		}
		e, err := readWALEntry(s.o.Root, name)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		a := e.Artifact
		_, entryRel := walRel(name)
		ra, haveArt := remote[a.Path]
		_, haveEntry := remote[entryRel]
		if haveArt && haveEntry && ra.Size == a.Bytes && (ra.SHA256 == "" || ra.SHA256 == a.SHA256) && !s.o.VerifyRemote {
			res.Present++
			continue
		}
		if err := s.uploadWALFile(ctx, st, e, entryRel, tags, &res); err != nil {
			errs = append(errs, fmt.Errorf("WAL %s: %w", name, err))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fail(err)
	}
	return res
}

// uploadWALFile uploads one archived WAL file and then its entry.
func (s *syncer) uploadWALFile(ctx context.Context, st RemoteStore, e *WALEntry, entryRel string, tags map[string]string, res *SyncResult) error {
	a := e.Artifact
	if err := checkRemote(ctx, st, a.Path, a.Bytes, a.SHA256, s.o.VerifyRemote); err != nil {
		if !errors.Is(err, ErrNotFound) && !errors.Is(err, ErrCorrupt) {
			return err
		}
		f, err := openArtifactFile(s.o.Root, a)
		if err != nil {
			return err
		}
		h := sha256.New()
		err = st.Put(ctx, a.Path, io.TeeReader(f, h), a.Bytes, ObjectMeta{SHA256: a.SHA256, Tags: tags})
		f.Close()
		if err != nil {
			return fmt.Errorf("uploading %s: %w", a.Path, err)
		}
		if got := hex.EncodeToString(h.Sum(nil)); got != a.SHA256 {
			return errors.Join(fmt.Errorf("uploading %s: %w: local file has sha256 %s, its entry says %s", a.Path, ErrCorrupt, got, a.SHA256), st.Delete(ctx, a.Path))
		}
		if err := checkRemote(ctx, st, a.Path, a.Bytes, a.SHA256, s.o.VerifyRemote); err != nil {
			return fmt.Errorf("checking uploaded %s: %w", a.Path, err)
		}
		res.Uploaded++
		res.Bytes += a.Bytes
	}
	doc, err := json.MarshalIndent(e, "", "  ")
	if err != nil {
		return err
	}
	sum := sha256.Sum256(doc)
	if err := st.Put(ctx, entryRel, bytes.NewReader(doc), int64(len(doc)), ObjectMeta{SHA256: hex.EncodeToString(sum[:]), Tags: tags}); err != nil {
		return fmt.Errorf("uploading %s: %w", entryRel, err)
	}
	res.Uploaded++
	return nil
}
