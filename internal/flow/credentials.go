package flow

import (
	"context"
	"net/url"
	"strings"
)

// ClientCredentials gets a token for the client itself (RFC 6749 4.4), with
// secret as its client secret (kept in the keyring, never in the config).
func (c *Client) ClientCredentials(ctx context.Context, secret string) (*Token, error) {
	ep, err := c.discover(ctx)
	if err != nil {
		return nil, err
	}
	form := url.Values{"grant_type": {"client_credentials"}}
	if len(c.profile.Scopes) > 0 {
		form.Set("scope", strings.Join(c.profile.Scopes, " "))
	}
	if c.profile.Audience != "" {
		form.Set("audience", c.profile.Audience)
	}
	t, err := c.postTokenAs(ctx, ep, form, secret)
	if err != nil {
		return nil, classify("client credentials", err)
	}
	return c.tokenFrom(ctx, ep, t, c.profile.Scopes, "")
}
