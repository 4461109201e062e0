// Package client is the Go API of authd: it asks the per-user daemon for
// access tokens over its Unix socket. (The authc command speaks the same
// gRPC API through a leaner client of its own, internal/wire.)
//
// # Getting a token
//
//	c, err := client.New()
//	if err != nil { ... }
//	defer c.Close()
//	tok, err := c.Token(ctx, client.TokenOptions{Profile: "work"})
//
// Package [authd.dev/authd/client/httpauth] puts these tokens on net/http
// requests and adapts a profile to golang.org/x/oauth2.
//
// # Logging in
//
// [Client.Login] starts a login, or joins one under way, and reports each
// step as a [LoginEvent]: a URL to open in a browser, or a code to enter on
// another device, then [Done]. [TokenOptions.Interactive] makes
// [Client.Token] wait for a login instead of failing with [ErrLoginRequired].
//
// # Errors
//
// Errors carry the daemon's reason; test them with errors.Is against
// [ErrLoginRequired], [ErrProfileNotFound], [ErrDaemonUnreachable],
// [ErrProviderUnavailable] and the others, or read the [*Error]'s
// [api.Reason]; package api's table (api.Reasons) says what each reason
// means and which sentinel it matches.
//
// # Socket
//
// The socket is $AUTHD_SOCKET, else $XDG_RUNTIME_DIR/authd/authd.sock, else
// authd/authd.sock in the user's cache directory. The client talks only to a
// daemon of its own uid: a socket served by another user is
// [ErrWrongServer], refused before a request is sent.
package client

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync/atomic"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/durationpb"

	"authd.dev/authd/api"
	"authd.dev/authd/internal/socket"
	pb "authd.dev/authd/proto/authd/v1"
)

// Conditions a caller may branch on, matched with errors.Is: those of
// package api's table (api.Reasons), which says which reasons each one
// stands for.
var (
	ErrDaemonUnreachable   = api.ErrDaemonUnreachable
	ErrLoginRequired       = api.ErrLoginRequired
	ErrProfileNotFound     = api.ErrProfileNotFound
	ErrProviderUnavailable = api.ErrProviderUnavailable
	ErrLoginFailed         = api.ErrLoginFailed
	ErrKeyring             = api.ErrKeyring
	ErrInvalidConfig       = api.ErrInvalidConfig
	ErrPermissionDenied    = api.ErrPermissionDenied
	ErrInvalidRequest      = api.ErrInvalidRequest
	ErrTokenLifetime       = api.ErrTokenLifetime
	// ErrWrongServer is a socket served by another user's process (root
	// included): the client refused it before sending anything.
	ErrWrongServer = socket.ErrWrongServer
)

// Error is an error answered by the daemon, or the failure to reach it.
type Error struct {
	Reason  api.Reason // the daemon's reason, or api.DaemonUnreachable or api.WrongServer
	Message string     // the daemon's explanation
	kind    error
}

func (e *Error) Error() string { return e.Message }

// Unwrap returns the sentinel matching Reason.
func (e *Error) Unwrap() error { return e.kind }

// Client is a connection to the daemon. It is safe for concurrent use.
type Client struct {
	conn   *grpc.ClientConn
	broker pb.BrokerClient
	path   string
	// wrongServer is the last dial's refusal of another user's server,
	// which gRPC reports only as "unavailable".
	wrongServer atomic.Pointer[error]

	callTimeout, loginTimeout time.Duration
}

// The deadlines a call gets when its context has none, so that no call
// waits forever on a daemon that is stopped or stuck.
const (
	// CallTimeout bounds a call that the daemon answers on its own.
	CallTimeout = 30 * time.Second
	// LoginTimeout bounds a call that may wait for a person to log in
	// (Login, and Token with Interactive).
	LoginTimeout = 10 * time.Minute
)

func withDefaultDeadline(ctx context.Context, d time.Duration) (context.Context, context.CancelFunc) {
	if _, ok := ctx.Deadline(); ok {
		return ctx, func() {}
	}
	return context.WithTimeout(ctx, d)
}

// Option changes how New connects.
type Option func(*Client)

// WithTimeouts replaces [CallTimeout] and [LoginTimeout], the deadlines of
// calls whose context has none.
func WithTimeouts(call, login time.Duration) Option {
	return func(c *Client) { c.callTimeout, c.loginTimeout = call, login }
}

// WithSocket connects to path instead of the default socket.
func WithSocket(path string) Option { return func(c *Client) { c.path = path } }

// New prepares a connection to the daemon; it dials lazily, on first use.
func New(opts ...Option) (*Client, error) {
	c := &Client{callTimeout: CallTimeout, loginTimeout: LoginTimeout}
	for _, o := range opts {
		o(c)
	}
	if c.path == "" {
		p, err := socket.Path()
		if err != nil {
			return nil, err
		}
		c.path = p
	}
	path := c.path
	conn, err := grpc.NewClient("passthrough:///authd",
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithUnaryInterceptor(func(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoke grpc.UnaryInvoker, opts ...grpc.CallOption) error {
			d := c.callTimeout
			if r, ok := req.(*pb.GetTokenRequest); ok && r.GetInteractive() {
				d = c.loginTimeout
			}
			ctx, cancel := withDefaultDeadline(ctx, d)
			defer cancel()
			return invoke(ctx, method, req, reply, cc, opts...)
		}),
		grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) {
			// socket.Dial checks the server's uid before gRPC sends a byte.
			nc, err := socket.Dial(ctx, path)
			if errors.Is(err, socket.ErrWrongServer) {
				c.wrongServer.Store(&err)
			} else {
				c.wrongServer.Store(nil)
			}
			return nc, err
		}),
	)
	if err != nil {
		return nil, fmt.Errorf("connect to authd: %w", err)
	}
	c.conn, c.broker = conn, pb.NewBrokerClient(conn)
	return c, nil
}

// Socket returns the socket path the client uses.
func (c *Client) Socket() string { return c.path }

// Close closes the connection.
func (c *Client) Close() error { return c.conn.Close() }

// TokenOptions say which token to fetch.
type TokenOptions struct {
	Profile      string   // "" for the default profile
	Scopes       []string // a subset of the profile's scopes
	Audience     string
	MinValid     time.Duration // 0: the daemon's default (1 minute)
	Interactive  bool          // wait for a login when one is needed (see Client.Login to show it)
	ForceRefresh bool
	IDToken      bool // also return the ID token
}

// Token is an access token and what is known of it.
type Token struct {
	AccessToken string
	TokenType   string
	Expiry      time.Time // zero when the provider did not say
	Scopes      []string
	IDToken     string
	Profile     string
}

// Token fetches an access token.
func (c *Client) Token(ctx context.Context, o TokenOptions) (*Token, error) {
	req := &pb.GetTokenRequest{
		Profile:      o.Profile,
		Scopes:       o.Scopes,
		Audience:     o.Audience,
		Interactive:  o.Interactive,
		ForceRefresh: o.ForceRefresh,
		WantIdToken:  o.IDToken,
	}
	if o.MinValid > 0 {
		req.MinValid = durationpb.New(o.MinValid)
	}
	t, err := c.broker.GetToken(ctx, req)
	if err != nil {
		return nil, c.wrap(err)
	}
	tok := &Token{AccessToken: t.GetAccessToken(), TokenType: t.GetTokenType(), Scopes: t.GetScopes(), IDToken: t.GetIdToken(), Profile: t.GetProfile()}
	if t.GetExpiry() != nil {
		tok.Expiry = t.GetExpiry().AsTime()
	}
	return tok, nil
}

// LoginOptions say how to log in.
type LoginOptions struct {
	Profile   string
	Force     bool // log in again even when logged in
	Device    bool // use the device authorization grant
	NoBrowser bool // no browser can be opened here: "auto" profiles use the device grant
}

// LoginEvent is one step of a login; exactly one field is set.
type LoginEvent struct {
	OpenURL    *OpenURL    // open this URL in a browser
	DeviceCode *DeviceCode // show this code
	Waiting    string      // joined a login started by this client
	Done       *Done
}

// OpenURL asks for a browser.
type OpenURL struct{ URL, RedirectURI string }

// DeviceCode is what the user enters on another device.
type DeviceCode struct {
	VerificationURI, UserCode, VerificationURIComplete string
	Expires                                            time.Time
}

// Done reports a finished login.
type Done struct {
	Account string
	Expiry  time.Time
}

// Login starts or joins a login and calls on for each step until it ends.
// It returns nil after the Done event, or the login's error.
func (c *Client) Login(ctx context.Context, o LoginOptions, on func(LoginEvent)) error {
	ctx, cancel := withDefaultDeadline(ctx, c.loginTimeout)
	defer cancel()
	stream, err := c.broker.Login(ctx, &pb.LoginRequest{Profile: o.Profile, Force: o.Force, Device: o.Device, NoBrowser: o.NoBrowser})
	if err != nil {
		return c.wrap(err)
	}
	for {
		ev, err := stream.Recv()
		if err != nil {
			return c.wrap(err)
		}
		switch e := ev.GetEvent().(type) {
		case *pb.LoginEvent_OpenUrl:
			on(LoginEvent{OpenURL: &OpenURL{URL: e.OpenUrl.GetUrl(), RedirectURI: e.OpenUrl.GetRedirectUri()}})
		case *pb.LoginEvent_DeviceCode:
			dc := e.DeviceCode
			d := &DeviceCode{VerificationURI: dc.GetVerificationUri(), UserCode: dc.GetUserCode(), VerificationURIComplete: dc.GetVerificationUriComplete()}
			if dc.GetExpires() != nil {
				d.Expires = dc.GetExpires().AsTime()
			}
			on(LoginEvent{DeviceCode: d})
		case *pb.LoginEvent_Waiting:
			on(LoginEvent{Waiting: e.Waiting.GetStartedBy()})
		case *pb.LoginEvent_Done:
			d := &Done{Account: e.Done.GetAccount()}
			if e.Done.GetExpiry() != nil {
				d.Expiry = e.Done.GetExpiry().AsTime()
			}
			on(LoginEvent{Done: d})
			return nil
		}
	}
}

// Logout forgets a profile's session, or every session when all is true. It
// returns the profiles logged out.
func (c *Client) Logout(ctx context.Context, profile string, all bool) ([]string, error) {
	resp, err := c.broker.Logout(ctx, &pb.LogoutRequest{Profile: profile, All: all})
	if err != nil {
		return resp.GetProfiles(), c.wrap(err)
	}
	return resp.GetProfiles(), nil
}

// SetToken stores a static access token (an API key, a CI token) for a
// profile. It returns the token's expiry when it is a JWT that has one.
func (c *Client) SetToken(ctx context.Context, profile, token string) (time.Time, error) {
	return c.setCredential(ctx, &pb.SetCredentialRequest{Profile: profile, Credential: &pb.SetCredentialRequest_AccessToken{AccessToken: token}})
}

// SetClientSecret stores the client secret of a client_credentials profile,
// once the provider has accepted it. It returns the first token's expiry.
func (c *Client) SetClientSecret(ctx context.Context, profile, secret string) (time.Time, error) {
	return c.setCredential(ctx, &pb.SetCredentialRequest{Profile: profile, Credential: &pb.SetCredentialRequest_ClientSecret{ClientSecret: secret}})
}

func (c *Client) setCredential(ctx context.Context, req *pb.SetCredentialRequest) (time.Time, error) {
	resp, err := c.broker.SetCredential(ctx, req)
	if err != nil {
		return time.Time{}, c.wrap(err)
	}
	if resp.GetExpiry() == nil {
		return time.Time{}, nil
	}
	return resp.GetExpiry().AsTime(), nil
}

// Status describes the daemon and its profiles.
func (c *Client) Status(ctx context.Context) (*pb.StatusResponse, error) {
	resp, err := c.broker.Status(ctx, &pb.StatusRequest{})
	if err != nil {
		return nil, c.wrap(err)
	}
	return resp, nil
}

// wrap turns a gRPC error into an *Error with the daemon's reason.
func (c *Client) wrap(err error) error {
	st, ok := status.FromError(err)
	if !ok {
		return err
	}
	for _, d := range st.Details() {
		if info, ok := d.(*errdetails.ErrorInfo); ok {
			r := api.Reason(info.GetReason())
			return &Error{Reason: r, Message: st.Message(), kind: r.Info().Err}
		}
	}
	switch st.Code() {
	case codes.Unavailable:
		if wrong := c.wrongServer.Load(); wrong != nil {
			return &Error{Reason: api.WrongServer, Message: (*wrong).Error(), kind: ErrWrongServer}
		}
		return &Error{Reason: api.DaemonUnreachable, kind: ErrDaemonUnreachable,
			Message: fmt.Sprintf("cannot reach authd at %s (%s)", c.path, api.DaemonUnreachable.Info().Hint)}
	case codes.Canceled:
		return fmt.Errorf("%s: %w", st.Message(), context.Canceled)
	case codes.DeadlineExceeded:
		return fmt.Errorf("%s: %w", st.Message(), context.DeadlineExceeded)
	}
	return &Error{Reason: api.Reason(st.Code().String()), Message: st.Message()}
}
