package oidcagent

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"runtime/debug"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/crypto/nacl/box"

	"authd.dev/authd/api"
	"authd.dev/authd/internal/broker"
	"authd.dev/authd/internal/flow"
	"authd.dev/authd/internal/socket"
)

// Sessions are the profiles whose tokens the server hands out;
// *broker.Broker is the daemon's.
type Sessions interface {
	Profiles() []string
	Session(name string) (*broker.Session, error)
}

// Options configure [Serve]. A zero field takes its default.
type Options struct {
	Logger *slog.Logger // default: none
	// MaxConns caps the connections served at once (default 128); more
	// are closed as soon as they are accepted.
	MaxConns int
	// ReadTimeout bounds the time from accepting a connection to having
	// its whole request, key exchange included (default 10 s). Clients
	// send everything at once.
	ReadTimeout time.Duration
	// RequestTimeout bounds the broker's answer (default 1 minute): a
	// refresh at the provider, never a login.
	RequestTimeout time.Duration
	// WriteTimeout bounds each write to the client (default 10 s).
	WriteTimeout time.Duration
}

const (
	defaultMaxConns       = 128
	defaultReadTimeout    = 10 * time.Second
	defaultRequestTimeout = time.Minute
	defaultWriteTimeout   = 10 * time.Second
	// maxErrorLen bounds the error text of an answer.
	maxErrorLen = 1024
)

func (o Options) withDefaults() Options {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.MaxConns <= 0 {
		o.MaxConns = defaultMaxConns
	}
	if o.ReadTimeout <= 0 {
		o.ReadTimeout = defaultReadTimeout
	}
	if o.RequestTimeout <= 0 {
		o.RequestTimeout = defaultRequestTimeout
	}
	if o.WriteTimeout <= 0 {
		o.WriteTimeout = defaultWriteTimeout
	}
	return o
}

// Serve answers oidc-agent's clients on ln with the tokens of b, until ctx
// ends; it then closes ln and the connections whose request is still
// being read, answers the others (their broker calls end with ctx), and
// returns once every connection has ended. A connection from another uid than the daemon's
// is closed before a byte of it is read, as is one over opts.MaxConns.
// Each connection carries one request, as with oidc-agent.
func Serve(ctx context.Context, b Sessions, ln net.Listener, opts Options) error {
	opts = opts.withDefaults()
	s := &server{b: b, opts: opts, log: opts.Logger, uid: os.Getuid(), slots: make(chan struct{}, opts.MaxConns)}
	var wg sync.WaitGroup
	defer wg.Wait()
	defer ln.Close()
	stop := context.AfterFunc(ctx, func() { ln.Close() })
	defer stop()
	var backoff time.Duration
	for {
		c, err := ln.Accept()
		if ctx.Err() != nil {
			if c != nil {
				c.Close()
			}
			return nil
		}
		if errors.Is(err, net.ErrClosed) {
			return fmt.Errorf("oidc-agent socket: %w", err)
		}
		if err != nil {
			// Out of file descriptors, most likely: wait for some to
			// close, as net/http does.
			backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
			s.acceptErrors.log(s.log, "oidc-agent socket: accept failed; retrying", "err", err)
			select {
			case <-time.After(backoff):
			case <-ctx.Done():
				return nil
			}
			continue
		}
		backoff = 0
		pid, ok := s.admit(c)
		if !ok {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-s.slots }()
			s.serveConn(ctx, c, pid)
		}()
	}
}

type server struct {
	b     Sessions
	opts  Options
	log   *slog.Logger
	uid   int
	slots chan struct{} // one per connection served

	others, full, acceptErrors rareLog
}

// admit keeps c, and returns its peer's pid, when the daemon's own user
// connected it and there is room for it; otherwise c is closed.
func (s *server) admit(c net.Conn) (pid int, ok bool) {
	uid, pid, err := socket.Peer(c)
	if errors.Is(err, errors.ErrUnsupported) {
		// No peer credentials on this platform: the socket's directory
		// (0700) is the only guard, as for authd's own socket.
		uid, pid, err = s.uid, -1, nil
	}
	switch {
	case err != nil:
		c.Close()
		s.log.Warn("oidc-agent socket: closing a connection whose peer is unknown", "err", err)
		return 0, false
	case uid != s.uid:
		s.others.log(s.log, "oidc-agent socket: closed connections from another user", "uid", uid, "pid", pid)
		c.Close()
		return 0, false
	}
	select {
	case s.slots <- struct{}{}:
		return pid, true
	default:
		c.Close()
		s.full.log(s.log, "oidc-agent socket: too many connections; closing new ones until some end", "limit", s.opts.MaxConns)
		return 0, false
	}
}

// serveConn answers the one request of c. A request in the clear (a JSON
// object) is answered in the clear; otherwise the client's first message
// is its public key, and the request and answer that follow the key
// exchange are encrypted. A request that cannot be decrypted is answered
// in the clear, as oidc-agent answers it.
func (s *server) serveConn(ctx context.Context, c net.Conn, pid int) {
	defer c.Close()
	defer func() {
		if r := recover(); r != nil {
			s.log.Error("oidc-agent socket: internal error; closed the connection", "panic", r, "stack", string(debug.Stack()))
		}
	}()
	// When ctx ends, a connection still being read is closed; one whose
	// request is being answered gets its answer (the broker's call ends
	// with ctx), so that its client hears that authd is stopping.
	var answering atomic.Bool
	stop := context.AfterFunc(ctx, func() {
		if !answering.Load() {
			c.Close()
		}
	})
	defer stop()

	deadline := time.Now().Add(s.opts.ReadTimeout)
	if err := c.SetReadDeadline(deadline); err != nil {
		return
	}
	first, err := readMessage(c, deadline, wholeFirst)
	if err != nil {
		s.log.Debug("oidc-agent socket: no request", "pid", pid, "err", err)
		return
	}
	if isJSONObject(first) {
		answering.Store(true)
		s.reply(c, s.answer(ctx, first, pid))
		return
	}
	peer, err := decodePublicKey(first)
	if err != nil {
		s.reply(c, failure("Bad Request: "+err.Error()))
		return
	}
	pub, secret, err := box.GenerateKey(rand.Reader)
	if err != nil {
		s.log.Error("oidc-agent socket: generate a key", "err", err)
		return
	}
	key, err := newSessionKey(peer, secret)
	clear(secret[:])
	if err != nil {
		s.reply(c, failure("Bad Request: "+err.Error()))
		return
	}
	if !s.reply(c, encodePublicKey(pub)) {
		return
	}
	sealed, err := readMessage(c, deadline, wholeSealed)
	if err != nil {
		s.log.Debug("oidc-agent socket: no request after the key exchange", "pid", pid, "err", err)
		return
	}
	body, err := key.open(sealed)
	if err != nil {
		s.reply(c, failure("Bad Request: "+err.Error()))
		return
	}
	answering.Store(true)
	answer, err := key.seal(s.answer(ctx, body, pid))
	if err != nil {
		s.log.Error("oidc-agent socket: encrypt the answer", "err", err)
		return
	}
	s.reply(c, answer)
}

// reply writes msg with one write, for the client reads one message as
// what one read returns.
func (s *server) reply(c net.Conn, msg []byte) bool {
	if err := c.SetWriteDeadline(time.Now().Add(s.opts.WriteTimeout)); err != nil {
		return false
	}
	_, err := c.Write(msg)
	return err == nil
}

// answer is the JSON answer to a request's JSON.
func (s *server) answer(ctx context.Context, body []byte, pid int) []byte {
	req, err := parseRequest(body)
	if err != nil {
		return failure(flow.CleanText(err.Error(), maxErrorLen))
	}
	if req.Type != requestAccessToken {
		s.log.Debug("oidc-agent socket: request not supported", "request", flow.CleanText(req.Type, maxTypeLen), "pid", pid)
		return failure(flow.CleanText(fmt.Sprintf("request %q is not supported by authd: it hands out access tokens only", req.Type), maxErrorLen))
	}
	name := req.Account
	if name == "" {
		if name, err = s.profileForIssuer(req.Issuer); err != nil {
			return failure(flow.CleanText(err.Error(), maxErrorLen))
		}
	}
	sess, err := s.b.Session(name)
	if err != nil {
		return failure(errorText(name, err, s.opts.RequestTimeout))
	}
	tctx, cancel := context.WithTimeout(ctx, s.opts.RequestTimeout)
	defer cancel()
	tok, err := sess.Token(tctx, req.tokenRequest())
	s.log.Debug("oidc-agent socket: token request", "profile", name, "application", flow.CleanText(req.ApplicationHint, 64),
		"pid", pid, "min_valid", req.MinValid, "force", req.Force, "err", err)
	if err != nil {
		return failure(errorText(name, err, s.opts.RequestTimeout))
	}
	return tokenResponse(tok, sess.Profile().Issuer)
}

// profileForIssuer is the one profile whose issuer is iss; a trailing
// slash does not count, as oidc-agent compares issuers.
func (s *server) profileForIssuer(iss string) (string, error) {
	want := strings.TrimSuffix(iss, "/")
	var names []string
	for _, name := range s.b.Profiles() {
		sess, err := s.b.Session(name)
		if err != nil {
			continue
		}
		if p := sess.Profile(); p.Issuer != "" && strings.TrimSuffix(p.Issuer, "/") == want {
			names = append(names, name)
		}
	}
	switch len(names) {
	case 0:
		return "", fmt.Errorf("no authd profile has the issuer %q", iss)
	case 1:
		return names[0], nil
	}
	return "", fmt.Errorf("several authd profiles have the issuer %q (%s): ask for one of them by name", iss, strings.Join(names, ", "))
}

// errorText is what a client is told of err, an error of profile's
// session: one line, free of control characters, with what to do.
func errorText(profile string, err error, timeout time.Duration) string {
	reason := broker.ReasonOf(err)
	hint := strings.ReplaceAll(reason.Info().Hint, "PROFILE", profile)
	var text string
	switch {
	case reason == api.LoginRequired:
		// Logins need a browser or a device code: never from here.
		text = "not logged in: " + hint
	case reason == api.ProfileNotFound:
		text = fmt.Sprintf("no authd profile named %q", profile)
	case errors.Is(err, broker.ErrShutdown), errors.Is(err, context.Canceled):
		text = "authd is shutting down"
	case errors.Is(err, context.DeadlineExceeded):
		text = fmt.Sprintf("authd got no token for profile %s within %s", profile, timeout)
	case reason == api.TokenLifetime, hint == "":
		// TokenLifetime's hint names authc's flag; the error says enough.
		text = err.Error()
	default:
		text = err.Error() + " (" + hint + ")"
	}
	return flow.CleanText(text, maxErrorLen)
}

// rareLog logs a line at most once a minute, with the number of times it
// was due: a flood of connections must not flood the log too.
type rareLog struct {
	mu     sync.Mutex
	last   time.Time
	missed int
}

func (l *rareLog) log(log *slog.Logger, msg string, args ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.missed++
	if now := time.Now(); now.Sub(l.last) >= time.Minute {
		log.Warn(msg, append(args, "count", l.missed)...)
		l.last, l.missed = now, 0
	}
}
