package app

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/mutt-go/mutt/internal/config"
	"github.com/mutt-go/mutt/internal/itest"
	"github.com/mutt-go/mutt/internal/secrets"
)

// startRedisProcess runs bin with args in its own directory until the test
// ends and returns the process, for a SIGKILL.
func startRedisProcess(t *testing.T, bin string, args ...string) *os.Process {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Dir = t.TempDir()
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting %s: %v", bin, err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	return cmd.Process
}

// localClient is a client of the server on port, closed when the test ends.
func localClient(t *testing.T, port int) *redis.Client {
	t.Helper()
	c := redis.NewClient(&redis.Options{Addr: net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), MaxRetries: -1})
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// startSentinel runs a Sentinel on port that monitors the primary on
// primaryPort as master, with quorum 1 and extra lines of configuration.
func startSentinel(t *testing.T, port int, master string, primaryPort int, extra string) {
	t.Helper()
	bin := itest.Tool(t, "redis-sentinel", "redis-sentinel")
	conf := filepath.Join(t.TempDir(), "sentinel.conf")
	if err := os.WriteFile(conf, fmt.Appendf(nil, "port %d\nbind 127.0.0.1\nsentinel monitor %s 127.0.0.1 %d 1\n"+
		"sentinel down-after-milliseconds %s 1000\nsentinel failover-timeout %s 5000\n%s",
		port, master, primaryPort, master, master, extra), 0o600); err != nil {
		t.Fatal(err)
	}
	startRedisProcess(t, bin, conf)
}

// sentinelPrimary asks the Sentinel on port for the primary's port of
// master name; 0 when it does not answer.
func sentinelPrimary(ctx context.Context, s *redis.SentinelClient, name string) int {
	addr, err := s.GetMasterAddrByName(ctx, name).Result()
	if err != nil || len(addr) != 2 {
		return 0
	}
	p, _ := strconv.Atoi(addr[1])
	return p
}

// TestSentinelFailoverKeepsAcknowledgedEvents runs an ingestor on a
// primary, a replica and one Sentinel, kills the primary while events are
// posted and checks that the ingestor follows the promotion: while there is
// no primary it answers 503 (or succeeds), afterwards it succeeds again,
// and every event it acknowledged with 200 is in the ingest stream of the
// new primary.
func TestSentinelFailoverKeepsAcknowledgedEvents(t *testing.T) {
	server := itest.Tool(t, "redis-server", "redis-server")
	ctx := t.Context()

	primaryPort, replicaPort := itest.FreePort(t), itest.FreePort(t)
	base := []string{"--bind", "127.0.0.1", "--save", "", "--appendonly", "no"}
	primary := startRedisProcess(t, server, append([]string{"--port", strconv.Itoa(primaryPort)}, base...)...)
	startRedisProcess(t, server, append([]string{"--port", strconv.Itoa(replicaPort), "--replicaof", "127.0.0.1", strconv.Itoa(primaryPort)}, base...)...)
	replica := localClient(t, replicaPort)
	itest.Eventually(t, 15*time.Second, "the replica is in sync with the primary", func() bool {
		info, err := replica.Info(ctx, "replication").Result()
		return err == nil && strings.Contains(info, "master_link_status:up")
	})

	const master = "mutt"
	sentinelPort := itest.FreePort(t)
	startSentinel(t, sentinelPort, master, primaryPort, "")
	sentinel := redis.NewSentinelClient(&redis.Options{Addr: net.JoinHostPort("127.0.0.1", strconv.Itoa(sentinelPort)), MaxRetries: -1})
	t.Cleanup(func() { _ = sentinel.Close() })
	itest.Eventually(t, 20*time.Second, "the Sentinel knows the primary and its replica", func() bool {
		replicas, err := sentinel.Replicas(ctx, master).Result()
		return err == nil && len(replicas) == 1 && sentinelPrimary(ctx, sentinel, master) == primaryPort
	})

	cfg := config.Default()
	cfg.KeyPrefix = itest.RandomName("mutt_test_")
	cfg.Finish()
	cfg.Storage.Mode = config.StorageRedis
	cfg.Redis.TLSEnabled = false
	cfg.Redis.SentinelAddrs = []string{net.JoinHostPort("127.0.0.1", strconv.Itoa(sentinelPort))}
	cfg.Redis.SentinelMaster = master
	cfg.Ingest.Listen = "127.0.0.1:0"
	cfg.Ingest.APIKey = secrets.New("sentinel-ingest-key-0123456789")
	ready := make(chan map[string]string, 1)
	srv, err := NewServer(ctx, cfg, ServeOptions{Roles: []string{RoleIngestor},
		Ready: func(a map[string]string) { ready <- a }}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Close)
	url := "http://" + serve(t, srv, ready)["ingestor"] + "/api/v2/ingest"

	httpClient := &http.Client{Timeout: 20 * time.Second}
	seq := 0
	var acked []string
	// post sends the next event and returns the status; a 200 records it.
	post := func() int {
		seq++
		marker := fmt.Sprintf("failover-event-%d", seq)
		body := fmt.Sprintf(`{"hostname":"router-1","message":"%%LINK-DOWN: %s","timestamp":"2026-12-07T10:00:00Z"}`, marker)
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("X-API-KEY", "sentinel-ingest-key-0123456789")
		res, err := httpClient.Do(req)
		if err != nil {
			t.Fatalf("posting %s: %v", marker, err)
		}
		_, _ = io.Copy(io.Discard, res.Body)
		res.Body.Close()
		switch res.StatusCode {
		case http.StatusOK:
			acked = append(acked, marker)
		case http.StatusServiceUnavailable:
		default:
			t.Fatalf("posting %s during a failover answered %d, want 200 or 503", marker, res.StatusCode)
		}
		return res.StatusCode
	}

	for range 20 {
		if status := post(); status != http.StatusOK {
			t.Fatalf("ingest before the failover answered %d", status)
		}
	}
	// Replication is asynchronous: the kill comes once the replica holds
	// what was acknowledged, so that the test is about the promotion.
	itest.Eventually(t, 10*time.Second, "the replica holds the acknowledged events", func() bool {
		n, err := replica.XLen(ctx, cfg.Keys.IngestQueue).Result()
		return err == nil && n == int64(len(acked))
	})
	// Events go on being posted from the moment the primary dies.
	if err := primary.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	unavailable := 0
	deadline := time.Now().Add(30 * time.Second)
	for {
		status := post()
		if status == http.StatusServiceUnavailable {
			unavailable++
		}
		if status == http.StatusOK && sentinelPrimary(ctx, sentinel, master) == replicaPort {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("ingest did not recover within 30s of the primary's death (%d answers 503)", unavailable)
		}
	}
	for range 20 {
		if status := post(); status != http.StatusOK {
			t.Fatalf("ingest after the failover answered %d", status)
		}
	}
	t.Logf("%d events posted, %d acknowledged, %d answered 503 while the replica was promoted", seq, len(acked), unavailable)

	stored := map[string]bool{}
	entries, err := replica.XRange(ctx, cfg.Keys.IngestQueue, "-", "+").Result()
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		for _, v := range e.Values {
			s, _ := v.(string)
			if i := strings.Index(s, "failover-event-"); i >= 0 {
				j := i + len("failover-event-")
				for j < len(s) && s[j] >= '0' && s[j] <= '9' {
					j++
				}
				stored[s[i:j]] = true
			}
		}
	}
	for _, m := range acked {
		if !stored[m] {
			t.Errorf("%s was acknowledged with 200 but is not in %s on the new primary", m, cfg.Keys.IngestQueue)
		}
	}
}

// TestConnectRedisSentinelPasswords checks that the primary found through
// a Sentinel is authenticated with the Redis password pair (NEXT after
// CURRENT is refused) and the Sentinel with REDIS_SENTINEL_PASSWORD.
func TestConnectRedisSentinelPasswords(t *testing.T) {
	server := itest.Tool(t, "redis-server", "redis-server")
	const (
		redisPW    = "primary-password-0123456789"
		sentinelPW = "sentinel-password-0123456789"
		master     = "mutt"
	)
	primaryPort, sentinelPort := itest.FreePort(t), itest.FreePort(t)
	startRedisProcess(t, server, "--port", strconv.Itoa(primaryPort), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
		"--requirepass", redisPW)
	startSentinel(t, sentinelPort, master, primaryPort, fmt.Sprintf("sentinel auth-pass %s %s\nrequirepass %s\n", master, redisPW, sentinelPW))
	sentinel := redis.NewSentinelClient(&redis.Options{Addr: net.JoinHostPort("127.0.0.1", strconv.Itoa(sentinelPort)),
		Password: sentinelPW, MaxRetries: -1})
	t.Cleanup(func() { _ = sentinel.Close() })
	itest.Eventually(t, 15*time.Second, "the Sentinel names the primary", func() bool {
		return sentinelPrimary(t.Context(), sentinel, master) == primaryPort
	})

	cfg := config.Default().Redis
	cfg.TLSEnabled = false
	cfg.SentinelAddrs = []string{net.JoinHostPort("127.0.0.1", strconv.Itoa(sentinelPort))}
	cfg.SentinelMaster = master
	cfg.Password, cfg.PasswordNext = secrets.New("retired-password-0123456789"), secrets.New(redisPW)
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))

	wrong := cfg
	wrong.SentinelPassword = secrets.New("not-the-sentinel-password")
	if c, err := ConnectRedis(t.Context(), wrong, logger); err == nil {
		_ = c.Close()
		t.Fatal("ConnectRedis succeeded with a wrong REDIS_SENTINEL_PASSWORD")
	} else if !strings.Contains(err.Error(), `the primary "mutt" of the Sentinels`) {
		t.Errorf("error %q does not name the Sentinel master", err)
	}

	cfg.SentinelPassword = secrets.New(sentinelPW)
	rdb, err := ConnectRedis(t.Context(), cfg, logger)
	if err != nil {
		t.Fatal(err)
	}
	defer rdb.Close()
	if err := rdb.Set(t.Context(), "mutt_test_sentinel", "ok", time.Minute).Err(); err != nil {
		t.Fatalf("writing through the Sentinel's primary: %v", err)
	}
	if port := rdb.(*redis.Client).Options().Addr; port != "FailoverClient" {
		t.Errorf("client of %q, want a failover client", port)
	}
}

// TestConnectRedisRefusesCluster checks that REDIS_CLUSTER_NODES is refused
// with an error that names it, before anything is dialled.
func TestConnectRedisRefusesCluster(t *testing.T) {
	cfg := config.Default().Redis
	cfg.ClusterNodes = []string{"127.0.0.1:1"}
	_, err := ConnectRedis(t.Context(), cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err == nil || !strings.Contains(err.Error(), "REDIS_CLUSTER_NODES") || !strings.Contains(err.Error(), "not supported yet") {
		t.Fatalf("ConnectRedis with cluster nodes: %v, want a refusal naming REDIS_CLUSTER_NODES", err)
	}
}
