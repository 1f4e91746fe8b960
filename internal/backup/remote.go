package backup

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"path"
	"strings"
	"time"
)

// Object tags every remote artifact and manifest carries (S3 object tags;
// a directory remote has none). Lifecycle rules select on them.
const (
	// TagComponent names the component of an artifact, or "manifest".
	TagComponent = "mutt-component"
	// TagProfile names the profile of the set.
	TagProfile = "mutt-profile"
	// TagPinned is "true" for pinned sets, which lifecycle rules never
	// match, and "false" otherwise.
	TagPinned = "mutt-pinned"
)

// TagManifestComponent is the TagComponent value of manifest objects.
const TagManifestComponent = "manifest"

// ErrNotFound reports that a remote object does not exist.
var ErrNotFound = errors.New("remote object not found")

// ObjectMeta describes an object being uploaded: the SHA-256 the uploader
// expects (hex; stored as immutable metadata where the store keeps any) and
// the object tags.
type ObjectMeta struct {
	SHA256 string
	Tags   map[string]string
}

// ObjectInfo describes a stored remote object. SHA256 is the checksum
// recorded at upload time, or "" when the store keeps none (a directory
// remote), in which case a caller must read the object to know it.
type ObjectInfo struct {
	Path    string
	Size    int64
	SHA256  string
	Tags    map[string]string
	ModTime time.Time
}

// RemoteStore is one remote copy target (S3 bucket prefix, NAS mount).
// Paths are relative to the host's directory on the remote and use the
// local layout (manifests/…, <component>/…), so the remote key of a file is
// <prefix>/<hostname>/<relative path>. Implementations make an object
// visible under its final name only once it is complete, and are safe for
// concurrent use.
type RemoteStore interface {
	// Target is the canonical target string ("s3://bucket/prefix/",
	// "file:///mnt/nas/mutt/") recorded in manifests.
	Target() string
	// Put stores exactly size bytes read from r under relPath.
	Put(ctx context.Context, relPath string, r io.Reader, size int64, meta ObjectMeta) error
	// Stat describes relPath, or returns an error wrapping ErrNotFound.
	Stat(ctx context.Context, relPath string) (ObjectInfo, error)
	// Get opens relPath for reading; an error wraps ErrNotFound when it
	// does not exist.
	Get(ctx context.Context, relPath string) (io.ReadCloser, error)
	// List returns every object whose relative path starts with prefix,
	// sorted by path.
	List(ctx context.Context, prefix string) ([]ObjectInfo, error)
	// Delete removes relPath; deleting a missing object is not an error.
	Delete(ctx context.Context, relPath string) error
}

// RemoteTarget is a parsed MUTT_BACKUP_REMOTES entry.
type RemoteTarget struct {
	// Scheme is "s3" or "file".
	Scheme string
	// Bucket is the S3 bucket ("" for file targets).
	Bucket string
	// Prefix is the key prefix inside the bucket, or the directory of a
	// file target; without leading or trailing slash for S3.
	Prefix string
}

// ParseRemoteTarget parses "s3://bucket[/prefix]" or "file:///absolute/dir".
func ParseRemoteTarget(s string) (RemoteTarget, error) {
	s = strings.TrimSpace(s)
	u, err := url.Parse(s)
	if err != nil {
		return RemoteTarget{}, fmt.Errorf("remote target %q: %w", s, err)
	}
	switch u.Scheme {
	case "s3":
		if u.Host == "" {
			return RemoteTarget{}, fmt.Errorf("remote target %q: no bucket (want s3://bucket/prefix)", s)
		}
		p := strings.Trim(u.Path, "/")
		if p != path.Clean("/" + p)[1:] {
			return RemoteTarget{}, fmt.Errorf("remote target %q: prefix must not hold empty, . or .. segments", s)
		}
		return RemoteTarget{Scheme: "s3", Bucket: u.Host, Prefix: p}, nil
	case "file":
		if u.Host != "" && u.Host != "localhost" {
			return RemoteTarget{}, fmt.Errorf("remote target %q: want file:///absolute/path (three slashes)", s)
		}
		if !strings.HasPrefix(u.Path, "/") || path.Clean(u.Path) == "/" {
			return RemoteTarget{}, fmt.Errorf("remote target %q: want an absolute directory other than /", s)
		}
		return RemoteTarget{Scheme: "file", Prefix: path.Clean(u.Path)}, nil
	}
	return RemoteTarget{}, fmt.Errorf("remote target %q: unsupported scheme (want s3:// or file://)", s)
}

// String is the canonical form recorded in manifests, always ending in "/".
func (t RemoteTarget) String() string {
	switch t.Scheme {
	case "s3":
		if t.Prefix == "" {
			return "s3://" + t.Bucket + "/"
		}
		return "s3://" + t.Bucket + "/" + t.Prefix + "/"
	case "file":
		return "file://" + t.Prefix + "/"
	}
	return ""
}

// OpenRemote connects to target for host's directory. s3 holds the S3
// endpoint and credentials; it is ignored for file targets.
func OpenRemote(target, host string, s3 S3Options) (RemoteStore, error) {
	t, err := ParseRemoteTarget(target)
	if err != nil {
		return nil, err
	}
	if host == "" || strings.ContainsAny(host, `/\`) || host == "." || host == ".." {
		return nil, fmt.Errorf("remote target %s: invalid host name %q", t, host)
	}
	switch t.Scheme {
	case "s3":
		return NewS3Remote(t, host, s3)
	default:
		return NewDirRemote(t, host)
	}
}

// remoteRel checks that rel is a clean relative path inside the host's
// directory on the remote.
func remoteRel(rel string) (string, error) {
	if rel == "" || strings.HasPrefix(rel, "/") || strings.Contains(rel, `\`) {
		return "", fmt.Errorf("remote path %q: must be relative", rel)
	}
	if c := path.Clean(rel); c != rel || c == "." || c == ".." || strings.HasPrefix(c, "../") {
		return "", fmt.Errorf("remote path %q: must be a clean path inside the remote", rel)
	}
	return rel, nil
}

// objectTags are the tags of every object of set m; component is the
// artifact's component or TagManifestComponent.
func objectTags(m *Manifest, component string) map[string]string {
	return map[string]string{
		TagComponent: component,
		TagProfile:   tagValue(m.Profile),
		TagPinned:    fmt.Sprint(m.Pinned),
	}
}

// tagValue keeps only the characters S3 accepts in tag values.
func tagValue(s string) string {
	if s == "" {
		return "unknown"
	}
	return strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9':
			return r
		case strings.ContainsRune(" +-=._:/@", r):
			return r
		}
		return '-'
	}, s)
}
