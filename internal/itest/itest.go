// Package itest gives integration tests their own PostgreSQL database and
// their own Redis key namespace on the machine's real servers, and removes
// both when the test ends, so parallel runs never see each other's data.
//
// It must only be imported from _test.go files.
package itest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"strconv"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/redis/go-redis/v9"
)

// Default addresses of the local servers; MUTT_TEST_DATABASE_URL and
// MUTT_TEST_REDIS_URL override them.
const (
	defaultDatabaseURL = "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"
	defaultRedisURL    = "redis://127.0.0.1:6379/0"
)

// AdminDatabaseURL is the URL of a database the tests may connect to in order
// to create and drop their own databases.
func AdminDatabaseURL() string {
	if u := os.Getenv("MUTT_TEST_DATABASE_URL"); u != "" {
		return u
	}
	return defaultDatabaseURL
}

// RedisURL is the URL of the Redis server the tests use.
func RedisURL() string {
	if u := os.Getenv("MUTT_TEST_REDIS_URL"); u != "" {
		return u
	}
	return defaultRedisURL
}

// RandomName returns prefix followed by 12 random hex digits.
func RandomName(prefix string) string {
	var b [6]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(err)
	}
	return prefix + hex.EncodeToString(b[:])
}

// Database creates an empty database for this test and returns its URL. The
// database is dropped when the test ends.
func Database(t testing.TB) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	admin := AdminDatabaseURL()
	conn, err := pgx.Connect(ctx, admin)
	if err != nil {
		t.Fatalf("itest: connecting to PostgreSQL at %s (is it running? see README): %v", admin, err)
	}
	defer conn.Close(ctx)
	name := RandomName("mutt_test_")
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()); err != nil {
		t.Fatalf("itest: creating database %s: %v", name, err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		conn, err := pgx.Connect(ctx, admin)
		if err != nil {
			t.Errorf("itest: connecting to drop %s: %v", name, err)
			return
		}
		defer conn.Close(ctx)
		if _, err := conn.Exec(ctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{name}.Sanitize()+" WITH (FORCE)"); err != nil {
			t.Errorf("itest: dropping database %s: %v", name, err)
		}
	})
	u, err := url.Parse(admin)
	if err != nil {
		t.Fatalf("itest: parsing %s: %v", admin, err)
	}
	u.Path = "/" + name
	return u.String()
}

// Pool creates a database for this test (see Database) and returns a pool
// connected to it, closed when the test ends.
func Pool(t testing.TB) (*pgxpool.Pool, string) {
	t.Helper()
	dsn := Database(t)
	pool, err := pgxpool.New(context.Background(), dsn)
	if err != nil {
		t.Fatalf("itest: opening pool: %v", err)
	}
	t.Cleanup(pool.Close)
	return pool, dsn
}

// Redis returns a client for the test Redis and a key prefix of the form
// "mutt_test_<random>" unique to this test. Every key under the prefix is
// deleted when the test ends.
func Redis(t testing.TB) (*redis.Client, string) {
	t.Helper()
	opts, err := redis.ParseURL(RedisURL())
	if err != nil {
		t.Fatalf("itest: parsing %s: %v", RedisURL(), err)
	}
	client := redis.NewClient(opts)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := client.Ping(ctx).Err(); err != nil {
		t.Fatalf("itest: Redis at %s does not answer (is it running? see README): %v", RedisURL(), err)
	}
	prefix := RandomName("mutt_test_")
	t.Cleanup(func() {
		if err := DeleteKeys(context.Background(), client, prefix+":*"); err != nil {
			t.Errorf("itest: %v", err)
		}
		_ = client.Close()
	})
	return client, prefix
}

// DeleteKeys removes every key matching pattern.
func DeleteKeys(ctx context.Context, client redis.UniversalClient, pattern string) error {
	iter := client.Scan(ctx, 0, pattern, 1000).Iterator()
	var batch []string
	for iter.Next(ctx) {
		batch = append(batch, iter.Val())
		if len(batch) == 1000 {
			if err := client.Unlink(ctx, batch...).Err(); err != nil {
				return fmt.Errorf("deleting keys %s: %w", pattern, err)
			}
			batch = batch[:0]
		}
	}
	if err := iter.Err(); err != nil {
		return fmt.Errorf("scanning keys %s: %w", pattern, err)
	}
	if len(batch) > 0 {
		if err := client.Unlink(ctx, batch...).Err(); err != nil {
			return fmt.Errorf("deleting keys %s: %w", pattern, err)
		}
	}
	return nil
}

// Eventually polls cond every 10ms until it returns true or timeout passes,
// then fails the test with msg.
func Eventually(t testing.TB, timeout time.Duration, msg string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		if cond() {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s: %s", timeout, msg)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// Tool returns the path of an external program a test drives (a real
// sender or server from a Debian package). When it is missing the test
// fails under CI=true, naming the package to install, and is skipped
// elsewhere.
func Tool(t testing.TB, name, pkg string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s is not installed (scripts/services.sh ensure_test_tools installs package %s)", name, pkg)
		}
		t.Skipf("%s is not installed (package %s)", name, pkg)
	}
	return p
}

// FreePort returns a loopback TCP port nothing listens on right now.
func FreePort(t testing.TB) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// PrivateRedis starts a redis-server of the test's own on a free loopback
// port, with args added to its command line (say "--appendonly", "yes"),
// and returns a client for it. Tests that change server settings (CONFIG
// SET) use it so that they never touch the shared Redis. The server is
// stopped when the test ends.
func PrivateRedis(t testing.TB, args ...string) *redis.Client {
	t.Helper()
	bin := Tool(t, "redis-server", "redis-server")
	port := FreePort(t)
	cmdArgs := append([]string{"--port", strconv.Itoa(port), "--bind", "127.0.0.1", "--save", "", "--dir", t.TempDir()}, args...)
	cmd := exec.Command(bin, cmdArgs...)
	if err := cmd.Start(); err != nil {
		t.Fatalf("itest: starting redis-server: %v", err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	client := redis.NewClient(&redis.Options{Addr: net.JoinHostPort("127.0.0.1", strconv.Itoa(port))})
	t.Cleanup(func() { _ = client.Close() })
	Eventually(t, 10*time.Second, "private redis-server answers", func() bool {
		return client.Ping(context.Background()).Err() == nil
	})
	return client
}
