package main

import (
	"bytes"
	"net"
	"strconv"
	"strings"
	"testing"

	"github.com/mutt-go/mutt/internal/itest"
)

// TestServePortTakenNamesTheVariable occupies the ingestor's port and
// starts `mutt serve`: it must fail at once, naming the port and the
// variable that moves it.
func TestServePortTakenNamesTheVariable(t *testing.T) {
	_, prefix := itest.Redis(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	port := strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
	t.Setenv("MUTT_CONFIG", "")
	t.Setenv("REDIS_URL", itest.RedisURL())
	t.Setenv("MUTT_KEY_PREFIX", prefix)
	t.Setenv("INGEST_API_KEY", "port-taken-test-ingest-key")
	t.Setenv("INGEST_LISTEN", "127.0.0.1:"+port)
	var out, errOut bytes.Buffer
	code := run([]string{"serve", "--only", "ingestor", "--no-migrate", "--log-level", "error"}, &out, &errOut)
	if code != exitFailure || !strings.Contains(errOut.String(), "127.0.0.1:"+port+" is taken") ||
		!strings.Contains(errOut.String(), "SERVER_PORT_INGESTOR") {
		t.Errorf("exit %d, stderr:\n%s\nwant exit %d saying 127.0.0.1:%s is taken and naming SERVER_PORT_INGESTOR", code, errOut.String(), exitFailure, port)
	}
}
