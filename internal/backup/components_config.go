package backup

import (
	"archive/tar"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
	"golang.org/x/sys/unix"

	"github.com/mutt-go/mutt/internal/store"
)

// DynamicConfigEntry is the name of the dynamic configuration document
// inside the config archive.
const DynamicConfigEntry = "dynamic_config.json"

// maxConfigFileBytes bounds one restored configuration file, which is held
// in memory while the archive is being proven intact.
const maxConfigFileBytes = 64 << 20

// maxConfigRestoreBytes bounds the files of one config restore together:
// all of them are held in memory until the archive is proven intact, so
// that nothing is written to disk before.
const maxConfigRestoreBytes = 256 << 20

// dynamicConfigFormat identifies version 1 of the dynamic config document.
const dynamicConfigFormat = "mutt-dynamic-config/1"

// ConfigPath is one file, directory or glob of the config component.
type ConfigPath struct {
	// Path is absolute; it may hold glob characters ("mutt-*.service").
	Path string
	// Required makes a missing path fail the component; an optional one is
	// recorded as absent.
	Required bool
}

// String renders p the way ParseConfigPaths reads it.
func (p ConfigPath) String() string {
	if p.Required {
		return p.Path + ":required"
	}
	return p.Path + ":optional"
}

// DefaultConfigPaths returns the configuration inventory of the operations
// specification (§1.2.4): all of /etc/mutt (env file, both secret-id
// layouts, certificates), the mutt-* systemd units and timers, the
// monitoring files, the env file the shipped units load and the ingest-path
// configs. All are optional: which of them a host has depends on its layout,
// and the caller marks the ones its running configuration references as
// required.
func DefaultConfigPaths() []ConfigPath {
	paths := []string{
		"/etc/mutt",
		"/etc/systemd/system/mutt-*.service",
		"/etc/systemd/system/mutt-*.timer",
		"/etc/prometheus/prometheus.yml",
		"/etc/prometheus/alerts-v25.yml",
		"/etc/prometheus/recording-rules-v25.yml",
		"/etc/alertmanager/alertmanager.yml",
		"/opt/mutt/.env",
		"/etc/logrotate.d/mutt",
		"/etc/rsyslog.d/99-mutt.conf",
		"/etc/snmp/snmptrapd.conf",
	}
	out := make([]ConfigPath, len(paths))
	for i, p := range paths {
		out[i] = ConfigPath{Path: p}
	}
	return out
}

// ParseConfigPaths reads a MUTT_BACKUP_CONFIG_PATHS value: a comma list of
// absolute paths, each optionally suffixed ":required" or ":optional" (the
// default). Empty entries are ignored.
func ParseConfigPaths(s string) ([]ConfigPath, error) {
	var out []ConfigPath
	for _, item := range strings.Split(s, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		p := ConfigPath{Path: item}
		if rest, ok := strings.CutSuffix(item, ":required"); ok {
			p = ConfigPath{Path: rest, Required: true}
		} else if rest, ok := strings.CutSuffix(item, ":optional"); ok {
			p = ConfigPath{Path: rest}
		}
		if !filepath.IsAbs(p.Path) {
			return nil, fmt.Errorf("config path %q is not absolute", p.Path)
		}
		if _, err := filepath.Match(p.Path, ""); err != nil {
			return nil, fmt.Errorf("config path %q: %w", p.Path, err)
		}
		p.Path = filepath.Clean(p.Path)
		out = append(out, p)
	}
	return out, nil
}

// ConfigSource says what the config component archives.
type ConfigSource struct {
	// Paths are the files and directories; directories are archived whole.
	Paths []ConfigPath
	// Redis, when set, is read for the dynamic configuration.
	Redis redis.UniversalClient
	// Prefix is the dynamic configuration key prefix ("mutt:config").
	Prefix string
}

// ConfigArchiveResult describes a written config archive.
type ConfigArchiveResult struct {
	// Files maps every archived regular file's absolute path to the
	// SHA-256 of its content.
	Files map[string]string
	// Dirs and Symlinks count the other archived entries.
	Dirs, Symlinks int64
	// Absent lists the optional paths that did not exist.
	Absent []string
	// DynamicKeys is the number of dynamic config values archived; -1 when
	// no Redis was given.
	DynamicKeys int64
	// DynamicSkipped lists dynamic config keys that are not strings and so
	// were left to the redis component.
	DynamicSkipped []string
}

// dynamicConfigDoc is the dynamic_config.json document: names are relative
// to the prefix, so it can be restored under another prefix.
type dynamicConfigDoc struct {
	Format     string            `json:"format"`
	Prefix     string            `json:"prefix"`
	CapturedAt time.Time         `json:"captured_at"`
	Values     map[string]string `json:"values"`
	Skipped    []string          `json:"skipped_non_string,omitempty"`
}

// WriteConfigArchive writes a tar archive of the configured paths to w, with
// modes, owners and modification times, and, when src.Redis is set, the
// dynamic configuration as DynamicConfigEntry. Entry names are the absolute
// paths without the leading slash, as `tar -C /` writes them. A missing
// required path fails; a missing optional one is listed in Absent.
func WriteConfigArchive(ctx context.Context, src ConfigSource, w io.Writer) (ConfigArchiveResult, error) {
	res := ConfigArchiveResult{Files: map[string]string{}, DynamicKeys: -1}
	tw := tar.NewWriter(w)
	seen := map[string]bool{}
	var missing []string
	for _, p := range src.Paths {
		matches, err := expandConfigPath(p.Path)
		if err != nil {
			return res, fmt.Errorf("archiving config: %w", err)
		}
		if len(matches) == 0 {
			if p.Required {
				missing = append(missing, p.Path)
			} else {
				res.Absent = append(res.Absent, p.Path)
			}
			continue
		}
		for _, m := range matches {
			if err := ctx.Err(); err != nil {
				return res, err
			}
			if err := archiveTree(tw, m, seen, &res); err != nil {
				return res, fmt.Errorf("archiving config: %w", err)
			}
		}
	}
	if len(missing) > 0 {
		return res, fmt.Errorf("archiving config: required paths missing: %s", strings.Join(missing, ", "))
	}
	if src.Redis != nil {
		doc, err := readDynamicConfig(ctx, src.Redis, src.Prefix)
		if err != nil {
			return res, fmt.Errorf("archiving config: %w", err)
		}
		data, err := json.MarshalIndent(doc, "", "  ")
		if err != nil {
			return res, fmt.Errorf("archiving config: encoding dynamic config: %w", err)
		}
		hdr := &tar.Header{Typeflag: tar.TypeReg, Name: DynamicConfigEntry, Mode: 0o600, Size: int64(len(data)), ModTime: doc.CapturedAt, Format: tar.FormatPAX}
		if err := tw.WriteHeader(hdr); err != nil {
			return res, fmt.Errorf("archiving config: %w", err)
		}
		if _, err := tw.Write(data); err != nil {
			return res, fmt.Errorf("archiving config: %w", err)
		}
		res.DynamicKeys = int64(len(doc.Values))
		res.DynamicSkipped = doc.Skipped
	}
	if err := tw.Close(); err != nil {
		return res, fmt.Errorf("archiving config: %w", err)
	}
	return res, nil
}

// expandConfigPath returns the existing paths p names: p itself, or the
// matches of its glob, sorted.
func expandConfigPath(p string) ([]string, error) {
	if !strings.ContainsAny(p, `*?[\`) {
		if _, err := os.Lstat(p); err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil, nil
			}
			return nil, fmt.Errorf("checking %s: %w", p, err)
		}
		return []string{p}, nil
	}
	m, err := filepath.Glob(p)
	if err != nil {
		return nil, fmt.Errorf("expanding %s: %w", p, err)
	}
	sort.Strings(m)
	return m, nil
}

// archiveTree writes root and, for a directory, everything below it. Paths
// already archived (listed twice, or inside an earlier directory) are
// skipped; symbolic links are archived as links, never followed.
func archiveTree(tw *tar.Writer, root string, seen map[string]bool, res *ConfigArchiveResult) error {
	return filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return fmt.Errorf("reading %s: %w", p, err)
		}
		if seen[p] {
			if d.IsDir() && p != root {
				return fs.SkipDir
			}
			return nil
		}
		seen[p] = true
		info, err := d.Info()
		if err != nil {
			return fmt.Errorf("reading %s: %w", p, err)
		}
		return archiveEntry(tw, p, info, res)
	})
}

// archiveEntry writes one file system entry with its metadata.
func archiveEntry(tw *tar.Writer, p string, info fs.FileInfo, res *ConfigArchiveResult) error {
	name := strings.TrimPrefix(filepath.ToSlash(p), "/")
	switch {
	case info.Mode().IsDir():
		if err := writeTarHeader(tw, info, "", name+"/"); err != nil {
			return fmt.Errorf("archiving %s: %w", p, err)
		}
		res.Dirs++
	case info.Mode()&fs.ModeSymlink != 0:
		target, err := os.Readlink(p)
		if err != nil {
			return fmt.Errorf("archiving %s: %w", p, err)
		}
		if err := writeTarHeader(tw, info, target, name); err != nil {
			return fmt.Errorf("archiving %s: %w", p, err)
		}
		res.Symlinks++
	case info.Mode().IsRegular():
		f, err := os.Open(p)
		if err != nil {
			return fmt.Errorf("archiving %s: %w", p, err)
		}
		defer f.Close()
		h := sha256.New()
		n, size, err := writeTarFile(tw, f, name, h)
		if err != nil {
			return fmt.Errorf("archiving %s: %w", p, err)
		}
		if n != size {
			return fmt.Errorf("archiving %s: file shrank while being read (%d of %d bytes)", p, n, size)
		}
		res.Files["/"+name] = hex.EncodeToString(h.Sum(nil))
	}
	// Sockets, devices and pipes are not configuration.
	return nil
}

// readDynamicConfig reads every string value under prefix except the
// updates channel name.
func readDynamicConfig(ctx context.Context, rdb redis.UniversalClient, prefix string) (dynamicConfigDoc, error) {
	doc := dynamicConfigDoc{Format: dynamicConfigFormat, Prefix: prefix, CapturedAt: time.Now().UTC(), Values: map[string]string{}}
	var names []string
	err := redisScan(ctx, rdb, prefix+":*", func(keys []string) error {
		for _, k := range keys {
			name := strings.TrimPrefix(k, prefix+":")
			if name != "updates" {
				names = append(names, name)
			}
		}
		return nil
	})
	if err != nil {
		return doc, fmt.Errorf("listing dynamic config: %w", err)
	}
	sort.Strings(names)
	types := make([]*redis.StatusCmd, len(names))
	vals := make([]*redis.StringCmd, len(names))
	_, err = rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, n := range names {
			types[i] = p.Type(ctx, prefix+":"+n)
		}
		return nil
	})
	if err != nil {
		return doc, fmt.Errorf("reading dynamic config types: %w", err)
	}
	_, err = rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, n := range names {
			if types[i].Val() == "string" {
				vals[i] = p.Get(ctx, prefix+":"+n)
			}
		}
		return nil
	})
	if err != nil && !errors.Is(err, redis.Nil) {
		return doc, fmt.Errorf("reading dynamic config: %w", err)
	}
	for i, n := range names {
		switch {
		case types[i].Val() == "none":
			// Deleted since it was listed.
		case vals[i] == nil:
			doc.Skipped = append(doc.Skipped, n)
		default:
			v, err := vals[i].Result()
			if errors.Is(err, redis.Nil) {
				continue
			}
			if err != nil {
				return doc, fmt.Errorf("reading dynamic config %s: %w", n, err)
			}
			doc.Values[n] = v
		}
	}
	return doc, nil
}

// configComponentMeta fills c's counts and source from an archive result.
func configComponentMeta(c *Component, res ConfigArchiveResult, paths []ConfigPath) {
	c.Counts = map[string]int64{
		"files": int64(len(res.Files)), "dirs": res.Dirs, "symlinks": res.Symlinks,
		"absent": int64(len(res.Absent)),
	}
	if res.DynamicKeys >= 0 {
		c.Counts["dynamic_config"] = res.DynamicKeys
	}
	listed := make([]string, len(paths))
	for i, p := range paths {
		listed[i] = p.String()
	}
	c.Source = map[string]any{"paths": listed, "files": res.Files}
	if len(res.Absent) > 0 {
		c.Source["absent"] = res.Absent
	}
	if len(res.DynamicSkipped) > 0 {
		c.Source["dynamic_config_non_string"] = res.DynamicSkipped
	}
}

// manifestFileHashes returns the per-file SHA-256 a config component
// recorded (Source["files"]), as read back from JSON.
func manifestFileHashes(c *Component) map[string]string {
	out := map[string]string{}
	switch files := c.Source["files"].(type) {
	case map[string]string:
		return files
	case map[string]any:
		for k, v := range files {
			if s, ok := v.(string); ok {
				out[k] = s
			}
		}
	}
	return out
}

// ConfigAuditor records a configuration change; *store.Store implements it.
type ConfigAuditor interface {
	RecordConfigChange(ctx context.Context, c store.ConfigChange) (int64, error)
}

// readConfigArchive calls fn for every entry of the config component's
// archive and then checks the whole plaintext against the manifest. fn's
// side effects must therefore be undoable until readConfigArchive returns
// nil: the archive is known intact only at the end.
func readConfigArchive(root string, m *Manifest, keys *Keys, fn func(hdr *tar.Header, body io.Reader) error) error {
	c, err := VerifyComponent(root, m, ComponentConfig)
	if err != nil {
		return err
	}
	r, err := OpenArtifact(root, c.Artifacts[0], keys)
	if err != nil {
		return err
	}
	tr := tar.NewReader(r)
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			r.Close()
			return fmt.Errorf("reading config archive %s: %w", c.Artifacts[0].Path, err)
		}
		if err := fn(hdr, tr); err != nil {
			r.Close()
			return err
		}
	}
	if err := r.Close(); err != nil {
		return err
	}
	return nil
}

// loadDynamicConfig returns the dynamic config document of set m.
func loadDynamicConfig(root string, m *Manifest, keys *Keys) (dynamicConfigDoc, error) {
	var doc dynamicConfigDoc
	found := false
	err := readConfigArchive(root, m, keys, func(hdr *tar.Header, body io.Reader) error {
		if hdr.Name != DynamicConfigEntry {
			return nil
		}
		found = true
		if err := json.NewDecoder(body).Decode(&doc); err != nil {
			return fmt.Errorf("reading %s of set %s: %w", DynamicConfigEntry, m.SetID, err)
		}
		return nil
	})
	if err != nil {
		return doc, err
	}
	if !found {
		return doc, fmt.Errorf("set %s holds no dynamic configuration (Redis was not reachable when it was taken); pick another set with `mutt backup list`", m.SetID)
	}
	if doc.Format != dynamicConfigFormat {
		return doc, fmt.Errorf("set %s: %s has format %q, want %q", m.SetID, DynamicConfigEntry, doc.Format, dynamicConfigFormat)
	}
	return doc, nil
}

// DynamicConfigRestoreOptions say which set's dynamic configuration is
// written back and where.
type DynamicConfigRestoreOptions struct {
	Root     string
	Manifest *Manifest
	Keys     *Keys
	// Redis receives the values under Prefix ("mutt:config").
	Redis  redis.UniversalClient
	Prefix string
	// Prune deletes keys under Prefix that the backup does not hold.
	Prune bool
	// Auditor, when set, gets one config_audit_log row per changed key.
	Auditor ConfigAuditor
	// DryRun reports what would change and changes nothing.
	DryRun bool
}

// DynamicConfigRestoreResult lists what RestoreDynamicConfig did, by key
// name (relative to the prefix).
type DynamicConfigRestoreResult struct {
	Set       []string `json:"set"`
	Unchanged []string `json:"unchanged"`
	Deleted   []string `json:"deleted"`
	Audited   int      `json:"audited"`
}

// RestoreDynamicConfig writes every value of the set's dynamic_config.json
// back: a key whose value differs is SET (and audited, changed_by
// "restore:<set-id>", table dynamic_config, CREATE or UPDATE), a key with
// the same value is left alone, and with Prune keys missing from the backup
// are deleted (audited as DELETE). Every restored or deleted name is then
// published on "<prefix>:updates" so running services reload it. The
// archive is decrypted and its checksum verified before any key is written.
func RestoreDynamicConfig(ctx context.Context, o DynamicConfigRestoreOptions) (DynamicConfigRestoreResult, error) {
	res := DynamicConfigRestoreResult{Set: []string{}, Unchanged: []string{}, Deleted: []string{}}
	doc, err := loadDynamicConfig(o.Root, o.Manifest, o.Keys)
	if err != nil {
		return res, err
	}
	names := make([]string, 0, len(doc.Values))
	for n := range doc.Values {
		names = append(names, n)
	}
	sort.Strings(names)
	cur, err := readDynamicConfig(ctx, o.Redis, o.Prefix)
	if err != nil {
		return res, fmt.Errorf("restoring dynamic config: %w", err)
	}
	var del []string
	if o.Prune {
		for n := range cur.Values {
			if _, ok := doc.Values[n]; !ok {
				del = append(del, n)
			}
		}
		for _, n := range cur.Skipped {
			if _, ok := doc.Values[n]; !ok {
				del = append(del, n)
			}
		}
		sort.Strings(del)
	}
	for _, n := range names {
		if old, ok := cur.Values[n]; ok && old == doc.Values[n] {
			res.Unchanged = append(res.Unchanged, n)
		} else {
			res.Set = append(res.Set, n)
		}
	}
	res.Deleted = append(res.Deleted, del...)
	if o.DryRun {
		return res, nil
	}
	_, err = o.Redis.Pipelined(ctx, func(p redis.Pipeliner) error {
		for _, n := range res.Set {
			p.Set(ctx, o.Prefix+":"+n, doc.Values[n], 0)
		}
		for _, n := range del {
			p.Del(ctx, o.Prefix+":"+n)
		}
		return nil
	})
	if err != nil {
		return res, fmt.Errorf("restoring dynamic config: writing keys: %w", err)
	}
	var auditErrs []error
	audit := func(n, op string, old, new any) {
		if o.Auditor == nil {
			return
		}
		_, err := o.Auditor.RecordConfigChange(ctx, store.ConfigChange{
			ChangedBy: "restore:" + o.Manifest.SetID, Operation: op, TableName: "dynamic_config",
			RecordID: store.HashRecordID(n), Old: old, New: new,
			Reason: "restored from backup set " + o.Manifest.SetID,
		})
		if err != nil {
			auditErrs = append(auditErrs, fmt.Errorf("auditing %s: %w", n, err))
			return
		}
		res.Audited++
	}
	for _, n := range res.Set {
		var old any
		op := store.OpCreate
		if v, ok := cur.Values[n]; ok {
			old, op = map[string]any{"key": n, "value": v}, store.OpUpdate
		}
		audit(n, op, old, map[string]any{"key": n, "value": doc.Values[n]})
	}
	for _, n := range del {
		var old any = map[string]any{"key": n, "value": nil}
		if v, ok := cur.Values[n]; ok {
			old = map[string]any{"key": n, "value": v}
		}
		audit(n, store.OpDelete, old, nil)
	}
	channel := o.Prefix + ":updates"
	_, err = o.Redis.Pipelined(ctx, func(p redis.Pipeliner) error {
		for _, n := range names {
			p.Publish(ctx, channel, n)
		}
		for _, n := range del {
			p.Publish(ctx, channel, n)
		}
		return nil
	})
	if err != nil {
		return res, fmt.Errorf("restoring dynamic config: announcing keys on %s: %w", channel, err)
	}
	// Verify: every backed-up value must now be live.
	after, err := readDynamicConfig(ctx, o.Redis, o.Prefix)
	if err != nil {
		return res, fmt.Errorf("restoring dynamic config: reading back: %w", err)
	}
	for _, n := range names {
		if after.Values[n] != doc.Values[n] {
			return res, fmt.Errorf("restoring dynamic config: %s does not hold the restored value after writing (changed concurrently?)", n)
		}
	}
	if len(auditErrs) > 0 {
		return res, fmt.Errorf("restoring dynamic config: keys restored but audit incomplete: %w", errors.Join(auditErrs...))
	}
	return res, nil
}

// ConfigRestoreOptions say which files of a set's config archive are
// written back and where.
type ConfigRestoreOptions struct {
	Root     string
	Manifest *Manifest
	Keys     *Keys
	// TargetDir is the directory the archived absolute paths are placed
	// under; empty means "/".
	TargetDir string
	// Files, when set, selects entries: a glob on the absolute path
	// ("/etc/mutt/*.env"), on the base name ("*.service") or a directory
	// prefix ("/etc/mutt").
	Files string
	// DryRun classifies the files and writes nothing.
	DryRun bool
	// Now stamps the ".pre-restore-<stamp>" copies; nil means time.Now.
	Now func() time.Time
}

// ConfigRestoreResult lists the restored files by their path on disk.
type ConfigRestoreResult struct {
	Added     []string `json:"added"`
	Changed   []string `json:"changed"`
	Unchanged []string `json:"unchanged"`
	// Kept are the previous versions of changed files, renamed
	// "<file>.pre-restore-<stamp>".
	Kept []string `json:"kept"`
}

// pendingFile is a selected archive entry that differs from the disk, held
// in memory until the archive is proven intact. rel is its path below the
// target (slash-separated, local).
type pendingFile struct {
	rel     string
	hdr     *tar.Header
	data    []byte
	existed bool
}

// stagedFile is a pending entry written to a temporary name next to its
// destination, waiting to be installed.
type stagedFile struct {
	tmp, rel string
	existed  bool
}

// archivePlan checks, entry by entry while the archive is read, that the
// selected entries form a tree a restore can write without going through a
// link: no name twice, nothing below an entry that is a link or a file,
// and no link or file where an earlier entry needs a directory.
type archivePlan struct {
	// kinds maps every selected entry name to its tar type flag.
	kinds map[string]byte
	// parents holds every proper parent directory of a selected entry.
	parents map[string]bool
}

// add records entry name of type kind, or says why the archive is refused.
func (p *archivePlan) add(name string, kind byte) error {
	if p.kinds == nil {
		p.kinds, p.parents = map[string]byte{}, map[string]bool{}
	}
	if _, dup := p.kinds[name]; dup {
		return fmt.Errorf("config archive entry %q appears twice; a config archive holds every path once", name)
	}
	if kind != tar.TypeDir && p.parents[name] {
		return fmt.Errorf("config archive entry %q is not a directory, but other entries lie below it", name)
	}
	for dir := path.Dir(name); dir != "."; dir = path.Dir(dir) {
		if k, ok := p.kinds[dir]; ok && k != tar.TypeDir {
			return fmt.Errorf("config archive entry %q lies below %q, which the archive holds as a link or file; a restore never writes through a link", name, dir)
		}
		p.parents[dir] = true
	}
	p.kinds[name] = kind
	return nil
}

// RestoreConfigFiles writes the selected files of a set's config archive
// under TargetDir. Nothing is written while the archive is read: the
// selected entries are held in memory until the whole archive has
// decrypted and matched its checksum. Then the archived directories are
// created, every file is written to a temporary name beside its
// destination, and only when all are written is each previous file kept as
// "<file>.pre-restore-<stamp>" (a hard link, so the live name never
// disappears) and the new one renamed over it, with the archived mode,
// modification time and (when running as root) owner. Files whose content
// and mode already match are left alone.
//
// No symbolic link is ever followed below TargetDir (see confinedDir): an
// archive whose entries would go through a link, in the archive or already
// on disk, is refused before anything is written, and so is an entry that
// is not a directory, regular file or symbolic link (hard links, devices),
// an absolute name or one with "..". Archived links are created as links.
// When creating directories or staging files fails, everything created so
// far is removed again.
//
// When installing fails part-way, the files installed before the failure
// stay installed (their previous versions are in the kept copies): the
// result and the error list exactly those and name the file that failed.
// This is simpler than rolling them back, which could fail in turn and
// leave a state harder to describe.
func RestoreConfigFiles(ctx context.Context, o ConfigRestoreOptions) (ConfigRestoreResult, error) {
	res := ConfigRestoreResult{Added: []string{}, Changed: []string{}, Unchanged: []string{}, Kept: []string{}}
	target := o.TargetDir
	if target == "" {
		target = "/"
	}
	now := time.Now
	if o.Now != nil {
		now = o.Now
	}
	stamp := now().UTC().Format(StampFormat)
	fail := func(err error) (ConfigRestoreResult, error) {
		// A refused restore (or dry run) restores nothing.
		res := ConfigRestoreResult{Added: []string{}, Changed: []string{}, Unchanged: []string{}, Kept: []string{}}
		return res, fmt.Errorf("restoring config files from set %s: %w (nothing was written)", o.Manifest.SetID, err)
	}
	// Reading only: the target is not created before the archive is known
	// good (a nil view means it does not exist yet).
	view, err := openConfined(target, false)
	if err != nil {
		return fail(err)
	}
	defer view.Close()
	var pending []pendingFile
	var dirs []*tar.Header
	var plan archivePlan
	var held int64
	// The callback only reads: readConfigArchive proves the archive intact
	// at the end, and nothing may be written to the target before.
	err = readConfigArchive(o.Root, o.Manifest, o.Keys, func(hdr *tar.Header, body io.Reader) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		name := strings.TrimSuffix(hdr.Name, "/")
		if name == DynamicConfigEntry || !selectConfigEntry(o.Files, name) {
			return nil
		}
		if strings.Contains(name, `\`) || !filepath.IsLocal(filepath.FromSlash(name)) || path.Clean(name) != name {
			return fmt.Errorf("config archive entry %q escapes the target directory", hdr.Name)
		}
		switch hdr.Typeflag {
		case tar.TypeDir, tar.TypeReg, tar.TypeSymlink:
		case tar.TypeLink:
			return fmt.Errorf("config archive entry %q is a hard link (to %q); a config archive holds none", hdr.Name, hdr.Linkname)
		default:
			return fmt.Errorf("config archive entry %q has tar type %q; a config archive holds only directories, files and symbolic links", hdr.Name, hdr.Typeflag)
		}
		if err := plan.add(name, hdr.Typeflag); err != nil {
			return err
		}
		if hdr.Typeflag == tar.TypeDir {
			// An existing directory is fine; a link or file where the
			// directory goes is not replaced and not followed.
			st, exists, err := view.lstat(name)
			if err != nil {
				return err
			}
			if exists && st.Mode&unix.S_IFMT != unix.S_IFDIR {
				return fmt.Errorf("config archive entry %q is a directory, but %s is a symbolic link or file on disk; a restore never writes through one: %w", hdr.Name, filepath.Join(target, name), ErrLinkInPath)
			}
			dirs = append(dirs, hdr)
			return nil
		}
		var data []byte
		if hdr.Typeflag == tar.TypeReg {
			if hdr.Size > maxConfigFileBytes {
				return fmt.Errorf("config archive entry %s has %d bytes, more than the %d a configuration file may have", hdr.Name, hdr.Size, maxConfigFileBytes)
			}
			var err error
			if data, err = io.ReadAll(body); err != nil {
				return fmt.Errorf("reading config archive entry %s: %w", hdr.Name, err)
			}
		}
		dest := filepath.Join(target, filepath.FromSlash(name))
		same, existed, err := view.sameAsArchived(name, hdr, data)
		if err != nil {
			return err
		}
		if same {
			res.Unchanged = append(res.Unchanged, dest)
			return nil
		}
		if o.DryRun {
			if existed {
				res.Changed = append(res.Changed, dest)
			} else {
				res.Added = append(res.Added, dest)
			}
			return nil
		}
		if held += int64(len(data)); held > maxConfigRestoreBytes {
			return fmt.Errorf("the selected config files hold more than %d bytes; restore them in parts with --files", maxConfigRestoreBytes)
		}
		pending = append(pending, pendingFile{rel: name, hdr: hdr, data: data, existed: existed})
		return nil
	})
	if err != nil {
		return fail(err)
	}
	if o.DryRun {
		return res, nil
	}
	if err := ctx.Err(); err != nil {
		return fail(err)
	}
	view.Close()
	c, err := openConfined(target, true)
	if err != nil {
		return fail(err)
	}
	defer c.Close()
	staged := make([]stagedFile, 0, len(pending))
	undo := func(err error) (ConfigRestoreResult, error) {
		for _, s := range staged {
			c.remove(s.tmp)
		}
		c.removeCreated()
		return res, fmt.Errorf("restoring config files from set %s: %w (no file was installed)", o.Manifest.SetID, err)
	}
	for _, hdr := range dirs {
		if err := c.mkdirAll(strings.TrimSuffix(hdr.Name, "/")); err != nil {
			return undo(err)
		}
	}
	for _, p := range pending {
		tmp, err := c.stage(p.rel, p.data, linkOf(p.hdr), metaOf(p.hdr))
		if err != nil {
			return undo(err)
		}
		staged = append(staged, stagedFile{tmp: tmp, rel: p.rel, existed: p.existed})
	}
	for i, s := range staged {
		dest := c.abs(s.rel)
		keep := ""
		if s.existed {
			keep = path.Base(s.rel) + ".pre-restore-" + stamp
		}
		err := c.install(s.tmp, s.rel, keep)
		if err == nil || strings.HasPrefix(err.Error(), "installed,") {
			if s.existed {
				res.Changed = append(res.Changed, dest)
				res.Kept = append(res.Kept, dest+".pre-restore-"+stamp)
			} else {
				res.Added = append(res.Added, dest)
			}
		} else {
			err = fmt.Errorf("not installed: %w", err)
		}
		if err != nil {
			for _, rest := range staged[i+1:] {
				c.remove(rest.tmp)
			}
			// Only the created directories left empty go.
			c.removeCreated()
			return res, fmt.Errorf("restoring config files from set %s: %s: %w; %s", o.Manifest.SetID, dest, err, installedSoFar(res, len(staged)))
		}
	}
	// Directory metadata last: writing the files changed their mtimes.
	for i := len(dirs) - 1; i >= 0; i-- {
		if err := c.setDirMeta(strings.TrimSuffix(dirs[i].Name, "/"), metaOf(dirs[i])); err != nil {
			return res, fmt.Errorf("restoring config files from set %s: %w", o.Manifest.SetID, err)
		}
	}
	return res, nil
}

// metaOf returns the metadata of an archive entry.
func metaOf(hdr *tar.Header) entryMeta {
	return entryMeta{mode: fs.FileMode(hdr.Mode).Perm(), uid: hdr.Uid, gid: hdr.Gid, mtime: hdr.ModTime}
}

// linkOf returns the target of a link entry, "" for any other.
func linkOf(hdr *tar.Header) string {
	if hdr.Typeflag == tar.TypeSymlink {
		return hdr.Linkname
	}
	return ""
}

// selectConfigEntry reports whether archive entry name (no leading slash)
// matches the --files selection.
func selectConfigEntry(pattern, name string) bool {
	if pattern == "" {
		return true
	}
	abs := "/" + name
	pattern = strings.TrimSuffix(pattern, "/")
	if ok, _ := filepath.Match(pattern, abs); ok {
		return true
	}
	if ok, _ := filepath.Match(pattern, filepath.Base(abs)); ok {
		return true
	}
	return strings.HasPrefix(abs, pattern+"/")
}

// sameAsArchived reports whether rel already holds the archived entry
// (same content or link target, same permission bits) and whether it
// exists at all. A parent of rel that is a link gives ErrLinkInPath.
func (c *confinedDir) sameAsArchived(rel string, hdr *tar.Header, data []byte) (same, existed bool, err error) {
	st, exists, err := c.lstat(rel)
	if err != nil || !exists {
		return false, false, err
	}
	kind := st.Mode & unix.S_IFMT
	if hdr.Typeflag == tar.TypeSymlink {
		if kind != unix.S_IFLNK {
			return false, true, nil
		}
		t, err := c.readlink(rel)
		return err == nil && t == hdr.Linkname, true, nil
	}
	if kind != unix.S_IFREG || st.Size != int64(len(data)) || fs.FileMode(st.Mode).Perm() != fs.FileMode(hdr.Mode).Perm() {
		return false, true, nil
	}
	sum, err := c.fileSHA256(rel)
	if err != nil {
		return false, true, err
	}
	want := sha256.Sum256(data)
	return sum == hex.EncodeToString(want[:]), true, nil
}

// installedSoFar describes, for an error, the files of res installed
// before a failure stopped the restore, out of total staged ones.
func installedSoFar(res ConfigRestoreResult, total int) string {
	done := append(slices.Clone(res.Added), res.Changed...)
	if len(done) == 0 {
		return fmt.Sprintf("none of the %d files was installed", total)
	}
	msg := fmt.Sprintf("%d of %d files were installed and stay: %s", len(done), total, strings.Join(done, ", "))
	if len(res.Kept) > 0 {
		msg += "; their previous versions are kept as " + strings.Join(res.Kept, ", ")
	}
	return msg
}

// randHex returns n random bytes in hex.
func randHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // crypto/rand.Read never fails on supported platforms
	return hex.EncodeToString(b)
}

// fileSHA256 returns the hex SHA-256 of a file's content.
func fileSHA256(p string) (string, error) {
	f, err := os.Open(p)
	if err != nil {
		return "", fmt.Errorf("reading %s: %w", p, err)
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", fmt.Errorf("reading %s: %w", p, err)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// configComponent implements ComponentSpec for ComponentConfig.
type configComponent struct{ checksummed }

var _ ComponentSpec = configComponent{}

// Name implements ComponentSpec.
func (configComponent) Name() string { return ComponentConfig }

// Profiles implements ComponentSpec.
func (configComponent) Profiles() []string { return []string{"daily", "pre-upgrade"} }

// Storage implements ComponentSpec: configuration files exist in both
// modes.
func (configComponent) Storage() string { return "" }

// Retention implements ComponentSpec.
func (configComponent) Retention() time.Duration { return 90 * day }

// Objectives implements ComponentSpec.
func (configComponent) Objectives() Objectives {
	return Objectives{RTO: RTOConfig, RPO: 24 * time.Hour}
}

// Backup implements ComponentSpec: a tar of the configuration files and
// the dynamic configuration.
func (configComponent) Backup(ctx context.Context, o *RunOptions, c *Component, sink ArtifactSink) error {
	if o.Config == nil {
		return errNotConfigured
	}
	src := *o.Config
	if src.Redis == nil {
		src.Redis = o.Redis
	}
	return sink.Artifact("mutt_config_"+sink.Stamp()+".tar.zst.age", true, "tar", func(w io.Writer) error {
		res, err := WriteConfigArchive(ctx, src, w)
		if err != nil {
			return err
		}
		configComponentMeta(c, res, src.Paths)
		return nil
	})
}

// DeepVerify implements ComponentSpec: the archive is read through and
// every file's SHA-256 compared with the manifest.
func (configComponent) DeepVerify(_ context.Context, o DeepVerifyOptions, c *Component) (string, error) {
	return deepConfig(o, c)
}

// Restore implements ComponentSpec: the configuration files are written
// under o.ConfigTargetDir (RestoreConfigFiles); the dynamic configuration
// has its own step (mutt restore dynamic-config).
func (configComponent) Restore(ctx context.Context, o RestoreOptions) (string, error) {
	res, err := RestoreConfigFiles(ctx, ConfigRestoreOptions{Root: o.Root, Manifest: o.Manifest, Keys: o.Keys, TargetDir: o.ConfigTargetDir, Now: o.Now})
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("%d added, %d changed, %d unchanged", len(res.Added), len(res.Changed), len(res.Unchanged)), nil
}
