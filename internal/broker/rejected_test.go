package broker_test

import (
	"errors"
	"sync"
	"testing"
	"time"

	"authd.dev/authd/client"
	"authd.dev/authd/internal/daemontest"
	"authd.dev/authd/internal/idptest"
)

// A token a server refused is not served again to those who say so: the
// callers naming it at once share one refresh, one naming a token already
// replaced costs nothing, and when the provider is down the caller hears
// it rather than getting the refused token back.
func TestRejectedToken(t *testing.T) {
	t.Parallel()
	d, proxy := daemontest.NewProxied(t, idptest.Options{})
	ctx := daemontest.Context(t)
	c := d.Client()
	d.Login(ctx, c)
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
