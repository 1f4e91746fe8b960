package config

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// TestURLNeverPrintsItsPassword loads URLs with passwords the way an
// operator sets them and prints the configuration every way MUTT does:
// fmt, JSON (/admin/config), YAML and slog. The password must appear in
// none, and Reveal must still give the dialable URL.
func TestURLNeverPrintsItsPassword(t *testing.T) {
	const redisPW, pgPW, queryPW, moogPW = "r3dis-Pw-91", "pg-Pw-77", "q-Pw-55", "moog-Pw-33"
	cfg, err := Load("", lookup(map[string]string{
		"REDIS_URL":        "redis://:" + redisPW + "@127.0.0.1:6379/0",
		"DATABASE_URL":     "postgres://mutt:" + pgPW + "@127.0.0.1:5432/mutt?sslmode=disable&password=" + queryPW,
		"MOOG_WEBHOOK_URL": "https://moog:" + moogPW + "@moog.example.com/events",
		"MOOG_HEALTH_URL":  "https://moog:" + moogPW + "@moog.example.com/health",
	}))
	if err != nil {
		t.Fatal(err)
	}
	cfg.Finish()
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	if got := cfg.Redis.URL.Reveal(); got != "redis://:"+redisPW+"@127.0.0.1:6379/0" {
		t.Errorf("Reveal = %q", got)
	}
	if pw, ok := cfg.Postgres.URL.Password(); !ok || pw != pgPW {
		t.Errorf("Password = %q, %v", pw, ok)
	}

	var outputs = map[string]string{}
	outputs["%v"] = fmt.Sprintf("%v", cfg)
	outputs["%+v"] = fmt.Sprintf("%+v", cfg)
	outputs["%#v"] = fmt.Sprintf("%#v", cfg)
	outputs["%s url"] = fmt.Sprintf("%s %q %x", cfg.Redis.URL, cfg.Postgres.URL, cfg.Postgres.URL)
	js, err := json.Marshal(map[string]any{"static": cfg})
	if err != nil {
		t.Fatal(err)
	}
	outputs["json"] = string(js)
	y, err := yaml.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	outputs["yaml"] = string(y)
	var logs bytes.Buffer
	slog.New(slog.NewJSONHandler(&logs, nil)).Info("config", "redis_url", cfg.Redis.URL, "postgres", cfg.Postgres, "cfg", cfg)
	slog.New(slog.NewTextHandler(&logs, nil)).Info("config", "redis_url", cfg.Redis.URL, "postgres", cfg.Postgres)
	outputs["slog"] = logs.String()
	for name, out := range outputs {
		for _, pw := range []string{redisPW, pgPW, queryPW, moogPW} {
			if strings.Contains(out, pw) {
				t.Errorf("%s output contains the password %q:\n%s", name, pw, out)
			}
		}
	}
	if !strings.Contains(outputs["json"], `"URL":"redis://:xxxxx@127.0.0.1:6379/0"`) {
		t.Errorf("JSON does not show the redacted Redis URL:\n%s", outputs["json"])
	}
	if !strings.Contains(outputs["json"], "postgres://mutt:xxxxx@127.0.0.1:5432/mutt?password=xxxxx") {
		t.Errorf("JSON does not show the redacted PostgreSQL URL:\n%s", outputs["json"])
	}
}

func TestURLFromYAMLAndUnparsable(t *testing.T) {
	path := filepath.Join(t.TempDir(), "mutt.yaml")
	if err := os.WriteFile(path, []byte("redis:\n  url: redis://:yaml-pw@127.0.0.1:6379/1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := Load(path, lookup(nil))
	if err != nil {
		t.Fatal(err)
	}
	if got := cfg.Redis.URL.Reveal(); got != "redis://:yaml-pw@127.0.0.1:6379/1" {
		t.Errorf("URL from YAML = %q", got)
	}
	if got := cfg.Redis.URL.String(); got != "redis://:xxxxx@127.0.0.1:6379/1" {
		t.Errorf("String = %q", got)
	}
	// A URL that does not parse may hold its password anywhere: none of it shows.
	bad := NewURL("postgres://u:p%zz@host/db")
	if got := bad.String(); got != redactedURL {
		t.Errorf("unparsable URL shows %q", got)
	}
	if got := (URL{}).String(); got != "" {
		t.Errorf("empty URL shows %q", got)
	}
}
