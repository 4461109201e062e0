// Command authc is the thin client of authd: it asks the per-user daemon for
// access tokens and drives logins. Run 'authc help' for its commands.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"authd.dev/authd/internal/wire"
)

// Exit codes, documented in the README.
const (
	exitOK            = 0
	exitError         = 1
	exitUsage         = 2 // the command line only
	exitLoginRequired = 3
	exitDaemon        = 4
	exitProvider      = 5
	exitProfile       = 6
	exitLoginFailed   = 7
	exitKeyring       = 8
	exitPermission    = 9
	exitTokenLifetime = 10
)

const usage = `authc asks the authd daemon for OAuth2/OIDC access tokens.

Usage:
  authc token  [-p PROFILE] [--min-valid 5m] [--scope S]... [--audience A] [--id-token] [--json] [--login|--no-login] [--force-refresh] [--timeout 30s]
  authc login  [-p PROFILE] [--no-browser] [--device] [--force] [--timeout 10m]
  authc logout [-p PROFILE | --all] [--timeout 30s]
  authc status [--json] [--timeout 30s]
  authc inspect [-p PROFILE] [--id-token] [--timeout 30s] [TOKEN]

--timeout bounds each wait for authd (a login it starts waits up to 10m for
the browser); 'authc login --timeout' bounds the whole login, and authd must
start it within 30s.

The daemon's socket is $AUTHD_SOCKET, else $XDG_RUNTIME_DIR/authd/authd.sock.
Exit codes: 0 ok, 1 error, 2 usage, 3 login required, 4 authd not running or
not answering, 5 identity provider unavailable or slow, 6 unknown profile or
bad config, 7 login failed or timed out, 8 keyring unavailable, 9 permission
denied (the socket or the daemon belongs to another user), 10 the provider's
tokens live shorter than --min-valid asks.
`

var commands = map[string]func(ctx context.Context, args []string) error{
	"token":   runToken,
	"login":   runLogin,
	"logout":  runLogout,
	"status":  runStatus,
	"inspect": runInspect,
}

func main() {
	os.Exit(run(os.Args[1:]))
}

func run(args []string) int {
	if len(args) == 0 || args[0] == "help" || args[0] == "-h" || args[0] == "--help" {
		fmt.Fprint(os.Stderr, usage)
		if len(args) == 0 {
			return exitUsage
		}
		return exitOK
	}
	cmd, ok := commands[args[0]]
	if !ok {
		fmt.Fprintf(os.Stderr, "authc: unknown command %q (run 'authc help')\n", args[0])
		return exitUsage
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	err := cmd(ctx, args[1:])
	if err == nil {
		return exitOK
	}
	code, msg := explain(err)
	if msg != "" {
		fmt.Fprintf(os.Stderr, "authc: %s\n", msg)
	}
	return code
}

// usageError is a mistake on the command line.
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

// exitCodes maps the daemon's reasons to authc's exit codes.
var exitCodes = map[string]int{
	reasonUnreachable:             exitDaemon,
	reasonInterrupted:             exitError,
	reasonWrongServer:             exitPermission,
	wire.ReasonLoginRequired:      exitLoginRequired,
	wire.ReasonProfileNotFound:    exitProfile,
	wire.ReasonInvalidConfig:      exitProfile,
	wire.ReasonIDPUnavailable:     exitProvider,
	wire.ReasonLoginFailed:        exitLoginFailed,
	wire.ReasonLoginTimeout:       exitLoginFailed,
	wire.ReasonKeyringLocked:      exitKeyring,
	wire.ReasonKeyringUnavailable: exitKeyring,
	wire.ReasonPermissionDenied:   exitPermission,
	wire.ReasonTokenLifetime:      exitTokenLifetime,
	// A request authd refuses (a --scope the profile does not have, a
	// token with white space) is not a usage error: 2 stays for the
	// command line, which authc checks itself.
	wire.ReasonInvalidRequest: exitError,
}

// explain maps an error to its exit code and the one line a user reads.
// Text from the daemon goes through printable: it may quote the provider.
func explain(err error) (int, string) {
	var ue usageError
	var de *daemonError
	var te *timeoutError
	switch {
	case errors.Is(err, flag.ErrHelp):
		return exitOK, ""
	case errors.As(err, &ue):
		return exitUsage, printable(ue.msg) + " (run 'authc help')"
	case errors.As(err, &te):
		return explainTimeout(te)
	case errors.As(err, &de):
		code, ok := exitCodes[de.reason]
		if !ok {
			code = exitError
		}
		msg := printable(de.msg)
		switch de.reason {
		case wire.ReasonLoginRequired:
			return code, msg + "; run 'authc login" + profileHint() + "'"
		case wire.ReasonIDPUnavailable:
			return code, msg + " (authd retries on its own; try again shortly)"
		case wire.ReasonTokenLifetime:
			return code, msg + " (ask for a shorter --min-valid)"
		}
		return code, msg
	case errors.Is(err, context.Canceled):
		return exitError, "interrupted"
	}
	return exitError, printable(err.Error())
}

// explainTimeout says which wait ran out, and whose fault it likely is.
func explainTimeout(te *timeoutError) (int, string) {
	within := ""
	if te.after > 0 {
		within = " within " + shortDuration(te.after)
	}
	switch {
	case te.login:
		return exitLoginFailed, fmt.Sprintf("the login did not finish%s; run 'authc login%s' to try again", within, profileHint())
	case te.busy:
		return exitProvider, fmt.Sprintf("authd did not finish the call%s: it is running but busy, most likely waiting on the identity provider (see 'authc status'; --timeout waits longer)", within)
	}
	return exitDaemon, fmt.Sprintf("authd did not answer%s (is it stopped? check 'authd status' / its log)", within)
}

// profileArg is the -p value of the command being run, for hints.
var profileArg string

func profileHint() string {
	if profileArg == "" {
		return ""
	}
	return " -p " + profileArg
}

// flags returns a FlagSet that reports errors as usageError, silently.
func flags(name string) *flag.FlagSet {
	fs := flag.NewFlagSet("authc "+name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	return fs
}

func parse(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fs.SetOutput(os.Stderr)
			fs.PrintDefaults()
			return err
		}
		return usageError{err.Error()}
	}
	return nil
}

func profileFlags(fs *flag.FlagSet) *string {
	fs.StringVar(&profileArg, "profile", "", "profile name (default: the config's default_profile)")
	fs.StringVar(&profileArg, "p", "", "shorthand for --profile")
	return &profileArg
}
