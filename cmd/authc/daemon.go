package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"os"
	"strings"
	"sync"
	"time"

	"authd.dev/authd/api"
	"authd.dev/authd/client"
	"authd.dev/authd/internal/buildinfo"
	"authd.dev/authd/internal/socket"
)

// authc talks to the daemon with package client, as every Go program does:
// its transport links neither grpc-go nor the protobuf runtime, whose
// start-up would cost every 'authc token' more than the call itself.

// daemonError is an error answered by the daemon, or the failure to reach
// it (a reason of package api's that only clients give).
type daemonError struct {
	reason api.Reason
	msg    string // the daemon's text: printed through printable only
	hint   string // replaces the reason's hint (api.ReasonInfo.Hint), when authc knows better
	cause  error
}

func (e *daemonError) Error() string { return e.msg }
func (e *daemonError) Unwrap() error { return e.cause }

// Deadlines: every wait of authc has one, so that a stopped daemon (SIGSTOP,
// a debugger, a full disk) never hangs a script.
const (
	// defaultTimeout bounds a call that authd answers by itself or after a
	// request to the provider (whose own timeout is 30s by default).
	defaultTimeout = client.CallTimeout
	// loginTimeout bounds the wait for a person at the browser. authc does
	// not know the profile's login_timeout (5m by default), which ends the
	// login on authd's side first.
	loginTimeout = client.LoginTimeout
	// probeTimeout bounds the look authc takes, once a deadline passed, at
	// whether authd is alive at all (no longer than --timeout).
	probeTimeout = 2 * time.Second
)

// errDeadline is the cause of a call's context whose deadline passed.
var errDeadline = errors.New("authc's deadline passed")

// timeoutError is a deadline of authc that passed before the call ended.
type timeoutError struct {
	after time.Duration
	busy  bool // authd is alive (it answered, or answers other calls): the call itself was slow
	login bool // the login had started: the wait was for the person at the browser
	cause error
}

func (e *timeoutError) Error() string {
	return fmt.Sprintf("no answer within %s: %v", e.after, e.cause)
}
func (e *timeoutError) Unwrap() error { return e.cause }

// timeoutFlag adds --timeout to fs.
func timeoutFlag(fs *flag.FlagSet, def time.Duration, what string) *time.Duration {
	return fs.Duration("timeout", def, what)
}

func checkTimeout(d time.Duration) error {
	if d <= 0 {
		return usageError{"--timeout must be positive"}
	}
	return nil
}

// connect prepares a client of the daemon's socket; it dials on the first
// call, within that call's deadline.
//
// The client compares the daemon's version with authc's as soon as an
// answer brings it: authd sends its version in a header of every answer,
// so the check rides on the call the command makes anyway. Asking for
// Status first would cost every 'authc token' a round trip (and a CLI that
// runs it before each of its commands, every one of them).
//
// When nothing answers on the socket, the client starts 'authd run' in the
// background (client.WithAutostart), unless the config says autostart =
// false or AUTHD_NO_AUTOSTART=1: the config is read only then, so a
// running daemon costs 'authc token' no read of it.
func connect() (*client.Client, error) {
	return client.New(client.WithDaemonVersion(warnVersion), client.WithAutostart(client.Autostart{
		Allowed: func() bool {
			cfg, err := readConfig()
			return err != nil || cfg.Autostart
		},
		Started: func(log string) {
			fmt.Fprintf(os.Stderr, "authc: started authd in the background (its log: %s)\n", printable(log))
		},
	}))
}

// versionWarning makes warnVersion warn once per run of authc, whatever
// the number of clients and calls.
var versionWarning sync.Once

// warnVersion warns, on stderr (stdout is the command's output), when the
// daemon is a release older or newer than authc. Development builds
// ("(devel)", a commit, "+dirty") say nothing about which is newer, and
// are not compared: no warning.
func warnVersion(daemon string) {
	own := buildinfo.Version(version)
	order, ok := buildinfo.Compare(daemon, own)
	if !ok || order == 0 {
		return
	}
	versionWarning.Do(func() {
		const restart = "'authd stop && authd start' (or 'authd run --replace')"
		if order < 0 {
			fmt.Fprintf(os.Stderr, "authc: authd %s is running, older than this authc %s: restart it with %s\n", printable(daemon), own, restart)
			return
		}
		fmt.Fprintf(os.Stderr, "authc: authd %s is running, newer than this authc %s: update authc, or, if authd was downgraded, restart it with %s\n", printable(daemon), own, restart)
	})
}

// Reasons of the client package's errors for a gRPC status that carries
// none of the daemon's: the code's name.
const (
	codeDeadlineExceeded api.Reason = "DeadlineExceeded"
	codeCanceled         api.Reason = "Canceled"
)

// within runs call with a deadline of timeout and returns its error as
// explain reads it: a *daemonError, a *timeoutError or another error.
// callDaemon connects to authd, makes one call within timeout (see within)
// and closes the connection. call takes a method expression such as
// (*client.Client).Status.
func callDaemon[T any](ctx context.Context, timeout time.Duration, call func(*client.Client, context.Context) (T, error)) (T, error) {
	var out T
	conn, err := connect()
	if err != nil {
		return out, err
	}
	defer conn.Close()
	err = within(ctx, timeout, func(ctx context.Context) (err error) {
		out, err = call(conn, ctx)
		return err
	})
	return out, err
}

func within(ctx context.Context, timeout time.Duration, call func(ctx context.Context) error) error {
	cctx, cancel := context.WithTimeoutCause(ctx, timeout, errDeadline)
	defer cancel()
	err := call(cctx)
	if err == nil {
		return nil
	}
	return explainDeadline(ctx, cctx, timeout, err)
}

// explainDeadline is explainCall for a call made with cctx, derived from ctx
// with the deadline timeout (cause errDeadline).
func explainDeadline(ctx, cctx context.Context, timeout time.Duration, err error) error {
	switch {
	case daemonDeadline(err):
		// authd answered that the call was still in progress at the
		// deadline: it was waiting on the provider (or the keyring).
		return &timeoutError{after: timeout, busy: true, cause: err}
	case errors.Is(context.Cause(cctx), errDeadline) && ctx.Err() == nil && !answered(err):
		return &timeoutError{after: timeout, busy: daemonAlive(ctx, min(probeTimeout, timeout)), cause: err}
	}
	return explainCall(err, "")
}

// daemonDeadline reports whether err is authd's answer that the call was
// still in progress at its deadline (which authd learns from the call).
func daemonDeadline(err error) bool {
	var ce *client.Error
	return errors.As(err, &ce) && ce.Reason == codeDeadlineExceeded
}

// answered reports whether err is an answer of the daemon: then it, not
// the deadline, says what happened.
func answered(err error) bool {
	var ce *client.Error
	var de *daemonError
	if errors.As(err, &de) {
		return true
	}
	if !errors.As(err, &ce) {
		return false
	}
	switch ce.Reason {
	case codeDeadlineExceeded, api.DaemonUnreachable, api.WrongServer, api.SocketDenied:
		return false
	}
	return true
}

// daemonAlive asks authd for its status on a connection of its own, to
// tell a daemon that does not answer at all (stopped, hung) from one that
// is busy with the call, waiting on the provider.
func daemonAlive(ctx context.Context, timeout time.Duration) bool {
	c, err := connect()
	if err != nil {
		return false
	}
	defer c.Close()
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	_, err = c.Status(ctx)
	var ce *client.Error
	return err == nil || answered(err) && errors.As(err, &ce) && ce.Reason != codeCanceled
}

// explainCall turns a call's error into a *daemonError with the daemon's
// reason, or a *timeoutError.
func explainCall(err error, path string) error {
	var ce *client.Error
	var de *daemonError
	var te *timeoutError
	switch {
	case errors.As(err, &de), errors.As(err, &te):
		return err
	case !errors.As(err, &ce):
		if errors.Is(err, context.Canceled) {
			return &daemonError{reason: api.Interrupted, msg: "interrupted", cause: err}
		}
		return err
	}
	if path == "" {
		path, _ = socket.Path()
	}
	switch ce.Reason {
	case codeDeadlineExceeded:
		// authd answered that the call was still in progress at the
		// deadline (it was waiting on the provider or the keyring).
		return &timeoutError{busy: true, cause: err}
	case codeCanceled:
		return &daemonError{reason: api.Interrupted, msg: "interrupted", cause: err}
	case api.WrongServer:
		return &daemonError{reason: api.WrongServer, cause: err,
			msg: fmt.Sprintf("the socket at %s belongs to another user; authc sent nothing", path)}
	case api.SocketDenied:
		// EACCES on connect: a daemon may well be running, but not for
		// this caller (another user's directory), or a mode is wrong.
		return &daemonError{reason: api.SocketDenied, cause: err,
			msg: fmt.Sprintf("permission denied on the socket %s or a directory above it", path)}
	case api.DaemonUnreachable:
		var op *net.OpError
		if ae := (*client.AutostartError)(nil); errors.As(err, &ae) {
			return &daemonError{reason: api.DaemonUnreachable, cause: err,
				msg: fmt.Sprintf("authd is not running at %s, and %v", path, ae)}
		}
		if errors.As(err, &op) && op.Op == "dial" {
			return &daemonError{reason: api.DaemonUnreachable, cause: err,
				msg: fmt.Sprintf("cannot reach authd at %s", path)}
		}
		// Connected, then closed unanswered: a daemon at its connection
		// limit does that, and a running one is not helped by starting it.
		return &daemonError{reason: api.DaemonUnreachable, cause: err, hint: "at its connection limit? its log says",
			msg: fmt.Sprintf("authd at %s closed the connection without answering", path)}
	}
	if !ce.Reason.Known() {
		// A gRPC status without a reason of authd's.
		return err
	}
	return &daemonError{reason: ce.Reason, msg: ce.Message, cause: err}
}

// shortDuration writes 10m for 10m0s.
func shortDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}
