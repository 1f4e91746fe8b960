package main

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
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

	"github.com/mutt-go/mutt/internal/fakemoog"
	"github.com/mutt-go/mutt/internal/itest"
	"github.com/mutt-go/mutt/internal/secrets/vaulttest"
)

// Secrets of the deployment TestServeLeaksNoSecret runs; none may appear in
// anything MUTT prints or serves.
const (
	leakRedisPW       = "redis-url-pw-0a1b2c3d4e"
	leakRedisNextPW   = "redis-next-pw-5f6a7b8c9d"
	leakRedisWrongPW  = "redis-wrong-pw-1e2f3a4b5c"
	leakPostgresPW    = "pg-url-pw-6d7e8f9a0b"
	leakVaultDBPW     = "vault-db-pw-1c2d3e4f5a"
	leakVaultDBNextPW = "vault-db-next-pw-6b7c8d9e0f"
	leakIngestKey     = "ingest-key-a1b2c3d4e5f6a7b8"
	leakIngestNextKey = "ingest-next-key-c9d0e1f2a3b4"
	leakWebKey        = "webui-key-d5e6f7a8b9c0d1e2"
	leakMoogKey       = "moog-key-f3a4b5c6d7e8f9a0"
	leakMoogURLPW     = "moog-url-pw-b1c2d3e4f5"
	leakPassphrase    = "backup-passphrase-a6b7c8d9e0"
)

// passwordRedis runs a redis-server of its own that requires leakRedisPW.
func passwordRedis(t *testing.T) string {
	t.Helper()
	port := strconv.Itoa(itest.FreePort(t))
	cmd := exec.Command("redis-server", "--port", port, "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
		"--dir", t.TempDir(), "--requirepass", leakRedisPW)
	if err := cmd.Start(); err != nil {
		t.Fatalf("redis-server: %v", err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	client := redis.NewClient(&redis.Options{Addr: "127.0.0.1:" + port, Password: leakRedisPW})
	defer client.Close()
	itest.Eventually(t, 10*time.Second, "the private redis-server answers", func() bool {
		return client.Ping(context.Background()).Err() == nil
	})
	return "127.0.0.1:" + port
}

// leakEnv is a deployment configured with every kind of secret MUTT has,
// and the outputs collected from it.
type leakEnv struct {
	t       *testing.T
	vars    []string
	outputs map[string]string // what → text
}

// runCLI runs the built binary with the deployment's environment (plus
// extra) and keeps its combined output.
func (l *leakEnv) runCLI(name string, extra []string, args ...string) (int, string) {
	l.t.Helper()
	cmd := exec.Command(muttBinary(l.t), args...)
	cmd.Env = append(append(os.Environ(), l.vars...), extra...)
	out, err := cmd.CombinedOutput()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		l.t.Fatalf("mutt %v: %v", args, err)
	}
	l.outputs["mutt "+name] = string(out)
	return code, string(out)
}

// get fetches url (with the header when not empty) and keeps the body.
func (l *leakEnv) get(name, url, header, value string) (int, []byte) {
	l.t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		l.t.Fatal(err)
	}
	if header != "" {
		req.Header.Set(header, value)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		l.t.Fatalf("GET %s: %v", url, err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	l.outputs[name] = res.Header.Get("WWW-Authenticate") + "\n" + string(b)
	return res.StatusCode, b
}

// TestServeLeaksNoSecret runs `mutt serve` configured with known secrets
// in every place a secret can be (passwords in REDIS_URL, DATABASE_URL and
// MOOG_WEBHOOK_URL, NEXT passwords, API keys, passwords and the AppRole
// secret id from Vault, a backup passphrase), makes it do some work, and
// reads every health, metrics and admin endpoint of every role, every log
// line, and the output of the operator commands, good and failing: no
// secret may appear anywhere. It also checks that every surface reports
// the same version.
func TestServeLeaksNoSecret(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the binary")
	}
	e := newEnv(t) // the database, migrated, with rules
	redisAddr := passwordRedis(t)
	u, err := url.Parse(e.dsn)
	if err != nil {
		t.Fatal(err)
	}
	u.User = url.UserPassword(u.User.Username(), leakPostgresPW) // trust auth: sent, never checked

	fake := fakemoog.New(fakemoog.Options{APIKey: leakMoogKey})
	moog := httptest.NewServer(fake)
	defer moog.Close()
	moogURL, _ := url.Parse(moog.URL + "/events")
	moogURL.User = url.UserPassword("mutt", leakMoogURLPW)

	vault := vaulttest.NewServer(t)
	vault.SetSecret("mutt/prod", map[string]any{
		"REDIS_PASS_CURRENT": leakRedisPW, "REDIS_PASS_NEXT": leakRedisNextPW,
		"DB_PASS_CURRENT": leakVaultDBPW, "DB_PASS_NEXT": leakVaultDBNextPW,
	})
	dir := t.TempDir()
	passphrase := filepath.Join(dir, "passphrase")
	if err := os.WriteFile(passphrase, []byte(leakPassphrase+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	addr := map[string]string{}
	for _, name := range []string{"ingestor", "alerter-metrics", "alerter-health", "forwarder-metrics", "forwarder-health",
		"remediation-metrics", "remediation-health", "webui"} {
		addr[name] = "127.0.0.1:" + strconv.Itoa(itest.FreePort(t))
	}
	l := &leakEnv{t: t, outputs: map[string]string{}, vars: []string{
		"MUTT_CONFIG=", "MUTT_KEY_PREFIX=mutt",
		"REDIS_URL=redis://:" + leakRedisPW + "@" + redisAddr + "/0", "DATABASE_URL=" + u.String(),
		"INGEST_API_KEY=" + leakIngestKey, "INGEST_API_KEY_NEXT=" + leakIngestNextKey, "WEBUI_API_KEY=" + leakWebKey,
		"MOOG_API_KEY=" + leakMoogKey, "MOOG_WEBHOOK_URL=" + moogURL.String(), "MOOG_RATE_LIMIT=0",
		"VAULT_ADDR=" + vault.Addr(), "VAULT_ROLE_ID=" + vault.RoleID(),
		"VAULT_SECRET_ID_FILE=" + vault.WriteSecretIDFile(dir), "VAULT_SECRETS_PATH=secret/mutt/prod",
		"MUTT_BACKUP_ROOT=" + filepath.Join(dir, "backups"), "MUTT_BACKUP_PASSPHRASE_FILE=" + passphrase,
		"MUTT_BACKUP_IDENTITY_FILE=", "MUTT_BACKUP_RECIPIENTS_FILE=",
		"LOG_LEVEL=debug", "LOG_FORMAT=json", "BRPOPLPUSH_TIMEOUT=0.2", "ALERTER_SHED_MODE=off",
		"INGEST_LISTEN=" + addr["ingestor"], "WEBUI_LISTEN=" + addr["webui"],
		"ALERTER_METRICS_LISTEN=" + addr["alerter-metrics"], "ALERTER_HEALTH_LISTEN=" + addr["alerter-health"],
		"FORWARDER_METRICS_LISTEN=" + addr["forwarder-metrics"], "FORWARDER_HEALTH_LISTEN=" + addr["forwarder-health"],
		"REMEDIATION_METRICS_LISTEN=" + addr["remediation-metrics"], "REMEDIATION_HEALTH_LISTEN=" + addr["remediation-health"],
	}}
	secrets := []string{leakRedisPW, leakRedisNextPW, leakRedisWrongPW, leakPostgresPW, leakVaultDBPW, leakVaultDBNextPW,
		leakIngestKey, leakIngestNextKey, leakWebKey, leakMoogKey, leakMoogURLPW, leakPassphrase, vault.SecretID()}

	serve, logs := startServe(t, []string{"--no-migrate"}, l.vars...)
	itest.Eventually(t, 30*time.Second, "every role answers /health", func() bool {
		for _, name := range []string{"ingestor", "alerter-health", "forwarder-health", "remediation-health", "webui"} {
			res, err := http.Get("http://" + addr[name] + "/health")
			if err != nil {
				return false
			}
			res.Body.Close()
			if res.StatusCode != http.StatusOK {
				return false
			}
		}
		return true
	})

	// Some work: a handled event that is forwarded, and a refused request.
	body := `{"hostname":"edge-1","message":"UPDOWN eth0","timestamp":"2026-12-07T10:00:00Z","syslog_severity":3}`
	for _, key := range []string{leakIngestKey, "not-the-key-" + leakIngestKey[:4]} {
		req, _ := http.NewRequest(http.MethodPost, "http://"+addr["ingestor"]+"/api/v2/ingest?api_key="+key, strings.NewReader(body))
		req.Header.Set("X-API-KEY", key)
		req.Header.Set("Content-Type", "application/json")
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		l.outputs["POST ingest ("+strconv.Itoa(res.StatusCode)+")"] = string(b)
	}
	itest.Eventually(t, 20*time.Second, "the alert reaches Moogsoft", func() bool { return fake.Distinct() == 1 })

	// Every endpoint of every role.
	versions := map[string]string{}
	for name, a := range addr {
		for _, path := range []string{"/health", "/metrics"} {
			code, b := l.get(name+" GET "+path, "http://"+a+path, "", "")
			if path == "/health" && code == http.StatusOK {
				var h struct {
					Version string `json:"version"`
				}
				if err := json.Unmarshal(b, &h); err != nil {
					t.Errorf("%s /health is not JSON: %s", name, b)
				}
				versions[name+" /health"] = h.Version
			}
		}
	}
	ing := "http://" + addr["ingestor"]
	if code, _ := l.get("ingestor GET /admin/config", ing+"/admin/config", "X-API-KEY", leakIngestKey); code != http.StatusOK {
		t.Errorf("/admin/config: %d", code)
	}
	l.get("ingestor GET /admin/config (wrong key)", ing+"/admin/config", "X-API-KEY", "wrong-"+leakIngestKey[:6])
	l.get("ingestor GET /", ing+"/", "", "")
	web := "http://" + addr["webui"]
	for _, path := range []string{"/api/v2/config", "/api/v2/metrics", "/api/v1/health", "/api/v2/nosuch"} {
		l.get("webui GET "+path, web+path, "X-API-KEY", leakWebKey)
	}
	l.get("webui GET /api/v2/config (wrong key)", web+"/api/v2/config", "X-API-KEY", "wrong-"+leakWebKey[:6])

	// The operator commands, good and failing.
	_, v := l.runCLI("version", nil, "version")
	if m := regexp.MustCompile(`^mutt (\S+) \(commit \S+\)`).FindStringSubmatch(v); m != nil {
		versions["mutt version"] = m[1]
	} else {
		t.Errorf("mutt version printed %q", v)
	}
	if code, out := l.runCLI("health", nil, "health"); code != exitOK {
		t.Errorf("mutt health: exit %d\n%s", code, out)
	}
	l.runCLI("health --json", nil, "health", "--json")
	l.runCLI("config list", nil, "config", "list")
	l.runCLI("config validate", nil, "config", "validate")
	l.runCLI("dlq list moog", nil, "dlq", "list", "moog")
	if code, out := l.runCLI("backup run", nil, "backup", "run", "--components", "redis", "--yes"); code != exitOK {
		t.Errorf("mutt backup run: exit %d\n%s", code, out)
	}
	l.runCLI("backup list", nil, "backup", "list")
	l.runCLI("restore postgres (refused)", nil, "restore", "postgres", "latest", "--yes")
	l.runCLI("health, PostgreSQL down", []string{"DATABASE_URL=postgres://postgres:" + leakPostgresPW + "@127.0.0.1:1/x?sslmode=disable"},
		"health", "--timeout", "2s")
	l.runCLI("config list, wrong Redis password", []string{"REDIS_URL=redis://:" + leakRedisWrongPW + "@" + redisAddr + "/0",
		"VAULT_ADDR="}, "config", "list")
	l.runCLI("health, bad URL", []string{"REDIS_URL=redis://:" + leakRedisWrongPW + "@[::1"}, "health")

	if err := serve.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if _, err := waitExit(t, serve, 30*time.Second); err != nil {
		t.Errorf("serve exited with %v after SIGTERM", err)
	}
	l.outputs["mutt serve log"] = logs.String()
	if !strings.Contains(logs.String(), `"msg":"MUTT started"`) {
		t.Errorf("the log does not show the start; is LOG_LEVEL honoured?\n%s", logs.String())
	}

	for name, out := range l.outputs {
		for _, s := range secrets {
			if strings.Contains(out, s) {
				t.Errorf("%s shows the secret %q:\n%s", name, s, out)
			}
		}
	}
	// Every log line carries the version too.
	for line := range strings.Lines(logs.String()) {
		var rec struct {
			Version string `json:"version"`
		}
		if json.Unmarshal([]byte(line), &rec) == nil && rec.Version != "" {
			versions["log"] = rec.Version
			break
		}
	}
	if last := fake.Last(); len(last) == 1 {
		versions["alert agent"] = strings.TrimPrefix(last[0]["agent"].(string), "MUTT v")
	}
	want := versions["mutt version"]
	if len(versions) != len(addr)+3 {
		t.Errorf("versions found on %d surfaces, want %d: %v", len(versions), len(addr)+3, versions)
	}
	for where, got := range versions {
		if got != want {
			t.Errorf("%s reports version %q, mutt version %q", where, got, want)
		}
	}
	t.Logf("checked %d outputs for %d secrets; version %s on %d surfaces", len(l.outputs), len(secrets), want, len(versions))
}
