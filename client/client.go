// Package client is the Go API of authd: it asks the per-user daemon for
// access tokens over its Unix socket. authc uses it too. It speaks the
// daemon's gRPC API through a lean transport of its own (client/internal/wire:
// HTTP/2 and protobuf by hand), so that it links neither grpc-go nor the
// protobuf runtime, whose start-up would cost a short-lived command more
// than the call itself.
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
// # Configuration and version
//
// [Client.Reload] makes the daemon reread its config file and says which
// profiles changed. [Client.DaemonVersion] is the daemon's version, which
// it sends with every answer: compare it with your own without a call of
// its own, or be told with [WithDaemonVersion]. [Client.Status] has it too,
// with the daemon's build.
//
// # Socket
//
// The socket is $AUTHD_SOCKET, else $XDG_RUNTIME_DIR/authd/authd.sock, else
// authd/authd.sock in the user's cache directory. The client talks only to a
// daemon of its own uid: a socket served by another user is
// [ErrWrongServer], refused before a request is sent.
//
// # Starting the daemon
//
// [WithAutostart] makes a client start 'authd run' in the background when
// no daemon answers, as authc does; concurrent first calls start one.
//
// # Connections
//
// A [Client] keeps a few connections to the daemon open, one per call in
// progress (a connection runs one call at a time), and dials another when
// all are busy; concurrent callers do not wait for one another. A call
// whose connection the daemon closed before answering (a restart, 'authd
// run --replace' taking over) runs once more on a new connection, which
// reaches the daemon serving then; a login does not once it has begun.
package client

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"runtime"
	"strconv"
	"sync"
	"time"

	"authd.dev/authd/api"
	"authd.dev/authd/client/internal/wire"
	"authd.dev/authd/internal/socket"
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
	// Reason is the daemon's reason; api.DaemonUnreachable, api.WrongServer
	// or api.SocketDenied when the daemon could not be asked; the gRPC
	// code's name ("DeadlineExceeded") for a status that carries no reason.
	Reason  api.Reason
	Message string // the daemon's explanation
	kind    error
	err     error
}

func (e *Error) Error() string { return e.Message }

// Unwrap returns the sentinel matching Reason, and the error of the
// transport: a status the daemon answered with DEADLINE_EXCEEDED matches
// context.DeadlineExceeded, a failed dial the *net.OpError.
func (e *Error) Unwrap() []error {
	var errs []error
	for _, err := range []error{e.kind, e.err} {
		if err != nil {
			errs = append(errs, err)
		}
	}
	return errs
}

// Client is a connection to the daemon. It is safe for concurrent use.
type Client struct {
	path                      string
	callTimeout, loginTimeout time.Duration
	maxIdle                   int
	onVersion                 func(string)
	autostart                 *Autostart // see WithAutostart

	mu      sync.Mutex
	closed  bool
	idle    []*wire.Conn
	busy    map[*wire.Conn]struct{} // in a call; Close interrupts them
	version string                  // the daemon's, as its last answer said
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

// WithDaemonVersion calls f with the daemon's version (see
// [Client.DaemonVersion]) the first time an answer carries it, and again
// whenever it changes (the daemon was restarted). f runs in the call that
// got the answer, before the call returns; it must not call the Client.
func WithDaemonVersion(f func(version string)) Option {
	return func(c *Client) { c.onVersion = f }
}

// New prepares a connection to the daemon; it dials lazily, on first use.
func New(opts ...Option) (*Client, error) {
	c := &Client{
		callTimeout:  CallTimeout,
		loginTimeout: LoginTimeout,
		maxIdle:      2 * runtime.GOMAXPROCS(0),
		busy:         map[*wire.Conn]struct{}{},
	}
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
	return c, nil
}

// Socket returns the socket path the client uses.
func (c *Client) Socket() string { return c.path }

// DaemonVersion returns the daemon's version, as the last answer the
// Client got said it (authd sends it with every answer, errors included,
// in the header api.VersionHeader): "" before the first answer, or from a
// daemon too old to send it. It costs no call: compare it with your own
// after a call you make anyway.
func (c *Client) DaemonVersion() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.version
}

// noteVersion keeps the version the daemon sent on conn, and tells
// WithDaemonVersion's function when it is new.
func (c *Client) noteVersion(conn *wire.Conn) {
	v := conn.ServerVersion()
	if v == "" {
		return
	}
	c.mu.Lock()
	changed := v != c.version
	c.version = v
	c.mu.Unlock()
	if changed && c.onVersion != nil {
		c.onVersion(v)
	}
}

// Close closes the connections; calls in progress fail.
func (c *Client) Close() error {
	c.mu.Lock()
	conns := c.idle
	for conn := range c.busy {
		conns = append(conns, conn)
	}
	c.closed, c.idle, c.busy = true, nil, nil
	c.mu.Unlock()
	var errs []error
	for _, conn := range conns {
		errs = append(errs, conn.Close())
	}
	return errors.Join(errs...)
}

// closedError is a call on a closed Client. (A function, not a variable:
// package initialisation is paid by every authc command.)
func closedError() error { return fmt.Errorf("authd client: %w", net.ErrClosed) }

// get takes an idle connection, or dials one; reused says it was idle.
// fresh drops the idle ones first: one was found closed by the daemon, so
// the others, dialed as long ago, are likely closed too.
func (c *Client) get(ctx context.Context, fresh bool) (conn *wire.Conn, reused bool, err error) {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil, false, closedError()
	}
	if fresh {
		for _, conn := range c.idle {
			conn.Close()
		}
		clear(c.idle)
		c.idle = c.idle[:0]
	}
	if n := len(c.idle); n > 0 {
		conn = c.idle[n-1]
		c.idle[n-1] = nil
		c.idle = c.idle[:n-1]
		c.busy[conn] = struct{}{}
		c.mu.Unlock()
		return conn, true, nil
	}
	c.mu.Unlock()
	// socket.Dial, under wire.Dial, checks the server's uid before a byte
	// is sent.
	conn, err = wire.Dial(ctx, c.path)
	if err != nil && c.autostart != nil && daemonAbsent(err) && !autostartOff() &&
		(c.autostart.Allowed == nil || c.autostart.Allowed()) {
		if startErr := c.startDaemon(ctx); startErr != nil {
			return nil, false, fmt.Errorf("%w; %w", err, startErr)
		}
		conn, err = wire.Dial(ctx, c.path)
	}
	if err != nil {
		return nil, false, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		conn.Close()
		return nil, false, closedError()
	}
	c.busy[conn] = struct{}{}
	return conn, false, nil
}

// put returns a connection after a call: to the idle ones when it is still
// usable and there are not too many, else it is closed.
func (c *Client) put(conn *wire.Conn) {
	usable := conn.Usable()
	c.mu.Lock()
	delete(c.busy, conn)
	if usable && !c.closed && len(c.idle) < c.maxIdle {
		c.idle = append(c.idle, conn)
		c.mu.Unlock()
		return
	}
	c.mu.Unlock()
	conn.Close()
}

// do runs call on a connection, with the default deadline d. When the
// connection ends without an answer (no status: closed, reset, or a GOAWAY
// that left the call out), and again() allows (nil: always), call runs
// once more on a new connection, and the idle ones are dropped. That
// happens when the daemon closed an idle connection (its idle timeout, a
// restart) before the call reached it, and when it stopped before
// answering: a SIGTERM cuts the calls it has not answered within its
// bound, and 'authd run --replace' makes the daemon that hands over its
// socket stop. The new connection then reaches the daemon now listening,
// or waits in its queue until it serves. Running a call again is safe
// whether or not it reached the daemon: every call is idempotent (a token
// request asks for a token, which the daemon gives from its cache or by
// one refresh whoever asks; logout and storing a credential end in the
// same state done twice), but a login once it has reported a step, which
// again() refuses.
func (c *Client) do(ctx context.Context, d time.Duration, again func() bool, call func(context.Context, *wire.Conn) error) error {
	ctx, cancel := withDefaultDeadline(ctx, d)
	defer cancel()
	for retried := false; ; retried = true {
		conn, _, err := c.get(ctx, retried)
		if err != nil {
			return c.wrap(err)
		}
		err = call(ctx, conn)
		c.noteVersion(conn)
		c.put(conn)
		var st *wire.Status
		if err != nil && !retried && ctx.Err() == nil && errors.Is(err, wire.ErrUnavailable) &&
			!errors.As(err, &st) && (again == nil || again()) {
			continue
		}
		if err != nil {
			return c.wrap(err)
		}
		return nil
	}
}

// TokenOptions say which token to fetch.
type TokenOptions struct {
	Profile      string   // "" for the default profile
	Scopes       []string // a subset of the profile's scopes
	Audience     string
	MinValid     time.Duration // 0: the daemon's default (1 minute)
	Interactive  bool          // wait for a login when one is needed (see Client.Login to show it)
	ForceRefresh bool
	IDToken      bool // also return the ID token
	// Rejected is an access token a server refused: while it is still the
	// profile's token, the daemon gets a new one (once, however many
	// callers name it) and does not serve it to this caller again: when
	// the provider is down the call fails with ErrProviderUnavailable, and
	// for a stored token (or a provider that hands out the same one) with
	// ErrLoginRequired. A token the daemon has replaced already costs
	// nothing: the current one is served.
	Rejected string
}

// Token is an access token and what is known of it: AccessToken,
// TokenType, Expiry (zero when the provider did not say), Scopes, IDToken
// and Profile.
type Token = wire.Token

// Token fetches an access token.
func (c *Client) Token(ctx context.Context, o TokenOptions) (*Token, error) {
	req := &wire.GetTokenRequest{
		Profile:      o.Profile,
		Scopes:       o.Scopes,
		Audience:     o.Audience,
		MinValid:     o.MinValid,
		Interactive:  o.Interactive,
		ForceRefresh: o.ForceRefresh,
		WantIDToken:  o.IDToken,
		Rejected:     o.Rejected,
	}
	d := c.callTimeout
	if o.Interactive {
		d = c.loginTimeout
	}
	var tok *Token
	err := c.do(ctx, d, nil, func(ctx context.Context, conn *wire.Conn) (err error) {
		tok, err = conn.GetToken(ctx, req)
		return err
	})
	if err != nil {
		return nil, err
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

// OpenURL asks for a browser to open URL; the provider returns it to
// RedirectURI.
type OpenURL = wire.OpenURL

// DeviceCode is what the user enters on another device: UserCode at
// VerificationURI (or VerificationURIComplete, with the code in it),
// before Expires.
type DeviceCode = wire.DeviceCode

// Done reports a finished login: the Account, the token's Expiry, and
// AlreadyLoggedIn when no login ran because the session had one.
type Done = wire.Done

// Login starts or joins a login and calls on for each step until it ends.
// It returns nil after the Done event, or the login's error.
func (c *Client) Login(ctx context.Context, o LoginOptions, on func(LoginEvent)) error {
	req := &wire.LoginRequest{Profile: o.Profile, Force: o.Force, Device: o.Device, NoBrowser: o.NoBrowser}
	started, done := false, false
	err := c.do(ctx, c.loginTimeout, func() bool { return !started }, func(ctx context.Context, conn *wire.Conn) error {
		return conn.Login(ctx, req, func(ev *wire.LoginEvent) error {
			if !started {
				// Before the first event: a login may last minutes.
				c.noteVersion(conn)
			}
			started = true
			switch {
			case ev.OpenURL != nil:
				on(LoginEvent{OpenURL: ev.OpenURL})
			case ev.DeviceCode != nil:
				on(LoginEvent{DeviceCode: ev.DeviceCode})
			case ev.Waiting != nil:
				on(LoginEvent{Waiting: ev.Waiting.StartedBy})
			case ev.Done != nil:
				done = true
				on(LoginEvent{Done: ev.Done})
			}
			return nil
		})
	})
	if err != nil && !done {
		return err
	}
	if !done {
		return &Error{Reason: api.Unspecified, Message: "the login ended without a result"}
	}
	return nil
}

// Logout forgets a profile's session, or every session when all is true. It
// returns the profiles logged out.
func (c *Client) Logout(ctx context.Context, profile string, all bool) ([]string, error) {
	var resp *wire.LogoutResponse
	err := c.do(ctx, c.callTimeout, nil, func(ctx context.Context, conn *wire.Conn) (err error) {
		resp, err = conn.Logout(ctx, &wire.LogoutRequest{Profile: profile, All: all})
		return err
	})
	if err != nil {
		return nil, err
	}
	return resp.Profiles, nil
}

// SetToken stores a static access token (an API key, a CI token) for a
// profile. It returns the token's expiry when it is a JWT that has one.
func (c *Client) SetToken(ctx context.Context, profile, token string) (time.Time, error) {
	return c.setCredential(ctx, &wire.SetCredentialRequest{Profile: profile, AccessToken: token})
}

// SetClientSecret stores the client secret of a client_credentials profile,
// once the provider has accepted it. It returns the first token's expiry.
func (c *Client) SetClientSecret(ctx context.Context, profile, secret string) (time.Time, error) {
	return c.setCredential(ctx, &wire.SetCredentialRequest{Profile: profile, ClientSecret: secret})
}

func (c *Client) setCredential(ctx context.Context, req *wire.SetCredentialRequest) (time.Time, error) {
	var resp *wire.SetCredentialResponse
	err := c.do(ctx, c.callTimeout, nil, func(ctx context.Context, conn *wire.Conn) (err error) {
		resp, err = conn.SetCredential(ctx, req)
		return err
	})
	if err != nil {
		return time.Time{}, err
	}
	return resp.Expiry, nil
}

// Status describes the daemon (Version, Build, StartedBy, ConfigPath,
// KeyringBackend, DefaultProfile, PID, ReloadError, Goroutines) and its
// Profiles.
type Status = wire.StatusResponse

// ProfileStatus is one profile of a [Status]: its State (logged_out,
// logging_in, valid, refreshing, expired, needs_login), Account, Expiry,
// refresh times and last error.
type ProfileStatus = wire.ProfileStatus

// Status describes the daemon and its profiles.
func (c *Client) Status(ctx context.Context) (*Status, error) {
	var st *Status
	err := c.do(ctx, c.callTimeout, nil, func(ctx context.Context, conn *wire.Conn) (err error) {
		st, err = conn.Status(ctx)
		return err
	})
	if err != nil {
		return nil, err
	}
	return st, nil
}

// ReloadResult is what a reload of the config file changed: the
// ConfigPath, the profiles Added, Changed (their sessions start over from
// the keyring) and Removed, and KeyringChanged (every session starts over
// from the new keyring).
type ReloadResult = wire.ReloadResponse

// Reload asks the daemon to reread its config file, as SIGHUP does, and
// returns what changed. Sessions of the profiles that did not change are
// kept. A file with problems is an error matching [ErrInvalidConfig], whose
// message has each problem on a line (file:line: key: message); the
// daemon then keeps the configuration it had.
func (c *Client) Reload(ctx context.Context) (*ReloadResult, error) {
	var res *ReloadResult
	err := c.do(ctx, c.callTimeout, nil, func(ctx context.Context, conn *wire.Conn) (err error) {
		res, err = conn.Reload(ctx)
		return err
	})
	if err != nil {
		return nil, err
	}
	return res, nil
}

// codeNames are the gRPC codes' names, as grpc-go spells them.
var codeNames = [...]string{
	"OK", "Canceled", "Unknown", "InvalidArgument", "DeadlineExceeded",
	"NotFound", "AlreadyExists", "PermissionDenied", "ResourceExhausted",
	"FailedPrecondition", "Aborted", "OutOfRange", "Unimplemented",
	"Internal", "Unavailable", "DataLoss", "Unauthenticated",
}

// wrap turns the transport's error into an *Error with the daemon's
// reason. An error of the caller's context stays as it is.
func (c *Client) wrap(err error) error {
	var st *wire.Status
	isStatus := errors.As(err, &st)
	switch {
	case isStatus && st.Reason != "":
		return &Error{Reason: st.Reason, Message: st.Message, kind: st.Reason.Info().Err, err: err}
	case errors.Is(err, ErrWrongServer):
		return &Error{Reason: api.WrongServer, Message: err.Error(), kind: ErrWrongServer, err: err}
	case !isStatus && errors.Is(err, fs.ErrPermission):
		return &Error{Reason: api.SocketDenied, err: err,
			Message: fmt.Sprintf("permission denied on the socket %s or a directory above it (%s)", c.path, api.SocketDenied.Info().Hint)}
	case errors.Is(err, wire.ErrUnavailable), isStatus && st.Code == wire.CodeUnavailable:
		msg := fmt.Sprintf("cannot reach authd at %s (%s)", c.path, api.DaemonUnreachable.Info().Hint)
		var op *net.OpError
		if !isStatus && !(errors.As(err, &op) && op.Op == "dial") {
			msg = fmt.Sprintf("authd at %s closed the connection without answering (at its connection limit? its log says)", c.path)
		}
		return &Error{Reason: api.DaemonUnreachable, Message: msg, kind: ErrDaemonUnreachable, err: err}
	case isStatus:
		name := "Code(" + strconv.Itoa(st.Code) + ")"
		if st.Code >= 0 && st.Code < len(codeNames) {
			name = codeNames[st.Code]
		}
		return &Error{Reason: api.Reason(name), Message: st.Message, err: err}
	}
	return err
}
