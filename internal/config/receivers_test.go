package config

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func loadEnv(t *testing.T, env map[string]string) (Config, error) {
	t.Helper()
	cfg, err := Load("", func(k string) (string, bool) { v, ok := env[k]; return v, ok })
	if err != nil {
		return cfg, err
	}
	cfg.Finish()
	return cfg, cfg.Validate()
}

func TestReceiverSettings(t *testing.T) {
	dir := t.TempDir()
	users := filepath.Join(dir, "users.yaml")
	if err := os.WriteFile(users, []byte("- user: u1\n  auth_protocol: sha\n  auth_passphrase: longenough\n  priv_protocol: AES\n  priv_passphrase: alsolongenough\n  engine_id: 8000000001020304\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := loadEnv(t, map[string]string{
		"SYSLOG_UDP_LISTEN": ":5514", "SYSLOG_TCP_LISTEN": "127.0.0.1:5514", "SNMP_TRAP_LISTEN": ":10162",
		"SNMP_COMMUNITIES": " public , private ,", "SNMP_V3_USERS_FILE": users,
	})
	if err != nil {
		t.Fatal(err)
	}
	if !cfg.Syslog.Enabled() || !cfg.SNMP.Enabled() || cfg.Syslog.AdminListen != ":8091" || cfg.SNMP.AdminListen != ":8092" {
		t.Errorf("config %+v %+v", cfg.Syslog, cfg.SNMP)
	}
	if got := len(cfg.SNMP.CommunityList()); got != 2 {
		t.Errorf("%d communities, want 2", got)
	}
	u, err := cfg.SNMP.V3Users()
	if err != nil || len(u) != 1 || u[0].AuthProtocol != "SHA" || u[0].PrivPassphrase.Reveal() != "alsolongenough" {
		t.Errorf("users %+v, %v", u, err)
	}
	// Secrets never print.
	for _, s := range []string{cfg.SNMP.Communities.String(), u[0].AuthPassphrase.String()} {
		if strings.Contains(s, "public") || strings.Contains(s, "longenough") {
			t.Errorf("a secret printed as %q", s)
		}
	}
	if err := cfg.RequireSNMPCredentials(); err != nil {
		t.Error(err)
	}
	// The configuration as admin endpoints show it holds no community.
	js, err := json.Marshal(cfg)
	if err != nil || strings.Contains(string(js), "private") {
		t.Errorf("encoded configuration shows a community (%v): %s", err, js)
	}
}

func TestReceiverSettingsRejected(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "users.yaml")
	if err := os.WriteFile(bad, []byte("- user: u1\n  auth_protocol: SHA-1024\n  auth_passphrase: longenough\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name  string
		env   map[string]string
		field string
	}{
		{"listen", map[string]string{"SYSLOG_UDP_LISTEN": "5514"}, "SYSLOG_UDP_LISTEN"},
		{"tls without cert", map[string]string{"SYSLOG_TLS_LISTEN": ":6514"}, "SYSLOG_TLS_CERT_FILE"},
		{"message size", map[string]string{"SYSLOG_MAX_MESSAGE_BYTES": "100"}, "SYSLOG_MAX_MESSAGE_BYTES"},
		{"engine id", map[string]string{"SNMP_ENGINE_ID": "xyz"}, "SNMP_ENGINE_ID"},
		{"users file", map[string]string{"SNMP_TRAP_LISTEN": ":162", "SNMP_V3_USERS_FILE": bad}, "SNMP_V3_USERS_FILE"},
		{"mib dir", map[string]string{"SNMP_MIB_DIRS": filepath.Join(dir, "none")}, "SNMP_MIB_DIRS"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := loadEnv(t, tt.env)
			if err == nil || !strings.Contains(err.Error(), tt.field+":") {
				t.Errorf("error %v, want one naming %s", err, tt.field)
			}
		})
	}
	cfg, _ := loadEnv(t, map[string]string{"SNMP_TRAP_LISTEN": ":162"})
	if err := cfg.RequireSNMPCredentials(); err == nil || !strings.Contains(err.Error(), "SNMP_COMMUNITIES") {
		t.Errorf("no credentials: %v", err)
	}
}

func TestParseV3UsersRules(t *testing.T) {
	for _, in := range []string{
		"- auth_protocol: SHA\n  auth_passphrase: longenough\n",
		"- user: a\n  auth_protocol: SHA\n  auth_passphrase: short\n",
		"- user: a\n  auth_protocol: SHA\n  auth_passphrase: longenough\n  priv_protocol: ROT13\n  priv_passphrase: longenough\n",
		"- user: a\n  auth_protocol: SHA\n  auth_passphrase: longenough\n  priv_passphrase: longenough\n",
		"- user: a\n  auth_protocol: SHA\n  auth_passphrase: longenough\n- user: a\n  auth_protocol: MD5\n  auth_passphrase: longenough\n",
		"- user: a\n  auth_protocol: SHA\n  auth_passphrase: longenough\n  engine_id: 0102\n",
		"not: a list",
	} {
		if _, err := ParseV3Users([]byte(in)); err == nil {
			t.Errorf("accepted %q", in)
		} else if strings.Contains(err.Error(), "longenough") {
			t.Errorf("the error shows a passphrase: %v", err)
		}
	}
}
