package backup

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/mutt-go/mutt/internal/itest"
)

// testRedisServer is a private redis-server started for one test from a
// config file in its own directory, so a restore can stop and start it like
// a service without ever touching the machine's Redis.
type testRedisServer struct {
	Client      *redis.Client
	Dir, Conf   string
	Port        int
	Start, Stop []string
}

// startTestRedis starts redis-server (daemonized, pidfile in its dir) on a
// free loopback port; aof selects appendonly yes. The server is shut down
// at the end of the test, by its pid if it does not answer.
func startTestRedis(t *testing.T, aof bool) *testRedisServer {
	t.Helper()
	server, err := exec.LookPath("redis-server")
	if err != nil {
		t.Skipf("redis-server not in PATH: %v", err)
	}
	cli, err := exec.LookPath("redis-cli")
	if err != nil {
		t.Skipf("redis-cli not in PATH: %v", err)
	}
	dir := t.TempDir()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	appendonly := "no"
	if aof {
		appendonly = "yes"
	}
	conf := filepath.Join(dir, "redis.conf")
	pidfile := filepath.Join(dir, "redis.pid")
	writeFile(t, conf, fmt.Sprintf("port %d\nbind 127.0.0.1\ndir %s\ndaemonize yes\npidfile %s\nlogfile %s\nsave \"\"\nappendonly %s\nenable-protected-configs yes\n",
		port, dir, pidfile, filepath.Join(dir, "redis.log"), appendonly), 0o644)
	s := &testRedisServer{
		Client: redis.NewClient(&redis.Options{Addr: net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), MaxRetries: -1}),
		Dir:    dir, Conf: conf, Port: port,
		Start: []string{server, conf},
		Stop:  []string{cli, "-p", strconv.Itoa(port), "shutdown"},
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = s.Client.ShutdownNoSave(ctx).Err()
		s.Client.Close()
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
		return s.Client.Ping(t.Context()).Err() == nil
	})
	return s
}

func TestRDBCRC(t *testing.T) {
	// The check value of CRC-64/Jones as used by Redis (src/crc64.c).
	if got := rdbCRC(0, []byte("123456789")); got != 0xe9c6d914c4b8d9ca {
		t.Fatalf("crc64(123456789) = %016x, want e9c6d914c4b8d9ca", got)
	}
	// Continuing over pieces gives the same result as one pass.
	if got := rdbCRC(rdbCRC(0, []byte("1234")), []byte("56789")); got != 0xe9c6d914c4b8d9ca {
		t.Fatalf("crc64 in two pieces = %016x", got)
	}
}

// realDump returns the bytes of a dump.rdb the local redis-server wrote
// with keys keys (one with a TTL) in database 0.
func realDump(t *testing.T, keys int) []byte {
	t.Helper()
	s := startTestRedis(t, false)
	ctx := t.Context()
	for i := range keys {
		if err := s.Client.Set(ctx, fmt.Sprintf("k%d", i), strings.Repeat("v", i), 0).Err(); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Client.Set(ctx, "ttl", "x", time.Hour).Err(); err != nil {
		t.Fatal(err)
	}
	if err := s.Client.Save(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(s.Dir, "dump.rdb"))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestRDBChecker(t *testing.T) {
	dump := realDump(t, 200)
	check := func(b []byte, chunk int) (RDBInfo, error) {
		c := NewRDBChecker()
		for len(b) > 0 {
			n := min(chunk, len(b))
			c.Write(b[:n])
			b = b[n:]
		}
		return c.Finish()
	}
	for _, chunk := range []int{1, 3, 7, 8, 9, 4096, len(dump)} {
		info, err := check(dump, chunk)
		if err != nil {
			t.Fatalf("chunk %d: real dump.rdb rejected: %v", chunk, err)
		}
		if info.Bytes != int64(len(dump)) || info.Checksum == 0 || info.Version < 9 {
			t.Fatalf("chunk %d: info %+v", chunk, info)
		}
		if info.Keys != 201 || info.Expires != 1 || info.DB != 0 || info.RedisVersion == "" {
			t.Fatalf("chunk %d: header says db%d keys %d expires %d version %q, want db0 201 1", chunk, info.DB, info.Keys, info.Expires, info.RedisVersion)
		}
	}

	flipped := append([]byte(nil), dump...)
	flipped[len(flipped)/2] ^= 0x01
	tests := []struct {
		name string
		data []byte
	}{
		{"flipped bit", flipped},
		{"truncated", dump[:len(dump)-20]},
		{"no checksum", dump[:len(dump)-8]},
		{"no magic", append([]byte("RADIS"), dump[5:]...)},
		{"bad version", append([]byte("REDIS00x1"), dump[9:]...)},
		{"empty", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := check(tt.data, 100); !errors.Is(err, ErrRDBInvalid) {
				t.Fatalf("err = %v, want ErrRDBInvalid", err)
			}
		})
	}

	// rdbchecksum no writes a zero checksum, which is accepted as absent.
	zero := append([]byte(nil), dump...)
	copy(zero[len(zero)-8:], make([]byte, 8))
	info, err := check(zero, 512)
	if err != nil || info.Checksum != 0 {
		t.Fatalf("zero checksum: %+v, %v", info, err)
	}
}
