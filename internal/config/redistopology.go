package config

import (
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
)

// Redis topologies: which kind of client the Redis settings select.
const (
	// RedisStandalone is one server at Host:Port (or REDIS_URL).
	RedisStandalone = "standalone"
	// RedisSentinel is the primary that the Sentinels at SentinelAddrs
	// name for SentinelMaster; the client follows its failovers.
	RedisSentinel = "sentinel"
	// RedisCluster is a Redis Cluster reached through ClusterNodes.
	RedisCluster = "cluster"
)

// Topology returns RedisSentinel, RedisCluster or RedisStandalone, from
// the settings given; Validate refuses settings that select two.
func (r Redis) Topology() string {
	switch {
	case len(r.ClusterNodes) > 0:
		return RedisCluster
	case len(r.SentinelAddrs) > 0 || r.SentinelMaster != "":
		return RedisSentinel
	default:
		return RedisStandalone
	}
}

// Addr names what the settings point at, for messages: the Sentinel
// master and its Sentinels, REDIS_URL with its password masked, or
// REDIS_HOST:REDIS_PORT.
func (r Redis) Addr() string {
	switch {
	case r.Topology() == RedisSentinel:
		return fmt.Sprintf("the primary %q of the Sentinels %s", r.SentinelMaster, strings.Join(r.SentinelAddrs, ","))
	case r.Topology() == RedisCluster:
		return "the cluster of " + strings.Join(r.ClusterNodes, ",")
	case r.URL.IsSet():
		return r.URL.String()
	default:
		return net.JoinHostPort(r.Host, strconv.Itoa(r.Port))
	}
}

// validateTopology checks the Sentinel and Cluster settings.
func (r Redis) validateTopology() []error {
	var errs []error
	bad := func(field, format string, args ...any) {
		errs = append(errs, &FieldError{Field: field, Rule: fmt.Sprintf(format, args...)})
	}
	checkAddrs := func(field string, addrs []string) {
		for _, a := range addrs {
			host, p, err := net.SplitHostPort(a)
			if n, perr := strconv.Atoi(p); err != nil || host == "" || perr != nil || n < 1 || n > 65535 {
				bad(field, "must be a comma-separated list of host:port, got %q", a)
			}
		}
	}
	checkAddrs("REDIS_SENTINEL_ADDRS", r.SentinelAddrs)
	checkAddrs("REDIS_CLUSTER_NODES", r.ClusterNodes)
	switch {
	case len(r.SentinelAddrs) > 0 && r.SentinelMaster == "":
		bad("REDIS_SENTINEL_MASTER", "must name the master the Sentinels monitor when REDIS_SENTINEL_ADDRS is set")
	case len(r.SentinelAddrs) == 0 && r.SentinelMaster != "":
		bad("REDIS_SENTINEL_ADDRS", "must list the Sentinels (host:port,…) when REDIS_SENTINEL_MASTER is set")
	}
	if len(r.ClusterNodes) > 0 {
		if len(r.SentinelAddrs) > 0 || r.SentinelMaster != "" {
			bad("REDIS_CLUSTER_NODES", "must not be set together with REDIS_SENTINEL_ADDRS/REDIS_SENTINEL_MASTER: choose Redis Cluster or Sentinel")
		}
		if r.DB != 0 {
			bad("REDIS_DB", "must be 0 with REDIS_CLUSTER_NODES (Redis Cluster has only database 0), got %d", r.DB)
		}
		if db := r.urlDB(); db != 0 {
			bad("REDIS_URL", "must name database 0 (or none) with REDIS_CLUSTER_NODES (Redis Cluster has only database 0), got %d", db)
		}
	}
	return errs
}

// urlDB is the database index in REDIS_URL's path, 0 when there is none.
func (r Redis) urlDB() int {
	if !r.URL.IsSet() {
		return 0
	}
	u, err := url.Parse(r.URL.Reveal())
	if err != nil {
		return 0
	}
	n, _ := strconv.Atoi(strings.TrimPrefix(u.Path, "/"))
	return n
}
