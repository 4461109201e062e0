// Package idptest runs a real OpenID provider (zitadel/oidc's pkg/op)
// in-process on a loopback address, for authd's tests and demo.
//
// # Starting one
//
// In a test, [New] starts a [Provider] on 127.0.0.1 with an ephemeral port
// and closes it when the test ends; [Start] does the same for programs
// (tools/devidp). [Provider.Issuer] is the URL for OIDC discovery. [Options]
// set token lifetimes, the device flow's timing and the users; the zero
// value has one user, [DefaultUsername] with [DefaultPassword].
//
// # Clients
//
// Two clients are registered. [PublicClientID] is a native public client:
// no secret, PKCE S256 mandatory at the token endpoint, the authorization
// code, refresh token and device code grants, and [RedirectURI] on any
// loopback port. [ConfidentialClientID] authenticates with
// [ConfidentialClientSecret] and may use client_credentials.
//
// # Behaviour of certified providers
//
// Refresh tokens are issued when offline_access is asked for and rotate on
// every use; presenting a rotated-out token answers invalid_grant and
// revokes the whole grant, the newest token included.
// [Provider.RevokeAllRefreshTokens] revokes every grant at once. Revocation
// (RFC 7009) and the device authorization grant (RFC 8628) are served and
// advertised in discovery. ID tokens are RS256 JWTs carrying nonce, email,
// name and preferred_username; access tokens are JWTs too unless
// [Options].OpaqueAccessTokens is set.
//
// # Observing the client under test
//
// [Provider.Count] tells how many requests reached each endpoint (see the
// Endpoint constants), [Provider.AuthorizeRequests] and
// [Provider.TokenRequests] what the client sent.
//
// # Playing the user
//
// The login and device pages have stable element IDs for browser tests
// (input#username, input#password, button#submit, button#deny;
// input#user_code; button#allow). Without a browser, [CompleteLogin] and
// [DenyLogin] drive an authorization URL to the client's callback with
// plain HTTP, and [ApproveDevice] and [DenyDevice] do the user's side of
// the device flow.
package idptest
