package broker_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"authd.dev/authd/api"
	"authd.dev/authd/client"
	"authd.dev/authd/internal/daemontest"
	"authd.dev/authd/internal/idptest"
)

func isReason(err error, reason api.Reason) bool {
	var ce *client.Error
	return errors.As(err, &ce) && ce.Reason == reason
}

// Providers whose tokens live a minute or less (Keycloak's default is
// five) must work for callers that do not name a min_valid: the default
// adapts to the lifetime, and the background refresh with it.
func TestShortLivedTokens(t *testing.T) {
	t.Parallel()
	for _, lifetime := range []time.Duration{10 * time.Second, 60 * time.Second, 90 * time.Second} {
		t.Run(lifetime.String(), func(t *testing.T) {
			t.Parallel()
			d := daemontest.New(t, "file", idptest.Options{AccessTokenLifetime: lifetime}, "")
			ctx := daemontest.Context(t)
			c := d.Client()
			d.Login(ctx, c)
			d.IdP.ResetCounts()
			// Three lifetimes, a caller every second: the background refresh
			// keeps the token fresh enough that nobody waits for one.
			for i := 0; i < int(3*lifetime/time.Second); i++ {
				tok, err := c.Token(ctx, client.TokenOptions{})
				if err != nil {
					t.Fatalf("default token at +%ds: %v", i, err)
				}
				if left := tok.Expiry.Sub(d.Clock.Now()); left <= 0 {
					t.Fatalf("served a token %s past its expiry", -left)
				}
				d.Clock.Advance(time.Second)
			}
			refreshes := d.IdP.Count("token:refresh_token")
			if refreshes < 3 || refreshes > 6 {
				t.Errorf("%d refreshes over three lifetimes of %s, want 3-6", refreshes, lifetime)
			}
			// Only an explicit min_valid beyond a fresh token's lifetime is an error.
			_, err := c.Token(ctx, client.TokenOptions{MinValid: lifetime + time.Second})
			if !isReason(err, "TOKEN_LIFETIME") {
				t.Errorf("min_valid %s with %s tokens: %v, want TOKEN_LIFETIME", lifetime+time.Second, lifetime, err)
			}
		})
	}
}

// A min_valid no fresh token can satisfy used to redeem the refresh token
// on every call: 50 calls, 50 refreshes.
func TestUnsatisfiableMinValidRefreshesNever(t *testing.T) {
	t.Parallel()
	d := daemontest.New(t, "file", idptest.Options{AccessTokenLifetime: 5 * time.Minute}, "")
	ctx := daemontest.Context(t)
	c := d.Client()
	d.Login(ctx, c)
	d.IdP.ResetCounts()
	for range 50 {
		_, err := c.Token(ctx, client.TokenOptions{MinValid: 10 * time.Minute})
		if !isReason(err, "TOKEN_LIFETIME") || !strings.Contains(err.Error(), "not longer than the 10m0s asked for") {
			t.Fatalf("min_valid 10m with 5-minute tokens: %v", err)
		}
	}
	if n := d.IdP.Count("token:refresh_token"); n != 0 {
		t.Errorf("%d refreshes for 50 requests that no fresh token can satisfy, want 0", n)
	}
	// A satisfiable request still works, from cache.
	if _, err := c.Token(ctx, client.TokenOptions{MinValid: 4 * time.Minute}); err != nil {
		t.Errorf("min_valid 4m: %v", err)
	}
}

// While the provider is down, requests the cached token cannot honour fail
// with the provider-unavailable reason and say how long it still lasts;
// default requests keep being served.
func TestOutageExplicitRequests(t *testing.T) {
	t.Parallel()
	d, proxy := daemontest.NewProxied(t, idptest.Options{AccessTokenLifetime: 20 * time.Minute})
	ctx := daemontest.Context(t)
	c := d.Client()
	d.Login(ctx, c)
	proxy.Set(idptest.Fault{Status: 503})
	d.Clock.Sleep(5 * time.Minute) // 15 minutes left

	for _, opts := range []client.TokenOptions{{MinValid: 19 * time.Minute}, {ForceRefresh: true}} {
		name := fmt.Sprintf("%+v", opts)
		for i := range 3 { // the first reaches the provider; the others meet the backoff
			_, err := c.Token(ctx, opts)
			if !errors.Is(err, client.ErrProviderUnavailable) || !strings.Contains(err.Error(), "the cached token is still valid for 14m5") {
				t.Errorf("%s, call %d, provider down: %v", name, i, err)
			}
		}
	}
	if _, err := c.Token(ctx, client.TokenOptions{}); err != nil {
		t.Errorf("default request while the provider is down: %v", err)
	}
	if _, err := c.Token(ctx, client.TokenOptions{MinValid: 10 * time.Minute}); err != nil {
		t.Errorf("min_valid the cached token satisfies: %v", err)
	}
}

// A refresh that fails for another reason than an unavailable provider (a
// refused redirect, a 400) keeps that reason while the backoff lasts: the
// first caller and the next ones are told the same thing.
func TestBackoffKeepsTheFailuresReason(t *testing.T) {
	t.Parallel()
	d, proxy := daemontest.NewProxied(t, idptest.Options{AccessTokenLifetime: 20 * time.Minute})
	ctx := daemontest.Context(t)
	c := d.Client()
	d.Login(ctx, c)
	proxy.Set(idptest.Fault{Status: 400})
	d.Clock.Sleep(5 * time.Minute) // 15 minutes left
	var reasons []api.Reason
	for range 3 {
		_, err := c.Token(ctx, client.TokenOptions{MinValid: 19 * time.Minute})
		var ce *client.Error
		if !errors.As(err, &ce) {
			t.Fatalf("min_valid 19m with the token endpoint answering 400: %v", err)
		}
		reasons = append(reasons, ce.Reason)
	}
	if reasons[0] == "IDP_UNAVAILABLE" || reasons[1] != reasons[0] || reasons[2] != reasons[0] {
		t.Errorf("reasons of three calls: %v; want the first's (not IDP_UNAVAILABLE) every time", reasons)
	}
}
