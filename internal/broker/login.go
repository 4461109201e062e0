package broker

import (
	"context"
	"errors"
	"fmt"
	"runtime/debug"
	"sync"
	"time"

	"authd.dev/authd/internal/config"
	"authd.dev/authd/internal/flow"
	"authd.dev/authd/internal/store"
)

// LoginGrace is how long a login goes on once no client waits for it: the
// user may run the command again, or another client join it, and find it
// still there. After that it is cancelled, so that a login nobody will
// finish neither shows as logging_in nor logs the user in later.
const LoginGrace = 30 * time.Second

// ErrLoginCancelled is the error of a login stopped before it ended: by a
// logout, by a forced login that replaced it, or because no client waited
// for it any more. Clients see it as a failed login (LOGIN_FAILED).
var ErrLoginCancelled = errors.New("login cancelled")

// loginCancelled says why a login was cancelled, to the clients waiting on
// it. It is an [ErrLoginCancelled] and a [flow.ErrLoginFailed], and its
// cause when it has one.
type loginCancelled struct {
	why   string
	cause error
}

func (e *loginCancelled) Error() string { return e.why }

func (e *loginCancelled) Is(target error) bool {
	return target == ErrLoginCancelled || target == flow.ErrLoginFailed || e.cause != nil && target == e.cause
}

// Why logins are cancelled.
var (
	errLoginLoggedOut = &loginCancelled{why: "the login was cancelled by a logout"}
	errLoginReplaced  = &loginCancelled{why: "the login was replaced by a newer one ('authc login --force')"}
	errLoginAbandoned = &loginCancelled{why: fmt.Sprintf("the login was cancelled: no client waited for it for %s", LoginGrace)}
	errLoginShutdown  = &loginCancelled{why: "the login was cancelled: " + ErrShutdown.Error(), cause: ErrShutdown}
)

// loginRun is one interactive login that any number of callers wait on.
type loginRun struct {
	startedBy string
	kind      string                  // one of the login* constants
	cancel    context.CancelCauseFunc // stops the flow; the cause is a *loginCancelled

	// Guarded by the session's mu, which also decides whether the run is
	// still the session's login.
	waiters int   // callers waiting on the login
	idle    Timer // while nobody waits: cancels the login after LoginGrace

	mu     sync.Mutex
	prompt *Prompt
	ready  chan struct{} // closed once prompt is set
	done   chan struct{} // closed once rec/err are set
	rec    *store.Record
	err    error
}

func (r *loginRun) setPrompt(p Prompt) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.prompt == nil {
		r.prompt = &p
		close(r.ready)
	}
}

// wait blocks until the login ends or ctx does; leaving early does not stop the login.
func (r *loginRun) wait(ctx context.Context) error {
	select {
	case <-r.done:
		return r.err
	case <-ctx.Done():
		return context.Cause(ctx)
	}
}

// LoginRequest starts or joins a login.
type LoginRequest struct {
	Force     bool   // log in even when the session has a working refresh token; replace a login in flight
	Device    bool   // use the device authorization grant
	NoBrowser bool   // the caller cannot open a browser: "auto" profiles use the device grant
	StartedBy string // who asked, shown to those who join
}

// LoginResult is how a login ended, for the caller.
type LoginResult struct {
	Account string
	Expiry  time.Time
	// AlreadyLoggedIn: no login ran, the session works as it is.
	AlreadyLoggedIn bool
}

// LoginEvents receives a login's progress. Each method is called at most
// once, in this order: Joined (only when another caller started the login),
// Prompt, then Done or the error returned by Login.
type LoginEvents interface {
	Joined(startedBy string) error
	Prompt(Prompt) error
	Done(LoginResult) error
}

// Login starts an interactive login, or joins the one in flight, and reports
// its progress to events until it ends or ctx does. A session that is
// already logged in reports Done at once unless req.Force is set; a forced
// login replaces the one in flight, whose callers are told so.
//
// A caller that leaves does not stop the login for the others; the last
// one to leave stops it after [LoginGrace], unless another caller joins.
func (s *Session) Login(ctx context.Context, req LoginRequest, events LoginEvents) error {
	if err := s.load(ctx); err != nil {
		return err
	}
	s.mu.Lock()
	rec, needsLogin, running := s.rec, s.needsLogin, s.login
	s.mu.Unlock()
	if running == nil && !req.Force && !needsLogin && rec != nil {
		// A working session: make sure it really works before saying so.
		if _, err := s.Token(ctx, TokenRequest{}); err == nil {
			s.mu.Lock()
			rec = s.rec
			s.mu.Unlock()
			return events.Done(LoginResult{Account: rec.Account, Expiry: rec.Expiry, AlreadyLoggedIn: true})
		} else if !errors.Is(err, ErrLoginRequired) {
			return err
		}
	}
	run, joined := s.startLogin(req)
	defer s.leaveLogin(run)
	if joined {
		if err := events.Joined(run.startedBy); err != nil {
			return err
		}
	}
	select {
	case <-run.ready:
		if err := events.Prompt(*run.prompt); err != nil {
			return err
		}
	case <-run.done:
	case <-ctx.Done():
		return context.Cause(ctx)
	}
	if err := run.wait(ctx); err != nil {
		return err
	}
	return events.Done(LoginResult{Account: run.rec.Account, Expiry: run.rec.Expiry})
}

// awaitLogin starts or joins a login and waits for it to end, as one of its
// waiters: a token request that may log in.
func (s *Session) awaitLogin(ctx context.Context, req LoginRequest) error {
	run, _ := s.startLogin(req)
	defer s.leaveLogin(run)
	return run.wait(ctx)
}

// startLogin returns the login in flight, or starts one (req.Force: in its
// place), with the caller counted as one of its waiters: the caller must
// call leaveLogin when it stops waiting. The login runs on the session's
// context with the profile's login timeout, not on any caller's: callers
// that give up leave it running for the others.
func (s *Session) startLogin(req LoginRequest) (run *loginRun, joined bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.draining {
		// A login that has ended already: its waiter hears why.
		run = &loginRun{waiters: 1, ready: make(chan struct{}), done: make(chan struct{}),
			err: fmt.Errorf("login %s: %w", s.profile.Name, errLoginShutdown)}
		close(run.done)
		return run, false
	}
	prev := s.login
	if prev != nil && !req.Force {
		prev.waiters++
		if prev.idle != nil {
			prev.idle.Stop()
			prev.idle = nil
		}
		return prev, true
	}
	if prev != nil {
		s.cancelLoginLocked(errLoginReplaced)
	}
	ctx, cancel := context.WithCancelCause(s.bg)
	run = &loginRun{
		startedBy: req.StartedBy, kind: s.loginKind(req), cancel: cancel, waiters: 1,
		ready: make(chan struct{}), done: make(chan struct{}),
	}
	s.login = run
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		defer cancel(nil)
		if prev != nil {
			// The login replaced may still hold the loopback port (a
			// profile's fixed redirect_port); it lets go at once.
			select {
			case <-prev.done:
			case <-ctx.Done():
			}
		}
		s.runLogin(ctx, run)
	}()
	return run, false
}

// leaveLogin ends a caller's wait on run. When it was the last caller, the
// login is cancelled after LoginGrace unless a caller joins it before.
func (s *Session) leaveLogin(run *loginRun) {
	s.mu.Lock()
	defer s.mu.Unlock()
	run.waiters--
	if run.waiters > 0 || s.login != run {
		return
	}
	s.log.Debug("no client waits for the login; cancelling it unless one joins", "profile", s.profile.Name, "grace", LoginGrace)
	run.idle = s.clock.AfterFunc(LoginGrace, func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		if s.login == run && run.waiters == 0 {
			s.cancelLoginLocked(errLoginAbandoned)
		}
	})
}

// cancelLoginLocked ends the session's login in flight, if any: its waiters
// get why, and whatever its flow still gets from the provider is not stored
// (see commitLogin). The session is no longer logging in from here on.
func (s *Session) cancelLoginLocked(why *loginCancelled) {
	run := s.login
	if run == nil {
		return
	}
	s.login = nil
	if run.idle != nil {
		run.idle.Stop()
		run.idle = nil
	}
	run.cancel(why)
	s.log.Info("login cancelled", "profile", s.profile.Name, "why", why.why)
}

// The ways a login can go.
const (
	loginBrowser      = "browser"
	loginDevice       = "device"
	loginDeviceIfAny  = "device-if-offered" // no browser here: the device flow when the provider has it
	loginClientSecret = "client_credentials"
)

func (s *Session) loginKind(req LoginRequest) string {
	switch {
	case s.profile.Flow == config.FlowClientCredentials:
		return loginClientSecret
	case req.Device || s.profile.Flow == config.FlowDevice:
		return loginDevice
	case req.NoBrowser && s.profile.Flow == config.FlowAuto:
		return loginDeviceIfAny
	}
	return loginBrowser
}

// runLogin runs a login to its end and releases every waiter, whatever
// happens: a panic in a flow fails this login, not the daemon. ctx is the
// login's own, cancelled when the login is.
func (s *Session) runLogin(ctx context.Context, run *loginRun) {
	rec, err := s.attemptLogin(ctx, run)
	s.mu.Lock()
	current := s.login == run
	if current {
		s.login = nil
		if run.idle != nil {
			run.idle.Stop()
			run.idle = nil
		}
	} else {
		// Cancelled (by a logout, a forced login, or for want of
		// waiters): its waiters hear why, even when the flow finished
		// and stored its tokens just before.
		rec, err = nil, context.Cause(ctx)
	}
	if err != nil {
		err = fmt.Errorf("login %s: %w", s.profile.Name, err)
		if current {
			s.lastErr = err
		}
	}
	s.mu.Unlock()
	switch {
	case errors.Is(err, ErrLoginCancelled):
		s.log.Info("login ended: cancelled", "profile", s.profile.Name, "err", err)
	case err != nil:
		s.log.Warn("login failed", "profile", s.profile.Name, "err", err)
	default:
		s.log.Info("logged in", "profile", s.profile.Name, "account", rec.Account)
	}
	run.rec, run.err = rec, err
	close(run.done)
}

// attemptLogin runs the login's flow and saves what it got.
func (s *Session) attemptLogin(ctx context.Context, run *loginRun) (rec *store.Record, err error) {
	defer func() {
		if p := recover(); p != nil {
			// The panic's text stays in the log: it may say more about the
			// daemon's insides than a client should see.
			s.log.Error("login panicked", "profile", s.profile.Name, "flow", run.kind, "panic", p, "stack", string(debug.Stack()))
			rec, err = nil, fmt.Errorf("%w: internal error in the %s flow (the daemon's log has the details)", flow.ErrLoginFailed, run.kind)
		}
	}()
	timeout := s.profile.LoginTimeout
	if timeout <= 0 {
		timeout = 5 * time.Minute
	}
	ctx, cancel := context.WithTimeoutCause(ctx, timeout,
		fmt.Errorf("%w: the login was not completed within %s", ErrLoginTimeout, timeout))
	defer cancel()
	ctx = flow.WithLogger(ctx, s.log)

	browser := func() (*flow.Token, error) {
		return s.flow.PKCELogin(ctx, func(authURL, redirectURI string) {
			run.setPrompt(Prompt{URL: authURL, RedirectURI: redirectURI})
		})
	}
	device := func() (*flow.Token, error) {
		return s.flow.DeviceLogin(ctx, func(dc flow.DeviceCode) { run.setPrompt(Prompt{Device: &dc}) })
	}
	var tok *flow.Token
	switch run.kind {
	case loginClientSecret:
		s.mu.Lock()
		secret := s.clientSecret(s.rec)
		s.mu.Unlock()
		if secret == "" {
			err = fmt.Errorf("profile %s has no client secret: store it with 'authc login -p %s --client-secret-stdin': %w",
				s.profile.Name, s.profile.Name, ErrLoginRequired)
			break
		}
		tok, err = s.flow.ClientCredentials(ctx, secret)
	case loginDevice:
		tok, err = device()
	case loginDeviceIfAny:
		if tok, err = device(); errors.Is(err, flow.ErrNoDeviceFlow) {
			tok, err = browser()
		}
	default:
		tok, err = browser()
	}
	if err == nil {
		err = loginStopped(ctx)
	}
	if err == nil {
		s.mu.Lock()
		prev := s.rec
		s.mu.Unlock()
		rec = s.recordOf(tok, prev)
		if tok.RefreshToken == "" {
			// A login that granted no refresh token must not revive an old one.
			rec.RefreshToken = ""
		}
		if run.kind == loginClientSecret {
			rec.Source = SourceClientCredentials
		} else {
			rec.Source, rec.ClientSecret = SourceSession, ""
		}
		err = s.commitLogin(ctx, run, rec)
	}
	if stopped := loginStopped(ctx); err != nil && stopped != nil {
		err = stopped
	}
	if err != nil {
		return nil, err
	}
	return rec, nil
}

// loginStopped is why a login's context ended, when that says more than
// the flow's error: it timed out, or it was cancelled.
func loginStopped(ctx context.Context) error {
	cause := context.Cause(ctx)
	switch {
	case errors.Is(cause, ErrLoginTimeout), errors.Is(cause, ErrLoginCancelled):
		return cause
	case errors.Is(cause, ErrShutdown):
		// Closed without a drain first: the broker's context ended.
		return errLoginShutdown
	}
	return nil
}

// commitLogin stores what a login got, unless the login is no longer the
// session's: a logout, a forced login or the want of waiters cancelled it
// while the provider answered. The check and the write hold redeem, which
// Logout takes after cancelling the login and before deleting: a login
// either stores before a logout deletes, or stores nothing.
func (s *Session) commitLogin(ctx context.Context, run *loginRun, rec *store.Record) error {
	s.redeem.Lock()
	defer s.redeem.Unlock()
	s.mu.Lock()
	current := s.login == run
	s.mu.Unlock()
	if !current {
		return context.Cause(ctx)
	}
	return s.commit(ctx, rec, false)
}
