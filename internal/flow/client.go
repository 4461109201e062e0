package flow

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"authd.dev/authd/internal/config"
	"authd.dev/authd/internal/jwt"
	"authd.dev/authd/internal/regularfile"
)

// Sentinel errors callers branch on.
var (
	// ErrInvalidGrant means the provider no longer accepts the grant: log in again.
	ErrInvalidGrant = errors.New("the provider rejected the grant (log in again)")
	// ErrUnavailable means the provider could not be reached or is overloaded: try later.
	ErrUnavailable = errors.New("identity provider unavailable")
	// ErrLoginFailed means an interactive login ended without tokens.
	ErrLoginFailed = errors.New("login failed")
	// ErrUnanswered means a token request was sent, in part or whole, and
	// no answer came (a timeout, a connection lost): the provider may have
	// processed it, and rotated the refresh token it carried. It comes
	// with ErrUnavailable. A request that cannot have left (no connection)
	// or that the provider answered, even with an error, is not one.
	ErrUnanswered = errors.New("no answer to a request the provider may have received")
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
	// Cleaned again: a ProviderError may be built from text that did not
	// come through classify (the loopback callback's query).
	if e.Code != "" {
		msg += " " + CleanText(e.Code, maxCodeLen)
	}
	if e.Description != "" {
		msg += ": " + CleanText(e.Description, maxDescriptionLen)
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
	tr.MaxResponseHeaderBytes = 64 << 10
	tlsConf := &tls.Config{MinVersion: tls.VersionTLS12, InsecureSkipVerify: p.InsecureSkipVerify} //nolint:gosec // opt-in per profile
	if p.CAFile != "" {
		// The path is the user's, but it may name a FIFO or /dev/zero: read
		// it the way the config loader does, bounded and never blocking.
		pem, err := regularfile.Read(p.CAFile, config.MaxFileSize)
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
	return &http.Client{
		// go-oidc reads discovery and JWKS bodies without a limit: cap
		// every body here, whoever reads it.
		Transport:     cappedTransport{tr},
		Timeout:       timeout,
		CheckRedirect: checkRedirect,
	}, nil
}

// maxResponseSize bounds every response body read from the provider.
const maxResponseSize = 1 << 20

// maxRedirects bounds the same-origin redirects a discovery or JWKS fetch follows.
const maxRedirects = 3

// RedirectError means the provider answered a request with a redirect that
// authd does not follow: any redirect of a request that carries a secret
// (token, device authorization, revocation: every POST), and any redirect to
// another origin. Following one would hand the secret, or the trust placed
// in the issuer, to whoever the Location names.
type RedirectError struct {
	Location string // sanitized and capped; safe to show
	Reason   string
}

func (e *RedirectError) Error() string {
	return fmt.Sprintf("the provider redirected to %s, which authd does not follow (%s)", e.Location, e.Reason)
}

// checkRedirect is the http.Client's redirect policy, shared by every
// request authd, x/oauth2 and go-oidc make for this profile.
func checkRedirect(req *http.Request, via []*http.Request) error {
	first := via[0]
	loc := CleanText(req.URL.Redacted(), maxLocationLen)
	switch {
	case first.Method != http.MethodGet && first.Method != http.MethodHead:
		// A 307/308 would resend the body (refresh token, client
		// secret, device code); a 302/303 turns it into a GET that
		// means nothing to a token endpoint.
		return &RedirectError{Location: loc, Reason: "a " + first.Method + " request carries secrets"}
	case origin(req.URL) != origin(first.URL):
		return &RedirectError{Location: loc, Reason: "another origin than " + CleanText(origin(first.URL), maxLocationLen)}
	case len(via) > maxRedirects:
		return &RedirectError{Location: loc, Reason: fmt.Sprintf("more than %d redirects", maxRedirects)}
	}
	return nil
}

// origin is scheme://host:port, with the scheme's default port made explicit.
func origin(u *url.URL) string {
	scheme := strings.ToLower(u.Scheme)
	port := u.Port()
	if port == "" {
		switch scheme {
		case "https":
			port = "443"
		case "http":
			port = "80"
		}
	}
	return scheme + "://" + net.JoinHostPort(strings.ToLower(u.Hostname()), port)
}

// cappedTransport caps every response body at maxResponseSize.
type cappedTransport struct{ base http.RoundTripper }

func (t cappedTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := t.base.RoundTrip(r)
	if err != nil || resp.Body == nil {
		return resp, err
	}
	resp.Body = &cappedBody{rc: resp.Body, left: maxResponseSize}
	return resp, nil
}

// errResponseTooLarge is what a reader past the cap gets, rather than a
// silently truncated document.
var errResponseTooLarge = fmt.Errorf("provider response larger than %d bytes", maxResponseSize)

type cappedBody struct {
	rc   io.ReadCloser
	left int64
}

func (b *cappedBody) Read(p []byte) (int, error) {
	if b.left <= 0 {
		// Tell the end of a body that fits apart from one that does not.
		var one [1]byte
		if n, err := b.rc.Read(one[:]); n > 0 {
			return 0, errResponseTooLarge
		} else if err != nil {
			return 0, err
		}
		return 0, nil
	}
	if int64(len(p)) > b.left {
		p = p[:b.left]
	}
	n, err := b.rc.Read(p)
	b.left -= int64(n)
	return n, err
}

func (b *cappedBody) Close() error { return b.rc.Close() }

// CloseIdleConnections closes the connections to the provider kept open
// for reuse. After the machine slept (or moved to another network) they
// are likely dead without either end knowing: a request written on one
// would wait for its timeout and leave the provider's answer in doubt.
func (c *Client) CloseIdleConnections() { c.http.CloseIdleConnections() }

// CloseIdleConnections lets http.Client.CloseIdleConnections reach the
// transport underneath.
func (t cappedTransport) CloseIdleConnections() {
	if c, ok := t.base.(interface{ CloseIdleConnections() }); ok {
		c.CloseIdleConnections()
	}
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
			JWKS       string `json:"jwks_uri"`
		}
		if err := provider.Claims(&extra); err != nil {
			return nil, fmt.Errorf("discovery: %w", cleanErr(err))
		}
		discovered := provider.Endpoint()
		// The discovery document is the provider's word, held to the rules
		// of the config file: an endpoint the profile leaves to discovery
		// must be https (or http on loopback), like one written there.
		for _, f := range []struct{ name, configured, discovered string }{
			{"authorization_endpoint", ep.AuthURL, discovered.AuthURL},
			{"token_endpoint", ep.TokenURL, discovered.TokenURL},
			{"device_authorization_endpoint", ep.DeviceAuthURL, extra.Device},
			{"revocation_endpoint", ep.revocation, extra.Revocation},
			{"jwks_uri", "", extra.JWKS},
		} {
			if f.configured != "" || f.discovered == "" {
				continue
			}
			if err := checkDiscovered(f.discovered); err != nil {
				return nil, fmt.Errorf("discovery: %s %q: %w", f.name, CleanText(f.discovered, maxLocationLen), err)
			}
		}
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

// checkDiscovered applies config.CheckEndpoint, and refuses what it lets
// through but no one should be shown or sent to: control characters,
// bidi overrides, a URL longer than any real endpoint.
func checkDiscovered(u string) error {
	if err := config.CheckEndpoint(u); err != nil {
		return err
	}
	if len(u) > maxURLLen || CleanText(u, 0) != u {
		return errors.New("contains control characters or is too long")
	}
	return nil
}

// maxURLLen bounds a URL from the provider (endpoints, verification URIs).
const maxURLLen = 2048

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
// provider is an OIDC issuer. nonce is checked when not empty. The expiry is
// decided here, from the raw expires_in, for every flow alike: x/oauth2's
// own Expiry is not trusted (it is zero when expires_in is absent, which
// would serve the token forever).
func (c *Client) tokenFrom(ctx context.Context, ep *endpoints, t *oauth2.Token, requested []string, nonce string) (*Token, error) {
	now := time.Now()
	tok := &Token{
		AccessToken:  t.AccessToken,
		TokenType:    t.TokenType,
		RefreshToken: t.RefreshToken,
		Expiry:       c.expiry(now, t.Extra("expires_in"), t.AccessToken),
		Scopes:       requested,
	}
	if tok.AccessToken == "" {
		return nil, fmt.Errorf("token response has no access_token")
	}
	if s, ok := t.Extra("scope").(string); ok && s != "" {
		tok.Scopes = strings.Fields(s)
	}
	if d, ok := seconds(t.Extra("refresh_in")); ok {
		// A hint past the expiry means nothing more than the expiry.
		tok.RefreshIn = max(min(d, tok.Expiry.Sub(now)), 0)
	}
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

// maxTokenLifetime bounds any lifetime a provider announces: a token said to
// live longer is refreshed after a year anyway, and a bounded duration
// cannot overflow time.Duration.
const maxTokenLifetime = 365 * 24 * time.Hour

// expiry is when an access token issued at now is taken to expire, the one
// rule for every flow: the provider's expires_in when it is a usable positive
// number, else the profile's token_lifetime, and in either case no later
// than the access token's own exp when it is a JWT that has one (a past exp
// makes the token expired). It is never zero and never more than
// maxTokenLifetime away, so every token is refreshed in time.
func (c *Client) expiry(now time.Time, expiresIn any, accessToken string) time.Time {
	// A JWT's exp is a known end: whatever expires_in says, the token is
	// not served past it (an exp already past makes the token expired).
	var exp time.Time
	if claims, ok := jwt.ReadClaims(accessToken); ok && !claims.Expiry.IsZero() {
		exp = claims.Expiry
	}
	end := func(d time.Duration) time.Time {
		t := now.Add(min(d, maxTokenLifetime))
		if !exp.IsZero() && exp.Before(t) {
			return exp
		}
		return t
	}
	if d, ok := seconds(expiresIn); ok {
		return end(d)
	}
	if !exp.IsZero() {
		return end(exp.Sub(now))
	}
	lt := c.profile.TokenLifetime
	if lt <= 0 {
		lt = config.DefaultTokenLifetime
	}
	return end(lt)
}

// seconds reads a provider's count of seconds (expires_in, refresh_in): a
// JSON number, or a string holding one (some providers quote it). ok is
// false when v is absent, not a number, zero or negative. A fraction is
// rounded down, but to at least a second; anything over maxTokenLifetime,
// however large, is maxTokenLifetime.
func seconds(v any) (d time.Duration, ok bool) {
	var secs float64
	switch v := v.(type) {
	case float64:
		secs = v
	case json.Number:
		if secs, ok = parseSeconds(string(v)); !ok {
			return 0, false
		}
	case string:
		if secs, ok = parseSeconds(strings.TrimSpace(v)); !ok {
			return 0, false
		}
	case int:
		secs = float64(v)
	case int64:
		secs = float64(v)
	default:
		return 0, false
	}
	switch {
	case math.IsNaN(secs), secs <= 0:
		return 0, false
	case secs >= maxTokenLifetime.Seconds():
		return maxTokenLifetime, true
	case secs < 1:
		return time.Second, true
	}
	return time.Duration(math.Floor(secs)) * time.Second, true
}

// parseSeconds parses s as a JSON number only: strconv alone would take
// "NaN", "Inf", hex floats and underscores.
func parseSeconds(s string) (float64, bool) {
	if s == "" || len(s) > 64 || !(s[0] == '-' || s[0] >= '0' && s[0] <= '9') || !json.Valid([]byte(s)) {
		return 0, false
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil && !math.IsInf(f, 0) {
		// Out of range toward zero (1e-400), or not a number after all.
		return 0, false
	}
	return f, true
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
// The provider's error code and description are cleaned here, where they
// leave the response, so that nothing downstream sees them raw.
func classify(op string, err error) error {
	var re *oauth2.RetrieveError
	if errors.As(err, &re) {
		pe := &ProviderError{Op: op, Code: CleanText(re.ErrorCode, maxCodeLen), Description: CleanText(re.ErrorDescription, maxDescriptionLen)}
		if re.Response != nil {
			pe.StatusCode = re.Response.StatusCode
			pe.RetryAfter = retryAfter(re.Response.Header.Get("Retry-After"))
		}
		return pe
	}
	return classifyTransport(op, err)
}

// classifyTransport marks network failures and timeouts as ErrUnavailable.
// Its text is cleaned and capped: go-oidc and x/oauth2 put response bodies
// and provider URLs in their errors.
func classifyTransport(op string, err error) error {
	var redirect *RedirectError
	if errors.As(err, &redirect) {
		// Not the *url.Error around it: that one quotes the raw Location.
		return fmt.Errorf("%s: %w", op, redirect)
	}
	if errors.Is(err, ErrUnanswered) {
		return fmt.Errorf("%s: %w: %w: %s", op, ErrUnavailable, ErrUnanswered, CleanText(err.Error(), maxErrorText))
	}
	var netErr net.Error
	if errors.As(err, &netErr) || errors.Is(err, context.DeadlineExceeded) || isStatus5xx(err) {
		return fmt.Errorf("%s: %w: %s", op, ErrUnavailable, CleanText(err.Error(), maxErrorText))
	}
	return fmt.Errorf("%s: %w", op, cleanErr(err))
}

// maxErrorText bounds the text of an error that may quote the provider.
const maxErrorText = 512

// cleanErr keeps err for errors.Is and errors.As, with its text cleaned and capped.
func cleanErr(err error) error {
	return &cleanError{msg: CleanText(err.Error(), maxErrorText), err: err}
}

type cleanError struct {
	msg string
	err error
}

func (e *cleanError) Error() string { return e.msg }
func (e *cleanError) Unwrap() error { return e.err }

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
