package backup

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"os"
	"path/filepath"
	"strings"

	"filippo.io/age"
	"github.com/klauspost/compress/zstd"
)

// Encryption schemes recorded in the manifest.
const (
	// SchemeX25519 is age with X25519 recipients (public keys).
	SchemeX25519 = "age-x25519"
	// SchemeScrypt is age with an scrypt passphrase.
	SchemeScrypt = "age-scrypt"
)

// Setting names used in error messages so that an operator knows what to fix.
const (
	settingRecipients = "MUTT_BACKUP_RECIPIENTS_FILE"
	settingPassphrase = "MUTT_BACKUP_PASSPHRASE_FILE"
	settingIdentity   = "MUTT_BACKUP_IDENTITY_FILE"
)

// ErrWrongKey reports that the configured identity or passphrase cannot
// decrypt an artifact.
var ErrWrongKey = errors.New("wrong decryption key")

// ErrNoIdentity reports that decryption was asked for but no identity or
// passphrase is configured.
var ErrNoIdentity = errors.New("no decryption identity configured")

// ErrCorrupt reports that an artifact on disk does not match its manifest
// entry (size, checksum or age header).
var ErrCorrupt = errors.New("artifact corrupt")

// Keys holds the encryption material of a backup root: the recipients every
// artifact is encrypted to and, where available, the identities that can
// decrypt them. It is immutable after LoadKeys and safe for concurrent use.
type Keys struct {
	scheme       string
	recipients   []age.Recipient
	identities   []age.Identity
	fingerprints []string
}

// LoadKeys reads the encryption settings. Exactly one of recipientsFile (age
// X25519 public keys, one per line, "#" comments) and passphraseFile (an
// scrypt passphrase, mode 0400 or 0600) must be given. identityFile is
// optional and only needed to decrypt in recipient mode; in passphrase mode
// the passphrase decrypts as well.
func LoadKeys(recipientsFile, passphraseFile, identityFile string) (*Keys, error) {
	switch {
	case recipientsFile == "" && passphraseFile == "":
		return nil, fmt.Errorf("loading backup keys: one of %s and %s must be set", settingRecipients, settingPassphrase)
	case recipientsFile != "" && passphraseFile != "":
		return nil, fmt.Errorf("loading backup keys: %s and %s are mutually exclusive (age cannot mix passphrase and public-key recipients)", settingRecipients, settingPassphrase)
	}
	k := &Keys{}
	if recipientsFile != "" {
		if err := k.loadRecipients(recipientsFile); err != nil {
			return nil, err
		}
	} else {
		if err := k.loadPassphrase(passphraseFile); err != nil {
			return nil, err
		}
	}
	if identityFile != "" {
		f, err := os.Open(identityFile)
		if err != nil {
			return nil, fmt.Errorf("loading backup keys: %s: %w", settingIdentity, err)
		}
		ids, err := age.ParseIdentities(f)
		f.Close()
		if err != nil {
			return nil, fmt.Errorf("loading backup keys: %s %s: %w", settingIdentity, identityFile, err)
		}
		k.identities = append(k.identities, ids...)
	}
	return k, nil
}

func (k *Keys) loadRecipients(path string) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("loading backup keys: %s: %w", settingRecipients, err)
	}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		r, err := age.ParseX25519Recipient(line)
		if err != nil {
			return fmt.Errorf("loading backup keys: %s %s line %d: %w", settingRecipients, path, n, err)
		}
		k.recipients = append(k.recipients, r)
		k.fingerprints = append(k.fingerprints, fingerprint(line))
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("loading backup keys: %s %s: %w", settingRecipients, path, err)
	}
	if len(k.recipients) == 0 {
		return fmt.Errorf("loading backup keys: %s %s holds no age1… recipient", settingRecipients, path)
	}
	k.scheme = SchemeX25519
	return nil
}

func (k *Keys) loadPassphrase(path string) error {
	fi, err := os.Stat(path)
	if err != nil {
		return fmt.Errorf("loading backup keys: %s: %w", settingPassphrase, err)
	}
	if fi.Mode().Perm()&0o077 != 0 {
		return fmt.Errorf("loading backup keys: %s %s has mode %04o; it must not be readable by group or others (chmod 0400)", settingPassphrase, path, fi.Mode().Perm())
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("loading backup keys: %s: %w", settingPassphrase, err)
	}
	pass := strings.TrimRight(string(data), "\r\n")
	if pass == "" {
		return fmt.Errorf("loading backup keys: %s %s is empty", settingPassphrase, path)
	}
	r, err := age.NewScryptRecipient(pass)
	if err != nil {
		return fmt.Errorf("loading backup keys: %s: %w", settingPassphrase, err)
	}
	id, err := age.NewScryptIdentity(pass)
	if err != nil {
		return fmt.Errorf("loading backup keys: %s: %w", settingPassphrase, err)
	}
	k.recipients = []age.Recipient{r}
	k.identities = []age.Identity{id}
	k.scheme = SchemeScrypt
	return nil
}

// fingerprint identifies a recipient in the manifest without repeating the
// key, so that a change of recipients between sets is visible.
func fingerprint(recipient string) string {
	sum := sha256.Sum256([]byte(recipient))
	return "sha256:" + hex.EncodeToString(sum[:8])
}

// CanDecrypt reports whether k holds an identity or passphrase able to
// decrypt artifacts (needed by deep verification and restore).
func (k *Keys) CanDecrypt() bool { return k != nil && len(k.identities) > 0 }

// Encryption describes k for the manifest: scheme and recipient fingerprints.
func (k *Keys) Encryption() Encryption {
	return Encryption{Scheme: k.scheme, Recipients: append([]string(nil), k.fingerprints...)}
}

// Scheme returns the encryption scheme, SchemeX25519 or SchemeScrypt.
func (k *Keys) Scheme() string { return k.scheme }

// ArtifactInfo is the manifest entry of one artifact. Path is relative to
// the backup root, with forward slashes.
type ArtifactInfo struct {
	Path string `json:"path"`
	// Bytes and SHA256 describe the encrypted file as stored.
	Bytes  int64  `json:"bytes"`
	SHA256 string `json:"sha256"`
	// PlainBytes and PlainSHA256 describe the data the component wrote,
	// before compression and encryption, so `age -d | zstd -d | sha256sum`
	// reproduces PlainSHA256.
	PlainBytes  int64  `json:"plain_bytes"`
	PlainSHA256 string `json:"plain_sha256"`
	Compressed  bool   `json:"compressed"`
	Format      string `json:"format,omitempty"`
}

// ArtifactWriter streams one artifact to disk: plaintext is hashed, optionally
// zstd-compressed, age-encrypted, hashed again and written to "<path>.partial".
// Close makes it durable under its final name. It is not safe for concurrent
// use.
type ArtifactWriter struct {
	root, rel   string
	final, part string
	f           *os.File
	enc         io.WriteCloser // age writer
	zw          *zstd.Encoder  // nil when not compressing
	sink        io.Writer      // first stage: zw or enc
	plainHash   hash.Hash
	cipher      *countingHash
	plainBytes  int64
	compressed  bool
	renamed     bool // final name exists; Abort must remove it
	done        bool
	info        ArtifactInfo
}

type countingHash struct {
	w io.Writer
	h hash.Hash
	n int64
}

func (c *countingHash) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.h.Write(p[:n])
	c.n += int64(n)
	return n, err
}

// CreateArtifact starts an artifact at root/relPath. The final name must not
// exist yet: artifacts are never overwritten. keys is mandatory.
func CreateArtifact(root, relPath string, keys *Keys, compress bool) (*ArtifactWriter, error) {
	if keys == nil || len(keys.recipients) == 0 {
		return nil, fmt.Errorf("creating artifact %s: no encryption recipients configured", relPath)
	}
	if !filepath.IsLocal(relPath) || relPath == "." {
		return nil, fmt.Errorf("creating artifact %q: path must be relative to the backup root", relPath)
	}
	if err := ensureRoot(root); err != nil {
		return nil, err
	}
	final := filepath.Join(root, relPath)
	if err := os.MkdirAll(filepath.Dir(final), 0o700); err != nil {
		return nil, fmt.Errorf("creating artifact %s: %w", relPath, err)
	}
	if _, err := os.Lstat(final); err == nil {
		return nil, fmt.Errorf("creating artifact %s: already exists", relPath)
	}
	part := final + ".partial"
	f, err := os.OpenFile(part, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return nil, fmt.Errorf("creating artifact %s: %w", relPath, err)
	}
	w := &ArtifactWriter{
		root: root, rel: filepath.ToSlash(relPath), final: final, part: part, f: f,
		plainHash:  sha256.New(),
		cipher:     &countingHash{w: f, h: sha256.New()},
		compressed: compress,
	}
	w.enc, err = age.Encrypt(w.cipher, keys.recipients...)
	if err != nil {
		w.Abort()
		return nil, fmt.Errorf("creating artifact %s: starting encryption: %w", relPath, err)
	}
	w.sink = w.enc
	if compress {
		w.zw, err = zstd.NewWriter(w.enc, zstd.WithEncoderLevel(zstd.SpeedDefault))
		if err != nil {
			w.Abort()
			return nil, fmt.Errorf("creating artifact %s: starting compression: %w", relPath, err)
		}
		w.sink = w.zw
	}
	return w, nil
}

// Write hashes p and feeds it through compression and encryption.
func (w *ArtifactWriter) Write(p []byte) (int, error) {
	if w.done {
		return 0, fmt.Errorf("writing artifact %s: already closed", w.rel)
	}
	n, err := w.sink.Write(p)
	w.plainHash.Write(p[:n])
	w.plainBytes += int64(n)
	if err != nil {
		return n, fmt.Errorf("writing artifact %s: %w", w.rel, err)
	}
	return n, nil
}

// Close finishes the streams, fsyncs the file, renames it to its final name
// and fsyncs the directory. On failure the partial file is removed.
func (w *ArtifactWriter) Close() error {
	if w.done {
		return nil
	}
	if err := w.finish(); err != nil {
		w.Abort()
		return fmt.Errorf("closing artifact %s: %w", w.rel, err)
	}
	w.done = true
	w.info = ArtifactInfo{
		Path:        w.rel,
		Bytes:       w.cipher.n,
		SHA256:      hex.EncodeToString(w.cipher.h.Sum(nil)),
		PlainBytes:  w.plainBytes,
		PlainSHA256: hex.EncodeToString(w.plainHash.Sum(nil)),
		Compressed:  w.compressed,
		Format:      formatFromName(w.rel),
	}
	return nil
}

func (w *ArtifactWriter) finish() error {
	if w.zw != nil {
		if err := w.zw.Close(); err != nil {
			return fmt.Errorf("finishing compression: %w", err)
		}
	}
	if err := w.enc.Close(); err != nil {
		return fmt.Errorf("finishing encryption: %w", err)
	}
	f := w.f
	w.f = nil // commitPartial closes it in every case
	if err := commitPartial(f, w.part, w.final); err != nil {
		// Only a failed directory sync comes after the rename.
		_, serr := os.Lstat(w.final)
		w.renamed = serr == nil
		return err
	}
	w.renamed = true
	return nil
}

// Abort discards the artifact and removes its partial file. It is safe to
// call after Close (it then does nothing) and more than once.
func (w *ArtifactWriter) Abort() {
	if w.done {
		return
	}
	w.done = true
	if w.zw != nil {
		w.zw.Close()
	}
	if w.f != nil {
		w.f.Close()
		w.f = nil
	}
	os.Remove(w.part)
	if w.renamed {
		// A rename that may not be durable is not a finished artifact.
		os.Remove(w.final)
	}
}

// Info describes the artifact for the manifest; it is complete only after a
// successful Close.
func (w *ArtifactWriter) Info() ArtifactInfo { return w.info }

// formatFromName derives a default format from the artifact name
// ("mutt_config_….tar.zst.age" → "tar"); components may override it.
func formatFromName(rel string) string {
	name := strings.TrimSuffix(filepath.Base(rel), ".age")
	name = strings.TrimSuffix(name, ".zst")
	if i := strings.LastIndexByte(name, '.'); i >= 0 && i < len(name)-1 {
		return name[i+1:]
	}
	return ""
}

// checkCiphertext verifies size and SHA-256 of the open artifact file and
// leaves it positioned at the start.
func checkCiphertext(f *os.File, a ArtifactInfo) error {
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	if fi.Size() != a.Bytes {
		return fmt.Errorf("%w: size %d, manifest says %d", ErrCorrupt, fi.Size(), a.Bytes)
	}
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return err
	}
	if got := hex.EncodeToString(h.Sum(nil)); got != a.SHA256 {
		return fmt.Errorf("%w: sha256 %s, manifest says %s", ErrCorrupt, got, a.SHA256)
	}
	_, err = f.Seek(0, io.SeekStart)
	return err
}

func openArtifactFile(root string, a ArtifactInfo) (*os.File, error) {
	rel := filepath.FromSlash(a.Path)
	if !filepath.IsLocal(rel) {
		return nil, fmt.Errorf("artifact path %q is not inside the backup root", a.Path)
	}
	return os.Open(filepath.Join(root, rel))
}

// VerifyArtifact checks an artifact without decrypting it: the size and
// SHA-256 recorded in the manifest and a well-formed age header. This is the
// quick verification a host without the identity can do.
func VerifyArtifact(root string, a ArtifactInfo) error {
	f, err := openArtifactFile(root, a)
	if err != nil {
		return fmt.Errorf("verifying artifact %s: %w", a.Path, err)
	}
	defer f.Close()
	if err := checkCiphertext(f, a); err != nil {
		return fmt.Errorf("verifying artifact %s: %w", a.Path, err)
	}
	if _, err := age.ExtractHeader(bufio.NewReader(f)); err != nil {
		return fmt.Errorf("verifying artifact %s: %w: %w", a.Path, ErrCorrupt, err)
	}
	return nil
}

// OpenArtifact verifies the artifact's size and ciphertext SHA-256 before
// anything is decrypted, then returns a reader of the original data. Close
// reads any unread rest and reports a plaintext size or SHA-256 mismatch.
func OpenArtifact(root string, a ArtifactInfo, keys *Keys) (io.ReadCloser, error) {
	if !keys.CanDecrypt() {
		return nil, fmt.Errorf("opening artifact %s: %w (set %s)", a.Path, ErrNoIdentity, settingIdentity)
	}
	f, err := openArtifactFile(root, a)
	if err != nil {
		return nil, fmt.Errorf("opening artifact %s: %w", a.Path, err)
	}
	if err := checkCiphertext(f, a); err != nil {
		f.Close()
		return nil, fmt.Errorf("opening artifact %s: %w", a.Path, err)
	}
	ids := keys.identities
	dr, err := age.Decrypt(bufio.NewReaderSize(f, 64<<10), ids...)
	if err != nil {
		f.Close()
		var nomatch *age.NoIdentityMatchError
		if errors.As(err, &nomatch) {
			return nil, fmt.Errorf("opening artifact %s: %w: %w", a.Path, ErrWrongKey, err)
		}
		return nil, fmt.Errorf("opening artifact %s: decrypting: %w", a.Path, err)
	}
	r := &artifactReader{a: a, f: f, r: dr, h: sha256.New()}
	if a.Compressed {
		r.zr, err = zstd.NewReader(dr)
		if err != nil {
			f.Close()
			return nil, fmt.Errorf("opening artifact %s: starting decompression: %w", a.Path, err)
		}
		r.r = r.zr
	}
	return r, nil
}

type artifactReader struct {
	a      ArtifactInfo
	f      *os.File
	zr     *zstd.Decoder
	r      io.Reader
	h      hash.Hash
	n      int64
	closed bool
}

func (r *artifactReader) Read(p []byte) (int, error) {
	if r.closed {
		return 0, fmt.Errorf("reading artifact %s: already closed", r.a.Path)
	}
	n, err := r.r.Read(p)
	r.h.Write(p[:n])
	r.n += int64(n)
	if err != nil && err != io.EOF {
		return n, fmt.Errorf("reading artifact %s: %w", r.a.Path, err)
	}
	return n, err
}

func (r *artifactReader) Close() error {
	if r.closed {
		return nil
	}
	// Draining makes Close the point where the whole plaintext is known to
	// be intact, even for a caller that stopped early.
	_, err := io.Copy(io.Discard, r)
	r.closed = true
	if r.zr != nil {
		r.zr.Close()
	}
	r.f.Close()
	if err != nil {
		return err
	}
	if r.n != r.a.PlainBytes && r.a.PlainBytes != 0 {
		return fmt.Errorf("reading artifact %s: %w: plaintext size %d, manifest says %d", r.a.Path, ErrCorrupt, r.n, r.a.PlainBytes)
	}
	if got := hex.EncodeToString(r.h.Sum(nil)); got != r.a.PlainSHA256 {
		return fmt.Errorf("reading artifact %s: %w: plaintext sha256 %s, manifest says %s", r.a.Path, ErrCorrupt, got, r.a.PlainSHA256)
	}
	return nil
}

// ensureRoot creates the backup root 0700 and tightens it if it is wider.
func ensureRoot(root string) error {
	if root == "" {
		return errors.New("backup root is not set (MUTT_BACKUP_ROOT)")
	}
	if err := os.MkdirAll(root, 0o700); err != nil {
		return fmt.Errorf("creating backup root: %w", err)
	}
	fi, err := os.Stat(root)
	if err != nil {
		return fmt.Errorf("checking backup root: %w", err)
	}
	if fi.Mode().Perm() != 0o700 {
		if err := os.Chmod(root, 0o700); err != nil {
			return fmt.Errorf("restricting backup root to 0700: %w", err)
		}
	}
	return nil
}
