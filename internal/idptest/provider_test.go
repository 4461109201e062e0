package idptest_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	gooidc "github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"

	"authd.dev/authd/internal/idptest"
)

var defaultScopes = []string{"openid", "profile", "email", "offline_access"}

func testContext(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// testClient is a minimal OAuth client of a Provider with its own loopback
// callback server, standing in for authd.
type testClient struct {
	provider *idptest.Provider
	oidc     *gooidc.Provider
	cfg      oauth2.Config

	mu        sync.Mutex
	callbacks []url.Values
}

func newTestClient(t *testing.T, p *idptest.Provider, clientID, secret string) *testClient {
	t.Helper()
	c := &testClient{provider: p}
	callback := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/callback" {
			http.NotFound(w, r)
			return
		}
		q := r.URL.Query()
		c.mu.Lock()
		c.callbacks = append(c.callbacks, q)
		c.mu.Unlock()
		if e := q.Get("error"); e != "" {
			http.Error(w, "login failed: "+e, http.StatusBadRequest)
			return
		}
		fmt.Fprint(w, "login complete, you can close this tab")
	}))
	t.Cleanup(callback.Close)

	var err error
	c.oidc, err = gooidc.NewProvider(testContext(t), p.Issuer())
	if err != nil {
		t.Fatalf("discovery: %v", err)
	}
	endpoint := c.oidc.Endpoint()
	endpoint.AuthStyle = oauth2.AuthStyleInParams
	if secret != "" {
		endpoint.AuthStyle = oauth2.AuthStyleInHeader
	}
	c.cfg = oauth2.Config{
		ClientID:     clientID,
		ClientSecret: secret,
		Endpoint:     endpoint,
		RedirectURL:  callback.URL + "/callback",
		Scopes:       defaultScopes,
	}
	return c
}

func (c *testClient) lastCallback(t *testing.T) url.Values {
	t.Helper()
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.callbacks) == 0 {
		t.Fatal("callback server was never called")
	}
	return c.callbacks[len(c.callbacks)-1]
}

// login runs the authorization code flow with PKCE as alice and returns the
// tokens and the nonce it sent.
func (c *testClient) login(t *testing.T) (*oauth2.Token, string) {
	t.Helper()
	ctx := testContext(t)
	verifier := oauth2.GenerateVerifier()
	state, nonce := oauth2.GenerateVerifier(), oauth2.GenerateVerifier()
	authURL := c.cfg.AuthCodeURL(state, oauth2.S256ChallengeOption(verifier), gooidc.Nonce(nonce))
	status, body, err := idptest.CompleteLogin(ctx, authURL, idptest.DefaultUsername, idptest.DefaultPassword)
	if err != nil {
		t.Fatalf("CompleteLogin: %v", err)
	}
	if status != http.StatusOK || !strings.Contains(body, "login complete") {
		t.Fatalf("callback answered %d %q, want 200 and the success page", status, body)
	}
	q := c.lastCallback(t)
	if q.Get("state") != state {
		t.Fatalf("callback state = %q, want %q", q.Get("state"), state)
	}
	tok, err := c.cfg.Exchange(ctx, q.Get("code"), oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatalf("exchange code: %v", err)
	}
	return tok, nonce
}

// refresh redeems refreshToken with the client's scopes.
func (c *testClient) refresh(ctx context.Context, refreshToken string) (*oauth2.Token, error) {
	return c.cfg.TokenSource(ctx, &oauth2.Token{RefreshToken: refreshToken}).Token()
}

func wantOAuthError(t *testing.T, err error, code string) {
	t.Helper()
	var re *oauth2.RetrieveError
	if !errors.As(err, &re) {
		t.Fatalf("error = %v, want an OAuth error %q", err, code)
	}
	if re.ErrorCode != code {
		t.Fatalf("OAuth error = %q (%s), want %q", re.ErrorCode, re.ErrorDescription, code)
	}
}

func getJSON(t *testing.T, target string, v any) {
	t.Helper()
	req, err := http.NewRequestWithContext(testContext(t), http.MethodGet, target, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", target, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: status %d", target, resp.StatusCode)
	}
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		t.Fatalf("GET %s: decode: %v", target, err)
	}
}

func postForm(t *testing.T, target string, form url.Values) *http.Response {
	t.Helper()
	req, err := http.NewRequestWithContext(testContext(t), http.MethodPost, target, strings.NewReader(form.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("POST %s: %v", target, err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	return resp
}

type discovery struct {
	Issuer                 string   `json:"issuer"`
	AuthorizationEndpoint  string   `json:"authorization_endpoint"`
	TokenEndpoint          string   `json:"token_endpoint"`
	RevocationEndpoint     string   `json:"revocation_endpoint"`
	DeviceEndpoint         string   `json:"device_authorization_endpoint"`
	UserinfoEndpoint       string   `json:"userinfo_endpoint"`
	JWKSURI                string   `json:"jwks_uri"`
	GrantTypes             []string `json:"grant_types_supported"`
	CodeChallengeMethods   []string `json:"code_challenge_methods_supported"`
	IDTokenSigningAlgs     []string `json:"id_token_signing_alg_values_supported"`
	TokenEndpointAuthMeths []string `json:"token_endpoint_auth_methods_supported"`
}

func TestDiscoveryAndJWKS(t *testing.T) {
	t.Parallel()
	p := idptest.New(t, idptest.Options{})
	if !strings.HasPrefix(p.Issuer(), "http://127.0.0.1:") {
		t.Fatalf("issuer = %q, want http://127.0.0.1:PORT", p.Issuer())
	}

	var d discovery
	getJSON(t, p.Issuer()+"/.well-known/openid-configuration", &d)
	if d.Issuer != p.Issuer() {
		t.Errorf("discovery issuer = %q, want %q", d.Issuer, p.Issuer())
	}
	for name, u := range map[string]string{
		"authorization_endpoint": d.AuthorizationEndpoint, "token_endpoint": d.TokenEndpoint,
		"revocation_endpoint": d.RevocationEndpoint, "device_authorization_endpoint": d.DeviceEndpoint,
		"userinfo_endpoint": d.UserinfoEndpoint, "jwks_uri": d.JWKSURI,
	} {
		if !strings.HasPrefix(u, p.Issuer()+"/") {
			t.Errorf("%s = %q, want a URL under the issuer", name, u)
		}
	}
	for _, g := range []string{"authorization_code", "refresh_token", "client_credentials", "urn:ietf:params:oauth:grant-type:device_code"} {
		if !slices.Contains(d.GrantTypes, g) {
			t.Errorf("grant_types_supported = %v, missing %s", d.GrantTypes, g)
		}
	}
	if !slices.Contains(d.CodeChallengeMethods, "S256") {
		t.Errorf("code_challenge_methods_supported = %v, want S256", d.CodeChallengeMethods)
	}
	if !slices.Contains(d.IDTokenSigningAlgs, "RS256") {
		t.Errorf("id_token_signing_alg_values_supported = %v, want RS256", d.IDTokenSigningAlgs)
	}
	for _, m := range []string{"none", "client_secret_basic", "client_secret_post"} {
		if !slices.Contains(d.TokenEndpointAuthMeths, m) {
			t.Errorf("token_endpoint_auth_methods_supported = %v, missing %s", d.TokenEndpointAuthMeths, m)
		}
	}

	var jwks struct {
		Keys []struct{ Kty, Alg, Use, Kid, N string } `json:"keys"`
	}
	getJSON(t, d.JWKSURI, &jwks)
	if len(jwks.Keys) != 1 {
		t.Fatalf("JWKS has %d keys, want 1", len(jwks.Keys))
	}
	if k := jwks.Keys[0]; k.Kty != "RSA" || k.Alg != "RS256" || k.Use != "sig" || k.Kid == "" || k.N == "" {
		t.Errorf("JWKS key = %+v, want an RS256 signing key with a kid", k)
	}
	if got := p.Count(idptest.EndpointDiscovery); got != 1 {
		t.Errorf("Count(discovery) = %d, want 1", got)
	}
	if got := p.Count(idptest.EndpointJWKS); got != 1 {
		t.Errorf("Count(jwks) = %d, want 1", got)
	}
}

func TestAuthCodeFlowWithPKCE(t *testing.T) {
	t.Parallel()
	p := idptest.New(t, idptest.Options{})
	c := newTestClient(t, p, idptest.PublicClientID, "")
	tok, nonce := c.login(t)

	if tok.AccessToken == "" || tok.RefreshToken == "" {
		t.Fatalf("token response lacks an access or refresh token (offline_access was asked for)")
	}
	if time.Until(tok.Expiry) > 5*time.Minute || time.Until(tok.Expiry) < 4*time.Minute {
		t.Errorf("access token expires in %v, want about the default 5m", time.Until(tok.Expiry))
	}
	rawID, _ := tok.Extra("id_token").(string)
	verifier := c.oidc.Verifier(&gooidc.Config{ClientID: idptest.PublicClientID, SupportedSigningAlgs: []string{"RS256"}})
	idToken, err := verifier.Verify(testContext(t), rawID)
	if err != nil {
		t.Fatalf("verify ID token: %v", err)
	}
	if idToken.Nonce != nonce {
		t.Errorf("ID token nonce = %q, want %q", idToken.Nonce, nonce)
	}
	if idToken.Subject != idptest.DefaultUsername {
		t.Errorf("ID token sub = %q, want %q", idToken.Subject, idptest.DefaultUsername)
	}
	var claims struct {
		Email             string `json:"email"`
		Name              string `json:"name"`
		PreferredUsername string `json:"preferred_username"`
	}
	if err := idToken.Claims(&claims); err != nil {
		t.Fatal(err)
	}
	if claims.Email != idptest.DefaultEmail || claims.Name != idptest.DefaultName || claims.PreferredUsername != idptest.DefaultUsername {
		t.Errorf("ID token claims = %+v, want alice's email, name and preferred_username", claims)
	}

	info, err := c.oidc.UserInfo(testContext(t), oauth2.StaticTokenSource(tok))
	if err != nil {
		t.Fatalf("userinfo: %v", err)
	}
	if info.Email != idptest.DefaultEmail {
		t.Errorf("userinfo email = %q, want %q", info.Email, idptest.DefaultEmail)
	}

	reqs := p.AuthorizeRequests()
	if len(reqs) != 1 {
		t.Fatalf("AuthorizeRequests() has %d requests, want 1", len(reqs))
	}
	for param, want := range map[string]string{
		"client_id": idptest.PublicClientID, "code_challenge_method": "S256",
		"nonce": nonce, "redirect_uri": c.cfg.RedirectURL, "scope": strings.Join(defaultScopes, " "),
	} {
		if got := reqs[0].Get(param); got != want {
			t.Errorf("authorize %s = %q, want %q", param, got, want)
		}
	}
	if reqs[0].Get("code_challenge") == "" || reqs[0].Get("state") == "" {
		t.Errorf("authorize request lacks code_challenge or state: %v", reqs[0])
	}
	if tr := p.TokenRequests(); len(tr) != 1 || tr[0].Get("code_verifier") == "" {
		t.Errorf("TokenRequests() = %d requests, want 1 with a code_verifier", len(tr))
	}
}

func TestTokenExchangeRequiresPKCE(t *testing.T) {
	t.Parallel()
	p := idptest.New(t, idptest.Options{})
	c := newTestClient(t, p, idptest.PublicClientID, "")
	verifier := oauth2.GenerateVerifier()
	tests := []struct {
		name     string
		authOpts []oauth2.AuthCodeOption
		exchOpts []oauth2.AuthCodeOption
		wantErr  string // OAuth error code; "" for success
	}{
		{"challenge and verifier", []oauth2.AuthCodeOption{oauth2.S256ChallengeOption(verifier)}, []oauth2.AuthCodeOption{oauth2.VerifierOption(verifier)}, ""},
		{"challenge without verifier", []oauth2.AuthCodeOption{oauth2.S256ChallengeOption(verifier)}, nil, "invalid_request"},
		{"wrong verifier", []oauth2.AuthCodeOption{oauth2.S256ChallengeOption(verifier)}, []oauth2.AuthCodeOption{oauth2.VerifierOption(oauth2.GenerateVerifier())}, "invalid_grant"},
		{"no challenge at all", nil, nil, "invalid_request"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := testContext(t)
			status, _, err := idptest.CompleteLogin(ctx, c.cfg.AuthCodeURL("state", tt.authOpts...), idptest.DefaultUsername, idptest.DefaultPassword)
			if err != nil || status != http.StatusOK {
				t.Fatalf("CompleteLogin = %d, %v", status, err)
			}
			_, err = c.cfg.Exchange(ctx, c.lastCallback(t).Get("code"), tt.exchOpts...)
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("exchange: %v", err)
				}
				return
			}
			wantOAuthError(t, err, tt.wantErr)
		})
	}
}

func TestPlainPKCERefused(t *testing.T) {
	t.Parallel()
	p := idptest.New(t, idptest.Options{})
	c := newTestClient(t, p, idptest.PublicClientID, "")
	authURL := c.cfg.AuthCodeURL("st", oauth2.SetAuthURLParam("code_challenge", oauth2.GenerateVerifier()),
		oauth2.SetAuthURLParam("code_challenge_method", "plain"))
	status, _, err := idptest.CompleteLogin(testContext(t), authURL, idptest.DefaultUsername, idptest.DefaultPassword)
	if err != nil {
		t.Fatalf("CompleteLogin: %v", err)
	}
	if q := c.lastCallback(t); status != http.StatusBadRequest || q.Get("error") != "invalid_request" || q.Get("state") != "st" {
		t.Fatalf("callback got %d %v, want error=invalid_request with the state", status, q)
	}
}

func TestRefreshTokenRotation(t *testing.T) {
	t.Parallel()
	p := idptest.New(t, idptest.Options{})
	c := newTestClient(t, p, idptest.PublicClientID, "")
	tok, _ := c.login(t)
	ctx := testContext(t)

	first, err := c.refresh(ctx, tok.RefreshToken)
	if err != nil {
		t.Fatalf("first refresh: %v", err)
	}
	if first.RefreshToken == "" || first.RefreshToken == tok.RefreshToken {
		t.Fatalf("refresh did not rotate the refresh token")
	}
	if first.AccessToken == tok.AccessToken {
		t.Errorf("refresh returned the same access token")
	}
	second, err := c.refresh(ctx, first.RefreshToken)
	if err != nil {
		t.Fatalf("refresh with the rotated token: %v", err)
	}

	// Reusing a rotated-out token fails and ends the grant: the newest
	// token dies with it.
	_, err = c.refresh(ctx, first.RefreshToken)
	wantOAuthError(t, err, "invalid_grant")
	_, err = c.refresh(ctx, second.RefreshToken)
	wantOAuthError(t, err, "invalid_grant")

	// Other grants are untouched.
	other, _ := c.login(t)
	if _, err := c.refresh(ctx, other.RefreshToken); err != nil {
		t.Errorf("refresh of another grant: %v", err)
	}
	if got := p.Count(idptest.EndpointTokenRefresh); got != 5 {
		t.Errorf("Count(token:refresh_token) = %d, want 5", got)
	}
}

// Parallel refreshes with one token are what a single-flight broker
// prevents: the provider sees a rotated token reused and ends the grant.
func TestParallelRefreshesRevokeGrant(t *testing.T) {
	t.Parallel()
	p := idptest.New(t, idptest.Options{})
	c := newTestClient(t, p, idptest.PublicClientID, "")
	tok, _ := c.login(t)
	ctx := testContext(t)

	const n = 4
	var wg sync.WaitGroup
	results := make([]*oauth2.Token, n)
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() { results[i], errs[i] = c.refresh(ctx, tok.RefreshToken) })
	}
	wg.Wait()
	failed := 0
	for i := range n {
		if errs[i] != nil {
			wantOAuthError(t, errs[i], "invalid_grant")
			failed++
			continue
		}
		if _, err := c.refresh(ctx, results[i].RefreshToken); err == nil {
			t.Errorf("refresh %d: its rotated token still works after the reuse", i)
		}
	}
	if failed == 0 {
		t.Errorf("all %d parallel refreshes of one token succeeded", n)
	}
}

func TestRefreshDownScopedKeepsGrant(t *testing.T) {
	t.Parallel()
	p := idptest.New(t, idptest.Options{})
	c := newTestClient(t, p, idptest.PublicClientID, "")
	tok, _ := c.login(t)

	// x/oauth2 never sends scope on a refresh, so post the form directly.
	refreshWithScope := func(t *testing.T, refreshToken, scope string) (status int, body map[string]any) {
		t.Helper()
		resp := postForm(t, c.cfg.Endpoint.TokenURL, url.Values{
			"grant_type": {"refresh_token"}, "refresh_token": {refreshToken}, "client_id": {idptest.PublicClientID}, "scope": {scope},
		})
		if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
			t.Fatalf("decode token response: %v", err)
		}
		return resp.StatusCode, body
	}
	status, down := refreshWithScope(t, tok.RefreshToken, "openid")
	if status != http.StatusOK || down["scope"] != "openid" {
		t.Fatalf("down-scoped refresh = %d %v, want 200 with scope openid", status, down)
	}
	rotated, _ := down["refresh_token"].(string)
	full, err := c.refresh(testContext(t), rotated)
	if err != nil {
		t.Fatalf("full refresh after a down-scoped one: %v", err)
	}
	if got, _ := full.Extra("scope").(string); !strings.Contains(got, "email") {
		t.Errorf("refresh after a down-scoped one has scope %q, want the grant's scopes back", got)
	}
	status, wider := refreshWithScope(t, full.RefreshToken, "openid admin")
	if status != http.StatusBadRequest || wider["error"] != "invalid_scope" {
		t.Errorf("refresh asking for a scope outside the grant = %d %v, want invalid_scope", status, wider)
	}
}

func TestNoRefreshTokenWithoutOfflineAccess(t *testing.T) {
	t.Parallel()
	p := idptest.New(t, idptest.Options{})
	c := newTestClient(t, p, idptest.PublicClientID, "")
	c.cfg.Scopes = []string{"openid", "email"}
	tok, _ := c.login(t)
	if tok.RefreshToken != "" {
		t.Errorf("refresh token issued without offline_access")
	}
}

func TestRevokeAllRefreshTokens(t *testing.T) {
	t.Parallel()
	p := idptest.New(t, idptest.Options{})
	c := newTestClient(t, p, idptest.PublicClientID, "")
	tok, _ := c.login(t)
	p.RevokeAllRefreshTokens()
	_, err := c.refresh(testContext(t), tok.RefreshToken)
	wantOAuthError(t, err, "invalid_grant")
}

func TestRefreshTokenExpires(t *testing.T) {
	t.Parallel()
	p := idptest.New(t, idptest.Options{RefreshTokenLifetime: time.Nanosecond})
	c := newTestClient(t, p, idptest.PublicClientID, "")
	tok, _ := c.login(t)
	_, err := c.refresh(testContext(t), tok.RefreshToken)
	wantOAuthError(t, err, "invalid_grant")
}

func TestRevocation(t *testing.T) {
	t.Parallel()
	p := idptest.New(t, idptest.Options{})
	c := newTestClient(t, p, idptest.PublicClientID, "")
	revoke := func(t *testing.T, token, hint string) {
		t.Helper()
		resp := postForm(t, p.Issuer()+"/revoke", url.Values{"token": {token}, "token_type_hint": {hint}, "client_id": {idptest.PublicClientID}})
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("revoke: status %d", resp.StatusCode)
		}
	}

	t.Run("refresh token", func(t *testing.T) {
		tok, _ := c.login(t)
		revoke(t, tok.RefreshToken, "refresh_token")
		_, err := c.refresh(testContext(t), tok.RefreshToken)
		wantOAuthError(t, err, "invalid_grant")
	})
	t.Run("access token", func(t *testing.T) {
		tok, _ := c.login(t)
		if _, err := c.oidc.UserInfo(testContext(t), oauth2.StaticTokenSource(tok)); err != nil {
			t.Fatalf("userinfo before revocation: %v", err)
		}
		revoke(t, tok.AccessToken, "access_token")
		if _, err := c.oidc.UserInfo(testContext(t), oauth2.StaticTokenSource(tok)); err == nil {
			t.Fatal("userinfo accepted a revoked access token")
		}
		if _, err := c.refresh(testContext(t), tok.RefreshToken); err != nil {
			t.Errorf("refresh after revoking only the access token: %v", err)
		}
	})
	t.Run("unknown token", func(t *testing.T) {
		revoke(t, "no-such-token", "")
	})
	if got := p.Count(idptest.EndpointRevoke); got != 3 {
		t.Errorf("Count(revoke) = %d, want 3", got)
	}
}

func TestDenyLogin(t *testing.T) {
	t.Parallel()
	p := idptest.New(t, idptest.Options{})
	c := newTestClient(t, p, idptest.PublicClientID, "")
	authURL := c.cfg.AuthCodeURL("my-state", oauth2.S256ChallengeOption(oauth2.GenerateVerifier()))
	status, body, err := idptest.DenyLogin(testContext(t), authURL)
	if err != nil {
		t.Fatalf("DenyLogin: %v", err)
	}
	if status != http.StatusBadRequest || !strings.Contains(body, "access_denied") {
		t.Errorf("callback answered %d %q, want its error page", status, body)
	}
	q := c.lastCallback(t)
	if q.Get("error") != "access_denied" || q.Get("state") != "my-state" || q.Get("code") != "" {
		t.Errorf("callback query = %v, want error=access_denied, state=my-state and no code", q)
	}
}

func TestWrongPasswordRejected(t *testing.T) {
	t.Parallel()
	p := idptest.New(t, idptest.Options{})
	c := newTestClient(t, p, idptest.PublicClientID, "")
	authURL := c.cfg.AuthCodeURL("st", oauth2.S256ChallengeOption(oauth2.GenerateVerifier()))
	_, _, err := idptest.CompleteLogin(testContext(t), authURL, idptest.DefaultUsername, "wrong")
	if !errors.Is(err, idptest.ErrLoginRejected) {
		t.Fatalf("CompleteLogin with a wrong password: %v, want ErrLoginRejected", err)
	}
}

func TestRedirectURIs(t *testing.T) {
	t.Parallel()
	p := idptest.New(t, idptest.Options{})
	noRedirect := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	tests := []struct {
		clientID, redirectURI string
		ok                    bool
	}{
		{idptest.PublicClientID, "http://127.0.0.1:1234/callback", true},
		{idptest.PublicClientID, "http://127.0.0.1:50000/callback", true},
		{idptest.PublicClientID, "http://127.0.0.1:1234/other", false},
		{idptest.PublicClientID, "https://evil.example/callback", false},
		{idptest.ConfidentialClientID, "http://127.0.0.1:1234/callback", true},
		{idptest.ConfidentialClientID, "http://127.0.0.1:1234/other", false},
		{"no-such-client", "http://127.0.0.1:1234/callback", false},
	}
	for _, tt := range tests {
		t.Run(tt.clientID+" "+tt.redirectURI, func(t *testing.T) {
			cfg := oauth2.Config{ClientID: tt.clientID, RedirectURL: tt.redirectURI, Scopes: []string{"openid"},
				Endpoint: oauth2.Endpoint{AuthURL: p.Issuer() + "/authorize"}}
			req, _ := http.NewRequestWithContext(testContext(t), http.MethodGet, cfg.AuthCodeURL("st"), nil)
			resp, err := noRedirect.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			toLogin := resp.StatusCode == http.StatusFound && strings.HasPrefix(resp.Header.Get("Location"), "/login/")
			if toLogin != tt.ok {
				t.Errorf("authorize answered %d Location=%q; want accepted=%v", resp.StatusCode, resp.Header.Get("Location"), tt.ok)
			}
			if !tt.ok && resp.StatusCode == http.StatusFound {
				t.Errorf("a refused redirect URI was redirected to: %s", resp.Header.Get("Location"))
			}
		})
	}
}

func TestDeviceFlow(t *testing.T) {
	t.Parallel()
	p := idptest.New(t, idptest.Options{DeviceCodeLifetime: time.Minute})
	c := newTestClient(t, p, idptest.PublicClientID, "")
	ctx := testContext(t)

	da, err := c.cfg.DeviceAuth(ctx)
	if err != nil {
		t.Fatalf("device authorization: %v", err)
	}
	if da.Interval != 1 {
		t.Errorf("interval = %d, want 1", da.Interval)
	}
	if left := time.Until(da.Expiry); left > time.Minute || left < 50*time.Second {
		t.Errorf("device code expires in %v, want about 1m", left)
	}
	if !strings.HasPrefix(da.VerificationURI, p.Issuer()+"/") || !strings.Contains(da.VerificationURIComplete, da.UserCode) {
		t.Errorf("verification URIs %q / %q, want provider pages with the user code", da.VerificationURI, da.VerificationURIComplete)
	}

	approved := make(chan error, 1)
	go func() {
		approved <- idptest.ApproveDevice(ctx, da.VerificationURI, da.UserCode, idptest.DefaultUsername, idptest.DefaultPassword)
	}()
	tok, err := c.cfg.DeviceAccessToken(ctx, da)
	if err != nil {
		t.Fatalf("poll for device token: %v", err)
	}
	if err := <-approved; err != nil {
		t.Fatalf("ApproveDevice: %v", err)
	}
	if tok.RefreshToken == "" {
		t.Error("device flow issued no refresh token although offline_access was asked for")
	}
	rawID, _ := tok.Extra("id_token").(string)
	idToken, err := c.oidc.Verifier(&gooidc.Config{ClientID: idptest.PublicClientID}).Verify(ctx, rawID)
	if err != nil {
		t.Fatalf("verify device flow ID token: %v", err)
	}
	if idToken.Subject != idptest.DefaultUsername {
		t.Errorf("device flow sub = %q, want %q", idToken.Subject, idptest.DefaultUsername)
	}
	if _, err := c.refresh(ctx, tok.RefreshToken); err != nil {
		t.Errorf("refresh a device flow token: %v", err)
	}

	// The device code is spent.
	resp := postForm(t, c.cfg.Endpoint.TokenURL, url.Values{
		"grant_type": {"urn:ietf:params:oauth:grant-type:device_code"}, "device_code": {da.DeviceCode}, "client_id": {idptest.PublicClientID},
	})
	if resp.StatusCode == http.StatusOK {
		t.Error("a device code was redeemed twice")
	}

	if got := p.Count(idptest.EndpointDeviceAuthorization); got != 1 {
		t.Errorf("Count(device_authorization) = %d, want 1", got)
	}
	if got := p.Count(idptest.EndpointTokenDeviceCode); got < 2 {
		t.Errorf("Count(token:device_code) = %d, want at least 2", got)
	}
}

func TestDeviceFlowDenied(t *testing.T) {
	t.Parallel()
	p := idptest.New(t, idptest.Options{})
	c := newTestClient(t, p, idptest.PublicClientID, "")
	ctx := testContext(t)
	da, err := c.cfg.DeviceAuth(ctx)
	if err != nil {
		t.Fatalf("device authorization: %v", err)
	}
	// A user who fails to log in changes nothing.
	err = idptest.ApproveDevice(ctx, da.VerificationURIComplete, da.UserCode, idptest.DefaultUsername, "wrong")
	if !errors.Is(err, idptest.ErrLoginRejected) {
		t.Fatalf("ApproveDevice with a wrong password: %v, want ErrLoginRejected", err)
	}
	if err := idptest.DenyDevice(ctx, da.VerificationURI, strings.ToLower(da.UserCode), idptest.DefaultUsername, idptest.DefaultPassword); err != nil {
		t.Fatalf("DenyDevice: %v", err)
	}
	_, err = c.cfg.DeviceAccessToken(ctx, da)
	wantOAuthError(t, err, "access_denied")

	err = idptest.ApproveDevice(ctx, da.VerificationURI, "BCDF-GHJK", idptest.DefaultUsername, idptest.DefaultPassword)
	if !errors.Is(err, idptest.ErrLoginRejected) {
		t.Errorf("ApproveDevice with an unknown code: %v, want ErrLoginRejected", err)
	}
}

func TestCounts(t *testing.T) {
	t.Parallel()
	p := idptest.New(t, idptest.Options{})
	c := newTestClient(t, p, idptest.PublicClientID, "")
	tok, _ := c.login(t)
	if _, err := c.refresh(testContext(t), tok.RefreshToken); err != nil {
		t.Fatal(err)
	}
	want := map[string]int{
		idptest.EndpointDiscovery:         1,
		idptest.EndpointAuthorize:         1,
		idptest.EndpointLogin:             2, // the form, then its submission
		idptest.EndpointAuthorizeCallback: 1,
		idptest.EndpointToken:             2,
		idptest.EndpointTokenCode:         1,
		idptest.EndpointTokenRefresh:      1,
		idptest.EndpointTokenDeviceCode:   0,
		idptest.EndpointRevoke:            0,
	}
	for endpoint, n := range want {
		if got := p.Count(endpoint); got != n {
			t.Errorf("Count(%q) = %d, want %d", endpoint, got, n)
		}
	}
	p.ResetCounts()
	for endpoint := range want {
		if got := p.Count(endpoint); got != 0 {
			t.Errorf("after ResetCounts, Count(%q) = %d, want 0", endpoint, got)
		}
	}
	if n := len(p.AuthorizeRequests()); n != 0 {
		t.Errorf("after ResetCounts, %d authorize requests remain", n)
	}
}

func TestConfidentialClient(t *testing.T) {
	t.Parallel()
	p := idptest.New(t, idptest.Options{})
	c := newTestClient(t, p, idptest.ConfidentialClientID, idptest.ConfidentialClientSecret)
	ctx := testContext(t)

	for _, style := range []oauth2.AuthStyle{oauth2.AuthStyleInHeader, oauth2.AuthStyleInParams} {
		cc := clientcredentials.Config{
			ClientID: idptest.ConfidentialClientID, ClientSecret: idptest.ConfidentialClientSecret,
			TokenURL: c.cfg.Endpoint.TokenURL, Scopes: []string{"api"}, AuthStyle: style,
			EndpointParams: url.Values{"audience": {"https://api.example"}},
		}
		tok, err := cc.Token(ctx)
		if err != nil {
			t.Fatalf("client_credentials (auth style %d): %v", style, err)
		}
		if tok.AccessToken == "" || tok.RefreshToken != "" {
			t.Errorf("client_credentials (auth style %d): want an access token and no refresh token", style)
		}
	}
	if got := p.Count(idptest.EndpointTokenClientCreds); got != 2 {
		t.Errorf("Count(token:client_credentials) = %d, want 2", got)
	}

	bad := clientcredentials.Config{ClientID: idptest.ConfidentialClientID, ClientSecret: "wrong", TokenURL: c.cfg.Endpoint.TokenURL}
	_, err := bad.Token(ctx)
	wantOAuthError(t, err, "invalid_client")

	public := clientcredentials.Config{ClientID: idptest.PublicClientID, TokenURL: c.cfg.Endpoint.TokenURL, AuthStyle: oauth2.AuthStyleInParams}
	if _, err := public.Token(ctx); err == nil {
		t.Error("the public client got a client_credentials token")
	}

	// The confidential client may also log users in, on any loopback port,
	// authenticating with its secret instead of PKCE.
	status, _, err := idptest.CompleteLogin(ctx, c.cfg.AuthCodeURL("st", oauth2.SetAuthURLParam("audience", "https://api.example")),
		idptest.DefaultUsername, idptest.DefaultPassword)
	if err != nil || status != http.StatusOK {
		t.Fatalf("CompleteLogin = %d, %v", status, err)
	}
	tok, err := c.cfg.Exchange(ctx, c.lastCallback(t).Get("code"))
	if err != nil {
		t.Fatalf("exchange with the client secret: %v", err)
	}
	if tok.RefreshToken == "" {
		t.Error("no refresh token for the confidential client")
	}
	if got := p.AuthorizeRequests()[0].Get("audience"); got != "https://api.example" {
		t.Errorf("recorded audience = %q", got)
	}
}

func TestOpaqueAccessTokens(t *testing.T) {
	t.Parallel()
	p := idptest.New(t, idptest.Options{OpaqueAccessTokens: true})
	c := newTestClient(t, p, idptest.PublicClientID, "")
	tok, _ := c.login(t)
	if strings.Count(tok.AccessToken, ".") == 2 {
		t.Errorf("access token looks like a JWT with OpaqueAccessTokens set")
	}
	if _, err := c.oidc.UserInfo(testContext(t), oauth2.StaticTokenSource(tok)); err != nil {
		t.Errorf("userinfo with an opaque token: %v", err)
	}
}

func TestStartRefusesNonLoopback(t *testing.T) {
	t.Parallel()
	for _, addr := range []string{"0.0.0.0:0", ":0", "192.0.2.1:0", "localhost:0", "example.com:80"} {
		if _, err := idptest.Start(idptest.Options{Addr: addr}); !errors.Is(err, idptest.ErrNotLoopback) {
			t.Errorf("Start(%q) = %v, want ErrNotLoopback", addr, err)
		}
	}
	for _, addr := range []string{"127.0.0.1:9998", "[::1]:0", "127.0.0.2:0"} {
		if err := idptest.CheckLoopback(addr); err != nil {
			t.Errorf("CheckLoopback(%q) = %v, want nil", addr, err)
		}
	}
	if err := idptest.CheckLoopback("127.0.0.1"); err == nil {
		t.Error("CheckLoopback without a port succeeded")
	}
}

func TestCloseStopsServing(t *testing.T) {
	t.Parallel()
	p, err := idptest.Start(idptest.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := p.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	req, _ := http.NewRequestWithContext(testContext(t), http.MethodGet, p.Issuer()+"/.well-known/openid-configuration", nil)
	if resp, err := http.DefaultClient.Do(req); err == nil {
		resp.Body.Close()
		t.Error("provider still answers after Close")
	}
}

func TestRefreshReuseGrace(t *testing.T) {
	t.Parallel()
	p := idptest.New(t, idptest.Options{RefreshReuseGrace: time.Minute})
	c := newTestClient(t, p, idptest.PublicClientID, "")
	tok, _ := c.login(t)
	ctx := testContext(t)
	first, err := c.refresh(ctx, tok.RefreshToken)
	if err != nil {
		t.Fatal(err)
	}
	// A client that lost the answer retries with the old token: within the
	// grace period that works, and the grant lives on.
	again, err := c.refresh(ctx, tok.RefreshToken)
	if err != nil {
		t.Fatalf("reuse within the grace period: %v", err)
	}
	if again.RefreshToken == first.RefreshToken {
		t.Error("reuse returned the same refresh token")
	}
	if _, err := c.refresh(ctx, again.RefreshToken); err != nil {
		t.Errorf("refresh after a reuse: %v", err)
	}

	strict := idptest.New(t, idptest.Options{RefreshReuseGrace: time.Nanosecond})
	sc := newTestClient(t, strict, idptest.PublicClientID, "")
	tok, _ = sc.login(t)
	if _, err := sc.refresh(ctx, tok.RefreshToken); err != nil {
		t.Fatal(err)
	}
	time.Sleep(time.Millisecond)
	_, err = sc.refresh(ctx, tok.RefreshToken)
	wantOAuthError(t, err, "invalid_grant")
}
