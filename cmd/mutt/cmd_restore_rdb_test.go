package main

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/mutt-go/mutt/internal/itest"
)

// aofRedisServer starts a daemonized redis-server with appendonly yes from a
// config file in its own directory on a free loopback port, and returns a
// client and the commands that stop and start it. It is shut down (by its
// pid if need be) when the test ends; the machine's Redis is never used.
func aofRedisServer(t *testing.T) (rdb *redis.Client, dir, stopCmd, startCmd string) {
	t.Helper()
	server, err := exec.LookPath("redis-server")
	if err != nil {
		t.Skipf("redis-server not in PATH: %v", err)
	}
	cli, err := exec.LookPath("redis-cli")
	if err != nil {
		t.Skipf("redis-cli not in PATH: %v", err)
	}
	dir = t.TempDir()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	conf := filepath.Join(dir, "redis.conf")
	pidfile := filepath.Join(dir, "redis.pid")
	body := fmt.Sprintf("port %d\nbind 127.0.0.1\ndir %s\ndaemonize yes\npidfile %s\nlogfile %s\nsave \"\"\nappendonly yes\n",
		port, dir, pidfile, filepath.Join(dir, "redis.log"))
	if err := os.WriteFile(conf, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	rdb = redis.NewClient(&redis.Options{Addr: net.JoinHostPort("127.0.0.1", strconv.Itoa(port))})
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = rdb.ShutdownNoSave(ctx).Err()
		rdb.Close()
		if b, err := os.ReadFile(pidfile); err == nil {
			if pid, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil {
				_ = syscall.Kill(pid, syscall.SIGKILL)
			}
		}
	})
	if out, err := exec.Command(server, conf).CombinedOutput(); err != nil {
		t.Fatalf("starting redis-server: %v: %s", err, out)
	}
	itest.Eventually(t, 15*time.Second, "private redis-server answers PING", func() bool {
		return rdb.Ping(t.Context()).Err() == nil
	})
	return rdb, dir, cli + " -p " + strconv.Itoa(port) + " shutdown", server + " " + conf
}

func TestRestoreRedisFull(t *testing.T) {
	newBackupEnv(t)
	rdb, dir, stopCmd, startCmd := aofRedisServer(t)
	ctx := t.Context()
	t.Setenv("REDIS_URL", "redis://"+rdb.Options().Addr)
	t.Setenv("MUTT_KEY_PREFIX", "mutt")
	t.Setenv("MUTT_BACKUP_REDIS_STOP_CMD", stopCmd)
	t.Setenv("MUTT_BACKUP_REDIS_START_CMD", startCmd)
	t.Setenv("MUTT_BACKUP_REDIS_DIR", "")

	for k, v := range map[string]string{"mutt:config:level": "info", "mutt:config:threshold": "900", "mutt:unhandled:r1:x": "3"} {
		if err := rdb.Set(ctx, k, v, 0).Err(); err != nil {
			t.Fatal(err)
		}
	}
	if err := rdb.XAdd(ctx, &redis.XAddArgs{Stream: "mutt:dlq:moog", Values: []string{"payload", "a"}}).Err(); err != nil {
		t.Fatal(err)
	}
	keys := []string{"mutt:config:level", "mutt:config:threshold", "mutt:unhandled:r1:x", "mutt:dlq:moog"}
	dumps := func() map[string]string {
		out := map[string]string{}
		for _, k := range keys {
			out[k], _ = rdb.Dump(ctx, k).Result()
		}
		return out
	}
	want := dumps()

	out := mustRun(t, "backup", "run", "--components", "redis")
	id := regexp.MustCompile(`set (\S+): complete`).FindStringSubmatch(out)
	if id == nil {
		t.Fatalf("no set id in:\n%s", out)
	}
	if err := rdb.Set(ctx, "mutt:config:level", "debug", 0).Err(); err != nil {
		t.Fatal(err)
	}
	if err := rdb.Del(ctx, "mutt:dlq:moog").Err(); err != nil {
		t.Fatal(err)
	}

	code, _, errOut := runBackupCmd(t, "restore", "redis", id[1], "--full", "--mode", "replace", "--yes")
	if code != exitUsage || !strings.Contains(errOut, "full") {
		t.Fatalf("--full with --mode: exit %d, %s", code, errOut)
	}
	out = mustRun(t, "restore", "redis", id[1], "--full", "--yes")
	for _, s := range []string{"RTO: redis", "previous file kept as " + filepath.Join(dir, "appendonlydir.pre-restore-"), "holds 4 keys"} {
		if !strings.Contains(out, s) {
			t.Errorf("output lacks %q:\n%s", s, out)
		}
	}
	got := dumps()
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s differs after the full restore", k)
		}
	}
	if v, _ := rdb.ConfigGet(ctx, "appendonly").Result(); v["appendonly"] != "yes" {
		t.Errorf("appendonly after restore: %v", v)
	}
}

func TestBackupRunPrometheus(t *testing.T) {
	newBackupEnv(t)
	data := t.TempDir()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || r.URL.Path != "/api/v1/admin/tsdb/snapshot" {
			http.NotFound(w, r)
			return
		}
		block := filepath.Join(data, "snapshots", "snap1", "01HBLOCK")
		if err := os.MkdirAll(block, 0o755); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		_ = os.WriteFile(filepath.Join(block, "meta.json"), []byte("{}"), 0o644)
		fmt.Fprint(w, `{"status":"success","data":{"name":"snap1"}}`)
	}))
	defer srv.Close()
	t.Setenv("MUTT_BACKUP_PROMETHEUS_URL", srv.URL)
	t.Setenv("MUTT_BACKUP_PROMETHEUS_DATA_DIR", data)
	out := mustRun(t, "backup", "run", "--components", "prometheus")
	if !strings.Contains(out, "prometheus ok") || !strings.Contains(out, "complete") {
		t.Fatalf("output:\n%s", out)
	}
	if _, err := os.Stat(filepath.Join(data, "snapshots", "snap1")); !os.IsNotExist(err) {
		t.Fatalf("snapshot directory left behind: %v", err)
	}
	t.Setenv("MUTT_BACKUP_PROMETHEUS_URL", "")
	code, out, _ := runBackupCmd(t, "backup", "run", "--components", "prometheus")
	if code != exitFailure || !strings.Contains(out, "not configured") {
		t.Fatalf("unconfigured: exit %d\n%s", code, out)
	}
}
