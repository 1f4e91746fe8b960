package retention

import (
	"bufio"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/csv"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/mutt-go/mutt/internal/backup"
)

// archived is a written and verified archive file.
type archived struct {
	path   string
	rows   int64
	sha256 string
	bytes  int64
}

// safeDir creates dir (mode 0700) and refuses a symbolic link in its
// place, so that no archive is written outside the archive tree.
func safeDir(dir string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("creating archive directory %s: %w", dir, err)
	}
	fi, err := os.Lstat(dir)
	if err != nil {
		return fmt.Errorf("checking archive directory %s: %w", dir, err)
	}
	if !fi.IsDir() {
		return fmt.Errorf("archive directory %s is not a directory (a symbolic link?); refusing to write through it", dir)
	}
	return nil
}

// exportCSV runs `COPY (query) TO STDOUT` as gzip-compressed CSV with a
// header into path (see writeArchive). query is built by this package from
// identifiers and timestamps it formats itself, never from input.
func (r *runner) exportCSV(ctx context.Context, query, path string) (archived, error) {
	return writeArchive(ctx, r.o.ArchiveDir, r.o.Remotes, path, "PostgreSQL", func(w io.Writer) (int64, error) {
		conn, err := r.o.Pool.Acquire(ctx)
		if err != nil {
			return 0, fmt.Errorf("connecting: %w", err)
		}
		defer conn.Release()
		tag, err := conn.Conn().PgConn().CopyTo(ctx, w, "COPY ("+query+") TO STDOUT WITH (FORMAT csv, HEADER)")
		if err != nil {
			return 0, fmt.Errorf("copying rows out: %w", err)
		}
		return tag.RowsAffected(), nil
	})
}

// writeArchive has copyOut write CSV with a header (returning how many
// records it wrote after the header) gzip-compressed into path, then reads
// the file back and checks it holds as many records as source sent, and
// only then renames it into place beside a sha256sum-style checksum file
// and copies both to every remote.
func writeArchive(ctx context.Context, root string, remotes []backup.RemoteStore, path, source string,
	copyOut func(io.Writer) (int64, error)) (archived, error) {
	dir := filepath.Dir(path)
	if err := safeDir(dir); err != nil {
		return archived{}, err
	}
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".*.partial")
	if err != nil {
		return archived{}, fmt.Errorf("creating archive %s: %w", path, err)
	}
	defer func() { _ = os.Remove(tmp.Name()) }() // no-op once renamed
	a, err := writeCSV(tmp, copyOut)
	if cerr := tmp.Close(); err == nil && cerr != nil {
		err = cerr
	}
	if err != nil {
		return archived{}, fmt.Errorf("writing archive %s: %w", path, err)
	}
	n, err := countRecords(tmp.Name())
	if err != nil {
		return archived{}, fmt.Errorf("reading back archive %s: %w", path, err)
	}
	if n != a.rows {
		return archived{}, fmt.Errorf("archive %s holds %d records, %s sent %d; nothing dropped", path, n, source, a.rows)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return archived{}, fmt.Errorf("placing archive %s: %w", path, err)
	}
	sum := a.sha256 + "  " + filepath.Base(path) + "\n"
	if err := os.WriteFile(path+".sha256", []byte(sum), 0o600); err != nil {
		return archived{}, fmt.Errorf("writing checksum of %s: %w", path, err)
	}
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync()
		_ = d.Close()
	}
	a.path = path
	if err := upload(ctx, root, remotes, a); err != nil {
		return archived{}, err
	}
	return a, nil
}

// upload copies an archive and its checksum file to every remote, under
// archive/<path relative to the archive directory root>.
func upload(ctx context.Context, root string, remotes []backup.RemoteStore, a archived) error {
	rel, err := filepath.Rel(root, a.path)
	if err != nil {
		return fmt.Errorf("naming archive %s on the remotes: %w", a.path, err)
	}
	for _, st := range remotes {
		for _, f := range []string{a.path, a.path + ".sha256"} {
			if err := putFile(ctx, st, "archive/"+filepath.ToSlash(rel)+strings.TrimPrefix(f, a.path), f, a.sha256); err != nil {
				return fmt.Errorf("copying archive %s to %s: %w; nothing dropped", rel, st.Target(), err)
			}
		}
	}
	return nil
}

func putFile(ctx context.Context, st backup.RemoteStore, rel, path, sha string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	meta := backup.ObjectMeta{Tags: map[string]string{"mutt-kind": "audit-archive"}}
	if strings.HasSuffix(path, ".csv.gz") {
		meta.SHA256 = sha
	}
	return st.Put(ctx, rel, f, fi.Size(), meta)
}

func writeCSV(f *os.File, copyOut func(io.Writer) (int64, error)) (archived, error) {
	h := sha256.New()
	counted := &countingWriter{w: io.MultiWriter(f, h)}
	buf := bufio.NewWriterSize(counted, 1<<16)
	gz, err := gzip.NewWriterLevel(buf, gzip.BestCompression)
	if err != nil {
		return archived{}, err
	}
	rows, err := copyOut(gz)
	if err != nil {
		return archived{}, err
	}
	if err := gz.Close(); err != nil {
		return archived{}, err
	}
	if err := buf.Flush(); err != nil {
		return archived{}, err
	}
	if err := f.Sync(); err != nil {
		return archived{}, err
	}
	return archived{rows: rows, sha256: hex.EncodeToString(h.Sum(nil)), bytes: counted.n}, nil
}

type countingWriter struct {
	w io.Writer
	n int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

// countRecords returns the CSV records of a gzip-compressed archive, less
// its header.
func countRecords(path string) (int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	gz, err := gzip.NewReader(bufio.NewReaderSize(f, 1<<16))
	if err != nil {
		return 0, err
	}
	cr := csv.NewReader(gz)
	cr.ReuseRecord = true
	cr.FieldsPerRecord = -1
	var n int64
	for {
		_, err := cr.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return 0, err
		}
		n++
	}
	if n == 0 {
		return 0, errors.New("no header")
	}
	return n - 1, nil
}
