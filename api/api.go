// Package api defines what authd's errors mean to every client: the
// reasons the daemon puts in its gRPC errors, and what each one is to the
// authc command and to Go programs. It is the one place that says so; the
// daemon, the client package and authc convert from it at their edges.
//
// It uses the standard library only, so that authc links nothing more.
//
// # Reasons
//
// Every error the daemon returns is a gRPC status with a
// google.rpc.ErrorInfo detail in the domain [ErrorDomain], whose reason is
// a [Reason]: the name of a value of the authd.v1.ErrorReason enum. A few
// reasons, such as [DaemonUnreachable], are given by clients themselves
// for a failure before the daemon can answer; the daemon never sends them.
//
// # The table
//
// [Reasons] lists every reason once, with its meaning, the gRPC code the
// daemon sends it with, authc's exit code, the hint authc prints after the
// error, and the sentinel error the client package matches it to.
// [Reason.Info] looks a reason up.
//
// # Version
//
// Every answer of the daemon carries its version in the header
// [VersionHeader].
//
// # Exit codes
//
// authc exits [ExitOK] on success, [ExitUsage] on a mistake on its command
// line, 128 plus the signal's number when Ctrl-C ([ExitInterrupted]) or
// SIGTERM (143) ended it, and otherwise with the exit code of the error's
// reason in [Reasons], [ExitError] for an error without one. The README's
// table of exit codes lists exactly these.
package api

import "errors"

// ErrorDomain is the google.rpc.ErrorInfo domain of every error authd returns.
const ErrorDomain = "authd.dev"

// VersionHeader is the response header (gRPC metadata) in which every
// answer of the daemon, an error included, carries the daemon's version: a
// client learns it from a call it makes anyway, without asking for Status.
const VersionHeader = "authd-version"

// StartedByEnv is set to "autostart" in the environment of a daemon that a
// client started because none was running (the client package's
// WithAutostart); the daemon says so in Status (started_by).
const StartedByEnv = "AUTHD_STARTED_BY"

// Reason names the condition behind an error, as clients see it; a client
// branches on it, never on messages.
type Reason string

// The reasons of [Reasons].
const (
	Unspecified        Reason = "ERROR_REASON_UNSPECIFIED"
	LoginRequired      Reason = "LOGIN_REQUIRED"
	ProfileNotFound    Reason = "PROFILE_NOT_FOUND"
	IDPUnavailable     Reason = "IDP_UNAVAILABLE"
	KeyringLocked      Reason = "KEYRING_LOCKED"
	KeyringUnavailable Reason = "KEYRING_UNAVAILABLE"
	InvalidConfig      Reason = "INVALID_CONFIG"
	LoginFailed        Reason = "LOGIN_FAILED"
	LoginTimeout       Reason = "LOGIN_TIMEOUT"
	InvalidRequest     Reason = "INVALID_REQUEST"
	PermissionDenied   Reason = "PERMISSION_DENIED"
	TokenLifetime      Reason = "TOKEN_LIFETIME"
	ShuttingDown       Reason = "SHUTTING_DOWN"

	// Given by clients, never sent by the daemon.
	DaemonUnreachable Reason = "DAEMON_UNREACHABLE"
	WrongServer       Reason = "WRONG_SERVER"
	SocketDenied      Reason = "SOCKET_DENIED"
	Interrupted       Reason = "INTERRUPTED"
)

// The exit codes of authc.
const (
	ExitOK            = 0
	ExitError         = 1
	ExitUsage         = 2 // authc's own checks of its command line only
	ExitLoginRequired = 3
	ExitDaemon        = 4
	ExitProvider      = 5
	ExitProfile       = 6
	ExitLoginFailed   = 7
	ExitKeyring       = 8
	ExitPermission    = 9
	ExitTokenLifetime = 10
	ExitInterrupted   = 130 // 128 + SIGINT; SIGTERM gives 143
	ExitTerminated    = 143 // 128 + SIGTERM
)

// ExitCode is an exit code of authc and what it means, in a few words.
type ExitCode struct {
	Code    int
	Meaning string
}

// ExitCodes are authc's exit codes, in order, as 'authc help' lists them
// (the README's table says more of each).
var ExitCodes = []ExitCode{
	{ExitOK, "ok"},
	{ExitError, "error"},
	{ExitUsage, "usage"},
	{ExitLoginRequired, "login required"},
	{ExitDaemon, "authd not running or not answering"},
	{ExitProvider, "identity provider unavailable or slow"},
	{ExitProfile, "unknown profile or bad config"},
	{ExitLoginFailed, "login failed or timed out"},
	{ExitKeyring, "keyring unavailable"},
	{ExitPermission, "permission denied (the socket or the daemon belongs to another user, or its directory cannot be entered)"},
	{ExitTokenLifetime, "the provider's tokens live shorter than --min-valid asks"},
	{ExitInterrupted, "interrupted (Ctrl-C)"},
	{ExitTerminated, "terminated (SIGTERM)"},
}

// Sentinel errors of the reasons, which the client package's errors match
// with errors.Is.
var (
	ErrDaemonUnreachable   = errors.New("authd is not running")
	ErrLoginRequired       = errors.New("login required")
	ErrProfileNotFound     = errors.New("profile not found")
	ErrProviderUnavailable = errors.New("identity provider unavailable")
	ErrLoginFailed         = errors.New("login failed")
	ErrKeyring             = errors.New("keyring unavailable")
	ErrInvalidConfig       = errors.New("invalid configuration")
	ErrPermissionDenied    = errors.New("permission denied")
	ErrInvalidRequest      = errors.New("invalid request")
	ErrTokenLifetime       = errors.New("the provider's tokens live shorter than asked")
)

// ReasonInfo is what a reason means to clients.
type ReasonInfo struct {
	Reason  Reason
	Meaning string // one line
	// Code is the gRPC status code (google.rpc.Code) the daemon sends the
	// reason with, for clients that know no reasons; 0 (OK) for a reason
	// only clients give.
	Code int
	Exit int // authc's exit code
	// Hint is what authc adds after the error, in parentheses: what to do,
	// when there is one thing to do. "-p PROFILE" in it stands for the
	// profile the command named, and is left out when it named none.
	Hint string
	// LoginHint replaces Hint after the error of a login, which nobody
	// retries but the user.
	LoginHint string
	Err       error // the client package's sentinel; nil for none
}

// The gRPC codes of [Reasons] (google.rpc.Code).
const (
	codeInvalidArgument    = 3
	codeDeadlineExceeded   = 4
	codeNotFound           = 5
	codePermissionDenied   = 7
	codeFailedPrecondition = 9
	codeAborted            = 10
	codeOutOfRange         = 11
	codeInternal           = 13
	codeUnavailable        = 14
	codeUnauthenticated    = 16
)

// Reasons is every reason, the daemon's first, in the order of the
// authd.v1.ErrorReason enum.
var Reasons = []ReasonInfo{
	{Reason: Unspecified, Meaning: "an internal error: no condition the user can act on",
		Code: codeInternal, Exit: ExitError},
	{Reason: LoginRequired, Meaning: "the profile has no session, or its grant is gone: a login is needed",
		Code: codeUnauthenticated, Exit: ExitLoginRequired, Err: ErrLoginRequired,
		Hint: "run 'authc login -p PROFILE'"},
	{Reason: ProfileNotFound, Meaning: "no profile of that name",
		Code: codeNotFound, Exit: ExitProfile, Err: ErrProfileNotFound},
	{Reason: IDPUnavailable, Meaning: "the identity provider is unreachable or failing",
		Code: codeUnavailable, Exit: ExitProvider, Err: ErrProviderUnavailable,
		Hint:      "authd retries on its own; try again shortly",
		LoginHint: "check the network and the provider, then run 'authc login -p PROFILE' again"},
	{Reason: KeyringLocked, Meaning: "the keyring is locked",
		Code: codeFailedPrecondition, Exit: ExitKeyring, Err: ErrKeyring},
	{Reason: KeyringUnavailable, Meaning: "the keyring is unavailable, has no passphrase, or holds a damaged record",
		Code: codeFailedPrecondition, Exit: ExitKeyring, Err: ErrKeyring},
	{Reason: InvalidConfig, Meaning: "the config file is invalid",
		Code: codeFailedPrecondition, Exit: ExitProfile, Err: ErrInvalidConfig},
	{Reason: LoginFailed, Meaning: "the login failed or was cancelled, or the provider refused a client secret",
		Code: codeAborted, Exit: ExitLoginFailed, Err: ErrLoginFailed},
	{Reason: LoginTimeout, Meaning: "the login did not finish within the profile's login_timeout",
		Code: codeDeadlineExceeded, Exit: ExitLoginFailed, Err: ErrLoginFailed},
	// A request authd refuses (a --scope the profile does not have, a
	// token with white space) is not a usage error: ExitUsage stays for
	// the command line, which authc checks itself.
	{Reason: InvalidRequest, Meaning: "authd refused the request: a scope the profile lacks, a malformed token",
		Code: codeInvalidArgument, Exit: ExitError, Err: ErrInvalidRequest},
	{Reason: PermissionDenied, Meaning: "the caller is not the user the daemon serves",
		Code: codePermissionDenied, Exit: ExitPermission, Err: ErrPermissionDenied},
	{Reason: TokenLifetime, Meaning: "the provider's fresh tokens live shorter than the min_valid asked for",
		Code: codeOutOfRange, Exit: ExitTokenLifetime, Err: ErrTokenLifetime,
		Hint: "ask for a shorter --min-valid"},
	// Unavailable, as grpc-go's own clients retry; the sentinel is the
	// daemon that is not there, which is what it is a moment later.
	{Reason: ShuttingDown, Meaning: "authd is stopping: it cancelled the call's login, or the call came too late",
		Code: codeUnavailable, Exit: ExitDaemon, Err: ErrDaemonUnreachable,
		Hint:      "run the command again once authd is back: 'authd start' or 'authd run'",
		LoginHint: "run 'authc login -p PROFILE' again once authd is back: 'authd start' or 'authd run'"},

	{Reason: DaemonUnreachable, Meaning: "authd is not running, or closed the connection unanswered",
		Exit: ExitDaemon, Err: ErrDaemonUnreachable,
		Hint: "is it running? start it with 'authd run' or 'authd start'"},
	{Reason: WrongServer, Meaning: "the socket belongs to another user; nothing was sent to it",
		Exit: ExitPermission, Hint: "check AUTHD_SOCKET and who owns the socket"},
	{Reason: SocketDenied, Meaning: "the socket, or a directory on its path, is closed to the caller",
		Exit: ExitPermission, Hint: "check AUTHD_SOCKET, and who owns that path"},
	{Reason: Interrupted, Meaning: "the call was cancelled: Ctrl-C or SIGTERM (then authc exits 130 or 143), or the daemon cancelled it",
		Exit: ExitError},
}

var byReason = func() map[Reason]ReasonInfo {
	m := make(map[Reason]ReasonInfo, len(Reasons))
	for _, ri := range Reasons {
		m[ri.Reason] = ri
	}
	return m
}()

// Info returns r's entry of [Reasons]. A reason the table lacks (from a
// newer daemon) is told as [Unspecified], under its own name.
func (r Reason) Info() ReasonInfo {
	if ri, ok := byReason[r]; ok {
		return ri
	}
	ri := byReason[Unspecified]
	ri.Reason = r
	return ri
}

// Known reports whether r is in [Reasons].
func (r Reason) Known() bool {
	_, ok := byReason[r]
	return ok
}
