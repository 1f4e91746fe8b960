package backup

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/mutt-go/mutt/internal/itest"
	"github.com/mutt-go/mutt/internal/store"
)

func TestParseConfigPaths(t *testing.T) {
	tests := []struct {
		in      string
		want    []ConfigPath
		wantErr bool
	}{
		{"", nil, false},
		{"/etc/mutt:required, /etc/x.yml ,,/etc/y:optional", []ConfigPath{{"/etc/mutt", true}, {"/etc/x.yml", false}, {"/etc/y", false}}, false},
		{"/etc/systemd/system/mutt-*.service", []ConfigPath{{"/etc/systemd/system/mutt-*.service", false}}, false},
		{"etc/mutt", nil, true},
		{"/etc/[", nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseConfigPaths(tt.in)
			if (err != nil) != tt.wantErr || !slices.Equal(got, tt.want) {
				t.Errorf("ParseConfigPaths(%q) = %v, %v; want %v", tt.in, got, err, tt.want)
			}
		})
	}
	if d := DefaultConfigPaths(); len(d) == 0 || d[0].Path != "/etc/mutt" {
		t.Errorf("DefaultConfigPaths() = %v", d)
	}
}

func TestRunConfigRequiredMissing(t *testing.T) {
	root, dir := t.TempDir(), t.TempDir()
	m, err := Run(t.Context(), RunOptions{
		Root: root, Keys: recipientKeys(t), Components: []string{ComponentConfig, ComponentLogs, ComponentVault},
		Config: &ConfigSource{Paths: []ConfigPath{{Path: filepath.Join(dir, "missing.env"), Required: true}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	c := m.Component(ComponentConfig)
	if c.Status != StatusFailed || !strings.Contains(c.Reason, "missing.env") {
		t.Errorf("config = %+v", c)
	}
	for _, n := range []string{ComponentLogs, ComponentVault} {
		if c := m.Component(n); c.Status != StatusSkipped || c.Reason != reasonNotConfigured {
			t.Errorf("%s = %+v", n, c)
		}
	}
	noPartials(t, root)
}

func TestRestoreConfigAndDynamicConfig(t *testing.T) {
	ctx := t.Context()
	pool, _ := itest.Pool(t)
	if err := store.Migrate(ctx, pool, nil); err != nil {
		t.Fatal(err)
	}
	rdb, prefix := itest.Redis(t)
	cp := prefix + ":config"
	for k, v := range map[string]string{"a": "1", "b": "2"} {
		if err := rdb.Set(ctx, cp+":"+k, v, 0).Err(); err != nil {
			t.Fatal(err)
		}
	}
	src := t.TempDir()
	writeTree(t, filepath.Join(src, "mutt", "mutt.env"), "A=1\n", 0o600)
	writeTree(t, filepath.Join(src, "mutt", "units", "mutt-web.service"), "[Unit]\n", 0o644)
	root, keys := t.TempDir(), recipientKeys(t)
	m, err := Run(ctx, RunOptions{
		Root: root, Keys: keys, Components: []string{ComponentConfig},
		Config: &ConfigSource{Paths: []ConfigPath{{Path: filepath.Join(src, "mutt"), Required: true}}, Redis: rdb, Prefix: cp},
	})
	if err != nil || m.Status != SetComplete {
		t.Fatalf("Run: %v %+v", err, m)
	}

	// Live state drifts: a value changes, a key appears, a file changes.
	rdb.Set(ctx, cp+":a", "changed", 0)
	rdb.Set(ctx, cp+":extra", "x", 0)
	writeFile(t, filepath.Join(src, "mutt", "mutt.env"), "A=2\n", 0o600)

	t.Run("files subset with kept previous version", func(t *testing.T) {
		res, err := RestoreConfigFiles(ctx, ConfigRestoreOptions{Root: root, Manifest: m, Keys: keys, Files: "*.env"})
		if err != nil {
			t.Fatal(err)
		}
		env := filepath.Join(src, "mutt", "mutt.env")
		if !slices.Equal(res.Changed, []string{env}) || len(res.Added) != 0 || len(res.Kept) != 1 {
			t.Fatalf("result %+v", res)
		}
		if b, _ := os.ReadFile(env); string(b) != "A=1\n" {
			t.Errorf("restored content %q", b)
		}
		if b, _ := os.ReadFile(res.Kept[0]); string(b) != "A=2\n" {
			t.Errorf("kept content %q", b)
		}
	})
	t.Run("into a target dir", func(t *testing.T) {
		target := t.TempDir()
		res, err := RestoreConfigFiles(ctx, ConfigRestoreOptions{Root: root, Manifest: m, Keys: keys, TargetDir: target})
		if err != nil || len(res.Added) != 2 {
			t.Fatalf("%+v, %v", res, err)
		}
		if err := checkRestoredFiles(m.Component(ComponentConfig), target); err != nil {
			t.Error(err)
		}
	})
	t.Run("dynamic config with prune", func(t *testing.T) {
		sub := rdb.Subscribe(ctx, cp+":updates")
		defer sub.Close()
		if _, err := sub.Receive(ctx); err != nil {
			t.Fatal(err)
		}
		res, err := RestoreDynamicConfig(ctx, DynamicConfigRestoreOptions{Root: root, Manifest: m, Keys: keys, Redis: rdb, Prefix: cp, Prune: true, Auditor: store.New(pool)})
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(res.Set, []string{"a"}) || !slices.Equal(res.Unchanged, []string{"b"}) || !slices.Equal(res.Deleted, []string{"extra"}) || res.Audited != 2 {
			t.Errorf("result %+v", res)
		}
		if v, _ := rdb.Get(ctx, cp+":a").Result(); v != "1" {
			t.Errorf("a = %q", v)
		}
		if n, _ := rdb.Exists(ctx, cp+":extra").Result(); n != 0 {
			t.Error("extra not pruned")
		}
		var published []string
		for range 3 {
			msg, err := sub.ReceiveMessage(ctx)
			if err != nil {
				t.Fatal(err)
			}
			published = append(published, msg.Payload)
		}
		slices.Sort(published)
		if !slices.Equal(published, []string{"a", "b", "extra"}) {
			t.Errorf("published %v", published)
		}
		var by, ops string
		err = pool.QueryRow(context.Background(), `SELECT min(changed_by), string_agg(operation, ',' ORDER BY operation) FROM config_audit_log WHERE table_name = 'dynamic_config'`).Scan(&by, &ops)
		if err != nil || by != "restore:"+m.SetID || ops != "DELETE,UPDATE" {
			t.Errorf("audit rows: %q %q %v", by, ops, err)
		}
	})
}

func TestRestoreVaultMerge(t *testing.T) {
	ctx := t.Context()
	kv := newMemVault(map[string]map[string]any{"mutt/prod": {"A": "1", "B": "2"}})
	root, keys := t.TempDir(), recipientKeys(t)
	m, err := Run(ctx, RunOptions{Root: root, Keys: keys, Components: []string{ComponentVault}, Vault: kv, VaultPaths: []string{"secret/../mutt/prod"}})
	if err == nil && m.Status == SetComplete {
		t.Fatalf("a path with no secret must fail the component: %+v", m)
	}
	m, err = Run(ctx, RunOptions{Root: root, Keys: keys, Components: []string{ComponentVault}, Vault: kv, VaultPaths: []string{"mutt/prod"}})
	if err != nil || m.Status != SetComplete {
		t.Fatalf("Run: %v %+v", err, m)
	}
	kv.secrets["mutt/prod"] = map[string]any{"A": "changed", "C": "3"}
	ch, err := RestoreVault(ctx, VaultRestoreOptions{Root: root, Manifest: m, Keys: keys, KV: kv, Merge: true})
	if err != nil {
		t.Fatal(err)
	}
	if got := kv.secrets["mutt/prod"]; got["A"] != "1" || got["B"] != "2" || got["C"] != "3" {
		t.Errorf("merged secret %v", got)
	}
	if len(ch) != 1 || !slices.Equal(ch[0].Changed, []string{"A"}) || !slices.Equal(ch[0].Added, []string{"B"}) || !slices.Equal(ch[0].Kept, []string{"C"}) {
		t.Errorf("changes %+v", ch)
	}
	if _, err := RestoreVault(ctx, VaultRestoreOptions{Root: root, Manifest: m, Keys: keys, KV: kv}); err != nil {
		t.Fatal(err)
	}
	if got := kv.secrets["mutt/prod"]; len(got) != 2 {
		t.Errorf("replace kept extra keys: %v", got)
	}
}

func TestWriteLogArchive(t *testing.T) {
	dir := t.TempDir()
	writeTree(t, filepath.Join(dir, "a.log"), "one\n", 0o640)
	writeTree(t, filepath.Join(dir, "sub", "b.log.1"), "two\n", 0o640)
	var buf strings.Builder
	res, err := WriteLogArchive(t.Context(), dir, &buf)
	if err != nil || res.Files != 2 || res.Bytes != 8 {
		t.Fatalf("WriteLogArchive = %+v, %v", res, err)
	}
	files, n, names, err := countTar(strings.NewReader(buf.String()))
	if err != nil || files != 2 || n != 8 || !slices.Equal(names, []string{"a.log", "sub/b.log.1"}) {
		t.Errorf("countTar = %d %d %v %v", files, n, names, err)
	}
	if _, err := WriteLogArchive(t.Context(), filepath.Join(dir, "nope"), &buf); err == nil {
		t.Error("missing directory accepted")
	}
}

// configSet backs up a config tree (a directory, a file in it and a
// subdirectory with a file) and returns the set and the source directory.
func configSet(t *testing.T) (root string, keys *Keys, m *Manifest, src string) {
	t.Helper()
	src = t.TempDir()
	writeTree(t, filepath.Join(src, "mutt", "a.env"), "A=1\n", 0o600)
	writeTree(t, filepath.Join(src, "mutt", "b.env"), "B=1\n", 0o600)
	writeTree(t, filepath.Join(src, "mutt", "units", "mutt-web.service"), "[Unit]\n", 0o644)
	root, keys = t.TempDir(), recipientKeys(t)
	m, err := Run(t.Context(), RunOptions{
		Root: root, Keys: keys, Components: []string{ComponentConfig},
		Config: &ConfigSource{Paths: []ConfigPath{{Path: filepath.Join(src, "mutt"), Required: true}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if c := m.Component(ComponentConfig); c.Status != StatusOK {
		t.Fatalf("config component: %s %q", c.Status, c.Reason)
	}
	return root, keys, m, src
}

// replaceConfigArchive re-encrypts the config archive's plaintext as edited
// by edit and points the manifest at it, keeping the recorded plaintext
// size and SHA-256: the ciphertext checks pass, the archive is only found
// bad while (or after) it is read.
func replaceConfigArchive(t *testing.T, root string, keys *Keys, m *Manifest, edit func([]byte) []byte) {
	t.Helper()
	c := m.Component(ComponentConfig)
	a := c.Artifacts[0]
	r, err := OpenArtifact(root, a, keys)
	if err != nil {
		t.Fatal(err)
	}
	plain, err := io.ReadAll(r)
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	w, err := CreateArtifact(root, a.Path+".edited.age", keys, a.Compressed)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write(edit(plain)); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	edited := w.Info()
	edited.PlainBytes, edited.PlainSHA256, edited.Format = a.PlainBytes, a.PlainSHA256, a.Format
	c.Artifacts[0] = edited
}

func TestRestoreConfigFilesBadArchiveWritesNothing(t *testing.T) {
	tests := []struct {
		name string
		edit func([]byte) []byte
	}{
		// The end-of-archive blocks and part of the last entry's data
		// block are cut: every entry before reaches the callback.
		{"truncated", func(b []byte) []byte { return b[:len(b)-1024-300] }},
		// Every entry reads fine; only the plaintext checksum differs.
		{"one byte changed", func(b []byte) []byte {
			i := strings.Index(string(b), "B=1")
			out := slices.Clone(b)
			out[i+2] = '2'
			return out
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root, keys, m, _ := configSet(t)
			replaceConfigArchive(t, root, keys, m, tt.edit)
			target := t.TempDir()
			res, err := RestoreConfigFiles(t.Context(), ConfigRestoreOptions{Root: root, Manifest: m, Keys: keys, TargetDir: target})
			if err == nil {
				t.Fatalf("restore from a bad archive succeeded: %+v", res)
			}
			if !strings.Contains(err.Error(), "nothing was written") {
				t.Errorf("err = %v, want it to say nothing was written", err)
			}
			if len(res.Added) != 0 || len(res.Changed) != 0 || len(res.Kept) != 0 {
				t.Errorf("result lists files although nothing was restored: %+v", res)
			}
			entries, err := os.ReadDir(target)
			if err != nil {
				t.Fatal(err)
			}
			if len(entries) != 0 {
				var names []string
				for _, e := range entries {
					names = append(names, e.Name())
				}
				t.Fatalf("a bad archive created %v under the target directory", names)
			}
		})
	}
}

func TestRestoreConfigFilesInstallFailsPartWay(t *testing.T) {
	root, keys, m, src := configSet(t)
	target := t.TempDir()
	dir := filepath.Join(target, filepath.FromSlash(strings.TrimPrefix(filepath.ToSlash(src), "/")), "mutt")
	a, b, unit := filepath.Join(dir, "a.env"), filepath.Join(dir, "b.env"), filepath.Join(dir, "units", "mutt-web.service")
	writeTree(t, a, "A=old\n", 0o600)
	// b.env is a non-empty directory on disk: it cannot be kept aside (no
	// hard links to directories) nor replaced, even by root.
	writeTree(t, filepath.Join(b, "inside"), "x", 0o600)

	res, err := RestoreConfigFiles(t.Context(), ConfigRestoreOptions{Root: root, Manifest: m, Keys: keys, TargetDir: target})
	if err == nil {
		t.Fatalf("restore over a directory succeeded: %+v", res)
	}
	msg := err.Error()
	if !strings.Contains(msg, b+": not installed") || !strings.Contains(msg, "1 of 3 files were installed and stay: "+a) {
		t.Errorf("err = %v, want it to name %s as not installed and %s as installed", err, b, a)
	}
	// a.env comes before b.env in the archive and was installed; the unit
	// file after it was not.
	if !slices.Equal(res.Changed, []string{a}) || len(res.Added) != 0 || len(res.Kept) != 1 {
		t.Fatalf("result %+v, want only %s changed with one kept copy", res, a)
	}
	if got, _ := os.ReadFile(a); string(got) != "A=1\n" {
		t.Errorf("a.env = %q", got)
	}
	if got, _ := os.ReadFile(res.Kept[0]); string(got) != "A=old\n" {
		t.Errorf("kept copy of a.env = %q", got)
	}
	if _, err := os.Lstat(unit); err == nil {
		t.Errorf("%s was installed after the failure", unit)
	}
	if fi, err := os.Stat(b); err != nil || !fi.IsDir() {
		t.Errorf("b.env was changed: %v %v", fi, err)
	}
	// No staged temporary file or stray kept copy is left behind.
	err = filepath.Walk(target, func(p string, fi os.FileInfo, err error) error {
		if err == nil && (strings.HasPrefix(fi.Name(), ".mutt-restore-") || strings.HasPrefix(fi.Name(), "b.env.pre-restore-")) {
			t.Errorf("left behind: %s", p)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
}
