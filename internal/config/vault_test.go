package config

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/mutt-go/mutt/internal/secrets"
)

func TestVaultFromEnvironment(t *testing.T) {
	cfg, err := Load("", lookup(map[string]string{
		"VAULT_ADDR":                  "https://vault.example.com:8200",
		"VAULT_ROLE_ID":               "role",
		"VAULT_SECRET_ID_FILE":        "/run/secrets/vault_secret_id",
		"VAULT_SECRETS_PATH":          "secret/mutt/prod",
		"VAULT_CACERT":                "/etc/ssl/vault-ca.pem",
		"VAULT_TOKEN_RENEW_THRESHOLD": "600",
		"VAULT_RENEW_CHECK_INTERVAL":  "30s",
	}))
	if err != nil {
		t.Fatal(err)
	}
	want := Vault{
		Addr: "https://vault.example.com:8200", RoleID: "role", SecretIDFile: "/run/secrets/vault_secret_id",
		SecretsPath: "secret/mutt/prod", CACertPath: "/etc/ssl/vault-ca.pem",
		RenewThreshold: 10 * time.Minute, CheckInterval: 30 * time.Second,
	}
	if cfg.Vault != want {
		t.Errorf("Vault = %+v, want %+v", cfg.Vault, want)
	}
	if !cfg.Vault.Enabled() {
		t.Error("Vault with an address is not enabled")
	}
}

func TestVaultDefaults(t *testing.T) {
	v := Default().Vault
	if v.Enabled() || v.SecretIDFile != "/etc/mutt/secrets/vault_secret_id" || v.SecretsPath != "secret/mutt" ||
		v.RenewThreshold != time.Hour || v.CheckInterval != 5*time.Minute {
		t.Errorf("defaults = %+v", v)
	}
}

func TestVaultValidate(t *testing.T) {
	cfg := Default()
	cfg.Finish()
	cfg.Vault.RenewThreshold = 0
	cfg.Vault.CheckInterval = time.Millisecond
	err := cfg.Validate()
	for _, field := range []string{"VAULT_TOKEN_RENEW_THRESHOLD", "VAULT_RENEW_CHECK_INTERVAL"} {
		if err == nil || !strings.Contains(err.Error(), field) {
			t.Errorf("Validate = %v, want a complaint about %s", err, field)
		}
	}
	var fe *FieldError
	if !errors.As(err, &fe) {
		t.Error("Vault problems are not FieldErrors")
	}
}

func TestCredentialsNeverPrinted(t *testing.T) {
	cfg := Default()
	cfg.Redis.Credentials = secrets.NewPair(secrets.New("hunter2"), secrets.New("hunter3"))
	b, err := json.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(b), "hunter") {
		t.Errorf("configuration JSON reveals a password: %s", b)
	}
}
