// Package broker is the heart of the authd daemon: it owns one [Session] per
// configured profile, and every refresh token and login of the user. It has
// no transport code: package internal/server answers the authd.v1.Broker API
// with it.
//
// # Sessions
//
// [Broker.Session] returns a profile's session. A [Session] moves through the
// [State]s logged_out, logging_in, valid, refreshing, expired and
// needs_login. Whatever the number of callers, at most one login and one
// refresh token redemption are in flight per session; every caller waits on
// the shared result with its own deadline, and a caller that gives up does
// not cancel the work for the others. A rotated refresh token is written to
// the keyring before any waiter is released.
//
// # Tokens
//
// [Session.Token] serves the cached access token while it stays valid for
// the caller's [TokenRequest.MinValid] (by default [DefaultMinValid], or a
// quarter of the provider's token lifetime when that is shorter), refreshes
// it when it does not, and logs in when the grant is gone and the caller
// may wait for a login. Which of these it does is one pure decision per
// step, from a snapshot of the session taken under its lock. Sessions also
// refresh in the background at 75-85% of a token's lifetime, and back off
// (1 s to 5 min, jittered, or the provider's Retry-After) while the
// provider fails, serving the still-valid token meanwhile.
//
// # Logins
//
// [Session.Login] starts an interactive login or joins the one in flight,
// and reports its progress to [LoginEvents]. The login runs on the
// session's context: it ends when it succeeds, fails, times out, is
// replaced by a forced one, is cancelled by a logout, or when no caller has
// waited for it for [LoginGrace].
//
// # Reloads and shutdown
//
// [Broker.ReloadConfig] (SIGHUP's [Broker.Reload], and the Reload call)
// rereads the config file and reports the [Changes]: sessions of the
// profiles that did not change are kept with all they hold; a file with
// problems is a [*ReloadError] and changes nothing. [Broker.Drain] begins
// a shutdown: logins end with [ErrShutdown] and no background refresh
// starts, while the server answers the calls in flight;
// [Broker.Shutdown] then waits, within its context, for the refreshes
// still running to store what the provider sent, and closes the broker.
//
// # Errors
//
// Errors wrap the sentinels of this package ([ErrLoginRequired],
// [ErrTokenLifetime], ...) and of packages flow and store. [ReasonOf] names
// the condition behind any of them as an [api.Reason]: the one place that
// decides which error is which reason; package api says what each reason
// means to a client.
package broker
