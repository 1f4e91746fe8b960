package vault

import (
	"context"
	"fmt"
	"net/http"
	"time"
)

// TokenTTL returns the remaining lifetime of the client's token, as Vault's
// lookup-self reports it; `mutt doctor` warns when it is short.
func (c *Client) TokenTTL(ctx context.Context) (time.Duration, error) {
	var info tokenInfo
	if err := c.do(ctx, http.MethodGet, "auth/token/lookup-self", nil, nil, &info, true); err != nil {
		return 0, fmt.Errorf("looking up the Vault token: %w", err)
	}
	return time.Duration(info.Data.TTL) * time.Second, nil
}
