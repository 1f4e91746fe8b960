package config

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestRedisTopologyFromEnvironment(t *testing.T) {
	cfg, err := Load("", lookup(map[string]string{
		"REDIS_SENTINEL_ADDRS":    " s1:26379, s2:26379 ,",
		"REDIS_SENTINEL_MASTER":   "mutt",
		"REDIS_SENTINEL_PASSWORD": "sentinel-secret-0123",
	}))
	if err != nil {
		t.Fatal(err)
	}
	cfg.Finish()
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	r := cfg.Redis
	if !slices.Equal(r.SentinelAddrs, []string{"s1:26379", "s2:26379"}) || r.SentinelMaster != "mutt" {
		t.Errorf("sentinel = %v %q", r.SentinelAddrs, r.SentinelMaster)
	}
	if r.SentinelPassword.Reveal() != "sentinel-secret-0123" || strings.Contains(r.SentinelPassword.String(), "sentinel-secret") {
		t.Errorf("sentinel password %q is not a redacted secret", r.SentinelPassword.String())
	}
	if r.Topology() != RedisSentinel {
		t.Errorf("Topology() = %q", r.Topology())
	}
	if Default().Redis.Topology() != RedisStandalone {
		t.Errorf("default topology = %q", Default().Redis.Topology())
	}
}

func TestRedisTopologyFromYAML(t *testing.T) {
	path := filepath.Join(t.TempDir(), "mutt.yaml")
	if err := os.WriteFile(path, []byte("redis:\n  cluster_nodes: [n1:6379, n2:6379]\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := Load(path, lookup(nil))
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(cfg.Redis.ClusterNodes, []string{"n1:6379", "n2:6379"}) || cfg.Redis.Topology() != RedisCluster {
		t.Errorf("cluster nodes = %v, topology %q", cfg.Redis.ClusterNodes, cfg.Redis.Topology())
	}
}

func TestRedisTopologyValidation(t *testing.T) {
	tests := []struct {
		name  string
		env   map[string]string
		field string
		rule  string
	}{
		{"sentinel without master", map[string]string{"REDIS_SENTINEL_ADDRS": "s1:26379"}, "REDIS_SENTINEL_MASTER", "must name the master"},
		{"master without sentinels", map[string]string{"REDIS_SENTINEL_MASTER": "mutt"}, "REDIS_SENTINEL_ADDRS", "must list the Sentinels"},
		{"bad sentinel address", map[string]string{"REDIS_SENTINEL_ADDRS": "s1", "REDIS_SENTINEL_MASTER": "mutt"}, "REDIS_SENTINEL_ADDRS", "host:port"},
		{"bad cluster port", map[string]string{"REDIS_CLUSTER_NODES": "n1:0"}, "REDIS_CLUSTER_NODES", "host:port"},
		{"cluster and sentinel", map[string]string{"REDIS_CLUSTER_NODES": "n1:6379", "REDIS_SENTINEL_ADDRS": "s1:26379", "REDIS_SENTINEL_MASTER": "mutt"}, "REDIS_CLUSTER_NODES", "choose Redis Cluster or Sentinel"},
		{"cluster with a database", map[string]string{"REDIS_CLUSTER_NODES": "n1:6379", "REDIS_DB": "3"}, "REDIS_DB", "must be 0"},
		{"cluster with a URL database", map[string]string{"REDIS_CLUSTER_NODES": "n1:6379", "REDIS_URL": "redis://h:6379/2"}, "REDIS_URL", "database 0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := Load("", lookup(tt.env))
			if err != nil {
				t.Fatal(err)
			}
			cfg.Finish()
			err = cfg.Validate()
			if err == nil || !strings.Contains(err.Error(), tt.field+": ") || !strings.Contains(err.Error(), tt.rule) {
				t.Errorf("Validate() = %v, want %s: …%s…", err, tt.field, tt.rule)
			}
		})
	}
}
