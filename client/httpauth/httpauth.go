// Package httpauth puts authd's tokens on HTTP requests: [Transport] adds a
// profile's access token to every request of an [http.Client], and
// [TokenSource] hands it to golang.org/x/oauth2 and to the libraries that
// take an [oauth2.TokenSource] (Google's API clients among them).
//
// Both ask the daemon for each token, through a [client.Client]; the
// daemon caches and refreshes it, so a call costs a local round trip and
// never a request to the provider while the token is valid. They live
// apart from package client so that programs which need neither do not
// link x/oauth2.
//
//	c, err := client.New()
//	if err != nil { ... }
//	defer c.Close()
//	hc := &http.Client{Transport: httpauth.Transport(c, nil, client.TokenOptions{Profile: "work"})}
package httpauth

import (
	"context"
	"net/http"

	"golang.org/x/oauth2"

	"authd.dev/authd/client"
)

// TokenSource returns an oauth2.TokenSource that asks the daemon, under
// ctx, for each token; wrapping it in oauth2.ReuseTokenSource only saves
// that local round trip.
func TokenSource(ctx context.Context, c *client.Client, o client.TokenOptions) oauth2.TokenSource {
	return tokenSource{ctx: ctx, c: c, o: o}
}

type tokenSource struct {
	ctx context.Context
	c   *client.Client
	o   client.TokenOptions
}

func (s tokenSource) Token() (*oauth2.Token, error) {
	t, err := s.c.Token(s.ctx, s.o)
	if err != nil {
		return nil, err
	}
	return oauth2Token(t), nil
}

func oauth2Token(t *client.Token) *oauth2.Token {
	return &oauth2.Token{AccessToken: t.AccessToken, TokenType: t.TokenType, Expiry: t.Expiry}
}

// Transport returns an http.RoundTripper that sends each request through
// base (http.DefaultTransport when nil) with the profile's access token in
// its Authorization header. The token is asked for under the request's
// context, so cancelling a request also stops its wait for the daemon.
func Transport(c *client.Client, base http.RoundTripper, o client.TokenOptions) http.RoundTripper {
	if base == nil {
		base = http.DefaultTransport
	}
	return &transport{c: c, base: base, o: o}
}

type transport struct {
	c    *client.Client
	base http.RoundTripper
	o    client.TokenOptions
}

func (t *transport) RoundTrip(req *http.Request) (*http.Response, error) {
	tok, err := t.c.Token(req.Context(), t.o)
	if err != nil {
		// A RoundTripper closes the body even when it sends nothing.
		if req.Body != nil {
			req.Body.Close()
		}
		return nil, err
	}
	// A RoundTripper must not change the caller's request.
	r := req.Clone(req.Context())
	oauth2Token(tok).SetAuthHeader(r)
	return t.base.RoundTrip(r)
}
