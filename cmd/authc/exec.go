package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"runtime"
	"strings"

	"authd.dev/authd/client"
)

func init() {
	commands["exec"] = command{
		"[-p PROFILE] [--env NAME]... [--header-env NAME] [--min-valid 1m] [--login|--no-login] [--timeout 30s] -- CMD [ARG]...",
		"Run CMD with a profile's access token in its environment ($AUTHD_ACCESS_TOKEN unless --env names others).",
		runExec,
	}
}

const execNotes = `
CMD gets authc's stdin, stdout and stderr. On Unix authc becomes CMD (it
execs it, keeping its process id), so every signal sent to it (Ctrl-C,
SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2, SIGWINCH) reaches CMD, once,
and CMD's exit status is the status the caller sees: its exit code, or
128+N in a shell when signal N ended it. On Windows authc runs CMD, waits
for it and exits with its code. CMD not found exits 127, CMD that cannot
be run 126, as with env(1).

The variables are a snapshot: they hold the token authd had when CMD
started, and nothing updates them. A token lives for a while (minutes to
hours; 'authc token --json' shows its expiry); a command that runs longer
than that fails with its server's 401 once the token expires. Long-running
commands should instead ask for a token when they need one, with 'authc
token' (authd refreshes it before it expires; a call costs milliseconds),
or the Go client or the Python package. --min-valid makes sure the token
lasts at least as long as a short command needs.

Like 'authc token', it starts a login when one is needed only with --login,
or when stderr is a terminal and --no-login is not given.
`

// defaultTokenEnv is the variable CMD finds the token in when no --env
// names another.
const defaultTokenEnv = "AUTHD_ACCESS_TOKEN"

func runExec(ctx context.Context, args []string) error {
	fs := flags("exec")
	profile := profileFlags(fs)
	var envNames stringList
	fs.Var(&envNames, "env", "put the access token in this variable (repeatable; default "+defaultTokenEnv+")")
	headerEnv := fs.String("header-env", "", "also put the whole Authorization value, 'Bearer TOKEN', in this variable")
	minValid := fs.Duration("min-valid", 0, "the token must stay valid at least this long, say as long as CMD runs (default 1m)")
	interactive := loginFlags(fs)
	timeout := timeoutFlag(fs, defaultTimeout, "give up when authd has not answered within this long (a login it starts waits up to 10m)")
	if err := parse(fs, args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Print(execNotes)
		}
		return err
	}
	if err := checkTimeout(*timeout); err != nil {
		return err
	}
	if *minValid < 0 {
		return usageError{"--min-valid must not be negative"}
	}
	argv := fs.Args()
	if len(argv) == 0 {
		return usageError{"no command to run: authc exec [FLAGS] -- CMD [ARG]..."}
	}
	if len(envNames) == 0 {
		envNames = stringList{defaultTokenEnv}
	}
	names := append([]string(nil), envNames...)
	if *headerEnv != "" {
		names = append(names, *headerEnv)
	}
	for i, name := range names {
		if !validEnvName(name) {
			return usageError{fmt.Sprintf("%q is no environment variable name: letters, digits and _, not starting with a digit", name)}
		}
		for _, other := range names[:i] {
			if sameEnvName(name, other) {
				return usageError{fmt.Sprintf("the variable %s is named twice", name)}
			}
		}
	}
	login, err := interactive()
	if err != nil {
		return err
	}
	// Look CMD up before asking for a token: a typo costs no login.
	path, err := exec.LookPath(argv[0])
	if err != nil {
		exitWith(commandError(argv[0], err))
	}

	tok, err := helperToken(ctx, client.TokenOptions{Profile: *profile, MinValid: *minValid}, login, *timeout)
	if err != nil {
		return err
	}
	set := map[string]string{}
	for _, name := range envNames {
		set[name] = tok.AccessToken
	}
	if *headerEnv != "" {
		scheme, err := authScheme(tok.TokenType)
		if err != nil {
			return err
		}
		set[*headerEnv] = scheme + " " + tok.AccessToken
	}
	if ctx.Err() != nil {
		// Ctrl-C while the token came: CMD has not started.
		return context.Cause(ctx)
	}
	exitWith(execCommand(path, argv, withEnv(os.Environ(), set)))
	return nil // not reached
}

// validEnvName reports whether name is a portable environment variable
// name (POSIX: letters, digits and underscores, not starting with a digit).
func validEnvName(name string) bool {
	for i, r := range name {
		if !(r == '_' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || i > 0 && r >= '0' && r <= '9') {
			return false
		}
	}
	return name != ""
}

// sameEnvName compares variable names as the platform does: Windows
// ignores their case.
func sameEnvName(a, b string) bool {
	if runtime.GOOS == "windows" {
		return strings.EqualFold(a, b)
	}
	return a == b
}

// withEnv returns environ with the variables of set: an earlier value of
// one of them is dropped, so that CMD sees one, authd's.
func withEnv(environ []string, set map[string]string) []string {
	out := make([]string, 0, len(environ)+len(set))
	for _, kv := range environ {
		name, _, _ := strings.Cut(kv, "=")
		keep := true
		for s := range set {
			keep = keep && !sameEnvName(name, s)
		}
		if keep {
			out = append(out, kv)
		}
	}
	for name, value := range set {
		out = append(out, name+"="+value)
	}
	return out
}

// exitError ends authc with a status that is not one of its own: CMD's,
// or env(1)'s when CMD cannot be run (126, 127).
type exitError struct {
	code int
	msg  string // "" when CMD ran: it said what it had to
}

func (e *exitError) Error() string { return e.msg }

// exitWith ends authc at once with e's status, after e's line on stderr.
// main's explain has no place for a status of CMD's, so exec exits here.
func exitWith(e *exitError) {
	if e.msg != "" {
		fmt.Fprintf(os.Stderr, "authc: %s\n", e.msg)
	}
	os.Exit(e.code)
}

// Exit statuses of a CMD that could not be run, as env(1) and shells give
// them.
const (
	exitCannotRun = 126
	exitNotFound  = 127
)

// commandError is the exit status and line for a CMD that could not be
// looked up or started.
func commandError(name string, err error) *exitError {
	shown := printable(name)
	switch {
	case errors.Is(err, exec.ErrDot):
		return &exitError{exitNotFound, fmt.Sprintf("%s is found in the current directory through PATH, which authc does not run; name it ./%s", shown, shown)}
	case errors.Is(err, exec.ErrNotFound):
		return &exitError{exitNotFound, fmt.Sprintf("%s: command not found", shown)}
	}
	code := exitCannotRun
	if errors.Is(err, fs.ErrNotExist) {
		// A path that does not exist, or a script whose #! interpreter
		// does not.
		code = exitNotFound
	}
	var pe *fs.PathError
	var ee *exec.Error
	switch {
	case errors.As(err, &pe):
		err = pe.Err
	case errors.As(err, &ee):
		err = ee.Err
	}
	return &exitError{code, fmt.Sprintf("cannot run %s: %s", shown, printable(err.Error()))}
}
