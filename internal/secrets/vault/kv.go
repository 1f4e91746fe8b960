package vault

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strings"

	"github.com/mutt-go/mutt/internal/secrets"
)

// Mount is where MUTT's KV version 2 engine is mounted.
const Mount = "secret"

// ErrNotFound is returned (wrapped) when no secret exists at a path.
var ErrNotFound = errors.New("no secret at this path")

// KVPath turns a VAULT_SECRETS_PATH as operators write it into the path
// under the mount: "secret/mutt/prod", "mutt/prod" and
// "secret/data/mutt/prod" all give "mutt/prod", read from
// /v1/secret/data/mutt/prod.
func KVPath(raw string) string {
	p := strings.Trim(strings.TrimSpace(raw), "/")
	p = strings.TrimPrefix(p, "v1/")
	p = strings.TrimPrefix(p, Mount+"/")
	p = strings.TrimPrefix(p, "data/")
	return strings.Trim(p, "/")
}

// SecretsPath returns the API path the client reads MUTT's secret from,
// such as "secret/data/mutt/prod".
func (c *Client) SecretsPath() string { return Mount + "/data/" + c.path }

// kvRead is the answer of GET /v1/secret/data/<path>.
type kvRead struct {
	Data struct {
		Data map[string]any `json:"data"`
	} `json:"data"`
}

// ReadKV returns the newest version of the secret at path under the mount
// (the path is fixed as KVPath does). A missing secret gives ErrNotFound.
func (c *Client) ReadKV(ctx context.Context, path string) (map[string]any, error) {
	p := KVPath(path)
	if p == "" {
		return nil, errors.New("reading from Vault: empty secret path")
	}
	var resp kvRead
	err := c.authed(ctx, http.MethodGet, Mount+"/data/"+escapePath(p), nil, nil, &resp)
	if isStatus(err, http.StatusNotFound) {
		return nil, fmt.Errorf("reading %s/%s from Vault: %w", Mount, p, ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("reading %s/%s from Vault: %w", Mount, p, err)
	}
	if resp.Data.Data == nil {
		return nil, fmt.Errorf("reading %s/%s from Vault: %w (deleted or destroyed)", Mount, p, ErrNotFound)
	}
	return resp.Data.Data, nil
}

// ReadSecrets reads the secret at Config.SecretsPath. String values become
// Secrets; numbers and booleans are kept in their JSON text form; other
// values (null, objects, lists) are skipped.
func (c *Client) ReadSecrets(ctx context.Context) (map[string]secrets.Secret, error) {
	data, err := c.ReadKV(ctx, c.path)
	if err != nil {
		return nil, fmt.Errorf("%w (VAULT_SECRETS_PATH)", err)
	}
	out := make(map[string]secrets.Secret, len(data))
	for k, v := range data {
		switch v := v.(type) {
		case string:
			out[k] = secrets.New(v)
		case float64, bool:
			out[k] = secrets.New(fmt.Sprint(v))
		}
	}
	return out, nil
}

// WriteKV writes data as a new version of the secret at path under the
// mount (used by restore).
func (c *Client) WriteKV(ctx context.Context, path string, data map[string]any) error {
	p := KVPath(path)
	if p == "" {
		return errors.New("writing to Vault: empty secret path")
	}
	body := map[string]any{"data": data}
	if err := c.authed(ctx, http.MethodPost, Mount+"/data/"+escapePath(p), nil, body, nil); err != nil {
		return fmt.Errorf("writing %s/%s to Vault: %w", Mount, p, err)
	}
	return nil
}

// ListKV lists the keys directly under path (folders end in "/"), sorted.
// An empty or missing folder gives no keys and no error.
func (c *Client) ListKV(ctx context.Context, path string) ([]string, error) {
	p := KVPath(path)
	var resp struct {
		Data struct {
			Keys []string `json:"keys"`
		} `json:"data"`
	}
	apiPath := Mount + "/metadata/" + escapePath(p)
	if p == "" {
		apiPath = Mount + "/metadata/"
	}
	err := c.authed(ctx, http.MethodGet, apiPath, url.Values{"list": {"true"}}, nil, &resp)
	if isStatus(err, http.StatusNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("listing %s/%s in Vault: %w", Mount, p, err)
	}
	sort.Strings(resp.Data.Keys)
	return resp.Data.Keys, nil
}

// authed sends a request with the token; when Vault refuses the token
// (403, as when it expired), it logs in again and retries once. A 403 for a
// path the policy forbids, with a token that still works, is returned as it
// is: logging in again would only mint one more token per call.
func (c *Client) authed(ctx context.Context, method, path string, q url.Values, in, out any) error {
	err := c.do(ctx, method, path, q, in, out, true)
	if !isStatus(err, http.StatusForbidden) {
		return err
	}
	if c.do(ctx, http.MethodGet, "auth/token/lookup-self", nil, nil, nil, true) == nil {
		return err
	}
	c.logger.Warn("Vault refused the token; logging in again", "path", path)
	if lerr := c.login(ctx); lerr != nil {
		return errors.Join(err, lerr)
	}
	return c.do(ctx, method, path, q, in, out, true)
}

// escapePath escapes each segment of a slash-separated path.
func escapePath(p string) string {
	parts := strings.Split(p, "/")
	for i, s := range parts {
		parts[i] = url.PathEscape(s)
	}
	return strings.Join(parts, "/")
}
