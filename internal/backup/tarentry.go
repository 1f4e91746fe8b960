package backup

import (
	"archive/tar"
	"io"
	"io/fs"
	"os"
)

// writeTarFile writes the open regular file f as entry name (PAX format):
// the header takes the size from f itself, not from an earlier directory
// listing, and at most that many bytes are copied, so a file still growing
// cannot break the archive. also, when not nil, sees the copied bytes. n
// falls short of size when the file shrank meanwhile; the caller decides
// whether that is an error or needs padding.
func writeTarFile(tw *tar.Writer, f *os.File, name string, also io.Writer) (n, size int64, err error) {
	fi, err := f.Stat()
	if err != nil {
		return 0, 0, err
	}
	if err := writeTarHeader(tw, fi, "", name); err != nil {
		return 0, 0, err
	}
	var w io.Writer = tw
	if also != nil {
		w = io.MultiWriter(tw, also)
	}
	n, err = io.Copy(w, io.LimitReader(f, fi.Size()))
	return n, fi.Size(), err
}

// writeTarHeader writes a PAX header for info under name; link is the
// target of a symbolic link.
func writeTarHeader(tw *tar.Writer, info fs.FileInfo, link, name string) error {
	hdr, err := tar.FileInfoHeader(info, link)
	if err != nil {
		return err
	}
	hdr.Name, hdr.Format = name, tar.FormatPAX
	return tw.WriteHeader(hdr)
}
