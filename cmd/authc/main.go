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
	exitOK              = 0
	exitError           = 1
	exitUsage           = 2
	exitLoginRequired   = 3
	exitDaemon          = 4
	exitProvider        = 5
	exitProfile         = 6
	exitLoginFailed     = 7
	exitKeyring         = 8
	exitPermission      = 9
	exitInvalidArgument = exitUsage
)

const usage = `authc asks the authd daemon for OAuth2/OIDC access tokens.

Usage:
  authc token  [-p PROFILE] [--min-valid 5m] [--scope S]... [--audience A] [--id-token] [--json] [--login|--no-login] [--force-refresh]
  authc login  [-p PROFILE] [--no-browser] [--device] [--force]
  authc logout [-p PROFILE | --all]
  authc status [--json]
  authc inspect [-p PROFILE] [--id-token] [TOKEN]

The daemon's socket is $AUTHD_SOCKET, else $XDG_RUNTIME_DIR/authd/authd.sock.
Exit codes: 0 ok, 1 error, 2 usage, 3 login required, 4 authd not running,
5 identity provider unavailable, 6 unknown profile or bad config,
7 login failed, 8 keyring unavailable, 9 permission denied.
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
	wire.ReasonLoginRequired:      exitLoginRequired,
	wire.ReasonProfileNotFound:    exitProfile,
	wire.ReasonInvalidConfig:      exitProfile,
	wire.ReasonIDPUnavailable:     exitProvider,
	wire.ReasonLoginFailed:        exitLoginFailed,
	wire.ReasonLoginTimeout:       exitLoginFailed,
	wire.ReasonKeyringLocked:      exitKeyring,
	wire.ReasonKeyringUnavailable: exitKeyring,
	wire.ReasonPermissionDenied:   exitPermission,
	wire.ReasonInvalidRequest:     exitInvalidArgument,
}

// explain maps an error to its exit code and the one line a user reads.
func explain(err error) (int, string) {
	var ue usageError
	var de *daemonError
	switch {
	case errors.Is(err, flag.ErrHelp):
		return exitOK, ""
	case errors.As(err, &ue):
		return exitUsage, ue.msg + " (run 'authc help')"
	case errors.As(err, &de):
		code, ok := exitCodes[de.reason]
		if !ok {
			code = exitError
		}
		switch de.reason {
		case wire.ReasonLoginRequired:
			return code, de.msg + "; run 'authc login" + profileHint() + "'"
		case wire.ReasonIDPUnavailable:
			return code, de.msg + " (authd retries on its own; try again shortly)"
		}
		return code, de.msg
	case errors.Is(err, context.Canceled):
		return exitError, "interrupted"
	}
	return exitError, err.Error()
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
