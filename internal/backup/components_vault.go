package backup

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"sort"
	"strings"
	"time"
)

// vaultExportFormat identifies version 1 of the Vault KV export document.
const vaultExportFormat = "mutt-vault-kv/1"

// VaultKV is the part of a Vault KV (v2) client the vault component needs.
// Paths are relative to the KV mount ("mutt/prod"). ReadKV of a path that
// holds no secret returns a nil map, or an error the restore options'
// NotFound recognises; ListKV returns the children of a folder (sub-folders
// end in "/") and an empty list when there are none. WriteKV replaces the
// whole secret at path with data.
type VaultKV interface {
	ListKV(ctx context.Context, path string) ([]string, error)
	ReadKV(ctx context.Context, path string) (map[string]any, error)
	WriteKV(ctx context.Context, path string, data map[string]any) error
}

// vaultExport is the vault artifact's document. It exists only in memory
// and, encrypted, in the artifact.
type vaultExport struct {
	Format     string                    `json:"format"`
	CapturedAt time.Time                 `json:"captured_at"`
	Secrets    map[string]map[string]any `json:"secrets"`
}

// VaultExportResult describes a Vault export without its values.
type VaultExportResult struct {
	// KeyNames maps each secret path to the sorted names of its keys.
	KeyNames map[string][]string
	// Keys is the total number of keys.
	Keys int64
}

// ExportVault reads every secret at and below each path and writes them as
// one JSON document to w (which must encrypt: the vault artifact). The
// document is built in memory; plaintext never reaches a file. A path that
// holds no secret and has no children is an error: a backup that silently
// captures nothing is worse than a failed one.
func ExportVault(ctx context.Context, kv VaultKV, paths []string, w io.Writer) (VaultExportResult, error) {
	res := VaultExportResult{KeyNames: map[string][]string{}}
	doc := vaultExport{Format: vaultExportFormat, CapturedAt: time.Now().UTC(), Secrets: map[string]map[string]any{}}
	for _, p := range paths {
		p = strings.Trim(p, "/")
		before := len(doc.Secrets)
		if err := vaultWalk(ctx, kv, p, doc.Secrets, 0); err != nil {
			return res, fmt.Errorf("exporting vault path %s: %w", p, err)
		}
		if len(doc.Secrets) == before {
			return res, fmt.Errorf("exporting vault path %s: no secret found there; check MUTT_BACKUP_VAULT_PATHS", p)
		}
	}
	for p, data := range doc.Secrets {
		names := slices.Sorted(maps.Keys(data))
		res.KeyNames[p] = names
		res.Keys += int64(len(names))
	}
	enc := json.NewEncoder(w)
	if err := enc.Encode(&doc); err != nil {
		return res, fmt.Errorf("exporting vault: writing: %w", err)
	}
	return res, nil
}

// vaultMaxDepth bounds the folder recursion.
const vaultMaxDepth = 16

// vaultWalk reads the secret at p and recurses into its children.
func vaultWalk(ctx context.Context, kv VaultKV, p string, out map[string]map[string]any, depth int) error {
	if depth > vaultMaxDepth {
		return fmt.Errorf("folders nested deeper than %d levels at %s", vaultMaxDepth, p)
	}
	data, readErr := kv.ReadKV(ctx, p)
	if readErr == nil && data != nil {
		out[p] = data
	}
	children, err := kv.ListKV(ctx, p)
	switch {
	case err != nil && data != nil:
		// A leaf secret: Vault may answer LIST on it with "not found".
		return nil
	case err != nil:
		return fmt.Errorf("listing %s: %w", p, err)
	case readErr != nil && len(children) == 0:
		// Neither a secret nor a folder: the read error says why.
		return fmt.Errorf("reading %s: %w", p, readErr)
	}
	sort.Strings(children)
	for _, c := range children {
		child := strings.Trim(p+"/"+strings.TrimSuffix(c, "/"), "/")
		if err := vaultWalk(ctx, kv, child, out, depth+1); err != nil {
			return err
		}
	}
	return nil
}

// vaultComponentMeta fills the manifest entry: key names and counts only,
// never a value.
func vaultComponentMeta(c *Component, res VaultExportResult) {
	c.Counts = map[string]int64{"paths": int64(len(res.KeyNames)), "keys": res.Keys}
	names := map[string]any{}
	for p, ks := range res.KeyNames {
		names[p] = ks
	}
	c.Source = map[string]any{"key_names": names}
}

// loadVaultExport decrypts the vault artifact of m in memory and checks
// its document.
func loadVaultExport(root string, m *Manifest, keys *Keys) (vaultExport, error) {
	var doc vaultExport
	c, err := VerifyComponent(root, m, ComponentVault)
	if err != nil {
		return doc, err
	}
	r, err := OpenArtifact(root, c.Artifacts[0], keys)
	if err != nil {
		return doc, err
	}
	derr := json.NewDecoder(r).Decode(&doc)
	if err := r.Close(); err != nil {
		return doc, err
	}
	if derr != nil {
		return doc, fmt.Errorf("reading vault export of set %s: %w", m.SetID, derr)
	}
	if doc.Format != vaultExportFormat {
		return doc, fmt.Errorf("vault export of set %s has format %q, want %q", m.SetID, doc.Format, vaultExportFormat)
	}
	var n int64
	for _, data := range doc.Secrets {
		n += int64(len(data))
	}
	if want := c.Counts["keys"]; n != want {
		return doc, fmt.Errorf("vault export of set %s holds %d keys, the manifest says %d", m.SetID, n, want)
	}
	return doc, nil
}

// VaultRestoreOptions say which set's secrets are written back.
type VaultRestoreOptions struct {
	Root     string
	Manifest *Manifest
	Keys     *Keys
	KV       VaultKV
	// Merge keeps keys present in Vault but not in the backup.
	Merge bool
	// NotFound recognises the error KV returns for a missing secret (the
	// disaster case, where the path was lost); nil means only a nil map
	// signals absence.
	NotFound func(error) bool
	// DryRun reports the differences and writes nothing.
	DryRun bool
}

// VaultPathChange lists, by name only, how one secret path changes.
type VaultPathChange struct {
	Path    string   `json:"path"`
	Added   []string `json:"added"`
	Changed []string `json:"changed"`
	Removed []string `json:"removed"`
	Kept    []string `json:"kept"`
}

// RestoreVault writes every secret of the set's vault export back, one
// write per path. Without Merge each path ends up holding exactly the
// backed-up keys; with Merge keys only in Vault are kept. Each path is read
// back and compared with what was written. Values stay in memory and are
// never part of a returned error.
func RestoreVault(ctx context.Context, o VaultRestoreOptions) ([]VaultPathChange, error) {
	if o.KV == nil {
		return nil, errors.New("restoring vault: no Vault client configured")
	}
	doc, err := loadVaultExport(o.Root, o.Manifest, o.Keys)
	if err != nil {
		return nil, err
	}
	var out []VaultPathChange
	for _, p := range slices.Sorted(maps.Keys(doc.Secrets)) {
		want := doc.Secrets[p]
		cur, err := o.KV.ReadKV(ctx, p)
		if err != nil && (o.NotFound == nil || !o.NotFound(err)) {
			return out, fmt.Errorf("restoring vault path %s: reading current secret: %w", p, err)
		}
		ch := VaultPathChange{Path: p, Added: []string{}, Changed: []string{}, Removed: []string{}, Kept: []string{}}
		write := maps.Clone(want)
		for _, k := range slices.Sorted(maps.Keys(want)) {
			old, ok := cur[k]
			switch {
			case !ok:
				ch.Added = append(ch.Added, k)
			case vaultHash(old) != vaultHash(want[k]):
				ch.Changed = append(ch.Changed, k)
			}
		}
		for _, k := range slices.Sorted(maps.Keys(cur)) {
			if _, ok := want[k]; ok {
				continue
			}
			if o.Merge {
				ch.Kept = append(ch.Kept, k)
				write[k] = cur[k]
			} else {
				ch.Removed = append(ch.Removed, k)
			}
		}
		out = append(out, ch)
		if o.DryRun {
			continue
		}
		if err := o.KV.WriteKV(ctx, p, write); err != nil {
			return out, fmt.Errorf("restoring vault path %s: writing: %w", p, err)
		}
		back, err := o.KV.ReadKV(ctx, p)
		if err != nil {
			return out, fmt.Errorf("restoring vault path %s: reading back: %w", p, err)
		}
		for k, v := range write {
			if vaultHash(back[k]) != vaultHash(v) {
				return out, fmt.Errorf("restoring vault path %s: key %s does not hold the restored value after writing", p, k)
			}
		}
	}
	return out, nil
}

// vaultHash compares secret values without keeping them around in
// messages.
func vaultHash(v any) [32]byte {
	b, _ := json.Marshal(v)
	return sha256.Sum256(b)
}

// vaultComponent implements ComponentSpec for ComponentVault.
type vaultComponent struct{ checksummed }

var _ ComponentSpec = vaultComponent{}

// Name implements ComponentSpec.
func (vaultComponent) Name() string { return ComponentVault }

// Profiles implements ComponentSpec.
func (vaultComponent) Profiles() []string { return []string{"weekly", "pre-upgrade"} }

// Storage implements ComponentSpec: Vault serves both modes.
func (vaultComponent) Storage() string { return "" }

// Retention implements ComponentSpec.
func (vaultComponent) Retention() time.Duration { return 90 * day }

// Objectives implements ComponentSpec.
func (vaultComponent) Objectives() Objectives {
	return Objectives{RTO: RTOVault, RPO: 7 * 24 * time.Hour}
}

// Backup implements ComponentSpec: the KV secrets at o.VaultPaths, read
// through the API and encrypted in memory.
func (vaultComponent) Backup(ctx context.Context, o *RunOptions, c *Component, sink ArtifactSink) error {
	if o.Vault == nil || len(o.VaultPaths) == 0 {
		return errNotConfigured
	}
	return sink.Artifact("vault_secrets_"+sink.Stamp()+".json.age", false, "json", func(w io.Writer) error {
		res, err := ExportVault(ctx, o.Vault, o.VaultPaths, w)
		if err != nil {
			return err
		}
		vaultComponentMeta(c, res)
		return nil
	})
}

// DeepVerify implements ComponentSpec: the export is decrypted and parsed
// in memory, never written anywhere.
func (vaultComponent) DeepVerify(_ context.Context, o DeepVerifyOptions, c *Component) (string, error) {
	doc, err := loadVaultExport(o.Root, o.Manifest, o.Keys)
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("%d paths, %d keys decrypted in memory", len(doc.Secrets), c.Counts["keys"]), nil
}

// Restore implements ComponentSpec: every path is written back and read
// back (RestoreVault).
func (vaultComponent) Restore(ctx context.Context, o RestoreOptions) (string, error) {
	ch, err := RestoreVault(ctx, VaultRestoreOptions{Root: o.Root, Manifest: o.Manifest, Keys: o.Keys, KV: o.Vault, NotFound: o.VaultNotFound})
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("%d paths written and read back", len(ch)), nil
}
