// Package vault is MUTT's small HashiCorp Vault client: AppRole login,
// reads and writes of the KV version 2 engine mounted at "secret", and a
// background loop that keeps the token alive (renewing it, or logging in
// again when it can no longer be renewed) and re-reads MUTT's secret so a
// rotated password reaches running connections without a restart.
//
// It speaks the HTTP API with net/http and encoding/json only. Tokens,
// secret ids and secret values are held as secrets.Secret and never appear
// in errors or logs.
//
// It imports only the secrets package of MUTT.
package vault
