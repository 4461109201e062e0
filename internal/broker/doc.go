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
// # Refresh tokens in doubt
//
// A refresh whose request was sent and got no answer (a timeout, a lost
// connection: flow.ErrUnanswered) may have been redeemed by the provider,
// which then rotated the refresh token; a provider that rotates revokes
// the whole login when a rotated-out token comes back. So the session
// never sends that refresh token again, and needs a login (its last error
// says why), unless the provider has shown, by answering a refresh with
// the same refresh token, that it does not rotate them. Go's transport
// never sends a POST again on a new connection once any of it was
// written; an answer, even an error, and a request that could not leave
// (no connection) are retried with backoff as always.
//
// # Clock jumps
//
// A machine that resumes from suspend finds its wall clock hours ahead of
// its monotonic clock, on which timers run: the refreshes planned for the
// night have not fired, and the connections kept to the providers are
// likely dead. The broker compares the two clocks of its [Clock] every 10
// seconds and before each redemption of a refresh token; when they drifted
// apart (by more than 5 s: a suspend, a VM restored, the time set), it
// drops every idle connection to the providers and replans every
// session's refresh for the wall-clock time it was planned for, at once
// for those overdue. Token expiries are compared on the wall clock alone.
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
