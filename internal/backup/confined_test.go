package backup

import (
	"archive/tar"
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// tarEntry is one entry of a crafted config archive.
type tarEntry struct {
	name string
	kind byte
	body string
	link string
	mode int64
}

// craftedConfigSet returns a config set whose archive holds exactly the
// given entries, with a manifest that matches it: what an attacker who can
// place sets in the backup root (or a compromised backup host) hands to a
// restore.
func craftedConfigSet(t *testing.T, entries ...tarEntry) (root string, keys *Keys, m *Manifest) {
	t.Helper()
	root, keys, m, _ = configSet(t)
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range entries {
		mode := e.mode
		if mode == 0 {
			mode = 0o644
		}
		hdr := &tar.Header{Name: e.name, Typeflag: e.kind, Linkname: e.link, Mode: mode, Size: int64(len(e.body)), ModTime: time.Unix(1700000000, 0), Format: tar.FormatPAX}
		if e.kind != tar.TypeReg {
			hdr.Size = 0
		}
		if err := tw.WriteHeader(hdr); err != nil {
			t.Fatal(err)
		}
		if e.kind == tar.TypeReg {
			if _, err := tw.Write([]byte(e.body)); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	c := m.Component(ComponentConfig)
	a := c.Artifacts[0]
	w, err := CreateArtifact(root, a.Path+".crafted.age", keys, a.Compressed)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write(buf.Bytes()); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	info := w.Info()
	info.Format = a.Format
	c.Artifacts[0] = info
	return root, keys, m
}

// treeOf lists every path below dir with its mode, for before/after
// comparisons.
func treeOf(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	err := filepath.Walk(dir, func(p string, fi os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		out = append(out, p+" "+fi.Mode().String())
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestRestoreConfigFilesRefusesEscapes(t *testing.T) {
	tests := []struct {
		name    string
		prepare func(t *testing.T, target, outside string)
		entries func(outside string) []tarEntry
		want    string
	}{
		{
			name: "link then file through it in one archive",
			entries: func(outside string) []tarEntry {
				return []tarEntry{
					{name: "lnk", kind: tar.TypeSymlink, link: outside},
					{name: "lnk/evil", kind: tar.TypeReg, body: "pwned"},
				}
			},
			want: `lies below "lnk"`,
		},
		{
			name: "file before the link it would need",
			entries: func(outside string) []tarEntry {
				return []tarEntry{
					{name: "lnk/evil", kind: tar.TypeReg, body: "pwned"},
					{name: "lnk", kind: tar.TypeSymlink, link: outside},
				}
			},
			want: "other entries lie below it",
		},
		{
			name: "file through a link already in the target",
			prepare: func(t *testing.T, target, outside string) {
				if err := os.Symlink(outside, filepath.Join(target, "lnk")); err != nil {
					t.Fatal(err)
				}
			},
			entries: func(string) []tarEntry {
				return []tarEntry{{name: "lnk/evil", kind: tar.TypeReg, body: "pwned"}}
			},
			want: "never writes through one",
		},
		{
			name: "directory entry over a link already in the target",
			prepare: func(t *testing.T, target, outside string) {
				if err := os.Symlink(outside, filepath.Join(target, "lnk")); err != nil {
					t.Fatal(err)
				}
			},
			entries: func(string) []tarEntry {
				return []tarEntry{{name: "lnk/", kind: tar.TypeDir, mode: 0o777}}
			},
			want: "never writes through one",
		},
		{
			name: "link deeper in an existing path",
			prepare: func(t *testing.T, target, outside string) {
				if err := os.MkdirAll(filepath.Join(target, "etc"), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.Symlink(outside, filepath.Join(target, "etc", "mutt")); err != nil {
					t.Fatal(err)
				}
			},
			entries: func(string) []tarEntry {
				return []tarEntry{
					{name: "etc/", kind: tar.TypeDir, mode: 0o755},
					{name: "etc/mutt/", kind: tar.TypeDir, mode: 0o777},
					{name: "etc/mutt/mutt.env", kind: tar.TypeReg, body: "X=1"},
				}
			},
			want: "never writes through one",
		},
		{
			name: "dot-dot name",
			entries: func(string) []tarEntry {
				return []tarEntry{{name: "a/../../evil", kind: tar.TypeReg, body: "pwned"}}
			},
			want: "escapes the target directory",
		},
		{
			name: "absolute name",
			entries: func(outside string) []tarEntry {
				return []tarEntry{{name: filepath.Join(outside, "evil"), kind: tar.TypeReg, body: "pwned"}}
			},
			want: "escapes the target directory",
		},
		{
			name: "hard link out of the target",
			entries: func(outside string) []tarEntry {
				return []tarEntry{
					{name: "ok/", kind: tar.TypeDir},
					{name: "ok/hl", kind: tar.TypeLink, link: filepath.Join(outside, "secret")},
				}
			},
			want: "is a hard link",
		},
		{
			name: "relative hard link",
			entries: func(string) []tarEntry {
				return []tarEntry{{name: "hl", kind: tar.TypeLink, link: "../../secret"}}
			},
			want: "is a hard link",
		},
		{
			name: "device node",
			entries: func(string) []tarEntry {
				return []tarEntry{{name: "dev", kind: tar.TypeChar}}
			},
			want: "holds only directories, files and symbolic links",
		},
		{
			name: "same name twice",
			entries: func(outside string) []tarEntry {
				return []tarEntry{
					{name: "x/", kind: tar.TypeDir},
					{name: "x", kind: tar.TypeSymlink, link: outside},
				}
			},
			want: "appears twice",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			outside := t.TempDir()
			writeFile(t, filepath.Join(outside, "secret"), "s3cret", 0o600)
			if err := os.Chmod(outside, 0o750); err != nil {
				t.Fatal(err)
			}
			// The target does not exist yet for half of the cases: a
			// refused restore must not create it either.
			parent := t.TempDir()
			target := filepath.Join(parent, "target")
			if tt.prepare != nil {
				if err := os.Mkdir(target, 0o755); err != nil {
					t.Fatal(err)
				}
				tt.prepare(t, target, outside)
			}
			root, keys, m := craftedConfigSet(t, tt.entries(outside)...)
			beforeOut, beforeParent := treeOf(t, outside), treeOf(t, parent)
			for _, dry := range []bool{true, false} {
				res, err := RestoreConfigFiles(t.Context(), ConfigRestoreOptions{Root: root, Manifest: m, Keys: keys, TargetDir: target, DryRun: dry})
				if err == nil {
					t.Fatalf("dry run %v: crafted archive restored: %+v", dry, res)
				}
				if !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), "nothing was written") {
					t.Errorf("dry run %v: err = %v, want it to contain %q and say nothing was written", dry, err, tt.want)
				}
				if len(res.Added)+len(res.Changed)+len(res.Kept) != 0 {
					t.Errorf("dry run %v: result lists files: %+v", dry, res)
				}
			}
			if after := treeOf(t, outside); !slices.Equal(after, beforeOut) {
				t.Errorf("outside changed:\nbefore %v\nafter  %v", beforeOut, after)
			}
			if after := treeOf(t, parent); !slices.Equal(after, beforeParent) {
				t.Errorf("target changed:\nbefore %v\nafter  %v", beforeParent, after)
			}
		})
	}
}

// TestRestoreConfigFilesLinkFromEarlierSet is the two-set attack: set A
// holds a link to a directory outside the target, which a restore may
// create; set B then holds a file and a directory entry below that link,
// which must be refused without touching the outside directory.
func TestRestoreConfigFilesLinkFromEarlierSet(t *testing.T) {
	outside := t.TempDir()
	if err := os.Chmod(outside, 0o750); err != nil {
		t.Fatal(err)
	}
	target := t.TempDir()
	rootA, keysA, setA := craftedConfigSet(t, tarEntry{name: "lnk", kind: tar.TypeSymlink, link: outside})
	res, err := RestoreConfigFiles(t.Context(), ConfigRestoreOptions{Root: rootA, Manifest: setA, Keys: keysA, TargetDir: target})
	if err != nil {
		t.Fatalf("restoring set A: %v", err)
	}
	lnk := filepath.Join(target, "lnk")
	if got, err := os.Readlink(lnk); err != nil || got != outside || !slices.Equal(res.Added, []string{lnk}) {
		t.Fatalf("set A: link %q (%v), result %+v; want %s -> %s added", got, err, res, lnk, outside)
	}

	rootB, keysB, setB := craftedConfigSet(t,
		tarEntry{name: "lnk/", kind: tar.TypeDir, mode: 0o777},
		tarEntry{name: "lnk/evil", kind: tar.TypeReg, body: "pwned"},
	)
	beforeOut, beforeTarget := treeOf(t, outside), treeOf(t, target)
	if res, err := RestoreConfigFiles(t.Context(), ConfigRestoreOptions{Root: rootB, Manifest: setB, Keys: keysB, TargetDir: target}); err == nil {
		t.Fatalf("set B restored through the link: %+v", res)
	} else if !strings.Contains(err.Error(), "never writes through one") {
		t.Errorf("set B: err = %v, want it to say a restore never writes through a link", err)
	}
	if _, err := os.Lstat(filepath.Join(outside, "evil")); err == nil {
		t.Error("set B created a file outside the target")
	}
	if after := treeOf(t, outside); !slices.Equal(after, beforeOut) {
		t.Errorf("outside changed (mode or content):\nbefore %v\nafter  %v", beforeOut, after)
	}
	if after := treeOf(t, target); !slices.Equal(after, beforeTarget) {
		t.Errorf("target changed:\nbefore %v\nafter  %v", beforeTarget, after)
	}
}

// TestRestoreConfigFilesFailureRemovesCreatedDirs makes the first file's
// installation fail (a non-empty directory where it goes): no file is
// installed, and the directory the restore created for a later file is
// removed again instead of staying behind empty.
func TestRestoreConfigFilesFailureRemovesCreatedDirs(t *testing.T) {
	root, keys, m, src := configSet(t)
	target := t.TempDir()
	dir := filepath.Join(target, filepath.FromSlash(strings.TrimPrefix(filepath.ToSlash(src), "/")), "mutt")
	writeTree(t, filepath.Join(dir, "a.env", "inside"), "x", 0o600)
	before := treeOf(t, target)
	res, err := RestoreConfigFiles(t.Context(), ConfigRestoreOptions{Root: root, Manifest: m, Keys: keys, TargetDir: target})
	if err == nil {
		t.Fatalf("restore over a directory succeeded: %+v", res)
	}
	if !strings.Contains(err.Error(), "none of the 3 files was installed") {
		t.Errorf("err = %v, want it to say no file was installed", err)
	}
	if after := treeOf(t, target); !slices.Equal(after, before) {
		t.Errorf("a failed restore left things behind:\nbefore %v\nafter  %v", before, after)
	}
}
