package broker

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"authd.dev/authd/internal/flow"
)

// TestDecide covers each branch of Session.Token's decision on a session
// snapshot, without a provider, a keyring or a goroutine.
func TestDecide(t *testing.T) {
	t.Parallel()
	now := time.Date(2025, 1, 1, 12, 0, 0, 0, time.UTC)
	// session is a logged-in session whose hour-long token has left to live.
	session := func(left time.Duration) tokenState {
		return tokenState{now: now, hasToken: true, expiry: now.Add(left), lifetime: time.Hour, renewable: true}
	}
	with := func(st tokenState, f func(*tokenState)) tokenState { f(&st); return st }
	tests := []struct {
		name string
		st   tokenState
		want action
	}{
		// Serving from cache.
		{"fresh token", session(50 * time.Minute), serve},
		{"token without expiry", with(session(0), func(st *tokenState) { st.expiry = time.Time{} }), serve},
		{"explicit min_valid within what is left", with(session(50*time.Minute), func(st *tokenState) { st.minValid = 30 * time.Minute }), serve},
		{"default min_valid: a minute left is not enough", session(time.Minute), refresh},
		{"default min_valid adapts to 60 s tokens", with(session(20*time.Second), func(st *tokenState) { st.lifetime = time.Minute }), serve},
		{"default min_valid of 60 s tokens still refreshes", with(session(10*time.Second), func(st *tokenState) { st.lifetime = time.Minute }), refresh},
		{"unknown lifetime: default is a minute", with(session(50*time.Second), func(st *tokenState) { st.lifetime = 0 }), refresh},

		// Refreshing.
		{"expired renewable", session(-time.Minute), refresh},
		{"explicit min_valid beyond what is left", with(session(10*time.Minute), func(st *tokenState) { st.minValid = 30 * time.Minute }), refresh},
		{"force refresh", with(session(50*time.Minute), func(st *tokenState) { st.force = true }), refresh},
		{"no token but a refresh token", tokenState{now: now, renewable: true}, refresh},

		// What fresh tokens cannot give.
		{"explicit min_valid beyond the lifetime fails without refresh", with(session(50*time.Minute), func(st *tokenState) { st.minValid = 2 * time.Hour }), failLifetime},
		{"explicit min_valid equal to the lifetime", with(session(50*time.Minute), func(st *tokenState) { st.minValid = time.Hour }), failLifetime},
		{"static token short of explicit min_valid: the best there is", with(session(50*time.Minute), func(st *tokenState) { st.minValid, st.static, st.renewable = 2*time.Hour, true, false }), serve},
		{"refreshed, still short of explicit min_valid", with(session(50*time.Minute), func(st *tokenState) { st.minValid, st.refreshed, st.lifetime = 55*time.Minute, true, 0 }), failLifetime},
		{"refreshed, short of default min_valid but valid", with(session(30*time.Second), func(st *tokenState) { st.refreshed = true }), serve},
		{"refreshed, expired at once", with(session(-time.Second), func(st *tokenState) { st.refreshed = true }), failLifetime},
		{"force refresh after refreshed", with(session(time.Hour), func(st *tokenState) { st.force, st.refreshed = true, true }), serve},
		{"force refresh with explicit min_valid after refreshed", with(session(time.Hour), func(st *tokenState) { st.force, st.minValid, st.refreshed = true, 30*time.Minute, true }), serve},
		{"force refresh with explicit min_valid after a login", with(session(time.Hour), func(st *tokenState) { st.force, st.minValid, st.loggedIn = true, 30*time.Minute, true }), serve},

		// The provider failing.
		{"refresh unavailable, still valid, default", with(session(30*time.Second), func(st *tokenState) { st.refreshed, st.refreshFailed = true, refreshUnavailable }), serve},
		{"refresh unavailable, still valid, explicit", with(session(10*time.Minute), func(st *tokenState) {
			st.minValid, st.refreshed, st.refreshFailed = 30*time.Minute, true, refreshUnavailable
		}), failUnavailable},
		{"refresh unavailable, still valid, force", with(session(50*time.Minute), func(st *tokenState) { st.force, st.refreshed, st.refreshFailed = true, true, refreshUnavailable }), failUnavailable},
		{"refresh unavailable, expired", with(session(-time.Minute), func(st *tokenState) { st.refreshed, st.refreshFailed = true, refreshUnavailable }), failRefresh},
		{"refresh failed otherwise, still valid", with(session(30*time.Second), func(st *tokenState) { st.refreshed, st.refreshFailed = true, refreshError }), failRefresh},
		{"backing off, still valid, default", with(session(30*time.Second), func(st *tokenState) { st.backingOff = true }), serve},
		{"backing off, still valid, explicit", with(session(10*time.Minute), func(st *tokenState) { st.backingOff, st.minValid = true, 30*time.Minute }), failUnavailable},
		{"backing off, still valid, force", with(session(50*time.Minute), func(st *tokenState) { st.backingOff, st.force = true, true }), failUnavailable},
		{"backing off, expired: try anyway", with(session(-time.Minute), func(st *tokenState) { st.backingOff = true }), refresh},

		// Logins.
		{"invalid grant, interactive", with(session(-time.Minute), func(st *tokenState) {
			st.interactive, st.refreshed, st.refreshFailed = true, true, refreshInvalidGrant
		}), startLogin},
		{"invalid grant, not interactive", with(session(-time.Minute), func(st *tokenState) { st.refreshed, st.refreshFailed = true, refreshInvalidGrant }), failLoginRequired},
		{"invalid grant on a forced refresh of a valid token", with(session(50*time.Minute), func(st *tokenState) {
			st.force, st.refreshed, st.refreshFailed = true, true, refreshInvalidGrant
		}), failLoginRequired},
		{"refreshed and still no token: never a second refresh", tokenState{now: now, renewable: true, refreshed: true}, failLoginRequired},
		{"no credentials, interactive", tokenState{now: now, interactive: true}, startLogin},
		{"no credentials", tokenState{now: now}, failLoginRequired},
		{"expired, refresh token gone, interactive", with(session(-time.Minute), func(st *tokenState) { st.renewable, st.interactive = false, true }), startLogin},
		{"logged in, still no token", tokenState{now: now, interactive: true, loggedIn: true}, failLoginRequired},
		{"logged in, token short of default min_valid but valid", with(session(30*time.Second), func(st *tokenState) { st.loggedIn = true }), serve},

		// Stored tokens, which nothing renews.
		{"static token served", with(session(time.Hour), func(st *tokenState) { st.static, st.renewable, st.lifetime = true, false, 0 }), serve},
		{"static token without expiry", tokenState{now: now, hasToken: true, static: true}, serve},
		{"static token short of default min_valid", with(session(30*time.Second), func(st *tokenState) { st.static, st.renewable, st.lifetime = true, false, 0 }), serve},
		{"static token expired", with(session(-time.Second), func(st *tokenState) { st.static, st.renewable, st.interactive = true, false, true }), failStaticExpired},

		// The caller says a server refused the session's token.
		{"rejected: renewed though fresh", with(session(50*time.Minute), func(st *tokenState) { st.rejected = true }), refresh},
		{"rejected: still the same after a refresh", with(session(time.Hour), func(st *tokenState) { st.rejected, st.refreshed = true, true }), failRejected},
		{"rejected: the same after a login", with(session(time.Hour), func(st *tokenState) { st.rejected, st.loggedIn = true, true }), failRejected},
		{"rejected: provider down, never served", with(session(50*time.Minute), func(st *tokenState) { st.rejected, st.refreshed, st.refreshFailed = true, true, refreshUnavailable }), failUnavailable},
		{"rejected: provider failing, backing off", with(session(50*time.Minute), func(st *tokenState) { st.rejected, st.backingOff = true, true }), failUnavailable},
		{"rejected static token", with(session(time.Hour), func(st *tokenState) { st.rejected, st.static, st.renewable, st.lifetime = true, true, false, 0 }), failRejected},
		{"rejected, grant gone, interactive: a login", with(session(time.Hour), func(st *tokenState) {
			st.rejected, st.interactive, st.refreshed, st.refreshFailed = true, true, true, refreshInvalidGrant
		}), startLogin},
	}
	for _, tt := range tests {
		if got := decide(tt.st); got != tt.want {
			t.Errorf("%s: decide(%+v) = %v, want %v", tt.name, tt.st, got, tt.want)
		}
	}
}

func TestRefreshFailure(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		err  error
		want refreshResult
	}{
		{nil, refreshOK},
		{fmt.Errorf("refresh work: %w", flow.ErrInvalidGrant), refreshInvalidGrant},
		{fmt.Errorf("refresh work: %w", flow.ErrUnavailable), refreshUnavailable},
		// A grant refused by a provider that is also failing is gone all the same.
		{fmt.Errorf("%w: %w", flow.ErrUnavailable, flow.ErrInvalidGrant), refreshInvalidGrant},
		{errors.New("read keyring: locked"), refreshError},
		{fmt.Errorf("profile work: %w", ErrLoginRequired), refreshError},
	} {
		if got := refreshFailure(tt.err); got != tt.want {
			t.Errorf("refreshFailure(%v) = %v, want %v", tt.err, got, tt.want)
		}
	}
}
