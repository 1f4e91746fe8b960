package config

import (
	"fmt"
	"time"
)

// Vault says where MUTT's secrets live in HashiCorp Vault. When Addr is
// empty, secrets come from the environment (NAME or NAME_FILE) only.
type Vault struct {
	Addr         string `yaml:"addr"`           // VAULT_ADDR
	RoleID       string `yaml:"role_id"`        // VAULT_ROLE_ID
	SecretIDFile string `yaml:"secret_id_file"` // VAULT_SECRET_ID_FILE
	// SecretsPath is the KV version 2 secret under the "secret" mount;
	// "secret/mutt/prod", "mutt/prod" and "secret/data/mutt/prod" all name
	// the same secret.
	SecretsPath    string        `yaml:"secrets_path"`    // VAULT_SECRETS_PATH
	CACertPath     string        `yaml:"ca_cert_path"`    // VAULT_CACERT
	RenewThreshold time.Duration `yaml:"renew_threshold"` // VAULT_TOKEN_RENEW_THRESHOLD
	CheckInterval  time.Duration `yaml:"check_interval"`  // VAULT_RENEW_CHECK_INTERVAL
}

// Enabled reports whether secrets are read from Vault.
func (v Vault) Enabled() bool { return v.Addr != "" }

func defaultVault() Vault {
	return Vault{
		SecretIDFile:   "/etc/mutt/secrets/vault_secret_id",
		SecretsPath:    "secret/mutt",
		RenewThreshold: time.Hour,
		CheckInterval:  5 * time.Minute,
	}
}

func (c *Config) vaultBindings() []binding {
	v := &c.Vault
	return []binding{
		{[]string{"VAULT_ADDR"}, str(&v.Addr)},
		{[]string{"VAULT_ROLE_ID"}, str(&v.RoleID)},
		{[]string{"VAULT_SECRET_ID_FILE"}, str(&v.SecretIDFile)},
		{[]string{"VAULT_SECRETS_PATH"}, str(&v.SecretsPath)},
		{[]string{"VAULT_CACERT"}, str(&v.CACertPath)},
		{[]string{"VAULT_TOKEN_RENEW_THRESHOLD"}, seconds(&v.RenewThreshold)},
		{[]string{"VAULT_RENEW_CHECK_INTERVAL"}, seconds(&v.CheckInterval)},
	}
}

// validate names the Vault settings that are out of range. Whether the
// role id and secret id file are present is checked when logging in, so
// that a missing one fails the start (exit 1) rather than the
// configuration.
func (v Vault) validate() []error {
	var errs []error
	if v.RenewThreshold < time.Second {
		errs = append(errs, &FieldError{Field: "VAULT_TOKEN_RENEW_THRESHOLD",
			Rule: fmt.Sprintf("must be at least 1 second, got %s", v.RenewThreshold)})
	}
	if v.CheckInterval < 100*time.Millisecond {
		errs = append(errs, &FieldError{Field: "VAULT_RENEW_CHECK_INTERVAL",
			Rule: fmt.Sprintf("must be at least 100ms, got %s", v.CheckInterval)})
	}
	return errs
}
