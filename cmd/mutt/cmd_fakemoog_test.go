package main

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

func TestFakeMoogCommand(t *testing.T) {
	tests := []struct {
		name       string
		args       []string
		env        string // MOOG_API_KEY
		auth       string
		wantStatus int
		wantCount  int64
	}{
		{name: "accepts", args: []string{"--quiet"}, wantStatus: 200, wantCount: 1},
		{name: "outage from flags", args: []string{"--status", "503", "--retry-after", "3s"}, wantStatus: 503},
		{name: "key from the environment", args: []string{"--quiet"}, env: "k", auth: "Bearer k", wantStatus: 200, wantCount: 1},
		{name: "wrong key", args: []string{"--quiet"}, env: "k", auth: "Bearer x", wantStatus: 401},
		{name: "no-auth ignores the key", args: []string{"--quiet", "--no-auth"}, env: "k", wantStatus: 200, wantCount: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv("MOOG_API_KEY", tt.env)
			pr, pw := io.Pipe()
			g := &globalOptions{stdout: pw, stderr: io.Discard}
			cmd := newFakeMoogCommand(g)
			cmd.SetArgs(append([]string{"--listen", "127.0.0.1:0"}, tt.args...))
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			done := make(chan error, 1)
			go func() { done <- cmd.ExecuteContext(ctx); _ = pw.Close() }()
			lines := make(chan string, 100)
			go func() {
				sc := bufio.NewScanner(pr)
				for sc.Scan() {
					select {
					case lines <- sc.Text():
					default: // nobody is reading the per-second lines
					}
				}
				close(lines)
			}()
			var first string
			select {
			case first = <-lines:
			case <-time.After(5 * time.Second):
				t.Fatal("no address printed")
			}
			addr, _, _ := strings.Cut(strings.TrimPrefix(first, "fake-moog listening on "), " ")
			if !strings.HasPrefix(addr, "http://127.0.0.1:") {
				t.Fatalf("first line %q does not give the address", first)
			}
			req, _ := http.NewRequest(http.MethodPost, addr+"/events", strings.NewReader(`{"external_id":"x"}`))
			if tt.auth != "" {
				req.Header.Set("Authorization", tt.auth)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != tt.wantStatus {
				t.Errorf("status %d, want %d", resp.StatusCode, tt.wantStatus)
			}
			resp, err = http.Get(addr + "/stats")
			if err != nil {
				t.Fatal(err)
			}
			var st struct{ Count int64 }
			err = json.NewDecoder(resp.Body).Decode(&st)
			resp.Body.Close()
			if err != nil || st.Count != tt.wantCount {
				t.Errorf("/stats count %d (%v), want %d", st.Count, err, tt.wantCount)
			}
			cancel()
			select {
			case err := <-done:
				if err != nil {
					t.Errorf("fake-moog = %v", err)
				}
			case <-time.After(10 * time.Second):
				t.Fatal("fake-moog did not stop")
			}
		})
	}
}

func TestFakeMoogCommandRejectsBadFlags(t *testing.T) {
	var out, errOut strings.Builder
	if code := run([]string{"fake-moog", "--fail-fraction", "2"}, &out, &errOut); code != exitUsage {
		t.Errorf("exit %d, want %d (stderr %q)", code, exitUsage, errOut.String())
	}
	if !strings.Contains(errOut.String(), "fail_fraction") {
		t.Errorf("stderr %q does not name the bad flag", errOut.String())
	}
}
