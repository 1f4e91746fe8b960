package remediation

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/mutt-go/mutt/internal/secrets"
)

// ErrKeyRefused is wrapped by the probe's error when Moogsoft answers 401 or
// 403: retrying will not help until the API key is fixed.
var ErrKeyRefused = errors.New("moogsoft refused the API key")

// NewProbe returns a Moogsoft health check for Options.MoogHealthy: a GET
// of url carrying the API key as a bearer token. A GET creates nothing in
// Moogsoft, unlike a test event, and the key proves the path replays will
// use is open. Healthy means a 2xx answer, or 405 (the endpoint exists and
// accepted the key but only takes POST); 401 and 403 give an error wrapping
// ErrKeyRefused; any other status, a timeout or a connection failure is
// unhealthy. A nil client means a plain one; timeout bounds each probe (5 s
// when zero). Redirects are not followed: where they lead is not the
// webhook.
func NewProbe(url string, apiKey secrets.Secret, timeout time.Duration, client *http.Client) func(ctx context.Context) error {
	if timeout <= 0 {
		timeout = 5 * time.Second
	}
	c := &http.Client{}
	if client != nil {
		*c = *client
	}
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return func(ctx context.Context) error {
		ctx, cancel := context.WithTimeout(ctx, timeout)
		defer cancel()
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return fmt.Errorf("probing moogsoft: %w", err)
		}
		if apiKey.IsSet() {
			req.Header.Set("Authorization", "Bearer "+apiKey.Reveal())
		}
		req.Header.Set("Accept", "application/json")
		resp, err := c.Do(req)
		if err != nil {
			return fmt.Errorf("probing moogsoft: %w", err)
		}
		// Drain a little so the connection can be reused.
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 4096))
		_ = resp.Body.Close()
		switch code := resp.StatusCode; {
		case code >= 200 && code < 300, code == http.StatusMethodNotAllowed:
			return nil
		case code == http.StatusUnauthorized, code == http.StatusForbidden:
			if !apiKey.IsSet() {
				return fmt.Errorf("probing moogsoft: %w (status %d): no API key is configured; set MOOG_API_KEY or MOOG_API_KEY_FILE", ErrKeyRefused, code)
			}
			return fmt.Errorf("probing moogsoft: %w (status %d, key %s): check MOOG_API_KEY", ErrKeyRefused, code, apiKey.Fingerprint())
		default:
			return fmt.Errorf("probing moogsoft: unhealthy, status %d", code)
		}
	}
}
