package udpsock

import (
	"context"
	"net"
	"os"
	"strconv"
	"strings"
	"testing"
)

// TestDropsCountsKernelDrops fills a tiny receive buffer without reading
// and checks that the kernel's drops for the socket are reported.
func TestDropsCountsKernelDrops(t *testing.T) {
	conn, err := Listen(context.Background(), "127.0.0.1:0", 4096)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	drops := Drops(conn)
	before, ok := drops()
	if !ok {
		t.Fatal("the socket is not in /proc/net/udp")
	}
	out, err := net.Dial("udp", conn.LocalAddr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	payload := make([]byte, 1000)
	for range 200 {
		_, _ = out.Write(payload)
	}
	after, _ := drops()
	if after <= before {
		t.Errorf("drops = %d after 200 KB into a 4 KB buffer, want more than %d", after, before)
	}
}

func TestListenGrowsTheBuffer(t *testing.T) {
	conn, err := Listen(context.Background(), "127.0.0.1:0", 8<<20)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	want := 8 << 20
	if os.Geteuid() != 0 {
		// Unprivileged, the kernel caps the buffer at net.core.rmem_max.
		b, err := os.ReadFile("/proc/sys/net/core/rmem_max")
		if err != nil {
			t.Fatal(err)
		}
		if max, _ := strconv.Atoi(strings.TrimSpace(string(b))); max < want {
			want = max
		}
	}
	if got := ReadBuffer(conn); got < want {
		t.Errorf("SO_RCVBUF = %d, want at least %d", got, want)
	}
}
