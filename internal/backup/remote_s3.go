package backup

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"path"
	"sort"
	"strings"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
	"github.com/minio/minio-go/v7/pkg/lifecycle"

	"github.com/mutt-go/mutt/internal/secrets"
)

// metaSHA256 is the user metadata key (x-amz-meta-mutt-sha256) holding the
// SHA-256 of an uploaded object. Metadata cannot change after upload, unlike
// tags, so it is where the checksum lives.
const metaSHA256 = "mutt-sha256"

// DefaultS3Endpoint is the S3 endpoint when none is configured.
const DefaultS3Endpoint = "s3.amazonaws.com"

// S3Options are the endpoint and credentials of S3 remotes.
type S3Options struct {
	// Endpoint is host[:port] of the S3 API (DefaultS3Endpoint when empty).
	Endpoint string
	// Region is the bucket's region; empty lets the client discover it.
	Region string
	// AccessKey and SecretKey are static credentials; when AccessKey is
	// empty the AWS environment, shared credentials file and instance
	// role are tried in that order.
	AccessKey    string
	SecretKey    secrets.Secret
	SessionToken secrets.Secret
	// Insecure uses plain HTTP (test endpoints only).
	Insecure bool
	// StorageClass is the class objects are uploaded with; empty means the
	// bucket default (STANDARD), so lifecycle transitions to cheaper
	// classes are meaningful.
	StorageClass string
	// Transport replaces the HTTP transport (tests); nil is the default.
	Transport http.RoundTripper
	// MaxRetries bounds the client's retries of a failed request; 0 keeps
	// the client default (10, with backoff).
	MaxRetries int
}

// S3Remote is a RemoteStore on an S3-compatible bucket. It also reads and
// writes the bucket's lifecycle configuration.
type S3Remote struct {
	target RemoteTarget
	base   string // <prefix>/<host>, no trailing slash
	class  string
	client *minio.Client
}

var _ RemoteStore = (*S3Remote)(nil)

// NewS3Remote returns the S3 remote of target for host. It does not contact
// the endpoint.
func NewS3Remote(t RemoteTarget, host string, o S3Options) (*S3Remote, error) {
	if t.Scheme != "s3" {
		return nil, fmt.Errorf("remote target %s is not an s3:// target", t)
	}
	endpoint := o.Endpoint
	if endpoint == "" {
		endpoint = DefaultS3Endpoint
	}
	var creds *credentials.Credentials
	if o.AccessKey != "" {
		creds = credentials.NewStaticV4(o.AccessKey, o.SecretKey.Reveal(), o.SessionToken.Reveal())
	} else {
		creds = credentials.NewChainCredentials([]credentials.Provider{
			&credentials.EnvAWS{}, &credentials.FileAWSCredentials{}, &credentials.IAM{},
		})
	}
	client, err := minio.New(endpoint, &minio.Options{
		Creds: creds, Secure: !o.Insecure, Region: o.Region, Transport: o.Transport, MaxRetries: o.MaxRetries,
	})
	if err != nil {
		return nil, fmt.Errorf("remote target %s: endpoint %s: %w", t, endpoint, err)
	}
	return &S3Remote{target: t, base: path.Join(t.Prefix, host), class: o.StorageClass, client: client}, nil
}

// Target implements RemoteStore.
func (s *S3Remote) Target() string { return s.target.String() }

// Bucket returns the bucket name.
func (s *S3Remote) Bucket() string { return s.target.Bucket }

func (s *S3Remote) key(rel string) (string, error) {
	rel, err := remoteRel(rel)
	if err != nil {
		return "", err
	}
	return s.base + "/" + rel, nil
}

// s3Err maps a missing object to ErrNotFound.
func s3Err(what string, err error) error {
	switch minio.ToErrorResponse(err).Code {
	case minio.NoSuchKey, "NotFound":
		return fmt.Errorf("%s: %w", what, ErrNotFound)
	}
	return fmt.Errorf("%s: %w", what, err)
}

// Put implements RemoteStore. S3 makes an object visible only once its
// upload (single or multipart) is complete.
func (s *S3Remote) Put(ctx context.Context, rel string, r io.Reader, size int64, meta ObjectMeta) error {
	key, err := s.key(rel)
	if err != nil {
		return err
	}
	opts := minio.PutObjectOptions{
		ContentType:  "application/octet-stream",
		UserTags:     meta.Tags,
		StorageClass: s.class,
	}
	if meta.SHA256 != "" {
		opts.UserMetadata = map[string]string{metaSHA256: meta.SHA256}
	}
	info, err := s.client.PutObject(ctx, s.target.Bucket, key, r, size, opts)
	if err != nil {
		return fmt.Errorf("uploading s3://%s/%s: %w", s.target.Bucket, key, err)
	}
	if info.Size != size {
		return fmt.Errorf("uploading s3://%s/%s: stored %d bytes, want %d", s.target.Bucket, key, info.Size, size)
	}
	return nil
}

// Stat implements RemoteStore.
func (s *S3Remote) Stat(ctx context.Context, rel string) (ObjectInfo, error) {
	key, err := s.key(rel)
	if err != nil {
		return ObjectInfo{}, err
	}
	oi, err := s.client.StatObject(ctx, s.target.Bucket, key, minio.StatObjectOptions{})
	if err != nil {
		return ObjectInfo{}, s3Err("checking s3://"+s.target.Bucket+"/"+key, err)
	}
	return s.info(rel, oi), nil
}

func (s *S3Remote) info(rel string, oi minio.ObjectInfo) ObjectInfo {
	info := ObjectInfo{Path: rel, Size: oi.Size, ModTime: oi.LastModified, Tags: oi.UserTags}
	for k, v := range oi.UserMetadata {
		if strings.EqualFold(k, metaSHA256) {
			info.SHA256 = v
		}
	}
	return info
}

// Get implements RemoteStore.
func (s *S3Remote) Get(ctx context.Context, rel string) (io.ReadCloser, error) {
	key, err := s.key(rel)
	if err != nil {
		return nil, err
	}
	obj, err := s.client.GetObject(ctx, s.target.Bucket, key, minio.GetObjectOptions{})
	if err != nil {
		return nil, s3Err("downloading s3://"+s.target.Bucket+"/"+key, err)
	}
	// GetObject is lazy; Stat surfaces a missing object now rather than
	// at the first Read.
	if _, err := obj.Stat(); err != nil {
		obj.Close()
		return nil, s3Err("downloading s3://"+s.target.Bucket+"/"+key, err)
	}
	return obj, nil
}

// List implements RemoteStore.
func (s *S3Remote) List(ctx context.Context, prefix string) ([]ObjectInfo, error) {
	full := s.base + "/" + prefix
	var out []ObjectInfo
	for oi := range s.client.ListObjects(ctx, s.target.Bucket, minio.ListObjectsOptions{Prefix: full, Recursive: true}) {
		if oi.Err != nil {
			return nil, fmt.Errorf("listing s3://%s/%s: %w", s.target.Bucket, full, oi.Err)
		}
		out = append(out, ObjectInfo{Path: strings.TrimPrefix(oi.Key, s.base+"/"), Size: oi.Size, ModTime: oi.LastModified})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Path < out[j].Path })
	return out, nil
}

// Delete implements RemoteStore.
func (s *S3Remote) Delete(ctx context.Context, rel string) error {
	key, err := s.key(rel)
	if err != nil {
		return err
	}
	err = s.client.RemoveObject(ctx, s.target.Bucket, key, minio.RemoveObjectOptions{})
	if err == nil {
		return nil
	}
	if err = s3Err("deleting s3://"+s.target.Bucket+"/"+key, err); errors.Is(err, ErrNotFound) {
		return nil
	}
	return err
}

// Lifecycle returns the bucket's lifecycle configuration; a bucket without
// one yields an empty configuration.
func (s *S3Remote) Lifecycle(ctx context.Context) (*lifecycle.Configuration, error) {
	cfg, err := s.client.GetBucketLifecycle(ctx, s.target.Bucket)
	if err != nil {
		if minio.ToErrorResponse(err).Code == "NoSuchLifecycleConfiguration" {
			return lifecycle.NewConfiguration(), nil
		}
		return nil, fmt.Errorf("reading the lifecycle of bucket %s: %w", s.target.Bucket, err)
	}
	return cfg, nil
}

// SetLifecycle replaces the bucket's lifecycle configuration.
func (s *S3Remote) SetLifecycle(ctx context.Context, cfg *lifecycle.Configuration) error {
	if err := s.client.SetBucketLifecycle(ctx, s.target.Bucket, cfg); err != nil {
		return fmt.Errorf("setting the lifecycle of bucket %s: %w", s.target.Bucket, err)
	}
	return nil
}
