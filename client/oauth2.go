package client

import (
	"context"
	"net/http"

	"golang.org/x/oauth2"
)

// TokenSource returns an oauth2.TokenSource that asks the daemon each time;
// the daemon caches and refreshes, so wrapping it in oauth2.ReuseTokenSource
// only saves a local round trip.
func (c *Client) TokenSource(ctx context.Context, o TokenOptions) oauth2.TokenSource {
	return tokenSource{ctx: ctx, c: c, o: o}
}

type tokenSource struct {
	ctx context.Context
	c   *Client
	o   TokenOptions
}

func (s tokenSource) Token() (*oauth2.Token, error) {
	t, err := s.c.Token(s.ctx, s.o)
	if err != nil {
		return nil, err
	}
	return &oauth2.Token{AccessToken: t.AccessToken, TokenType: t.TokenType, Expiry: t.Expiry}, nil
}

// Transport returns an http.RoundTripper that adds the profile's access token
// to every request sent through base (http.DefaultTransport when nil).
func (c *Client) Transport(base http.RoundTripper, o TokenOptions) http.RoundTripper {
	return &oauth2.Transport{Source: c.TokenSource(context.Background(), o), Base: base}
}
