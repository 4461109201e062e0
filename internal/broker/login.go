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

// loginRun is one interactive login that any number of callers wait on.
type loginRun struct {
	startedBy string
	kind      string // one of the login* constants

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
	Force     bool   // log in even when the session has a working refresh token
	Device    bool   // use the device authorization grant
	NoBrowser bool   // the caller cannot open a browser: "auto" profiles use the device grant
	StartedBy string // who asked, shown to those who join
}

// LoginEvents receives a login's progress. Each method is called at most
// once, in this order: Joined (only when another caller started the login),
// Prompt, then Done or the error returned by Login.
type LoginEvents interface {
	Joined(startedBy string) error
	Prompt(Prompt) error
	Done(account string, expiry time.Time) error
}

// Login starts an interactive login, or joins the one in flight, and reports
// its progress to events until it ends or ctx does. A session that is
// already logged in reports Done at once unless req.Force is set.
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
			return events.Done(rec.Account, rec.Expiry)
		} else if !errors.Is(err, ErrLoginRequired) {
			return err
		}
	}
	run, joined := s.startLogin(req)
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
	return events.Done(run.rec.Account, run.rec.Expiry)
}

// startLogin returns the login in flight, or starts one. The login runs on
// the session's context with the profile's login timeout, not on any
// caller's: callers that give up leave it running for the others.
func (s *Session) startLogin(req LoginRequest) (run *loginRun, joined bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.login != nil {
		return s.login, true
	}
	run = &loginRun{startedBy: req.StartedBy, kind: s.loginKind(req), ready: make(chan struct{}), done: make(chan struct{})}
	s.login = run
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		s.runLogin(run)
	}()
	return run, false
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
// happens: a panic in a flow fails this login, not the daemon.
func (s *Session) runLogin(run *loginRun) {
	rec, err := s.attemptLogin(run)
	if err != nil {
		err = fmt.Errorf("login %s: %w", s.profile.Name, err)
		s.log.Warn("login failed", "profile", s.profile.Name, "err", err)
	} else {
		s.log.Info("logged in", "profile", s.profile.Name, "account", rec.Account)
	}
	s.mu.Lock()
	s.login = nil
	if err != nil {
		s.lastErr = err
	}
	s.mu.Unlock()
	run.rec, run.err = rec, err
	close(run.done)
}

// attemptLogin runs the login's flow and saves what it got.
func (s *Session) attemptLogin(run *loginRun) (rec *store.Record, err error) {
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
	ctx, cancel := context.WithTimeoutCause(s.bg, timeout,
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
	if err == nil && errors.Is(context.Cause(ctx), ErrLoginTimeout) {
		err = context.Cause(ctx)
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
			rec.Source = store.SourceClientCredentials
		} else {
			rec.Source, rec.ClientSecret = store.SourceSession, ""
		}
		err = s.commit(ctx, rec, false)
	}
	if err != nil && errors.Is(context.Cause(ctx), ErrLoginTimeout) {
		err = context.Cause(ctx)
	}
	if err != nil {
		return nil, err
	}
	return rec, nil
}
