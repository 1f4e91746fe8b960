package backup

import (
	"archive/tar"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// DefaultLogDir is the log directory the logs component archives when none
// is configured.
const DefaultLogDir = "/var/log/mutt"

// LogArchiveResult describes a written log archive.
type LogArchiveResult struct {
	// Files and Bytes count the archived files and their content.
	Files, Bytes int64
	// Vanished counts files that disappeared (rotated away) between being
	// listed and being read; they are left out.
	Vanished int64
	// Truncated counts files that shrank while being read; the rest of
	// their entry is zero-filled to the size they had when opened.
	Truncated int64
}

// WriteLogArchive writes a tar archive of the regular files below dir to w,
// entry names relative to dir. A live file is read up to the size it had
// when opened, so a file still being appended to never breaks the archive;
// a file that vanishes before it is opened is skipped and counted.
func WriteLogArchive(ctx context.Context, dir string, w io.Writer) (LogArchiveResult, error) {
	var res LogArchiveResult
	fi, err := os.Stat(dir)
	if err != nil {
		return res, fmt.Errorf("archiving logs: %w", err)
	}
	if !fi.IsDir() {
		return res, fmt.Errorf("archiving logs: %s is not a directory", dir)
	}
	tw := tar.NewWriter(w)
	err = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) && p != dir {
				res.Vanished++
				return nil
			}
			return fmt.Errorf("reading %s: %w", p, err)
		}
		if cerr := ctx.Err(); cerr != nil {
			return cerr
		}
		if !d.Type().IsRegular() || strings.HasSuffix(d.Name(), ".partial") {
			return nil
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil {
			return err
		}
		return archiveLogFile(tw, p, filepath.ToSlash(rel), &res)
	})
	if err != nil {
		return res, fmt.Errorf("archiving logs: %w", err)
	}
	if err := tw.Close(); err != nil {
		return res, fmt.Errorf("archiving logs: %w", err)
	}
	return res, nil
}

// archiveLogFile writes one log file, tolerating rotation underneath.
func archiveLogFile(tw *tar.Writer, p, name string, res *LogArchiveResult) error {
	f, err := os.Open(p)
	if errors.Is(err, fs.ErrNotExist) {
		res.Vanished++
		return nil
	}
	if err != nil {
		return fmt.Errorf("opening %s: %w", p, err)
	}
	defer f.Close()
	n, size, err := writeTarFile(tw, f, name, nil)
	if err != nil {
		return fmt.Errorf("archiving %s: %w", p, err)
	}
	if n < size {
		// Truncated by a copytruncate rotation: pad so the entry keeps
		// the size its header announced.
		if _, err := io.CopyN(tw, zeroReader{}, size-n); err != nil {
			return fmt.Errorf("archiving %s: %w", p, err)
		}
		res.Truncated++
	}
	res.Files++
	res.Bytes += size
	return nil
}

// zeroReader reads zero bytes forever.
type zeroReader struct{}

func (zeroReader) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}

// countTar reads a tar archive to its end and returns the number of regular
// files and their total size, proving every header and body is readable.
func countTar(r io.Reader) (files, bytes int64, names []string, err error) {
	tr := tar.NewReader(r)
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return files, bytes, names, nil
		}
		if err != nil {
			return files, bytes, names, err
		}
		if hdr.Typeflag == tar.TypeReg {
			n, err := io.Copy(io.Discard, tr)
			if err != nil {
				return files, bytes, names, err
			}
			files++
			bytes += n
			names = append(names, hdr.Name)
		}
	}
}

// logsComponent implements ComponentSpec for ComponentLogs.
type logsComponent struct {
	checksummed
	restoredElsewhere
}

var _ ComponentSpec = logsComponent{restoredElsewhere: restoredElsewhere{how: logsRestoreHow}}

// logsRestoreHow says how archived logs are read back.
const logsRestoreHow = "logs are evidence, not state, and nothing writes them back: decrypt the archive with age and the identity (age -d -i identity mutt_logs_<ts>.tar.zst.age | zstd -d | tar -t)"

// Name implements ComponentSpec.
func (logsComponent) Name() string { return ComponentLogs }

// Profiles implements ComponentSpec.
func (logsComponent) Profiles() []string { return []string{"daily"} }

// Storage implements ComponentSpec: both modes write logs.
func (logsComponent) Storage() string { return "" }

// Retention implements ComponentSpec.
func (logsComponent) Retention() time.Duration { return 90 * day }

// Objectives implements ComponentSpec: logs have none.
func (logsComponent) Objectives() Objectives { return Objectives{} }

// Backup implements ComponentSpec: a tar of o.LogDir, compressed and
// encrypted.
func (logsComponent) Backup(ctx context.Context, o *RunOptions, c *Component, sink ArtifactSink) error {
	if o.LogDir == "" {
		return errNotConfigured
	}
	return sink.Artifact("mutt_logs_"+sink.Stamp()+".tar.zst.age", true, "tar", func(w io.Writer) error {
		res, err := WriteLogArchive(ctx, o.LogDir, w)
		if err != nil {
			return err
		}
		c.Counts = map[string]int64{"files": res.Files, "bytes": res.Bytes, "vanished": res.Vanished, "truncated": res.Truncated}
		c.Source = map[string]any{"dir": o.LogDir}
		return nil
	})
}

// DeepVerify implements ComponentSpec: the archive is read through and its
// files counted against the manifest.
func (logsComponent) DeepVerify(_ context.Context, o DeepVerifyOptions, c *Component) (string, error) {
	return deepLogs(o, c)
}

// deepLogs reads the log archive through and compares the file count.
func deepLogs(o DeepVerifyOptions, c *Component) (string, error) {
	r, err := OpenArtifact(o.Root, c.Artifacts[0], o.Keys)
	if err != nil {
		return "", err
	}
	files, n, _, terr := countTar(r)
	if err := r.Close(); err != nil {
		return "", err
	}
	if terr != nil {
		return "", fmt.Errorf("reading log archive: %w", terr)
	}
	if want := c.Counts["files"]; files != want {
		return "", fmt.Errorf("log archive holds %d files, the manifest says %d", files, want)
	}
	return fmt.Sprintf("%d files, %d bytes read through", files, n), nil
}
