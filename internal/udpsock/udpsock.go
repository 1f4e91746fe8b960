package udpsock

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"syscall"
)

// Listen opens a UDP socket on addr and asks for a receive buffer of
// bufBytes (SO_RCVBUFFORCE, which may exceed net.core.rmem_max when the
// process is privileged, else SO_RCVBUF, which the kernel caps). bufBytes
// 0 keeps the system default.
func Listen(ctx context.Context, addr string, bufBytes int) (*net.UDPConn, error) {
	lc := net.ListenConfig{Control: func(_, _ string, c syscall.RawConn) error {
		if bufBytes <= 0 {
			return nil
		}
		var serr error
		err := c.Control(func(fd uintptr) { serr = setReadBuffer(int(fd), bufBytes) })
		if err != nil {
			return err
		}
		return serr
	}}
	pc, err := lc.ListenPacket(ctx, "udp", addr)
	if err != nil {
		return nil, fmt.Errorf("listening on udp %s: %w", addr, err)
	}
	return pc.(*net.UDPConn), nil
}

// ReadBuffer returns the receive buffer the kernel really gave conn, in
// bytes (Linux reports twice the requested size, its bookkeeping included).
func ReadBuffer(conn *net.UDPConn) int {
	rc, err := conn.SyscallConn()
	if err != nil {
		return 0
	}
	n := 0
	_ = rc.Control(func(fd uintptr) { n, _ = syscall.GetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF) })
	return n
}

// Drops returns a function that reports how many datagrams the kernel has
// dropped for conn's socket (receive buffer full), read from the drops
// column of /proc/net/udp and /proc/net/udp6; ok is false where that is
// not available.
func Drops(conn *net.UDPConn) func() (n uint64, ok bool) {
	ino := inode(conn)
	if ino == 0 {
		return func() (uint64, bool) { return 0, false }
	}
	want := strconv.FormatUint(ino, 10)
	return func() (uint64, bool) {
		for _, f := range []string{"/proc/net/udp", "/proc/net/udp6"} {
			if n, ok := dropsIn(f, want); ok {
				return n, true
			}
		}
		return 0, false
	}
}

func inode(conn *net.UDPConn) uint64 {
	rc, err := conn.SyscallConn()
	if err != nil {
		return 0
	}
	var ino uint64
	_ = rc.Control(func(fd uintptr) {
		var st syscall.Stat_t
		if syscall.Fstat(int(fd), &st) == nil {
			ino = st.Ino
		}
	})
	return ino
}

// dropsIn finds the socket with inode want in a /proc/net/udp table:
// "sl local rem st tx:rx tr:when retrnsmt uid timeout inode ref pointer drops".
func dropsIn(path, want string) (uint64, bool) {
	f, err := os.Open(path)
	if err != nil {
		return 0, false
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 13 || fields[9] != want {
			continue
		}
		n, err := strconv.ParseUint(fields[len(fields)-1], 10, 64)
		return n, err == nil
	}
	return 0, false
}
