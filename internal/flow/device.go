package flow

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// ErrNoDeviceFlow means the provider offers no device authorization endpoint.
var ErrNoDeviceFlow = errors.New("the provider offers no device authorization endpoint")

// DeviceCode is what the user must do to approve a device login.
type DeviceCode struct {
	VerificationURI         string
	UserCode                string
	VerificationURIComplete string
	Expires                 time.Time
}

// DeviceLogin runs the device authorization grant (RFC 8628). show receives
// the code to display; it must not block. Polling honours the provider's
// interval (5 s when it gives none) and slow_down, and stops at expiry.
func (c *Client) DeviceLogin(ctx context.Context, show func(DeviceCode)) (*Token, error) {
	ep, err := c.discover(ctx)
	if err != nil {
		return nil, err
	}
	if ep.DeviceAuthURL == "" {
		return nil, fmt.Errorf("profile %s: %w", c.profile.Name, ErrNoDeviceFlow)
	}
	conf := c.oauth2Config(ep, "", c.profile.Scopes)
	da, err := conf.DeviceAuth(c.httpContext(ctx), c.authParams()...)
	if err != nil {
		return nil, classify("device authorization", err)
	}
	show(DeviceCode{
		VerificationURI:         da.VerificationURI,
		UserCode:                da.UserCode,
		VerificationURIComplete: da.VerificationURIComplete,
		Expires:                 da.Expiry,
	})
	pctx := ctx
	if !da.Expiry.IsZero() {
		var cancel context.CancelFunc
		pctx, cancel = context.WithDeadline(ctx, da.Expiry)
		defer cancel()
	}
	t, err := conf.DeviceAccessToken(c.httpContext(pctx), da)
	if err != nil {
		// x/oauth2 stops polling at the code's expiry with its own deadline.
		if ctx.Err() == nil && (pctx.Err() != nil || errors.Is(err, context.DeadlineExceeded)) {
			return nil, fmt.Errorf("%w: the device code expired before it was approved", ErrLoginFailed)
		}
		return nil, fmt.Errorf("%w: %w", ErrLoginFailed, classify("device token", err))
	}
	return c.tokenFrom(ctx, ep, t, c.profile.Scopes, "")
}
