package broker_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"authd.dev/authd/client"
	"authd.dev/authd/internal/daemontest"
	"authd.dev/authd/internal/idptest"
)

// loggedInBehindProxy is a daemon logged in through a fault proxy in front
// of its provider, and a client of it.
func loggedInBehindProxy(t *testing.T) (*daemontest.Daemon, *idptest.FaultProxy, context.Context, *client.Client) {
	t.Helper()
	d, proxy := daemontest.NewProxied(t, idptest.Options{})
	ctx := daemontest.Context(t)
	c := d.Client()
	d.Login(ctx, c)
	return d, proxy, ctx, c
}

// A token a server refused is not served again to those who say so: the
// callers naming it at once share one refresh, one naming a token already
// replaced costs nothing, and when the provider is down the caller hears
// it rather than getting the refused token back.
func TestRejectedToken(t *testing.T) {
	t.Parallel()
	d, proxy, ctx, c := loggedInBehindProxy(t)
	refused, err := c.Token(ctx, client.TokenOptions{})
	if err != nil {
		t.Fatal(err)
	}
	d.IdP.ResetCounts()

	// Slow answers, so that the callers overlap.
	proxy.Set(idptest.Fault{Delay: 300 * time.Millisecond})
	const callers = 5
	var wg sync.WaitGroup
	got := make([]*client.Token, callers)
	errs := make([]error, callers)
	for i := range callers {
		wg.Go(func() { got[i], errs[i] = c.Token(ctx, client.TokenOptions{Rejected: refused.AccessToken}) })
	}
	wg.Wait()
	proxy.Set(idptest.Fault{})
	for i := range callers {
		if errs[i] != nil {
			t.Fatalf("caller %d naming the refused token: %v", i, errs[i])
		}
		if got[i].AccessToken == refused.AccessToken {
			t.Errorf("caller %d got the refused token back", i)
		}
		if got[i].AccessToken != got[0].AccessToken {
			t.Errorf("callers %d and 0 got different tokens: each refreshed", i)
		}
	}
	if n := d.IdP.Count(idptest.EndpointTokenRefresh); n != 1 {
		t.Errorf("%d refreshes for %d callers naming one refused token, want 1", n, callers)
	}

	// Named again once replaced (a second helper's late erase): the
	// current token, no refresh.
	again, err := c.Token(ctx, client.TokenOptions{Rejected: refused.AccessToken})
	if err != nil || again.AccessToken != got[0].AccessToken {
		t.Errorf("naming a token already replaced: %v; want the current token", err)
	}
	if n := d.IdP.Count(idptest.EndpointTokenRefresh); n != 1 {
		t.Errorf("%d refreshes after a stale rejection, want still 1", n)
	}

	// The provider down: the refused token is not handed back.
	proxy.Set(idptest.Fault{Status: 503})
	if tok, err := c.Token(ctx, client.TokenOptions{Rejected: got[0].AccessToken}); !errors.Is(err, client.ErrProviderUnavailable) {
		t.Errorf("naming the current token with the provider down: %v (token returned: %t); want the provider unavailable", err, tok != nil)
	}
}

// A refused token is not served back when the refresh its caller waited
// for was skipped: a scoped-token mint that ran meanwhile rotated the
// refresh token and stored a record with the same access token, which is
// no refresh of it.
func TestRejectedTokenWhileAMintRotates(t *testing.T) {
	t.Parallel()
	_, proxy, ctx, c := loggedInBehindProxy(t)
	refused, err := c.Token(ctx, client.TokenOptions{})
	if err != nil {
		t.Fatal(err)
	}
	proxy.Set(idptest.Fault{Delay: 500 * time.Millisecond})
	before := proxy.Count(daemontest.TokenPath)
	minted := make(chan error, 1)
	go func() {
		_, err := c.Token(ctx, client.TokenOptions{Scopes: []string{"openid", "email"}})
		minted <- err
	}()
	for proxy.Count(daemontest.TokenPath) == before {
		time.Sleep(time.Millisecond) // until the mint is at the provider, holding the refresh token
	}
	tok, err := c.Token(ctx, client.TokenOptions{Rejected: refused.AccessToken})
	if err != nil {
		t.Fatalf("naming the refused token while a mint ran: %v", err)
	}
	if tok.AccessToken == refused.AccessToken {
		t.Errorf("the refused token was served back")
	}
	if err := <-minted; err != nil {
		t.Errorf("the scoped token: %v", err)
	}
}

// A stored token (authc login --with-token) that a server refused is not
// handed back: nothing can renew it, and the caller is told to store a
// new one.
func TestRejectedStoredToken(t *testing.T) {
	t.Parallel()
	d := daemontest.New(t, "file", idptest.Options{}, "")
	ctx := daemontest.Context(t)
	c := d.Client()
	if _, err := c.SetToken(ctx, "work", "stored-token"); err != nil {
		t.Fatal(err)
	}
	if tok, err := c.Token(ctx, client.TokenOptions{}); err != nil || tok.AccessToken != "stored-token" {
		t.Fatalf("the stored token: %v", err)
	}
	_, err := c.Token(ctx, client.TokenOptions{Rejected: "stored-token"})
	if !errors.Is(err, client.ErrLoginRequired) || !strings.Contains(err.Error(), "store a new one") {
		t.Errorf("naming the stored token as refused: %v; want a login required, saying to store a new one", err)
	}
}

// A scoped token named as refused is minted again, once for the callers
// that name it at once; naming it once replaced costs nothing.
func TestRejectedScopedToken(t *testing.T) {
	t.Parallel()
	_, proxy, ctx, c := loggedInBehindProxy(t)
	scoped := client.TokenOptions{Scopes: []string{"openid", "email"}}
	refused, err := c.Token(ctx, scoped)
	if err != nil {
		t.Fatal(err)
	}
	calls := proxy.Count(daemontest.TokenPath)
	named := scoped
	named.Rejected = refused.AccessToken
	tok, err := c.Token(ctx, named)
	if err != nil || tok.AccessToken == refused.AccessToken {
		t.Fatalf("naming the refused scoped token: %v (the same token: %t)", err, err == nil && tok.AccessToken == refused.AccessToken)
	}
	if again, err := c.Token(ctx, named); err != nil || again.AccessToken != tok.AccessToken {
		t.Errorf("naming it again once replaced: %v; want the new scoped token", err)
	}
	if n := proxy.Count(daemontest.TokenPath) - calls; n != 1 {
		t.Errorf("%d token requests, want 1", n)
	}
}
