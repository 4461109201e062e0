package flow

import (
	"context"
	"errors"
	"fmt"
	"time"
	"unicode"
	"unicode/utf8"

	"golang.org/x/oauth2"
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
	if err := checkDeviceAuth(da, time.Now()); err != nil {
		return nil, fmt.Errorf("device authorization: %w", err)
	}
	show(DeviceCode{
		VerificationURI:         da.VerificationURI,
		UserCode:                da.UserCode,
		VerificationURIComplete: da.VerificationURIComplete,
		Expires:                 da.Expiry,
	})
	pctx, cancel := context.WithDeadline(ctx, da.Expiry)
	defer cancel()
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

// Bounds on a device authorization response, whose text authc shows the user.
const (
	maxUserCodeLen        = 64
	maxPollInterval       = 60 // seconds
	defaultDeviceCodeLife = 15 * time.Minute
	maxDeviceCodeLife     = time.Hour
)

// checkDeviceAuth refuses a device authorization response that would put
// something other than a web address and a short code in front of the user,
// and bounds what would make polling misbehave: x/oauth2 turns the interval
// into a ticker period (a negative or overflowing one panics) and the
// expiry into the polling deadline.
func checkDeviceAuth(da *oauth2.DeviceAuthResponse, now time.Time) error {
	if da.DeviceCode == "" {
		return errors.New("the provider sent no device_code")
	}
	if err := checkDiscovered(da.VerificationURI); err != nil {
		return fmt.Errorf("verification_uri %q: %w", CleanText(da.VerificationURI, maxLocationLen), err)
	}
	if da.VerificationURIComplete != "" {
		if err := checkDiscovered(da.VerificationURIComplete); err != nil {
			return fmt.Errorf("verification_uri_complete %q: %w", CleanText(da.VerificationURIComplete, maxLocationLen), err)
		}
	}
	if err := checkUserCode(da.UserCode); err != nil {
		return fmt.Errorf("user_code %q: %w", CleanText(da.UserCode, maxUserCodeLen), err)
	}
	switch {
	case da.Interval < 0:
		da.Interval = 0 // x/oauth2's default, 5 s
	case da.Interval > maxPollInterval:
		da.Interval = maxPollInterval
	}
	// An absent, negative or overflowed expires_in becomes a sane deadline.
	switch {
	case !da.Expiry.After(now):
		da.Expiry = now.Add(defaultDeviceCodeLife)
	case da.Expiry.After(now.Add(maxDeviceCodeLife)):
		da.Expiry = now.Add(maxDeviceCodeLife)
	}
	return nil
}

// checkUserCode accepts a short code of printable characters.
func checkUserCode(code string) error {
	switch {
	case code == "":
		return errors.New("empty")
	case len(code) > maxUserCodeLen:
		return fmt.Errorf("longer than %d bytes", maxUserCodeLen)
	case !utf8.ValidString(code):
		return errors.New("not UTF-8")
	}
	for _, r := range code {
		if !unicode.IsPrint(r) {
			return errors.New("contains characters that cannot be shown")
		}
	}
	return nil
}
