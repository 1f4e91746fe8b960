package vault

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/mutt-go/mutt/internal/secrets"
)

// Refresh asks Run to re-read the secret now rather than at the next check
// (for example because a store refused both passwords). It never blocks;
// requests coalesce.
func (c *Client) Refresh() {
	select {
	case c.refresh <- struct{}{}:
	default:
	}
}

// Run keeps the token alive and the secret fresh until ctx ends. Every
// CheckInterval (waiting first) it looks the token up and renews it when
// its lifetime is below RenewThreshold, or logs in again when it cannot be
// renewed (not renewable, or its maximum lifetime is reached); then it
// re-reads the secret and hands it to onSecrets. A Refresh call re-reads
// at once. Failures are logged and retried at the next check; Run returns
// nil when ctx ends.
func (c *Client) Run(ctx context.Context, onSecrets func(map[string]secrets.Secret)) error {
	ticker := time.NewTicker(c.cfg.CheckInterval)
	defer ticker.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-ticker.C:
			if err := c.checkToken(ctx); err != nil && ctx.Err() == nil {
				c.logger.Error("keeping the Vault token alive", "error", err)
			}
		case <-c.refresh:
			c.logger.Info("re-reading secrets from Vault on request")
		}
		s, err := c.ReadSecrets(ctx)
		if err != nil {
			if ctx.Err() == nil {
				c.logger.Error("re-reading secrets from Vault", "error", err)
			}
			continue
		}
		if onSecrets != nil {
			onSecrets(s)
		}
	}
}

// tokenInfo is the part of lookup-self's answer the renewal needs.
type tokenInfo struct {
	Data struct {
		TTL         int64 `json:"ttl"`
		Renewable   bool  `json:"renewable"`
		CreationTTL int64 `json:"creation_ttl"`
	} `json:"data"`
}

// checkToken renews the token when it runs low, or replaces it by a new
// login when renewing is impossible or failed.
func (c *Client) checkToken(ctx context.Context) error {
	var info tokenInfo
	if err := c.do(ctx, http.MethodGet, "auth/token/lookup-self", nil, nil, &info, true); err != nil {
		if isStatus(err, http.StatusForbidden) {
			c.logger.Warn("Vault token is no longer valid; logging in again")
			return c.login(ctx)
		}
		return fmt.Errorf("looking up the Vault token: %w", err)
	}
	ttl := time.Duration(info.Data.TTL) * time.Second
	if ttl >= c.cfg.RenewThreshold {
		return nil
	}
	if !info.Data.Renewable {
		c.logger.Info("Vault token is not renewable and runs low; logging in again", "ttl", ttl)
		return c.login(ctx)
	}
	var resp authResponse
	if err := c.do(ctx, http.MethodPost, "auth/token/renew-self", nil, map[string]any{}, &resp, true); err != nil {
		c.logger.Warn("renewing the Vault token failed; logging in again", "error", err)
		return c.login(ctx)
	}
	if resp.Auth == nil {
		return c.login(ctx)
	}
	lease := time.Duration(resp.Auth.LeaseDuration) * time.Second
	created := time.Duration(info.Data.CreationTTL) * time.Second
	// A renewal shorter than the token's own period was cut by its maximum
	// lifetime; once that leaves less than the threshold, renewing again
	// cannot help, so a fresh login replaces the token before it dies.
	if lease < c.cfg.RenewThreshold && (created == 0 || lease < created) {
		c.logger.Info("Vault token reached its maximum lifetime; logging in again", "lease_duration", lease)
		return c.login(ctx)
	}
	c.logger.Info("renewed the Vault token", "lease_duration", lease)
	return nil
}
