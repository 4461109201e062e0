package broker

import (
	"cmp"
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"time"

	"golang.org/x/sync/singleflight"

	"authd.dev/authd/internal/config"
	"authd.dev/authd/internal/flow"
	"authd.dev/authd/internal/jwt"
	"authd.dev/authd/internal/store"
)

// State is where a session is in its life.
type State string

// The states a session moves through.
const (
	StateLoggedOut  State = "logged_out"
	StateLoggingIn  State = "logging_in"
	StateValid      State = "valid"
	StateRefreshing State = "refreshing"
	StateExpired    State = "expired"
	StateNeedsLogin State = "needs_login"
)

// The values of store.Record.Source: how a session's token was obtained.
const (
	SourceSession           = "session" // a user's login (the default when empty)
	SourceStatic            = "static"  // a token the user stored as is: never renewed
	SourceClientCredentials = "client_credentials"
)

// DefaultMinValid is how long a returned token stays valid when the caller
// does not say, unless the provider's tokens live less than four times that.
const DefaultMinValid = time.Minute

// TokenRequest is what a caller asks a session for.
type TokenRequest struct {
	Scopes       []string // a subset of the profile's scopes; empty: the session's token
	Audience     string
	MinValid     time.Duration // 0: DefaultMinValid, or a quarter of the provider's token lifetime
	Interactive  bool          // start or join a login when one is needed, and wait for it
	ForceRefresh bool
	// Rejected is an access token a server refused: while it is the one
	// the session would serve, the call acts as ForceRefresh, so that it is
	// not served again. Callers naming it at once share one refresh; one
	// naming a token already replaced is served the current one.
	Rejected string
}

// Token is an access token handed to a client: never a refresh token.
type Token struct {
	AccessToken string
	TokenType   string
	Expiry      time.Time
	Scopes      []string
	IDToken     string
}

// Prompt is what a user must do to finish a login: open URL, or enter a device code.
type Prompt struct {
	URL         string
	RedirectURI string
	Device      *flow.DeviceCode
}

// Session owns one profile's credentials: at most one login and one refresh
// in flight, whatever the number of callers.
type Session struct {
	profile *config.Profile
	flow    *flow.Client
	store   Store
	log     *slog.Logger
	clock   Clock
	bg      context.Context // cancelled when the session is closed
	stop    context.CancelFunc
	wg      *sync.WaitGroup
	// checkClock handles a clock jump (see clockjump.go) before a refresh
	// token is redeemed: the connections kept from before a suspend are
	// dropped first.
	checkClock func()

	calls singleflight.Group // "load", "refresh", "mint:<key>"
	// redeem serialises every use of the refresh token: with rotation, two
	// concurrent redemptions would revoke the grant.
	redeem sync.Mutex

	mu          sync.Mutex // guards the fields below; never held across I/O
	loaded      bool
	rec         *store.Record // nil: no credentials
	minted      map[string]*Token
	needsLogin  bool
	refreshing  bool
	login       *loginRun
	lastErr     error
	lastRefresh time.Time
	nextRefresh time.Time
	failures    int           // consecutive failed refreshes
	retryAfter  time.Duration // the provider's Retry-After on the last failure
	timer       Timer
	draining    bool // the daemon is stopping: no login, no background refresh
	// keepsRefreshToken: the provider answered the last refresh without
	// rotating the refresh token, so sending one again is harmless. Until
	// a refresh has shown it, a provider is taken to rotate them.
	keepsRefreshToken bool
}

// Backoff bounds: failed refreshes are retried after 1 s, 2 s, 4 s, ...
// up to 5 minutes (each jittered), or after the provider's Retry-After.
const (
	minBackoff    = time.Second
	maxBackoff    = 5 * time.Minute
	maxRetryAfter = 15 * time.Minute
	// minRefreshInterval is the least time between a token's issue and its
	// background refresh, whatever its lifetime.
	minRefreshInterval = 5 * time.Second
	// refreshMargin keeps a proactively refreshed token at least this much
	// above DefaultMinValid, so default callers never wait.
	refreshMargin = 15 * time.Second
)

// Profile is the profile the session serves.
func (s *Session) Profile() *config.Profile { return s.profile }

func storeKey(profile string) string { return "profile:" + profile }

// renewable reports whether the session can get a new access token without
// the user: with a refresh token, or as a client with its secret.
func (s *Session) renewable(rec *store.Record) bool {
	if s.profile.Flow == config.FlowClientCredentials {
		return s.clientSecret(rec) != ""
	}
	return rec != nil && rec.RefreshToken != ""
}

// clientSecret is a client_credentials profile's secret: from the keyring,
// else from the config file.
func (s *Session) clientSecret(rec *store.Record) string {
	if rec != nil && rec.ClientSecret != "" {
		return rec.ClientSecret
	}
	return s.profile.ClientSecret
}

// Token returns an access token valid for at least req.MinValid, refreshing
// or (when req.Interactive) logging in first when needed.
//
// A caller that names no MinValid gets [DefaultMinValid], or a quarter of
// the provider's token lifetime when that is shorter, and is never failed
// for it: such callers are served from cache while the provider is down. A
// caller that asks for more than is left, or for a forced refresh, is told
// when that cannot be done (the provider is down, or its fresh tokens live
// shorter than asked) instead of being handed less than it asked for.
func (s *Session) Token(ctx context.Context, req TokenRequest) (*Token, error) {
	req.Scopes = uniqueScopes(req.Scopes)
	explicit := req.MinValid > 0
	if mintKey := s.mintKey(req); mintKey != "" {
		minValid := req.MinValid
		if !explicit {
			s.mu.Lock()
			minValid = defaultMinValid(lifetime(s.rec))
			s.mu.Unlock()
		}
		return s.mintedToken(ctx, mintKey, req, minValid)
	}
	var (
		st         tokenState    // the session as the last decision saw it, and what this call did
		rec        *store.Record // the record st was read from
		refreshErr error         // this call's refresh's, when it failed
	)
	for {
		// A failed refresh is judged on the snapshot it started from:
		// what it leaves to do depends on the token it failed to replace.
		if st.refreshFailed == refreshOK {
			var loaded bool
			if st, rec, loaded = s.tokenState(req, st); !loaded {
				if err := s.load(ctx); err != nil {
					return nil, err
				}
				continue
			}
		}
		switch act := decide(st); act {
		case serve:
			if st.refreshFailed == refreshUnavailable {
				s.log.Warn("refresh failed; serving the still-valid token", "profile", s.profile.Name, "err", refreshErr)
			}
			return tokenOf(rec), nil
		case refresh:
			st.refreshed = true
			if err := s.refresh(ctx, rec); err != nil {
				refreshErr, st.refreshFailed = err, refreshFailure(err)
			}
		case startLogin:
			if err := s.awaitLogin(ctx, LoginRequest{StartedBy: "a token request"}); err != nil {
				return nil, err
			}
			st.loggedIn = true
			refreshErr, st.refreshFailed = nil, refreshOK
		case failLifetime:
			return nil, s.lifetimeError(rec, st.wantValid())
		case failUnavailable:
			return nil, s.unavailableError(rec, cmp.Or(refreshErr, s.lastError()), req)
		case failRefresh:
			return nil, refreshErr
		case failStaticExpired:
			return nil, fmt.Errorf("profile %s: the stored token expired at %s; store a new one with 'authc login --with-token': %w",
				s.profile.Name, rec.Expiry.Local().Format(time.RFC3339), ErrLoginRequired)
		case failLoginRequired:
			return nil, fmt.Errorf("profile %s: %w", s.profile.Name, ErrLoginRequired)
		case failRejected:
			if st.static {
				return nil, fmt.Errorf("profile %s: the stored token was refused; store a new one with 'authc login --with-token': %w",
					s.profile.Name, ErrLoginRequired)
			}
			return nil, fmt.Errorf("profile %s: the provider handed out the refused token again; log in again: %w", s.profile.Name, ErrLoginRequired)
		default:
			return nil, fmt.Errorf("profile %s: internal error: unknown token action %v", s.profile.Name, act)
		}
	}
}

// tokenState reads what decide needs under the session's lock, keeping
// what the call did so far from done. loaded is false until the session has
// been read from the keyring.
func (s *Session) tokenState(req TokenRequest, done tokenState) (st tokenState, rec *store.Record, loaded bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	rec, now := s.rec, s.clock.Now()
	st = tokenState{
		now:         now,
		renewable:   s.renewable(rec),
		backingOff:  s.failures > 0 && now.Before(s.nextRefresh),
		minValid:    req.MinValid,
		force:       req.ForceRefresh,
		interactive: req.Interactive,
		refreshed:   done.refreshed,
		loggedIn:    done.loggedIn,
	}
	if rec != nil {
		st.hasToken, st.expiry, st.lifetime = rec.AccessToken != "", rec.Expiry, lifetime(rec)
		st.static = rec.Source == SourceStatic
		st.rejected = isRejected(req, rec.AccessToken)
	}
	return st, rec, s.loaded
}

// isRejected reports whether token is the one req says a server refused.
func isRejected(req TokenRequest, token string) bool {
	return req.Rejected != "" && token != "" && subtle.ConstantTimeCompare([]byte(req.Rejected), []byte(token)) == 1
}

// lifetimeError explains a provider whose fresh tokens cannot satisfy min_valid.
func (s *Session) lifetimeError(rec *store.Record, minValid time.Duration) error {
	lt := lifetime(rec)
	if lt <= 0 {
		lt = rec.Expiry.Sub(s.clock.Now())
	}
	return fmt.Errorf("%w: profile %s: a fresh token is valid for %s, not longer than the %s asked for",
		ErrTokenLifetime, s.profile.Name, lt.Round(time.Second), minValid)
}

// unavailableError explains a request that the cached token cannot answer
// while the provider cannot be reached.
func (s *Session) unavailableError(rec *store.Record, cause error, req TokenRequest) error {
	left := rec.Expiry.Sub(s.clock.Now()).Round(time.Second)
	what := fmt.Sprintf("a token valid for %s", req.MinValid)
	if req.ForceRefresh || isRejected(req, rec.AccessToken) {
		what = "a new token"
	}
	// The backoff follows any failed refresh: a cause that is not the
	// provider's unavailability (a refused redirect, a bad response) keeps
	// its own reason, as it had on the call that first met it.
	if cause == nil {
		cause = fmt.Errorf("%w: refresh failing", flow.ErrUnavailable)
	}
	return fmt.Errorf("profile %s: cannot get %s now; the cached token is still valid for %s: %w",
		s.profile.Name, what, left, cause)
}

func (s *Session) lastError() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.lastErr
}

// lifetime is how long the provider's tokens live, as the record's token
// showed when it was issued to authd; 0 when unknown.
func lifetime(rec *store.Record) time.Duration {
	if rec == nil || rec.IssuedAt.IsZero() || !rec.Expiry.After(rec.IssuedAt) {
		return 0
	}
	return rec.Expiry.Sub(rec.IssuedAt)
}

// defaultMinValid is the validity a caller gets when it does not say: a
// minute, or a quarter of the provider's token lifetime when that is
// shorter (tokens of 60 s are common), so that a default request never
// asks for more than a fresh token has.
func defaultMinValid(lifetime time.Duration) time.Duration {
	if lifetime <= 0 {
		return DefaultMinValid
	}
	return min(DefaultMinValid, lifetime/4)
}

// uniqueScopes drops repeated scopes, keeping the first of each.
func uniqueScopes(scopes []string) []string {
	if len(scopes) < 2 {
		return scopes
	}
	out := make([]string, 0, len(scopes))
	for _, sc := range scopes {
		if !slices.Contains(out, sc) {
			out = append(out, sc)
		}
	}
	return out
}

func (s *Session) validFor(expiry time.Time, d time.Duration) bool {
	return expiry.IsZero() || expiry.Sub(s.clock.Now()) > d
}

func tokenOf(rec *store.Record) *Token {
	return &Token{
		AccessToken: rec.AccessToken,
		TokenType:   rec.TokenType,
		Expiry:      rec.Expiry,
		Scopes:      rec.Scopes,
		IDToken:     rec.IDToken,
	}
}

// load reads the session's record from the keyring once.
func (s *Session) load(ctx context.Context) error {
	ch := s.calls.DoChan("load", func() (any, error) {
		lctx, cancel := context.WithTimeout(s.bg, time.Minute)
		defer cancel()
		rec, err := s.store.Get(lctx, storeKey(s.profile.Name))
		var damaged error
		switch {
		case errors.Is(err, store.ErrNotFound):
			rec = nil
		case errors.Is(err, store.ErrCorrupt):
			// Nothing in it can be trusted; a login writes a good one over it.
			s.log.Error("stored session is damaged; a new login is needed", "profile", s.profile.Name, "err", err)
			rec, damaged = nil, fmt.Errorf("profile %s: the stored session was damaged: %w", s.profile.Name, err)
		case err != nil:
			return nil, fmt.Errorf("profile %s: read keyring: %w", s.profile.Name, err)
		case rec.Issuer != s.profile.Issuer || rec.ClientID != s.profile.ClientID:
			s.log.Info("stored session belongs to another issuer or client; ignoring it", "profile", s.profile.Name)
			rec = nil
		}
		s.mu.Lock()
		if !s.loaded {
			s.loaded, s.rec = true, rec
			s.lastErr = damaged
			if rec != nil && rec.NeedsLogin {
				s.needsLogin = true
				s.lastErr = fmt.Errorf("profile %s: %w: an earlier run of authd gave up the refresh token after a refresh failed; log in again",
					s.profile.Name, ErrLoginRequired)
			}
			s.scheduleLocked()
		}
		s.mu.Unlock()
		return nil, nil
	})
	return waitCall(ctx, ch)
}

func waitCall(ctx context.Context, ch <-chan singleflight.Result) error {
	select {
	case r := <-ch:
		return r.Err
	case <-ctx.Done():
		return context.Cause(ctx)
	}
}

// refresh redeems the refresh token once for every concurrent caller. The
// redemption runs on the session's own context: a caller that gives up does
// not cancel it for the others.
//
// seen is the record the caller judged: when the session's access token is
// no longer that record's, another refresh (or a login) finished in the
// meantime and this one is skipped, so callers that looked just before a
// refresh ended do not start a second one. A record that changed but kept
// the access token (a scoped-token mint rotated the refresh token) is no
// such refresh: this one runs, with the new refresh token.
func (s *Session) refresh(ctx context.Context, seen *store.Record) error {
	return waitCall(ctx, s.calls.DoChan("refresh", func() (any, error) {
		return nil, s.doRefresh(seen)
	}))
}

func (s *Session) doRefresh(seen *store.Record) error {
	s.redeem.Lock()
	defer s.redeem.Unlock()
	s.mu.Lock()
	rec := s.rec
	if rec != seen && (rec == nil || seen == nil || rec.AccessToken != seen.AccessToken) {
		s.mu.Unlock()
		return nil
	}
	s.refreshing = true
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		s.refreshing = false
		s.mu.Unlock()
	}()
	if !s.renewable(rec) {
		return fmt.Errorf("profile %s: %w", s.profile.Name, ErrLoginRequired)
	}
	s.checkClock()
	ctx, cancel := context.WithTimeout(s.bg, s.providerTimeout())
	defer cancel()
	var tok *flow.Token
	var err error
	if secret := s.clientSecret(rec); s.profile.Flow == config.FlowClientCredentials {
		tok, err = s.flow.ClientCredentials(ctx, secret)
	} else {
		tok, err = s.flow.Refresh(ctx, flow.RefreshRequest{RefreshToken: rec.RefreshToken})
	}
	if err != nil {
		err = fmt.Errorf("refresh %s: %w", s.profile.Name, err)
		s.mu.Lock()
		if s.rec != rec {
			// Not reached while every writer of s.rec after its load
			// (commit, Logout, markNeedsLoginLocked) holds redeem, as this
			// refresh does: a guard, so that a writer added without it
			// cannot have a failure of the old grant mark the new one as
			// needing a login.
			s.mu.Unlock()
			return err
		}
		s.lastErr = err
		var dead *store.Record
		if errors.Is(err, flow.ErrInvalidGrant) || s.unansweredLocked(err) {
			dead = s.markNeedsLoginLocked()
		} else {
			s.failures++
			s.retryAfter = 0
			if pe := (*flow.ProviderError)(nil); errors.As(err, &pe) {
				s.retryAfter = pe.RetryAfter
			}
			s.scheduleLocked()
		}
		s.mu.Unlock()
		s.forget(dead)
		return err
	}
	next := s.recordOf(tok, rec)
	if s.profile.Flow == config.FlowClientCredentials {
		next.Source = SourceClientCredentials
	} else {
		s.mu.Lock()
		s.keepsRefreshToken = tok.RefreshToken == rec.RefreshToken
		s.mu.Unlock()
	}
	// The write gets the keyring's own deadline, not what the provider
	// left of ctx's: a rotated refresh token that a slow provider and a
	// busy keyring kept from the keyring would be lost with the process.
	wctx, cancel := s.writeContext()
	defer cancel()
	return s.commit(wctx, next, true)
}

// unansweredLocked reports whether err, a failed redemption of the
// session's refresh token, leaves the token unusable: the provider got
// the request, or may have, and did not answer (flow.ErrUnanswered). It
// may have rotated the token, and a provider that rotates revokes the
// whole login when a rotated-out token comes back: authd never sends it
// again, unless the provider showed that it keeps refresh tokens. The
// session then needs a login, and lastErr says why.
//
// Refreshes are single-flight and the idle connections of before a clock
// jump are dropped before one starts (see clockjump.go), so a request that
// went unanswered is one the provider really left hanging.
func (s *Session) unansweredLocked(err error) bool {
	if !errors.Is(err, flow.ErrUnanswered) || s.keepsRefreshToken || s.profile.Flow == config.FlowClientCredentials {
		return false
	}
	s.log.Warn("the provider did not answer a refresh it may have redeemed; not sending that refresh token again: log in again",
		"profile", s.profile.Name, "err", err)
	s.lastErr = fmt.Errorf("%w (authd does not send the refresh token again: the provider may have rotated it, and a reused one revokes the login; log in again)", err)
	return true
}

// commit persists a new record, then publishes it: a rotated refresh token
// reaches the keyring before any waiter sees the new access token. When the
// write fails the new record is still kept in memory (after rotation it is
// the only working one) and the error is returned.
func (s *Session) commit(ctx context.Context, rec *store.Record, refreshed bool) error {
	err := s.store.Put(ctx, storeKey(s.profile.Name), rec)
	if err != nil {
		err = fmt.Errorf("profile %s: save to keyring: %w", s.profile.Name, err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.rec, s.loaded, s.needsLogin, s.failures, s.retryAfter = rec, true, false, 0, 0
	s.minted = nil
	s.lastErr = err
	if refreshed {
		s.lastRefresh = s.clock.Now()
	}
	s.scheduleLocked()
	return err
}

// markNeedsLoginLocked gives up the session's refresh token: the provider
// refused it, or may have rotated it without answering. It returns the
// record without it, which the caller, holding redeem, passes to
// [Session.forget] once s.mu is released.
func (s *Session) markNeedsLoginLocked() *store.Record {
	s.needsLogin = true
	s.minted = nil
	if s.timer != nil {
		s.timer.Stop()
	}
	s.nextRefresh = time.Time{}
	if s.rec == nil {
		return nil
	}
	// The refresh token is dead; keep the access token while it lasts.
	rec := *s.rec
	rec.RefreshToken, rec.NeedsLogin = "", true
	s.rec = &rec
	return &rec
}

// writeContext bounds a keyring write that follows a redemption: the
// provider has rotated the refresh token, or may have, and the write must
// happen even when the daemon's stop has cancelled the session's context
// meanwhile (the stop waits for it, within its own bound).
func (s *Session) writeContext() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.WithoutCancel(s.bg), keyringWriteTimeout)
}

// keyringWriteTimeout bounds a write that must not be lost (see writeContext).
const keyringWriteTimeout = 30 * time.Second

// forget writes dead, the record markNeedsLoginLocked left, to the keyring
// in place of the one that holds the refresh token given up: a daemon
// started later (a restart, 'authd run --replace') must not send that
// token again, and says that the session needs a login. The caller holds
// redeem, so no login or logout writes in between; a record that a login
// has replaced meanwhile is not written.
func (s *Session) forget(dead *store.Record) {
	if dead == nil || s.profile.Flow == config.FlowClientCredentials {
		// A client's secret is not given up: the next call tries it again.
		return
	}
	s.mu.Lock()
	current := s.rec == dead
	s.mu.Unlock()
	if !current {
		return
	}
	ctx, cancel := s.writeContext()
	defer cancel()
	if err := s.store.Put(ctx, storeKey(s.profile.Name), dead); err != nil {
		s.log.Error("could not drop the given-up refresh token from the keyring: an authd started later may send it again",
			"profile", s.profile.Name, "err", err)
	}
}

// recordOf builds the record to store from a flow's tokens, keeping what
// the provider did not send again (a refresh token, the ID token).
//
// Expiry is moved onto the session's clock: flows stamp it with the wall clock.
func (s *Session) recordOf(tok *flow.Token, prev *store.Record) *store.Record {
	p, now := s.profile, s.clock.Now()
	rec := &store.Record{
		Issuer:       p.Issuer,
		ClientID:     p.ClientID,
		Account:      tok.Account,
		RefreshToken: tok.RefreshToken,
		AccessToken:  tok.AccessToken,
		TokenType:    tok.TokenType,
		IDToken:      tok.IDToken,
		Scopes:       tok.Scopes,
		UpdatedAt:    now,
	}
	rec.Expiry = s.onClock(tok.Expiry, now)
	rec.IssuedAt = now
	if tok.RefreshIn > 0 {
		rec.RefreshAt = now.Add(tok.RefreshIn)
	}
	if prev != nil {
		if rec.RefreshToken == "" {
			rec.RefreshToken = prev.RefreshToken
		}
		if rec.IDToken == "" {
			rec.IDToken = prev.IDToken
		}
		if rec.Account == "" {
			rec.Account = prev.Account
		}
		rec.ClientSecret, rec.Source = prev.ClientSecret, prev.Source
	}
	if rec.Account == "" && rec.IDToken != "" {
		c, _ := jwt.ReadClaims(rec.IDToken)
		rec.Account = c.Account
	}
	return rec
}

// onClock moves a flow's expiry, stamped with the wall clock, onto the
// session's clock (the same clock but in tests).
func (s *Session) onClock(expiry, now time.Time) time.Time {
	if expiry.IsZero() {
		return expiry
	}
	return now.Add(time.Until(expiry))
}

func (s *Session) providerTimeout() time.Duration {
	if s.profile.Timeout > 0 {
		return 2 * s.profile.Timeout
	}
	return time.Minute
}

// scheduleLocked arms the background refresh: at [refreshTime] while all
// is well, or after a failure with exponential backoff and jitter (see
// minBackoff), never sooner than the provider's Retry-After.
func (s *Session) scheduleLocked() {
	if s.timer != nil {
		s.timer.Stop()
	}
	s.nextRefresh = time.Time{}
	rec := s.rec
	if !s.renewable(rec) || rec == nil || rec.Expiry.IsZero() || s.bg.Err() != nil || s.draining {
		return
	}
	now := s.clock.Now()
	at := refreshTime(rec, now)
	if s.failures > 0 {
		backoff := min(minBackoff<<min(s.failures-1, 20), maxBackoff)
		delay := backoff/2 + rand.N(backoff/2+1)
		at = now.Add(max(delay, min(s.retryAfter, maxRetryAfter)))
	}
	s.armLocked(at, now)
}

// replan re-arms the background refresh for the wall-clock time it was
// planned for, after a clock jump: a timer counts only the time the
// machine was awake, and one that is overdue now fires at once.
func (s *Session) replan() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.nextRefresh.IsZero() || s.bg.Err() != nil || s.draining {
		return
	}
	s.armLocked(s.nextRefresh, s.clock.Now())
}

// armLocked sets the background refresh for at, now being the time.
func (s *Session) armLocked(at, now time.Time) {
	if s.timer != nil {
		s.timer.Stop()
	}
	s.nextRefresh = at
	s.timer = s.clock.AfterFunc(max(at.Sub(now), 0), func() {
		if s.bg.Err() != nil {
			return
		}
		s.mu.Lock()
		rec, draining := s.rec, s.draining
		s.mu.Unlock()
		if draining {
			return
		}
		if err := s.refresh(s.bg, rec); err != nil {
			s.log.Warn("background refresh failed", "profile", s.profile.Name, "err", err)
		}
	})
}

// refreshTime is when a token is refreshed in the background: at 75-85% of
// its lifetime, jittered so that sessions do not refresh in lockstep, but
// early enough that a caller asking with DefaultMinValid never waits (and
// not before half its lifetime), or at the provider's refresh_in hint when
// that comes first.
func refreshTime(rec *store.Record, now time.Time) time.Time {
	issued := rec.IssuedAt
	if issued.IsZero() || issued.After(rec.Expiry) {
		issued = now
	}
	lifetime := rec.Expiry.Sub(issued)
	at := issued.Add(time.Duration(float64(lifetime) * (0.75 + 0.10*rand.Float64())))
	if latest := rec.Expiry.Add(-defaultMinValid(lifetime) - min(refreshMargin, lifetime/10)); latest.Before(at) {
		at = latest
		if half := issued.Add(lifetime / 2); at.Before(half) {
			at = half
		}
	}
	if !rec.RefreshAt.IsZero() && rec.RefreshAt.Before(at) {
		at = rec.RefreshAt
	}
	// A provider that issues tokens already expired (or about to) must not
	// make the background refresh a loop.
	if floor := rec.IssuedAt.Add(minRefreshInterval); !rec.IssuedAt.IsZero() && at.Before(floor) {
		at = floor
	}
	return at
}

// Logout forgets the session: cancels a login in flight, revokes the
// refresh token where the provider offers revocation, then deletes the
// keyring item.
func (s *Session) Logout(ctx context.Context) error {
	// The login goes first, for good: what its flow still gets is not
	// stored (commitLogin, under redeem), so no login pending before the
	// logout logs the user back in after it.
	s.mu.Lock()
	s.cancelLoginLocked(errLoginLoggedOut)
	s.mu.Unlock()
	s.redeem.Lock()
	defer s.redeem.Unlock()
	if err := s.load(ctx); err != nil {
		return err
	}
	s.mu.Lock()
	rec := s.rec
	s.mu.Unlock()
	if rec != nil && rec.RefreshToken != "" {
		rctx, cancel := context.WithTimeout(ctx, s.providerTimeout())
		if _, err := s.flow.Revoke(rctx, rec.RefreshToken, "refresh_token"); err != nil {
			s.log.Warn("revoking the refresh token failed; deleting it anyway", "profile", s.profile.Name, "err", err)
		}
		cancel()
	}
	if err := s.store.Delete(ctx, storeKey(s.profile.Name)); err != nil {
		return fmt.Errorf("profile %s: delete from keyring: %w", s.profile.Name, err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.rec, s.minted, s.needsLogin, s.lastErr, s.failures, s.retryAfter = nil, nil, false, nil, 0, 0
	s.scheduleLocked()
	return nil
}

// Status is a snapshot of a session for display.
type Status struct {
	Profile         *config.Profile
	State           State
	Account         string
	Expiry          time.Time
	LastRefresh     time.Time
	NextRefresh     time.Time
	LastError       error
	HasRefreshToken bool
	Failures        int    // consecutive failed refreshes
	Source          string // where the token comes from: SourceSession, SourceStatic or SourceClientCredentials
}

// Status reads the session's state, loading it from the keyring first.
func (s *Session) Status(ctx context.Context) Status {
	err := s.load(ctx)
	s.mu.Lock()
	defer s.mu.Unlock()
	st := Status{Profile: s.profile, LastRefresh: s.lastRefresh, NextRefresh: s.nextRefresh, LastError: s.lastErr, Failures: s.failures}
	if err != nil {
		st.LastError = err
	}
	if rec := s.rec; rec != nil {
		st.Account, st.Expiry, st.HasRefreshToken = rec.Account, rec.Expiry, rec.RefreshToken != ""
		st.Source = cmp.Or(rec.Source, SourceSession)
	}
	switch {
	case s.login != nil:
		st.State = StateLoggingIn
	case s.refreshing:
		st.State = StateRefreshing
	case s.needsLogin:
		st.State = StateNeedsLogin
	case s.rec == nil:
		st.State = StateLoggedOut
	case !s.validFor(s.rec.Expiry, 0):
		st.State = StateExpired
	default:
		st.State = StateValid
	}
	return st
}

// drain ends the session's login in flight with [ErrShutdown], and stops
// its background refresh; see [Broker.Drain].
func (s *Session) drain() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.draining = true
	s.cancelLoginLocked(errLoginShutdown)
	if s.timer != nil {
		s.timer.Stop()
	}
	s.nextRefresh = time.Time{}
}

// settle waits until no refresh token redemption, nor a login's write, is
// in progress, or until ctx ends: it reports whether none was.
func (s *Session) settle(ctx context.Context) bool {
	// sync.Mutex cannot be waited for with a deadline: a goroutine waits
	// for it, and ends once the work in progress does (Shutdown cancels it
	// when ctx ends).
	free := make(chan struct{})
	go func() {
		s.redeem.Lock()
		s.redeem.Unlock()
		close(free)
	}()
	select {
	case <-free:
		return true
	case <-ctx.Done():
		return false
	}
}

// close stops the session's background work.
func (s *Session) close() {
	s.stop()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.timer != nil {
		s.timer.Stop()
	}
}

// mintKey names a down-scoped or audience token; "" for the session's own.
func (s *Session) mintKey(req TokenRequest) string {
	if len(req.Scopes) == 0 && req.Audience == "" {
		return "" // the hot path: no allocation
	}
	scopes := slices.Clone(req.Scopes)
	slices.Sort(scopes)
	own := slices.Clone(s.profile.Scopes)
	slices.Sort(own)
	if (len(scopes) == 0 || slices.Equal(scopes, own)) && (req.Audience == "" || req.Audience == s.profile.Audience) {
		return ""
	}
	return strings.Join(scopes, " ") + "|" + req.Audience
}

// mintedToken returns a token for fewer scopes or another audience, minted
// from the session's refresh token and cached under key.
func (s *Session) mintedToken(ctx context.Context, key string, req TokenRequest, minValid time.Duration) (*Token, error) {
	for _, sc := range req.Scopes {
		if !slices.Contains(s.profile.Scopes, sc) {
			return nil, fmt.Errorf("%w: scope %q is not one of profile %s's scopes", ErrInvalidRequest, sc, s.profile.Name)
		}
	}
	if err := s.load(ctx); err != nil {
		return nil, err
	}
	s.mu.Lock()
	if t := s.minted[key]; t != nil && !req.ForceRefresh && !isRejected(req, t.AccessToken) && s.validFor(t.Expiry, minValid) {
		s.mu.Unlock()
		return t, nil
	}
	s.mu.Unlock()
	ch := s.calls.DoChan("mint:"+key, func() (any, error) {
		s.redeem.Lock()
		defer s.redeem.Unlock()
		s.mu.Lock()
		rec := s.rec
		s.mu.Unlock()
		if rec == nil || rec.RefreshToken == "" {
			return nil, fmt.Errorf("profile %s: %w", s.profile.Name, ErrLoginRequired)
		}
		s.checkClock()
		rctx, cancel := context.WithTimeout(s.bg, s.providerTimeout())
		defer cancel()
		tok, err := s.flow.Refresh(rctx, flow.RefreshRequest{RefreshToken: rec.RefreshToken, Scopes: req.Scopes, Audience: req.Audience})
		if err != nil {
			err = fmt.Errorf("mint token for %s: %w", s.profile.Name, err)
			s.mu.Lock()
			var dead *store.Record
			if s.rec == rec && s.unansweredLocked(err) {
				dead = s.markNeedsLoginLocked()
			}
			s.mu.Unlock()
			s.forget(dead)
			return nil, err
		}
		if tok.RefreshToken != rec.RefreshToken {
			// Rotation: the session's refresh token changed; keep the session's
			// own access token and store the new refresh token.
			next := *rec
			next.RefreshToken, next.UpdatedAt = tok.RefreshToken, s.clock.Now()
			wctx, cancel := s.writeContext()
			err := s.commit(wctx, &next, false)
			cancel()
			if err != nil {
				return nil, err
			}
		}
		t := &Token{AccessToken: tok.AccessToken, TokenType: tok.TokenType, Expiry: s.onClock(tok.Expiry, s.clock.Now()), Scopes: tok.Scopes}
		s.mu.Lock()
		if s.minted == nil {
			s.minted = map[string]*Token{}
		}
		s.minted[key] = t
		s.mu.Unlock()
		return t, nil
	})
	select {
	case r := <-ch:
		if r.Err != nil {
			return nil, r.Err
		}
		t := r.Val.(*Token)
		if isRejected(req, t.AccessToken) {
			return nil, fmt.Errorf("profile %s: the provider handed out the refused token again; log in again: %w", s.profile.Name, ErrLoginRequired)
		}
		return t, nil
	case <-ctx.Done():
		return nil, context.Cause(ctx)
	}
}
