package flow

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"authd.dev/authd/internal/config"
)

// Sentinel errors callers branch on.
var (
	// ErrInvalidGrant means the provider no longer accepts the grant: log in again.
	ErrInvalidGrant = errors.New("the provider rejected the grant (log in again)")
	// ErrUnavailable means the provider could not be reached or is overloaded: try later.
	ErrUnavailable = errors.New("identity provider unavailable")
	// ErrLoginFailed means an interactive login ended without tokens.
	ErrLoginFailed = errors.New("login failed")
)

// ProviderError is an OAuth error response from the provider.
type ProviderError struct {
	Op          string // what authd was doing: "refresh", "exchange code", ...
	StatusCode  int
	Code        string // the OAuth "error" field, e.g. invalid_grant
	Description string
	RetryAfter  time.Duration // from a Retry-After header, when given
}

func (e *ProviderError) Error() string {
	msg := fmt.Sprintf("%s: provider answered", e.Op)
	if e.StatusCode != 0 {
		msg += fmt.Sprintf(" HTTP %d", e.StatusCode)
	}
	if e.Code != "" {
		msg += " " + e.Code
	}
	if e.Description != "" {
		msg += ": " + e.Description
	}
	return msg
}

// Unwrap lets errors.Is see the condition behind the error code.
func (e *ProviderError) Unwrap() error {
	switch {
	case e.Code == "invalid_grant":
		return ErrInvalidGrant
	case e.StatusCode >= 500, e.StatusCode == http.StatusTooManyRequests,
		e.Code == "temporarily_unavailable", e.Code == "server_error":
		return ErrUnavailable
	}
	return nil
}

// Token is what a flow produces.
type Token struct {
	AccessToken  string
	TokenType    string
	RefreshToken string
	IDToken      string
	Expiry       time.Time
	RefreshIn    time.Duration // the provider's hint (refresh_in) of when to refresh; 0 when none
	Scopes       []string      // the granted scopes, or the requested ones when the provider did not say
	Account      string        // email, preferred_username or subject of the verified ID token
}

// Client talks to one profile's provider.
type Client struct {
	profile *config.Profile
	http    *http.Client

	mu        sync.Mutex // guards the discovered endpoints
	endpoints *endpoints
}

type endpoints struct {
	oauth2.Endpoint
	revocation string
	verifier   *oidc.IDTokenVerifier // nil for plain OAuth2 profiles
}

// New returns a Client for profile. It does no I/O: discovery happens on first use.
func New(profile *config.Profile) (*Client, error) {
	hc, err := httpClient(profile)
	if err != nil {
		return nil, fmt.Errorf("profile %s: %w", profile.Name, err)
	}
	return &Client{profile: profile, http: hc}, nil
}

func httpClient(p *config.Profile) (*http.Client, error) {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.DialContext = (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext
	tr.IdleConnTimeout = 60 * time.Second
	tlsConf := &tls.Config{MinVersion: tls.VersionTLS12, InsecureSkipVerify: p.InsecureSkipVerify} //nolint:gosec // opt-in per profile
	if p.CAFile != "" {
		pem, err := os.ReadFile(p.CAFile)
		if err != nil {
			return nil, fmt.Errorf("read ca_file: %w", err)
		}
		pool, err := x509.SystemCertPool()
		if err != nil {
			pool = x509.NewCertPool()
		}
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("ca_file %s: no PEM certificates found", p.CAFile)
		}
		tlsConf.RootCAs = pool
	}
	tr.TLSClientConfig = tlsConf
	timeout := p.Timeout
	if timeout <= 0 {
		timeout = 30 * time.Second
	}
	return &http.Client{Transport: tr, Timeout: timeout}, nil
}

// httpContext carries the client's HTTP client to x/oauth2 and go-oidc.
func (c *Client) httpContext(ctx context.Context) context.Context {
	return oidc.ClientContext(ctx, c.http)
}

// discover resolves the endpoints once; a failure is not cached.
func (c *Client) discover(ctx context.Context) (*endpoints, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.endpoints != nil {
		return c.endpoints, nil
	}
	p := c.profile
	ep := &endpoints{Endpoint: oauth2.Endpoint{
		AuthURL:       p.AuthorizationEndpoint,
		TokenURL:      p.TokenEndpoint,
		DeviceAuthURL: p.DeviceAuthorizationEndpoint,
	}, revocation: p.RevocationEndpoint}
	if p.ClientSecret == "" {
		ep.AuthStyle = oauth2.AuthStyleInParams
	}
	if p.Issuer != "" {
		provider, err := oidc.NewProvider(c.httpContext(ctx), p.Issuer)
		if err != nil {
			return nil, classifyTransport("discovery", err)
		}
		var extra struct {
			Device     string `json:"device_authorization_endpoint"`
			Revocation string `json:"revocation_endpoint"`
		}
		if err := provider.Claims(&extra); err != nil {
			return nil, fmt.Errorf("discovery: %w", err)
		}
		discovered := provider.Endpoint()
		ep.AuthURL = or(ep.AuthURL, discovered.AuthURL)
		ep.TokenURL = or(ep.TokenURL, discovered.TokenURL)
		ep.DeviceAuthURL = or(ep.DeviceAuthURL, extra.Device)
		ep.revocation = or(ep.revocation, extra.Revocation)
		ep.verifier = provider.Verifier(&oidc.Config{ClientID: p.ClientID})
	}
	if ep.TokenURL == "" {
		return nil, fmt.Errorf("profile %s: no token endpoint", p.Name)
	}
	c.endpoints = ep
	return ep, nil
}

func or(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

func (c *Client) oauth2Config(ep *endpoints, redirectURL string, scopes []string) *oauth2.Config {
	return &oauth2.Config{
		ClientID:     c.profile.ClientID,
		ClientSecret: c.profile.ClientSecret,
		Endpoint:     ep.Endpoint,
		RedirectURL:  redirectURL,
		Scopes:       scopes,
	}
}

// authParams are the profile's extra authorization parameters, audience included.
func (c *Client) authParams() []oauth2.AuthCodeOption {
	var opts []oauth2.AuthCodeOption
	for k, v := range c.profile.ExtraAuthParams {
		opts = append(opts, oauth2.SetAuthURLParam(k, v))
	}
	if c.profile.Audience != "" {
		opts = append(opts, oauth2.SetAuthURLParam("audience", c.profile.Audience))
	}
	return opts
}

// tokenFrom converts an x/oauth2 token, verifying its ID token when the
// provider is an OIDC issuer. nonce is checked when not empty.
func (c *Client) tokenFrom(ctx context.Context, ep *endpoints, t *oauth2.Token, requested []string, nonce string) (*Token, error) {
	tok := &Token{
		AccessToken:  t.AccessToken,
		TokenType:    t.TokenType,
		RefreshToken: t.RefreshToken,
		Expiry:       t.Expiry,
		Scopes:       requested,
	}
	if tok.AccessToken == "" {
		return nil, fmt.Errorf("token response has no access_token")
	}
	if s, ok := t.Extra("scope").(string); ok && s != "" {
		tok.Scopes = strings.Fields(s)
	}
	tok.RefreshIn = seconds(t.Extra("refresh_in"))
	if raw, ok := t.Extra("id_token").(string); ok && raw != "" {
		tok.IDToken = raw
		if ep.verifier != nil {
			idt, err := ep.verifier.Verify(c.httpContext(ctx), raw)
			if err != nil {
				return nil, fmt.Errorf("verify id token: %w", classifyTransport("fetch jwks", err))
			}
			if nonce != "" && idt.Nonce != nonce {
				return nil, fmt.Errorf("verify id token: nonce does not match the login's")
			}
			tok.Account = accountOf(idt)
		}
	}
	return tok, nil
}

// seconds reads a JSON number of seconds, as a number or a string.
func seconds(v any) time.Duration {
	var secs float64
	switch v := v.(type) {
	case float64:
		secs = v
	case json.Number:
		secs, _ = v.Float64()
	case string:
		secs, _ = strconv.ParseFloat(v, 64)
	}
	if secs <= 0 {
		return 0
	}
	return time.Duration(secs * float64(time.Second))
}

func accountOf(idt *oidc.IDToken) string {
	var claims struct {
		Email             string `json:"email"`
		PreferredUsername string `json:"preferred_username"`
	}
	_ = idt.Claims(&claims)
	return or(or(claims.Email, claims.PreferredUsername), idt.Subject)
}

// classify turns an x/oauth2 error into a *ProviderError or ErrUnavailable.
func classify(op string, err error) error {
	var re *oauth2.RetrieveError
	if errors.As(err, &re) {
		pe := &ProviderError{Op: op, Code: re.ErrorCode, Description: re.ErrorDescription}
		if re.Response != nil {
			pe.StatusCode = re.Response.StatusCode
			pe.RetryAfter = retryAfter(re.Response.Header.Get("Retry-After"))
		}
		return pe
	}
	return classifyTransport(op, err)
}

// classifyTransport marks network failures and timeouts as ErrUnavailable.
func classifyTransport(op string, err error) error {
	var netErr net.Error
	if errors.As(err, &netErr) || errors.Is(err, context.DeadlineExceeded) || isStatus5xx(err) {
		return fmt.Errorf("%s: %w: %v", op, ErrUnavailable, err)
	}
	return fmt.Errorf("%s: %w", op, err)
}

// isStatus5xx recognises go-oidc's discovery errors, which carry only text.
func isStatus5xx(err error) bool {
	msg := err.Error()
	return strings.Contains(msg, ": 5") && (strings.Contains(msg, "oidc:") || strings.Contains(msg, "get keys failed")) ||
		strings.Contains(msg, "429 Too Many Requests")
}

func retryAfter(v string) time.Duration {
	if v == "" {
		return 0
	}
	if d, err := time.ParseDuration(v + "s"); err == nil && d >= 0 {
		return d
	}
	if t, err := http.ParseTime(v); err == nil {
		return time.Until(t)
	}
	return 0
}
