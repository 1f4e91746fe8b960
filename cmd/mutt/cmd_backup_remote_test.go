package main

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"filippo.io/age"
	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"

	"github.com/mutt-go/mutt/internal/backup"
)

// remoteTestEnv points the backup commands at a fresh root holding one
// encrypted set, and returns the root and the set.
func remoteTestEnv(t *testing.T) (string, *backup.Manifest) {
	t.Helper()
	dir := t.TempDir()
	id, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	recipients := filepath.Join(dir, "recipients")
	if err := os.WriteFile(recipients, []byte(id.Recipient().String()+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	keys, err := backup.LoadKeys(recipients, "", "")
	if err != nil {
		t.Fatal(err)
	}
	root := filepath.Join(dir, "root")
	at := time.Now().UTC().Add(-time.Hour).Truncate(time.Second)
	m := &backup.Manifest{
		Format: backup.ManifestFormat, SetID: backup.NewSetID(at, "test-host", "redis"), Profile: "redis",
		Host: "test-host", StartedAt: at, FinishedAt: at, Status: backup.SetComplete, Encryption: keys.Encryption(),
	}
	rel := backup.ArtifactDir(backup.ComponentRedis, m.SetID, at) + "/redis_keys_" + at.Format(backup.StampFormat) + ".jsonl.zst.age"
	w, err := backup.CreateArtifact(root, rel, keys, true)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write([]byte(strings.Repeat(`{"key":"mutt:config:x"}`+"\n", 500))); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	m.Components = []backup.Component{{Name: backup.ComponentRedis, Status: backup.StatusOK, Artifacts: []backup.ArtifactInfo{w.Info()},
		Verify: &backup.Verify{Level: backup.VerifyQuick, Status: backup.StatusOK, At: at}}}
	if _, err := backup.WriteManifest(root, m); err != nil {
		t.Fatal(err)
	}
	t.Setenv("MUTT_CONFIG", "")
	t.Setenv("MUTT_BACKUP_ROOT", root)
	t.Setenv("MUTT_BACKUP_RECIPIENTS_FILE", recipients)
	t.Setenv("MUTT_BACKUP_PASSPHRASE_FILE", "")
	t.Setenv("MUTT_BACKUP_IDENTITY_FILE", "")
	t.Setenv("MUTT_BACKUP_METRICS_FILE", filepath.Join(dir, "metrics.prom"))
	t.Setenv("MUTT_BACKUP_REMOTES", "")
	for _, c := range []string{"POSTGRES", "REDIS"} {
		t.Setenv("MUTT_BACKUP_REMOTE_RETENTION_"+c, "")
		t.Setenv("MUTT_BACKUP_REMOTE_TRANSITION_"+c, "")
	}
	return root, m
}

// remoteTestS3 serves a gofakes3 bucket with the lifecycle API added and
// points the S3 settings at it.
func remoteTestS3(t *testing.T) string {
	t.Helper()
	be := s3mem.New()
	if err := be.CreateBucket("mutt-backups-test"); err != nil {
		t.Fatal(err)
	}
	inner := gofakes3.New(be, gofakes3.WithLogger(gofakes3.DiscardLog())).Server()
	var mu sync.Mutex
	var lc []byte
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, ok := r.URL.Query()["lifecycle"]; !ok {
			inner.ServeHTTP(w, r)
			return
		}
		mu.Lock()
		defer mu.Unlock()
		switch {
		case r.Method == http.MethodPut:
			lc, _ = io.ReadAll(r.Body)
		case r.Method == http.MethodGet && lc == nil:
			w.WriteHeader(http.StatusNotFound)
			io.WriteString(w, `<Error><Code>NoSuchLifecycleConfiguration</Code><Message>none</Message></Error>`)
		case r.Method == http.MethodGet:
			w.Write(lc)
		}
	}))
	t.Cleanup(srv.Close)
	t.Setenv("MUTT_BACKUP_S3_ENDPOINT", strings.TrimPrefix(srv.URL, "http://"))
	t.Setenv("MUTT_BACKUP_S3_INSECURE", "true")
	t.Setenv("MUTT_BACKUP_S3_REGION", "us-east-1")
	t.Setenv("MUTT_BACKUP_S3_STORAGE_CLASS", "")
	t.Setenv("AWS_ACCESS_KEY_ID", "test-access")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "secret-never-printed")
	t.Setenv("AWS_SESSION_TOKEN", "")
	return "s3://mutt-backups-test/prod"
}

func TestBackupSyncPull(t *testing.T) {
	for _, kind := range []string{"file", "s3"} {
		t.Run(kind, func(t *testing.T) {
			_, m := remoteTestEnv(t)
			target := "file://" + t.TempDir()
			if kind == "s3" {
				target = remoteTestS3(t)
			}
			t.Setenv("MUTT_BACKUP_REMOTES", target)
			code, out, errOut := runBackupCmd(t, "backup", "sync", "--json")
			if code != exitOK {
				t.Fatalf("sync exit %d\n%s\n%s", code, out, errOut)
			}
			var rs []backup.SyncResult
			if err := json.Unmarshal([]byte(out), &rs); err != nil {
				t.Fatalf("sync --json: %v\n%s", err, out)
			}
			if len(rs) != 1 || rs[0].Status != backup.StatusOK || rs[0].SetID != m.SetID || rs[0].Uploaded != 2 {
				t.Errorf("sync results = %+v", rs)
			}
			if strings.Contains(out+errOut, "secret-never-printed") {
				t.Error("sync printed the S3 secret")
			}
			code, out, _ = runBackupCmd(t, "backup", "sync")
			if code != exitOK || !strings.Contains(out, "1 sets needed no sync") {
				t.Errorf("second sync exit %d: %s", code, out)
			}
			code, out, _ = runBackupCmd(t, "backup", "sync", "--verify-remote")
			if code != exitOK || !strings.Contains(out, "synced  "+m.SetID) {
				t.Errorf("sync --verify-remote exit %d: %s", code, out)
			}

			empty := t.TempDir()
			code, out, errOut = runBackupCmd(t, "backup", "pull", "latest", "--from", target, "--host", hostName(), "--root", empty)
			if code != exitOK || !strings.Contains(out, "pulled "+m.SetID) {
				t.Fatalf("pull exit %d\n%s\n%s", code, out, errOut)
			}
			code, out, errOut = runBackupCmd(t, "backup", "verify", "--root", empty)
			if code != exitOK || !strings.Contains(out, m.SetID+": ok") {
				t.Errorf("verify of the pulled set: exit %d\n%s\n%s", code, out, errOut)
			}
		})
	}
}

func TestBackupPullTamperedFails(t *testing.T) {
	_, m := remoteTestEnv(t)
	nas := t.TempDir()
	target := "file://" + nas
	if code, out, errOut := runBackupCmd(t, "backup", "sync", "--remote", target); code != exitOK {
		t.Fatalf("sync exit %d\n%s\n%s", code, out, errOut)
	}
	a := m.Components[0].Artifacts[0]
	p := filepath.Join(nas, hostName(), filepath.FromSlash(a.Path))
	if err := os.WriteFile(p, make([]byte, a.Bytes), 0o600); err != nil {
		t.Fatal(err)
	}
	empty := t.TempDir()
	code, _, errOut := runBackupCmd(t, "backup", "pull", m.SetID, "--from", target, "--root", empty)
	if code != exitFailure || !strings.Contains(errOut, a.Path) {
		t.Errorf("pull of a tampered set: exit %d, stderr %q; want 1 naming %s", code, errOut, a.Path)
	}
	if ms, err := backup.ListManifests(empty); err != nil || len(ms) != 0 {
		t.Errorf("tampered pull left manifests: %v %v", ms, err)
	}
}

func TestBackupLifecycleCommands(t *testing.T) {
	remoteTestEnv(t)
	target := remoteTestS3(t)
	code, out, errOut := runBackupCmd(t, "backup", "lifecycle", "render", "--remote", target)
	if code != exitOK {
		t.Fatalf("render exit %d\n%s", code, errOut)
	}
	var cfg struct{ Rules []struct{ ID string } }
	if err := json.Unmarshal([]byte(out), &cfg); err != nil || len(cfg.Rules) != 10 {
		t.Fatalf("render output: %v, %d rules\n%s", err, len(cfg.Rules), out)
	}
	code, out, _ = runBackupCmd(t, "backup", "lifecycle", "check", "--remote", target)
	if code != exitFailure || !strings.Contains(out, "rule mutt/prod/postgres is missing") {
		t.Errorf("check of an empty bucket: exit %d\n%s", code, out)
	}
	if code, out, errOut = runBackupCmd(t, "backup", "lifecycle", "apply", "--remote", target, "--yes"); code != exitOK {
		t.Fatalf("apply exit %d\n%s\n%s", code, out, errOut)
	}
	if code, out, _ = runBackupCmd(t, "backup", "lifecycle", "check", "--remote", target); code != exitOK {
		t.Errorf("check after apply: exit %d\n%s", code, out)
	}
	t.Setenv("MUTT_BACKUP_REMOTE_RETENTION_REDIS", "10d")
	code, out, _ = runBackupCmd(t, "backup", "lifecycle", "check", "--remote", target, "--json")
	if code != exitFailure || !strings.Contains(out, `rule mutt/prod/redis: expiration is \"30 days\" in the bucket, \"10 days\" rendered`) {
		t.Errorf("check after a retention change: exit %d\n%s", code, out)
	}
}

func TestBackupRemoteRefusals(t *testing.T) {
	root, _ := remoteTestEnv(t)
	tests := []struct {
		name string
		env  map[string]string
		args []string
		want int
	}{
		{name: "sync without remotes", args: []string{"backup", "sync"}, want: exitUsage},
		{name: "sync to an unknown scheme", args: []string{"backup", "sync", "--remote", "rsync://x/y"}, want: exitUsage},
		{name: "pull without --from", args: []string{"backup", "pull", "latest"}, want: exitUsage},
		{name: "pull of a bad id", args: []string{"backup", "pull", "yesterday", "--from", "file:///tmp"}, want: exitUsage},
		{name: "lifecycle verb", args: []string{"backup", "lifecycle", "delete", "--remote", "s3://b/"}, want: exitUsage},
		{name: "lifecycle on a NAS", args: []string{"backup", "lifecycle", "render", "--remote", "file:///tmp"}, want: exitUsage},
		{name: "bad transition", env: map[string]string{"MUTT_BACKUP_REMOTE_TRANSITION_POSTGRES": "soon"},
			args: []string{"backup", "lifecycle", "render", "--remote", "s3://b/"}, want: exitUsage},
		{name: "half the credentials", env: map[string]string{"AWS_ACCESS_KEY_ID": "x", "AWS_SECRET_ACCESS_KEY": "", "AWS_SECRET_ACCESS_KEY_FILE": ""},
			args: []string{"backup", "sync", "--remote", "s3://b/"}, want: exitUsage},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for k, v := range tt.env {
				t.Setenv(k, v)
			}
			if code, out, errOut := runBackupCmd(t, tt.args...); code != tt.want {
				t.Errorf("exit %d, want %d\n%s\n%s", code, tt.want, out, errOut)
			}
		})
	}
	unlock, err := backup.Lock(root)
	if err != nil {
		t.Fatal(err)
	}
	defer unlock()
	if code, _, _ := runBackupCmd(t, "backup", "sync", "--remote", "file://"+t.TempDir()); code != exitLocked {
		t.Errorf("sync with the lock held: exit %d, want %d", code, exitLocked)
	}
}

func TestBackupRunSyncs(t *testing.T) {
	newBackupEnv(t)
	nas := t.TempDir()
	t.Setenv("MUTT_BACKUP_REMOTES", "file://"+nas)
	for _, tt := range []struct {
		name   string
		args   []string
		synced bool
	}{
		{name: "sync after run", args: []string{"backup", "run", "--components", "redis", "--json"}, synced: true},
		{name: "no sync", args: []string{"backup", "run", "--components", "redis", "--json", "--no-sync"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			code, out, errOut := runBackupCmd(t, tt.args...)
			if code != exitOK {
				t.Fatalf("exit %d\n%s\n%s", code, out, errOut)
			}
			var m backup.Manifest
			if err := json.Unmarshal([]byte(out), &m); err != nil {
				t.Fatalf("run --json: %v\n%s", err, out)
			}
			rel, err := backup.ManifestPath(m.SetID)
			if err != nil {
				t.Fatal(err)
			}
			_, statErr := os.Stat(filepath.Join(nas, hostName(), rel))
			if tt.synced {
				if len(m.Remotes) != 1 || m.Remotes[0].Status != backup.StatusOK || statErr != nil {
					t.Errorf("remotes = %+v, remote manifest: %v", m.Remotes, statErr)
				}
				if !strings.Contains(errOut, "synced  "+m.SetID) {
					t.Errorf("sync summary missing from stderr: %q", errOut)
				}
			} else if len(m.Remotes) != 0 || statErr == nil {
				t.Errorf("--no-sync synced: remotes %+v", m.Remotes)
			}
		})
	}
}
