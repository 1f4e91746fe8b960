package main

import (
	"io"
	"log/slog"
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestNotifyReadySendsReadyToSystemd(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "notify.sock")
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: sock, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	t.Setenv("NOTIFY_SOCKET", sock)
	notifyReady(slog.New(slog.NewTextHandler(io.Discard, nil)))(map[string]string{"ingestor": "127.0.0.1:8080"})
	_ = conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	buf := make([]byte, 64)
	n, err := conn.Read(buf)
	if err != nil {
		t.Fatalf("reading the notification: %v", err)
	}
	if got := string(buf[:n]); got != "READY=1" {
		t.Errorf("notification = %q, want READY=1", got)
	}
}

func TestNotifyReadyWithoutSystemdIsQuiet(t *testing.T) {
	t.Setenv("NOTIFY_SOCKET", "")
	// No socket: nothing is sent and nothing is logged as a failure.
	var logs strings.Builder
	notifyReady(slog.New(slog.NewTextHandler(&logs, nil)))(nil)
	if logs.Len() != 0 {
		t.Errorf("logged %q outside systemd", logs.String())
	}
}
