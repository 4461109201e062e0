// Portions of this file are adapted from github.com/zitadel/oidc/v3
// example/server/storage/client.go, v3.48.1, Copyright the zitadel/oidc
// authors, licensed under the Apache License, Version 2.0
// (http://www.apache.org/licenses/LICENSE-2.0).
// Changes: the two fixed authd clients, configurable lifetimes, any scope.

package idptest

import (
	"time"

	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"
)

const (
	// PublicClientID is the native public client authd uses: no secret
	// (token endpoint auth method "none"), PKCE S256 required at the token
	// endpoint, grants authorization_code, refresh_token and device_code,
	// redirect URI [RedirectURI] on any loopback port (RFC 8252).
	PublicClientID = "authd-cli"

	// ConfidentialClientID is a confidential web client with secret
	// [ConfidentialClientSecret] (HTTP Basic or form post), grants
	// client_credentials, authorization_code and refresh_token, redirect URI
	// http://127.0.0.1:<any port>/callback.
	ConfidentialClientID = "authd-service"

	// ConfidentialClientSecret is the secret of [ConfidentialClientID].
	ConfidentialClientSecret = "authd-service-secret"

	// RedirectURI is the registered redirect URI of both clients. For
	// [PublicClientID] the provider accepts it with any port, as RFC 8252
	// asks of native clients; zitadel's op also accepts the hosts
	// "localhost" and "[::1]" there, which some certified providers do not.
	RedirectURI = "http://127.0.0.1/callback"
)

// loginPath is where op sends the browser to log in (see client.LoginURL).
const loginPath = "/login/username"

func defaultClients(idTokenLifetime time.Duration, accessTokenType op.AccessTokenType) []*client {
	return []*client{
		{
			id:              PublicClientID,
			redirectURIs:    []string{RedirectURI},
			applicationType: op.ApplicationTypeNative,
			authMethod:      oidc.AuthMethodNone,
			responseTypes:   []oidc.ResponseType{oidc.ResponseTypeCode},
			grantTypes: []oidc.GrantType{
				oidc.GrantTypeCode, oidc.GrantTypeRefreshToken, oidc.GrantTypeDeviceCode,
			},
			accessTokenType: accessTokenType,
			idTokenLifetime: idTokenLifetime,
		},
		{
			id:               ConfidentialClientID,
			secret:           ConfidentialClientSecret,
			redirectURIs:     []string{RedirectURI},
			redirectURIGlobs: []string{"http://127.0.0.1:*/callback"},
			applicationType:  op.ApplicationTypeWeb,
			authMethod:       oidc.AuthMethodBasic,
			responseTypes:    []oidc.ResponseType{oidc.ResponseTypeCode},
			grantTypes: []oidc.GrantType{
				oidc.GrantTypeClientCredentials, oidc.GrantTypeCode, oidc.GrantTypeRefreshToken,
			},
			accessTokenType: accessTokenType,
			idTokenLifetime: idTokenLifetime,
		},
	}
}

// client implements op.Client.
type client struct {
	id               string
	secret           string
	redirectURIs     []string
	redirectURIGlobs []string
	applicationType  op.ApplicationType
	authMethod       oidc.AuthMethod
	responseTypes    []oidc.ResponseType
	grantTypes       []oidc.GrantType
	accessTokenType  op.AccessTokenType
	idTokenLifetime  time.Duration
}

func (c *client) GetID() string                       { return c.id }
func (c *client) RedirectURIs() []string              { return c.redirectURIs }
func (c *client) PostLogoutRedirectURIs() []string    { return nil }
func (c *client) ApplicationType() op.ApplicationType { return c.applicationType }
func (c *client) AuthMethod() oidc.AuthMethod         { return c.authMethod }
func (c *client) ResponseTypes() []oidc.ResponseType  { return c.responseTypes }
func (c *client) GrantTypes() []oidc.GrantType        { return c.grantTypes }
func (c *client) LoginURL(id string) string           { return loginPath + "?authRequestID=" + id }
func (c *client) AccessTokenType() op.AccessTokenType { return c.accessTokenType }
func (c *client) IDTokenLifetime() time.Duration      { return c.idTokenLifetime }
func (c *client) DevMode() bool                       { return false }
func (c *client) ClockSkew() time.Duration            { return 0 }

// IsScopeAllowed lets any custom scope through, so tests can ask for API
// scopes and down-scoped tokens.
func (c *client) IsScopeAllowed(string) bool { return true }

// IDTokenUserinfoClaimsAssertion puts email, name and preferred_username in
// the ID token even when an access token is issued too, as most providers do.
func (c *client) IDTokenUserinfoClaimsAssertion() bool { return true }

func (c *client) RestrictAdditionalIdTokenScopes() func([]string) []string {
	return func(scopes []string) []string { return scopes }
}

func (c *client) RestrictAdditionalAccessTokenScopes() func([]string) []string {
	return func(scopes []string) []string { return scopes }
}

// redirectGlobClient implements op.HasRedirectGlobs: a web client's http
// redirect URI must otherwise match exactly, port included.
type redirectGlobClient struct{ *client }

func (c redirectGlobClient) RedirectURIGlobs() []string           { return c.redirectURIGlobs }
func (c redirectGlobClient) PostLogoutRedirectURIGlobs() []string { return nil }
