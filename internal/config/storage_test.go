package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestStorageMode(t *testing.T) {
	cases := []struct {
		name string
		env  map[string]string
		file string
		want string
		err  []string // substrings of the error
	}{
		{name: "nothing set is embedded", want: StorageEmbedded},
		{name: "empty values give nothing", env: map[string]string{"REDIS_URL": "", "DATABASE_URL": ""}, want: StorageEmbedded},
		{name: "both set is redis", env: map[string]string{"REDIS_URL": "redis://h:6379/0", "DB_HOST": "db"}, want: StorageRedis},
		{name: "password counts", env: map[string]string{"REDIS_PASS": "x", "DATABASE_URL": "postgres://h/db"}, want: StorageRedis},
		{name: "redis only", env: map[string]string{"REDIS_HOST": "h"}, err: []string{"REDIS_HOST", "PostgreSQL is not", "MUTT_STORAGE=redis"}},
		{name: "postgres only", env: map[string]string{"DATABASE_URL": "postgres://h/db"}, err: []string{"DATABASE_URL", "Redis is not"}},
		{name: "explicit redis", env: map[string]string{"MUTT_STORAGE": "redis"}, want: StorageRedis},
		{name: "explicit embedded wins", env: map[string]string{"MUTT_STORAGE": "embedded", "REDIS_HOST": "h"}, want: StorageEmbedded},
		{name: "bad mode", env: map[string]string{"MUTT_STORAGE": "etcd"}, err: []string{"MUTT_STORAGE", "etcd"}},
		{name: "file sections", file: "redis:\n  host: r\npostgres:\n  host: p\n", want: StorageRedis},
		{name: "file redis only", file: "redis:\n  host: r\n", err: []string{": redis", "PostgreSQL is not"}},
		{name: "sentinel counts", env: map[string]string{"REDIS_SENTINEL_ADDRS": "s1:26379", "REDIS_SENTINEL_MASTER": "mutt", "DB_HOST": "db"}, want: StorageRedis},
		{name: "sentinel only", env: map[string]string{"REDIS_SENTINEL_ADDRS": "s1:26379"}, err: []string{"REDIS_SENTINEL_ADDRS", "PostgreSQL is not"}},
		{name: "cluster counts", env: map[string]string{"REDIS_CLUSTER_NODES": "n1:6379", "DATABASE_URL": "postgres://h/db"}, want: StorageRedis},
		{name: "file sentinel", file: "redis:\n  sentinel_addrs: [s1:26379]\n  sentinel_master: mutt\npostgres:\n  host: p\n", want: StorageRedis},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			path := ""
			if tc.file != "" {
				path = filepath.Join(t.TempDir(), "mutt.yaml")
				if err := os.WriteFile(path, []byte(tc.file), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			cfg, err := Load(path, func(k string) (string, bool) { v, ok := tc.env[k]; return v, ok })
			if err != nil {
				t.Fatal(err)
			}
			got, err := cfg.StorageMode()
			if len(tc.err) > 0 {
				if err == nil {
					t.Fatalf("mode %q, want an error", got)
				}
				for _, s := range tc.err {
					if !strings.Contains(err.Error(), s) {
						t.Errorf("error %q does not name %q", err, s)
					}
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("StorageMode() = %q, %v; want %q", got, err, tc.want)
			}
		})
	}
}

func TestDatabaseFileUnderDataDir(t *testing.T) {
	cfg := Default()
	if got := cfg.Storage.DatabaseFile(); got != filepath.Join("mutt-data", "mutt.db") {
		t.Fatalf("DatabaseFile() = %q", got)
	}
}
