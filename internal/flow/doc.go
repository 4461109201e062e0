// Package flow speaks OAuth 2.0 and OpenID Connect to one provider on behalf
// of the authd daemon. It knows nothing of gRPC or the keyring: it turns a
// profile into tokens and reports what went wrong in terms a caller can act on.
//
// # Provider
//
// [New] builds a [Client] for a profile. Endpoints come from OIDC discovery
// (cached for the client's lifetime once it succeeds) or from the profile's
// explicit endpoints for plain OAuth2 providers. Every request has the
// profile's timeout and honours its CA bundle.
//
// # An untrusted provider
//
// The provider's answers are input like any other. No redirect is followed
// on a request that carries a secret (token, device authorization,
// revocation); discovery and key fetches follow a few same-origin redirects
// only; a refused one is a [*RedirectError]. Discovered endpoints obey the
// rules of configured ones (https, or http on loopback), and the discovered
// issuer must be the configured one. Every response body is capped at
// 1 MiB. Every token gets a bounded, non-zero expiry, whatever expires_in
// says or omits. Provider text that reaches an error is passed through
// [CleanText]: capped, control characters and bidi overrides removed.
//
// # Logins
//
// [Client.PKCELogin] runs the authorization-code flow with PKCE (S256),
// state and nonce, on a loopback redirect server bound to 127.0.0.1 (RFC 8252).
// It never opens a browser: it hands the URL to its caller. The ID token is
// verified against the issuer's JWKS before the browser is told it succeeded.
// [Client.DeviceLogin] runs the device authorization grant (RFC 8628).
//
// # Refresh and errors
//
// [Client.Refresh] redeems a refresh token, optionally for fewer scopes or
// another audience. Errors wrap [ErrInvalidGrant] when the grant is gone
// (the user must log in again) and [ErrUnavailable] when the provider could
// not be reached or answered 5xx/429 (try again later); a [*ProviderError]
// carries the provider's error code and description. A request that was
// sent and got no answer also wraps [ErrUnanswered]: the provider may have
// redeemed, and rotated, the refresh token it carried.
// [Client.CloseIdleConnections] drops the connections kept to the provider,
// which a machine that slept finds dead.
package flow
