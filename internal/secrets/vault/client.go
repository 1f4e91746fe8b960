package vault

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/mutt-go/mutt/internal/secrets"
)

// Defaults of the renewal loop (VAULT_TOKEN_RENEW_THRESHOLD and
// VAULT_RENEW_CHECK_INTERVAL).
const (
	DefaultRenewThreshold = time.Hour
	DefaultCheckInterval  = 5 * time.Minute
)

// Config says how to reach and log in to Vault.
type Config struct {
	Addr         string // VAULT_ADDR, e.g. https://vault.example.com:8200
	RoleID       string // VAULT_ROLE_ID
	SecretIDFile string // VAULT_SECRET_ID_FILE
	SecretsPath  string // VAULT_SECRETS_PATH, e.g. secret/mutt/prod
	// RenewThreshold is the remaining token lifetime below which the token
	// is renewed (or replaced by a new login).
	RenewThreshold time.Duration
	// CheckInterval is how often the token is checked and the secret re-read.
	CheckInterval time.Duration
	// HTTPClient, when not nil, is used (with redirects to another host
	// refused unless it sets CheckRedirect itself); otherwise one with a 10 s
	// timeout trusting CACertPath (if set) is built.
	HTTPClient *http.Client
	CACertPath string // VAULT_CACERT
}

// Client is a logged-in Vault session. Its methods are safe for concurrent
// use; Run owns the token renewal and must be called at most once.
type Client struct {
	cfg      Config
	http     *http.Client
	logger   *slog.Logger
	secretID secrets.Secret
	path     string // SecretsPath under the mount, fixed by KVPath
	refresh  chan struct{}

	mu    sync.Mutex
	token secrets.Secret
}

// Login validates cfg, reads the secret id from cfg.SecretIDFile and logs
// in with AppRole. Errors name the environment variable to fix.
func Login(ctx context.Context, cfg Config, logger *slog.Logger) (*Client, error) {
	if cfg.Addr == "" {
		return nil, errors.New("VAULT_ADDR is empty")
	}
	if u, err := url.Parse(cfg.Addr); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("VAULT_ADDR must be an http:// or https:// URL, got %q", cfg.Addr)
	}
	if cfg.RoleID == "" {
		return nil, errors.New("VAULT_ROLE_ID is required when VAULT_ADDR is set")
	}
	if cfg.SecretIDFile == "" {
		return nil, errors.New("VAULT_SECRET_ID_FILE is required when VAULT_ADDR is set")
	}
	secretID, err := readSecretID(cfg.SecretIDFile)
	if err != nil {
		return nil, err
	}
	if cfg.RenewThreshold <= 0 {
		cfg.RenewThreshold = DefaultRenewThreshold
	}
	if cfg.CheckInterval <= 0 {
		cfg.CheckInterval = DefaultCheckInterval
	}
	hc := cfg.HTTPClient
	if hc == nil {
		if hc, err = newHTTPClient(cfg.CACertPath); err != nil {
			return nil, err
		}
	} else if hc.CheckRedirect == nil {
		own := *hc
		own.CheckRedirect = sameOrigin
		hc = &own
	}
	c := &Client{
		cfg: cfg, http: hc, logger: logger, secretID: secretID,
		path: KVPath(cfg.SecretsPath), refresh: make(chan struct{}, 1),
	}
	if err := c.login(ctx); err != nil {
		return nil, err
	}
	return c, nil
}

func readSecretID(path string) (secrets.Secret, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return secrets.Secret{}, fmt.Errorf("reading VAULT_SECRET_ID_FILE: %w", err)
	}
	v := strings.TrimSpace(string(b))
	if v == "" {
		return secrets.Secret{}, fmt.Errorf("VAULT_SECRET_ID_FILE names %s, which is empty", path)
	}
	return secrets.New(v), nil
}

func newHTTPClient(caPath string) (*http.Client, error) {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = &tls.Config{MinVersion: tls.VersionTLS12}
	if caPath != "" {
		b, err := os.ReadFile(caPath)
		if err != nil {
			return nil, fmt.Errorf("reading VAULT_CACERT: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(b) {
			return nil, fmt.Errorf("VAULT_CACERT %s holds no PEM certificate", caPath)
		}
		tr.TLSClientConfig.RootCAs = pool
	}
	return &http.Client{Transport: tr, Timeout: 10 * time.Second, CheckRedirect: sameOrigin}, nil
}

// sameOrigin refuses a redirect to another scheme or host: Go forwards
// custom headers such as X-Vault-Token on redirects, so following one to
// another host (or from https to http) would hand it the token.
func sameOrigin(req *http.Request, via []*http.Request) error {
	if len(via) >= 5 {
		return errors.New("stopped after 5 redirects")
	}
	if first := via[0].URL; req.URL.Scheme != first.Scheme || req.URL.Host != first.Host {
		return fmt.Errorf("refusing a redirect from %s://%s to %s://%s", first.Scheme, first.Host, req.URL.Scheme, req.URL.Host)
	}
	return nil
}

// authResponse is the "auth" block of login and renew-self answers.
type authResponse struct {
	Auth *struct {
		ClientToken   string `json:"client_token"`
		LeaseDuration int64  `json:"lease_duration"`
		Renewable     bool   `json:"renewable"`
	} `json:"auth"`
}

// login performs the AppRole login and installs the new token.
func (c *Client) login(ctx context.Context) error {
	body := map[string]string{"role_id": c.cfg.RoleID, "secret_id": c.secretID.Reveal()}
	var resp authResponse
	if err := c.do(ctx, http.MethodPost, "auth/approle/login", nil, body, &resp, false); err != nil {
		return fmt.Errorf("logging in to Vault at %s with AppRole (VAULT_ROLE_ID, VAULT_SECRET_ID_FILE): %w", c.cfg.Addr, err)
	}
	if resp.Auth == nil || resp.Auth.ClientToken == "" {
		return fmt.Errorf("logging in to Vault at %s: the answer holds no client token", c.cfg.Addr)
	}
	c.mu.Lock()
	c.token = secrets.New(resp.Auth.ClientToken)
	c.mu.Unlock()
	c.logger.Info("logged in to Vault", "vault_addr", c.cfg.Addr,
		"lease_duration", time.Duration(resp.Auth.LeaseDuration)*time.Second, "renewable", resp.Auth.Renewable)
	return nil
}

// StatusError is an HTTP error answer of Vault.
type StatusError struct {
	Method string
	Path   string // API path after /v1/
	Code   int
	// Messages are Vault's "errors" strings (they never hold secret values).
	Messages []string
}

func (e *StatusError) Error() string {
	msg := fmt.Sprintf("Vault answered %s /v1/%s with %d", e.Method, e.Path, e.Code)
	if len(e.Messages) > 0 {
		msg += ": " + strings.Join(e.Messages, "; ")
	}
	return msg
}

// isStatus reports whether err is a StatusError with the given code.
func isStatus(err error, code int) bool {
	var se *StatusError
	return errors.As(err, &se) && se.Code == code
}

// maxBody bounds what is read from Vault; MUTT's secrets are small.
const maxBody = 4 << 20

// do sends one request to /v1/<path> with query q and JSON body in (when
// not nil), and decodes the answer into out (when not nil). authed adds the
// token header.
func (c *Client) do(ctx context.Context, method, path string, q url.Values, in, out any, authed bool) error {
	u := strings.TrimRight(c.cfg.Addr, "/") + "/v1/" + path
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return fmt.Errorf("encoding request: %w", err)
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, u, body)
	if err != nil {
		return fmt.Errorf("building request: %w", err)
	}
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if authed {
		c.mu.Lock()
		tok := c.token
		c.mu.Unlock()
		req.Header.Set("X-Vault-Token", tok.Reveal())
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return fmt.Errorf("%s /v1/%s: %w", method, path, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	if err != nil {
		return fmt.Errorf("reading answer to %s /v1/%s: %w", method, path, err)
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		se := &StatusError{Method: method, Path: path, Code: resp.StatusCode}
		var e struct {
			Errors []string `json:"errors"`
		}
		if json.Unmarshal(raw, &e) == nil {
			se.Messages = e.Errors
		}
		return se
	}
	if out == nil || len(raw) == 0 {
		return nil
	}
	if err := json.Unmarshal(raw, out); err != nil {
		return fmt.Errorf("decoding answer to %s /v1/%s: %w", method, path, err)
	}
	return nil
}
