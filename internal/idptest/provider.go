package idptest

import (
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"
)

// ErrNotLoopback is returned by [Start] for an address that is not a
// loopback IP: the provider has fixed passwords and must never be reachable
// from another machine.
var ErrNotLoopback = errors.New("address is not a loopback IP")

// Options configure a [Provider]. The zero value is ready to use.
type Options struct {
	AccessTokenLifetime  time.Duration // default 5m
	IDTokenLifetime      time.Duration // default 1h
	RefreshTokenLifetime time.Duration // default 24h
	// RefreshReuseGrace lets a rotated-out refresh token be redeemed again
	// for this long after its rotation, as Okta's grace period and Auth0's
	// reuse interval do; 0 (the default) revokes the grant on any reuse.
	RefreshReuseGrace  time.Duration
	DeviceCodeLifetime time.Duration // default 5m: the device flow's expires_in
	// DevicePollInterval is the device flow's interval, sent in whole
	// seconds; default and minimum 1s, short so tests poll quickly.
	DevicePollInterval time.Duration
	// DeviceSlowDownBelow answers slow_down (RFC 8628 3.5) to a device
	// token request that comes sooner than this after the previous one for
	// the same code; 0 never does.
	DeviceSlowDownBelow time.Duration
	// Users who can log in. Default: [DefaultUsername] / [DefaultPassword].
	Users []User
	// Addr to listen on, default "127.0.0.1:0". Only loopback IPs are accepted.
	Addr string
	// OpaqueAccessTokens issues opaque (encrypted) access tokens instead of
	// RS256 JWTs, like providers whose tokens cannot be decoded.
	OpaqueAccessTokens bool
	// Logger receives the provider's own log (the login pages, the server).
	// Default: discard. zitadel's op logs its protocol errors through
	// slog.Default(), which this package leaves alone.
	Logger *slog.Logger
}

// User is an account that can log in. Its username is also its user ID
// (the sub claim).
type User struct{ Username, Password, Email, Name string }

// The default user, present when [Options].Users is empty.
const (
	DefaultUsername = "alice"
	DefaultPassword = "alice-password"
	DefaultEmail    = "alice@example.com"
	DefaultName     = "Alice Example"
)

// Endpoint names for [Provider.Count]. Token requests count twice: once as
// [EndpointToken] and once per grant type, as "token:" + the grant type
// with any "urn:ietf:params:oauth:grant-type:" prefix removed.
const (
	EndpointDiscovery           = "discovery"
	EndpointJWKS                = "jwks"
	EndpointAuthorize           = "authorize"
	EndpointAuthorizeCallback   = "authorize_callback" // the login page's way back into op
	EndpointToken               = "token"
	EndpointTokenCode           = "token:authorization_code"
	EndpointTokenRefresh        = "token:refresh_token"
	EndpointTokenDeviceCode     = "token:device_code"
	EndpointTokenClientCreds    = "token:client_credentials"
	EndpointDeviceAuthorization = "device_authorization"
	EndpointRevoke              = "revoke"
	EndpointUserinfo            = "userinfo"
	EndpointIntrospect          = "introspect"
	EndpointEndSession          = "end_session"
	EndpointLogin               = "login"        // every request to the login page, GET and POST
	EndpointVerification        = "verification" // every request to the device pages
)

// Provider is a running OpenID provider. Its methods are safe for
// concurrent use.
type Provider struct {
	issuer  string
	storage *storage
	server  *http.Server
	served  chan struct{}
	logger  *slog.Logger

	closeOnce sync.Once
	closeErr  error

	mu        sync.Mutex
	counts    map[string]int
	authorize []url.Values
	token     []url.Values
}

// Start starts a provider on opts.Addr and serves it on its own goroutine
// until [Provider.Close].
func Start(opts Options) (*Provider, error) {
	opts = withDefaults(opts)
	ln, err := listenLoopback(opts.Addr)
	if err != nil {
		return nil, err
	}
	p, err := newProvider(opts, ln)
	if err != nil {
		ln.Close()
		return nil, err
	}
	go func() {
		defer close(p.served)
		if err := p.server.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			p.logger.Error("serve", "error", err)
		}
	}()
	return p, nil
}

// New starts a provider for the test t and closes it when t ends.
func New(t testing.TB, opts Options) *Provider {
	t.Helper()
	p, err := Start(opts)
	if err != nil {
		t.Fatalf("idptest: %v", err)
	}
	t.Cleanup(func() {
		if err := p.Close(); err != nil {
			t.Errorf("idptest: %v", err)
		}
	})
	return p
}

func withDefaults(opts Options) Options {
	setDefault := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	setDefault(&opts.AccessTokenLifetime, 5*time.Minute)
	setDefault(&opts.IDTokenLifetime, time.Hour)
	setDefault(&opts.RefreshTokenLifetime, 24*time.Hour)
	setDefault(&opts.DeviceCodeLifetime, 5*time.Minute)
	opts.DevicePollInterval = max(opts.DevicePollInterval.Truncate(time.Second), time.Second)
	if len(opts.Users) == 0 {
		opts.Users = []User{{Username: DefaultUsername, Password: DefaultPassword, Email: DefaultEmail, Name: DefaultName}}
	}
	if opts.Addr == "" {
		opts.Addr = "127.0.0.1:0"
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	return opts
}

// CheckLoopback returns an error wrapping [ErrNotLoopback] unless addr is
// host:port with a loopback IP host.
func CheckLoopback(addr string) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("listen address %q: %w", addr, err)
	}
	if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
		return fmt.Errorf("listen address %q: %w", addr, ErrNotLoopback)
	}
	return nil
}

func listenLoopback(addr string) (net.Listener, error) {
	if err := CheckLoopback(addr); err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("listen: %w", err)
	}
	return ln, nil
}

func newProvider(opts Options, ln net.Listener) (*Provider, error) {
	issuer := "http://" + ln.Addr().String()
	accessTokenType := op.AccessTokenTypeJWT
	if opts.OpaqueAccessTokens {
		accessTokenType = op.AccessTokenTypeBearer
	}
	store, err := newStorage(opts.Users, defaultClients(opts.IDTokenLifetime, accessTokenType), lifetimes{
		accessToken:  opts.AccessTokenLifetime,
		refreshToken: opts.RefreshTokenLifetime,
		reuseGrace:   opts.RefreshReuseGrace,
		slowDown:     opts.DeviceSlowDownBelow,
	})
	if err != nil {
		return nil, fmt.Errorf("start provider: %w", err)
	}
	config := &op.Config{
		CodeMethodS256:        true,
		AuthMethodPost:        true,
		GrantTypeRefreshToken: true,
		DeviceAuthorization: op.DeviceAuthorizationConfig{
			Lifetime:     opts.DeviceCodeLifetime,
			PollInterval: opts.DevicePollInterval,
			UserFormPath: devicePath,
			UserCode:     op.UserCodeBase20,
		},
	}
	// The key encrypts opaque access tokens; a fresh one per provider.
	if _, err := io.ReadFull(rand.Reader, config.CryptoKey[:]); err != nil {
		return nil, fmt.Errorf("start provider: %w", err)
	}
	provider, err := op.NewOpenIDProvider(issuer, config, store, op.WithAllowInsecure())
	if err != nil {
		return nil, fmt.Errorf("start provider: %w", err)
	}

	mux := http.NewServeMux()
	newLoginUI(store, provider, opts.Logger).register(mux)
	mux.Handle("/", provider)

	p := &Provider{
		issuer:  issuer,
		storage: store,
		served:  make(chan struct{}),
		logger:  opts.Logger,
		counts:  make(map[string]int),
	}
	p.server = &http.Server{
		Handler:           p.record(mux),
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          slog.NewLogLogger(opts.Logger.Handler(), slog.LevelWarn),
	}
	return p, nil
}

// Issuer returns the issuer URL, http://127.0.0.1:PORT (no trailing slash).
// Discovery is at Issuer() + "/.well-known/openid-configuration".
func (p *Provider) Issuer() string { return p.issuer }

// Close stops the provider, dropping open connections, and waits for its
// goroutine to end. Calling it again returns the first result.
func (p *Provider) Close() error {
	p.closeOnce.Do(func() {
		if err := p.server.Close(); err != nil {
			p.closeErr = fmt.Errorf("close provider: %w", err)
		}
		<-p.served
	})
	return p.closeErr
}

// Count returns how many requests reached endpoint (see the Endpoint constants).
func (p *Provider) Count(endpoint string) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.counts[endpoint]
}

// SlowDowns is how many device token requests were answered slow_down.
func (p *Provider) SlowDowns() int {
	p.storage.mu.Lock()
	defer p.storage.mu.Unlock()
	return p.storage.slowDowns
}

// ResetCounts zeroes every counter and forgets the recorded authorize and
// token requests.
func (p *Provider) ResetCounts() {
	p.mu.Lock()
	defer p.mu.Unlock()
	clear(p.counts)
	p.authorize = nil
	p.token = nil
}

// AuthorizeRequests returns the parameters of every authorization request
// seen, oldest first, so tests can assert what the client sent: PKCE
// (code_challenge, code_challenge_method), state, nonce, redirect_uri,
// scope, audience, prompt and any other parameter. op itself accepts a
// request without PKCE; only the token exchange refuses it.
func (p *Provider) AuthorizeRequests() []url.Values {
	p.mu.Lock()
	defer p.mu.Unlock()
	return cloneValues(p.authorize)
}

// TokenRequests returns the form parameters of every token request seen,
// oldest first (HTTP Basic credentials are not included). They hold live
// codes, verifiers and refresh tokens: keep them out of logs.
func (p *Provider) TokenRequests() []url.Values {
	p.mu.Lock()
	defer p.mu.Unlock()
	return cloneValues(p.token)
}

func cloneValues(vs []url.Values) []url.Values {
	out := make([]url.Values, len(vs))
	for i, v := range vs {
		out[i] = cloneURLValues(v)
	}
	return out
}

func cloneURLValues(v url.Values) url.Values {
	c := make(url.Values, len(v))
	for k, vals := range v {
		c[k] = append([]string(nil), vals...)
	}
	return c
}

// RevokeAllRefreshTokens revokes every refresh token issued so far, as an
// administrator or a password change would: the next refresh answers
// invalid_grant. Access tokens stay valid until they expire.
func (p *Provider) RevokeAllRefreshTokens() { p.storage.revokeAllRefreshTokens() }

// record counts each request by endpoint and keeps authorize and token
// parameters.
func (p *Provider) record(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		endpoint := endpointName(r.URL.Path)
		var grant string
		var params url.Values
		switch endpoint {
		case EndpointAuthorize:
			// op parses the form again; ParseForm keeps what it read.
			if err := r.ParseForm(); err == nil {
				params = cloneURLValues(r.Form)
			}
		case EndpointToken:
			if err := r.ParseForm(); err == nil {
				params = cloneURLValues(r.PostForm)
				grant = strings.TrimPrefix(r.PostForm.Get("grant_type"), "urn:ietf:params:oauth:grant-type:")
			}
		}
		p.mu.Lock()
		if endpoint != "" {
			p.counts[endpoint]++
		}
		if grant != "" {
			p.counts[EndpointToken+":"+grant]++
		}
		switch endpoint {
		case EndpointAuthorize:
			p.authorize = append(p.authorize, params)
		case EndpointToken:
			p.token = append(p.token, params)
		}
		p.mu.Unlock()
		// The path only: queries and bodies carry codes and tokens.
		p.logger.Debug("request", "method", r.Method, "path", r.URL.Path)
		next.ServeHTTP(w, r)
	})
}

// endpointPaths maps op's paths (its defaults, which this package keeps) to
// endpoint names.
var endpointPaths = map[string]string{
	oidc.DiscoveryEndpoint:                                     EndpointDiscovery,
	op.DefaultEndpoints.JwksURI.Relative():                     EndpointJWKS,
	op.DefaultEndpoints.Authorization.Relative():               EndpointAuthorize,
	op.DefaultEndpoints.Authorization.Relative() + "/callback": EndpointAuthorizeCallback,
	op.DefaultEndpoints.Token.Relative():                       EndpointToken,
	op.DefaultEndpoints.DeviceAuthorization.Relative():         EndpointDeviceAuthorization,
	op.DefaultEndpoints.Revocation.Relative():                  EndpointRevoke,
	op.DefaultEndpoints.Userinfo.Relative():                    EndpointUserinfo,
	op.DefaultEndpoints.Introspection.Relative():               EndpointIntrospect,
	op.DefaultEndpoints.EndSession.Relative():                  EndpointEndSession,
}

func endpointName(path string) string {
	if name, ok := endpointPaths[path]; ok {
		return name
	}
	switch {
	case strings.HasPrefix(path, "/login/"):
		return EndpointLogin
	case path == devicePath || strings.HasPrefix(path, devicePath+"/"):
		return EndpointVerification
	}
	return ""
}
