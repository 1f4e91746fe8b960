package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/mutt-go/mutt/internal/secrets"
)

func secretOf(v string) secrets.Secret { return secrets.New(v) }

func TestVersion(t *testing.T) {
	var out, errOut bytes.Buffer
	if code := run([]string{"version"}, &out, &errOut); code != exitOK {
		t.Fatalf("exit %d: %s", code, errOut.String())
	}
	if !strings.HasPrefix(out.String(), "mutt ") || !strings.Contains(out.String(), "commit") {
		t.Errorf("version output = %q", out.String())
	}
}

func TestBadConfigurationExitsTwoNamingTheField(t *testing.T) {
	tests := []struct {
		name, env, wantField string
	}{
		{"not a number", "REDIS_PORT=abc", "REDIS_PORT"},
		{"queue cap too small", "MAX_INGEST_QUEUE_SIZE=10", "MAX_INGEST_QUEUE_SIZE"},
		{"unknown shed mode", "ALERTER_SHED_MODE=sometimes", "ALERTER_SHED_MODE"},
		{"colon in pod name", "POD_NAME=a:b", "POD_NAME"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			k, v, _ := strings.Cut(tt.env, "=")
			t.Setenv(k, v)
			var out, errOut bytes.Buffer
			code := run([]string{"migrate"}, &out, &errOut)
			if code != exitUsage {
				t.Errorf("exit %d, want %d", code, exitUsage)
			}
			if !strings.Contains(errOut.String(), tt.wantField) {
				t.Errorf("error does not name %s: %s", tt.wantField, errOut.String())
			}
		})
	}
}

func TestWeakKeysRefusedByEveryRole(t *testing.T) {
	for _, tt := range []struct{ cmd, env string }{
		{"webui", "WEBUI_API_KEY=x"}, {"serve", "WEBUI_API_KEY=x"}, {"ingestor", "INGEST_API_KEY=y"},
		{"serve", "INGEST_API_KEY_NEXT=short-key"}, {"health", "WEBUI_API_KEY_NEXT=short-key"},
	} {
		t.Run(tt.cmd+" "+tt.env, func(t *testing.T) {
			k, v, _ := strings.Cut(tt.env, "=")
			t.Setenv(k, v)
			var out, errOut bytes.Buffer
			code := run([]string{tt.cmd, "--redis-url", "redis://127.0.0.1:1/0"}, &out, &errOut)
			if code != exitUsage || !strings.Contains(errOut.String(), k+": must be at least 16 characters") {
				t.Errorf("exit %d, stderr %q", code, errOut.String())
			}
			if strings.Contains(errOut.String()+out.String(), "short-key") {
				t.Errorf("the key is printed: %s", errOut.String())
			}
		})
	}
}

func TestUnknownFlagIsUsageError(t *testing.T) {
	var out, errOut bytes.Buffer
	if code := run([]string{"serve", "--no-such-flag"}, &out, &errOut); code != exitUsage {
		t.Errorf("exit %d, want %d", code, exitUsage)
	}
}

func TestIngestorRefusesToStartWithoutKey(t *testing.T) {
	t.Setenv("INGEST_API_KEY", "")
	var out, errOut bytes.Buffer
	code := run([]string{"ingestor", "--redis-url", "redis://127.0.0.1:1/0"}, &out, &errOut)
	if code != exitUsage || !strings.Contains(errOut.String(), "INGEST_API_KEY") {
		t.Errorf("exit %d, stderr %q", code, errOut.String())
	}
}

func TestMain(m *testing.M) {
	redis.SetLogger(quietRedis{})
	code := m.Run()
	// The binary built for the end-to-end tests lives in a directory of its
	// own; leave nothing behind in the temporary directory.
	if binary != "" {
		_ = os.RemoveAll(filepath.Dir(binary))
	}
	os.Exit(code)
}
