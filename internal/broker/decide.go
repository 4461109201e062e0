package broker

import (
	"errors"
	"time"

	"authd.dev/authd/internal/flow"
)

// tokenState is what [Session.Token] knows when it decides its next step:
// the session's record as read under its lock, the request, and what the
// call has done so far.
type tokenState struct {
	now        time.Time
	hasToken   bool          // the session has an access token
	expiry     time.Time     // the access token's; zero: it does not expire
	lifetime   time.Duration // of the provider's fresh tokens; 0: unknown
	static     bool          // the token was stored as is (SourceStatic)
	renewable  bool          // a refresh token, or a client secret, can renew it
	backingOff bool          // refreshes are failing and the next retry is scheduled

	minValid    time.Duration // as asked; 0: the default
	force       bool          // a new token was asked for
	rejected    bool          // the caller says a server refused the session's token: never served to it
	interactive bool          // the caller may wait for a login

	refreshed     bool          // this call has refreshed, or tried to
	loggedIn      bool          // this call has waited for a login that succeeded
	refreshFailed refreshResult // how this call's refresh failed, if it did
}

// refreshResult sorts a failed refresh by what it leaves to do.
type refreshResult int

const (
	refreshOK           refreshResult = iota
	refreshInvalidGrant               // the grant is gone: only a login helps
	refreshUnavailable                // the provider failed: the cached token may still do
	refreshError                      // anything else: the caller gets it as is
)

func refreshFailure(err error) refreshResult {
	switch {
	case err == nil:
		return refreshOK
	case errors.Is(err, flow.ErrInvalidGrant):
		return refreshInvalidGrant
	case errors.Is(err, flow.ErrUnavailable):
		return refreshUnavailable
	}
	return refreshError
}

// explicit reports whether the caller named a minimum validity: then it is
// told when it cannot have it, instead of being served less.
func (st tokenState) explicit() bool { return st.minValid > 0 }

// wantValid is how long the token must stay valid for this caller.
func (st tokenState) wantValid() time.Duration {
	if st.explicit() {
		return st.minValid
	}
	return defaultMinValid(st.lifetime)
}

// validFor reports whether the access token stays valid for more than d.
func (st tokenState) validFor(d time.Duration) bool {
	return st.hasToken && (st.expiry.IsZero() || st.expiry.Sub(st.now) > d)
}

// action is the next step of [Session.Token].
type action int

const (
	serve             action = iota // hand out the cached token
	refresh                         // redeem the refresh token (or client secret), then decide again
	startLogin                      // start or join a login, wait for it, then decide again
	failLifetime                    // ErrTokenLifetime: fresh tokens cannot satisfy min_valid
	failUnavailable                 // flow.ErrUnavailable: the provider cannot give what the cache cannot
	failRefresh                     // the refresh's own error
	failStaticExpired               // ErrLoginRequired: a stored token expired
	failLoginRequired               // ErrLoginRequired
	failRejected                    // ErrLoginRequired: the only token to be had is the one the caller says was refused
)

var actionNames = [...]string{"serve", "refresh", "startLogin", "failLifetime", "failUnavailable", "failRefresh", "failStaticExpired", "failLoginRequired", "failRejected"}

func (a action) String() string {
	if int(a) < len(actionNames) {
		return actionNames[a]
	}
	return "action(?)"
}

// decide is the whole of [Session.Token]'s judgement, without I/O: Token
// gathers st, performs the action, and asks again until it serves or fails.
//
// A default caller is served whatever is still valid when nothing better
// can be had; an explicit or forcing one is told why it cannot have more.
// No call refreshes twice or logs in twice.
func decide(st tokenState) action {
	if st.rejected {
		// A token a server refused is as good as none to this caller:
		// renew it once, and never hand it back.
		st.force = true
		if a := decideServing(st); a != serve {
			return a
		}
		return failRejected
	}
	return decideServing(st)
}

// decideServing is decide for a caller that may be served the session's token.
func decideServing(st tokenState) action {
	explicit, want := st.explicit(), st.wantValid()
	switch st.refreshFailed {
	case refreshOK:
	case refreshInvalidGrant:
		return decideWithoutRefresh(st)
	case refreshUnavailable:
		if !st.validFor(0) {
			return failRefresh
		}
		if explicit || st.force {
			return failUnavailable
		}
		return serve
	default:
		return failRefresh
	}
	if st.validFor(want) && (!st.force || st.refreshed || st.loggedIn) {
		return serve
	}
	if st.hasToken && (st.refreshed || st.loggedIn) {
		// A token this call just got is as good as it gets.
		if !explicit && st.validFor(0) {
			return serve
		}
		return failLifetime
	}
	if explicit && st.hasToken && !st.static && st.lifetime > 0 && want >= st.lifetime {
		// A fresh token has shown the provider's lifetime: another
		// redemption cannot give more, and with rotation each one costs a
		// refresh token. Asked again after the next refresh.
		return failLifetime
	}
	if st.renewable && !st.refreshed {
		if st.validFor(0) && st.backingOff {
			// The provider is failing and the background retry is
			// scheduled: serve what is still valid instead of piling on,
			// unless the caller asked for what it cannot give.
			if explicit || st.force {
				return failUnavailable
			}
			return serve
		}
		return refresh
	}
	return decideWithoutRefresh(st)
}

// decideWithoutRefresh is decide once refreshing is out of the question.
func decideWithoutRefresh(st tokenState) action {
	if st.static {
		if st.validFor(0) {
			return serve // nothing can renew it: still valid is the best there is
		}
		return failStaticExpired
	}
	if st.loggedIn || !st.interactive {
		return failLoginRequired
	}
	return startLogin
}
