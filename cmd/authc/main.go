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
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"authd.dev/authd/api"
	"authd.dev/authd/internal/buildinfo"
)

// version is set at build time with -ldflags "-X main.version=v1.2.3";
// otherwise the version comes from what the Go toolchain recorded.
var version string

// usage is what 'authc help' prints: the commands, then what they share.
func usage() string {
	var b strings.Builder
	b.WriteString("authc asks the authd daemon for OAuth2/OIDC access tokens.\n\nUsage:\n")
	width := 0
	for _, name := range commandOrder {
		if _, ok := commands[name]; ok {
			width = max(width, len(name))
		}
	}
	for _, name := range commandOrder {
		if cmd, ok := commands[name]; ok {
			fmt.Fprintln(&b, strings.TrimRight(fmt.Sprintf("  authc %-*s %s", width, name, cmd.args), " "))
		}
	}
	b.WriteString("  authc --version\n" + usageNotes + exitCodesNote())
	return b.String()
}

const usageNotes = `
'authc COMMAND --help' (or 'authc help COMMAND') shows a command's flags.

--timeout bounds each wait for authd (a login it starts waits up to 10m for
the browser); 'authc login --timeout' bounds the whole login, and authd must
start it within 30s. When authd is not running, authc starts it in the
background (autostart = false in the config, or AUTHD_NO_AUTOSTART=1, turns
that off).

The daemon's socket is $AUTHD_SOCKET, else $XDG_RUNTIME_DIR/authd/authd.sock,
else, when XDG_RUNTIME_DIR is unset, authd/authd.sock in the user's cache
directory: ~/.cache/authd/authd.sock on Linux ($XDG_CACHE_HOME when set).
`

// exitCodesNote lists authc's exit codes (api.ExitCodes), wrapped.
func exitCodesNote() string {
	var b strings.Builder
	line := "Exit codes:"
	for i, e := range api.ExitCodes {
		item := fmt.Sprintf(" %d %s", e.Code, e.Meaning)
		if i < len(api.ExitCodes)-1 {
			item += ","
		} else {
			item += "."
		}
		for _, word := range strings.SplitAfter(item, " ")[1:] {
			if len(line)+1+len(word) > 76 {
				b.WriteString(line + "\n")
				line = ""
			} else {
				line += " "
			}
			line += strings.TrimSuffix(word, " ")
		}
	}
	b.WriteString(strings.TrimPrefix(line, " ") + "\n")
	return b.String()
}

// command is one of authc's commands.
type command struct {
	args    string // the usage line after the command's name
	summary string // one line
	run     func(ctx context.Context, args []string) error
}

// commands holds every command by name. Each file that defines a command
// adds it in its init function; help's run reads the map, so it cannot be
// filled in this declaration.
var commands = map[string]command{}

// commandOrder is the order 'authc help' lists the commands in.
var commandOrder = []string{
	"token", "login", "logout", "status", "reload", "inspect",
	"exec", "header", "kubectl", "git-credential", "docker-credential",
	"setup", "completion", "version", "help",
}

// multicallNames are the names under which authc runs one command, as the
// tools that look for a credential helper by name call it (a link or a copy
// named so on PATH).
var multicallNames = map[string]string{
	"git-credential-authd":    "git-credential",
	"docker-credential-authd": "docker-credential",
}

func init() {
	for name, cmd := range map[string]command{
		"token": {"[-p PROFILE] [--min-valid 5m] [--scope S]... [--audience A] [--id-token] [--json] [--login|--no-login] [--force-refresh] [--rejected-stdin] [--timeout 30s]",
			"Print an access token of a profile, logging in first when one is needed and allowed.", runToken},
		"login": {"[-p PROFILE] [--no-browser] [--device] [--force] [--with-token | --client-secret-stdin] [--json] [--timeout 10m]",
			"Log in to a profile's identity provider, or hand authd a token or client secret read from stdin.", runLogin},
		"logout": {"[-p PROFILE | --all] [--timeout 30s]",
			"Forget the tokens of a profile, or of every profile.", runLogout},
		"status": {"[--json] [--timeout 30s]",
			"Show the daemon, its configuration and the state of every profile.", runStatus},
		"inspect": {"[-p PROFILE] [--id-token] [--timeout 30s] [TOKEN | -]",
			"Decode a JWT for reading, verifying nothing: TOKEN, stdin (-), or the profile's token.", runInspect},
		"version": {"", "Print authc's version.", runVersion},
		"help":    {"[COMMAND]", "Show the commands, or the usage and flags of one.", runHelp},
	} {
		commands[name] = cmd
	}
}

func main() {
	args := os.Args[1:]
	if name, ok := multicallNames[strings.TrimSuffix(filepath.Base(os.Args[0]), ".exe")]; ok {
		args = append([]string{name}, args...)
	}
	os.Exit(run(args))
}

func run(args []string) int {
	if len(args) == 0 {
		fmt.Fprint(os.Stderr, usage())
		return api.ExitUsage
	}
	switch args[0] {
	case "-h", "-help", "--help":
		args = []string{"help"}
	case "-version", "--version":
		args = []string{"version"}
	}
	cmd, ok := commands[args[0]]
	if !ok {
		fmt.Fprintf(os.Stderr, "authc: unknown command %q (run 'authc help')\n", args[0])
		return api.ExitUsage
	}
	ctx, interrupted, stop := handleSignals()
	err := cmd.run(ctx, args[1:])
	if args[0] == "login" && err != nil {
		err = &loginError{err}
	}
	code, msg := explain(err)
	if ue := (usageError{}); errors.As(err, &ue) && args[0] != "help" {
		msg = printable(ue.msg) + " (run 'authc help " + args[0] + "')"
	}
	if sig := interrupted(); sig != nil && err != nil {
		code, msg = 128+int(sig.(syscall.Signal)), interruptedMessage(err)
	}
	if !stop() {
		// The signal handler gave up waiting for the command, and exits
		// the process with its own line.
		return code
	}
	if msg != "" {
		fmt.Fprintf(os.Stderr, "authc: %s\n", msg)
	}
	return code
}

// graceAfterSignal is how long a command may take to wind up once Ctrl-C
// cancelled its context (remove its login page, close its connection)
// before authc exits without it: a read from stdin, for one, does not heed
// a context. A second Ctrl-C exits at once.
const graceAfterSignal = time.Second

// handleSignals returns a context that SIGINT and SIGTERM cancel, a
// function that tells which of them arrived, and stop, which ends the
// handling and reports false when the handler exited the process (or is
// about to): the command was stuck after the signal.
func handleSignals() (ctx context.Context, interrupted func() os.Signal, stop func() bool) {
	ctx, cancel := context.WithCancelCause(context.Background())
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	var (
		mu       sync.Mutex // held by whoever ends the command
		received os.Signal
		ended    bool
	)
	done := make(chan struct{})
	go func() {
		var sig os.Signal
		select {
		case sig = <-sigs:
		case <-done:
			return
		}
		mu.Lock()
		received = sig
		mu.Unlock()
		cancel(errInterrupted)
		select {
		case <-sigs:
		case <-time.After(graceAfterSignal):
		case <-done:
			return
		}
		mu.Lock()
		if ended {
			mu.Unlock()
			return
		}
		ended = true
		fmt.Fprintln(os.Stderr, "authc: interrupted")
		os.Exit(128 + int(sig.(syscall.Signal)))
	}()
	interrupted = func() os.Signal {
		mu.Lock()
		defer mu.Unlock()
		return received
	}
	stop = func() bool {
		signal.Stop(sigs)
		mu.Lock()
		defer mu.Unlock()
		if ended {
			return false
		}
		ended = true
		close(done)
		cancel(nil)
		return true
	}
	return ctx, interrupted, stop
}

// errInterrupted is the cause of a context that Ctrl-C or SIGTERM cancelled.
var errInterrupted = errors.New("interrupted")

// interruptedMessage is the line for a command that a signal ended with
// err: the command's own word for it ("login cancelled") when it has one,
// else "interrupted".
func interruptedMessage(err error) string {
	var de *daemonError
	if !errors.Is(err, context.Canceled) && !(errors.As(err, &de) && de.reason == api.Interrupted) {
		return "interrupted"
	}
	msg := err.Error()
	for _, generic := range []string{"interrupted", "context canceled"} {
		msg = strings.TrimSuffix(strings.TrimSuffix(msg, generic), ": ")
	}
	if msg == "" {
		return "interrupted"
	}
	return printable(msg)
}

// runHelp prints the commands, or one command's help: the command prints
// it, as it knows its flags.
func runHelp(ctx context.Context, args []string) error {
	fs := flags("help")
	if err := parse(fs, args); err != nil {
		return err
	}
	switch fs.NArg() {
	case 0:
		fmt.Print(usage())
		return nil
	case 1:
		cmd, ok := commands[fs.Arg(0)]
		if !ok {
			return usageError{fmt.Sprintf("unknown command %q", fs.Arg(0))}
		}
		return cmd.run(ctx, []string{"--help"})
	}
	return usageError{"help takes at most one command"}
}

func runVersion(_ context.Context, args []string) error {
	fs := flags("version")
	if err := parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usageError{fmt.Sprintf("unexpected argument %q", fs.Arg(0))}
	}
	fmt.Println("authc", buildinfo.Version(version))
	return nil
}

// usageError is a mistake on the command line.
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

// explain maps an error to its exit code and the one line a user reads.
// Text from the daemon goes through printable: it may quote the provider.
func explain(err error) (int, string) {
	var ue usageError
	var de *daemonError
	var te *timeoutError
	switch {
	case err == nil, errors.Is(err, flag.ErrHelp):
		return api.ExitOK, ""
	case errors.As(err, &ue):
		return api.ExitUsage, printable(ue.msg) + " (run 'authc help')"
	case errors.As(err, &te):
		return explainTimeout(te)
	case errors.As(err, &de):
		code := de.reason.Info().Exit
		if de.reason == api.InvalidConfig {
			// The config package's problems, one a line (no provider
			// text in them), stay one a line.
			return code, printableLines(de.msg)
		}
		return code, printable(de.msg) + hint(de, errors.As(err, new(*loginError)))
	case errors.Is(err, context.Canceled):
		return api.ExitError, "interrupted"
	}
	return api.ExitError, printable(err.Error())
}

// hint is what explain adds after de's message: de's own hint, else its
// reason's (the one for a login when login is true), unless the daemon
// named the command to run already.
func hint(de *daemonError, login bool) string {
	h := de.hint
	if h == "" {
		if strings.Contains(de.msg, "'authc login") {
			return ""
		}
		info := de.reason.Info()
		h = info.Hint
		if login && info.LoginHint != "" {
			h = info.LoginHint
		}
	}
	if h == "" {
		return ""
	}
	return " (" + strings.ReplaceAll(h, " -p PROFILE", profileHint()) + ")"
}

// printableLines is printable for text of several lines: each line made
// safe, the next ones indented, so that none passes for a line of authc's.
func printableLines(s string) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	for i, l := range lines {
		lines[i] = printable(l)
	}
	return strings.Join(lines, "\n  ")
}

// loginError is an error of a login: unlike a token call's, nobody retries
// it on the user's behalf.
type loginError struct{ err error }

func (e *loginError) Error() string { return e.err.Error() }
func (e *loginError) Unwrap() error { return e.err }

// explainTimeout says which wait ran out, and whose fault it likely is.
func explainTimeout(te *timeoutError) (int, string) {
	within := ""
	if te.after > 0 {
		within = " within " + shortDuration(te.after)
	}
	switch {
	case te.login:
		return api.ExitLoginFailed, fmt.Sprintf("the login did not finish%s; run 'authc login%s' to try again", within, profileHint())
	case te.busy:
		return api.ExitProvider, fmt.Sprintf("authd did not finish the call%s: it is running but busy, most likely waiting on the identity provider (see 'authc status'; --timeout waits longer)", within)
	}
	return api.ExitDaemon, fmt.Sprintf("authd did not answer%s (is it stopped? check 'authd status' / its log)", within)
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
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	return fs
}

// parse parses a command's flags; --help (-h) prints the command's usage
// line, summary and flags on stdout and returns flag.ErrHelp (exit 0).
func parse(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			printHelp(fs)
			return err
		}
		return usageError{err.Error()}
	}
	return nil
}

// parseNoArgs is parse for a command that takes flags only, one of them
// --timeout, whose value it checks.
func parseNoArgs(fs *flag.FlagSet, args []string, timeout *time.Duration) error {
	if err := parse(fs, args); err != nil {
		return err
	}
	if err := checkTimeout(*timeout); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usageError{fmt.Sprintf("unexpected argument %q", fs.Arg(0))}
	}
	return nil
}

func printHelp(fs *flag.FlagSet) {
	cmd := commands[fs.Name()]
	fmt.Printf("Usage: %s\n\n%s\n", strings.TrimSpace("authc "+fs.Name()+" "+cmd.args), cmd.summary)
	hasFlags := false
	fs.VisitAll(func(*flag.Flag) { hasFlags = true })
	if hasFlags {
		fmt.Print("\nFlags:\n")
		fs.SetOutput(os.Stdout)
		fs.PrintDefaults()
		fs.SetOutput(io.Discard)
	}
}

func profileFlags(fs *flag.FlagSet) *string {
	fs.StringVar(&profileArg, "profile", "", "profile name (default: the config's default_profile)")
	fs.StringVar(&profileArg, "p", "", "shorthand for --profile")
	return &profileArg
}
