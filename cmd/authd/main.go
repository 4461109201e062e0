// Command authd is the per-user OAuth2/OIDC credential broker daemon. It owns
// the user's keyring and login sessions and serves access tokens to authc and
// the client package over a Unix socket.
//
//	authd run                                   serve in the foreground
//	authd install|uninstall|start|stop|status   manage the user service
//	authd help [COMMAND] | version
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/kardianos/service"

	"authd.dev/authd/api"
	"authd.dev/authd/internal/broker"
	"authd.dev/authd/internal/buildinfo"
	"authd.dev/authd/internal/config"
	"authd.dev/authd/internal/server"
	"authd.dev/authd/internal/socket"
)

// version is set at build time with -ldflags "-X main.version=v1.2.3";
// otherwise the version comes from what the Go toolchain recorded.
var version string

// command is one of authd's commands.
type command struct {
	name    string
	args    string // the usage line after the command's name
	summary string // one line
	run     func(args []string) error
}

// commands are authd's commands, in the order 'authd help' lists them.
var commands []command

func init() {
	// Assigned here: help's run reads commands.
	noFlags := func(name string, do func() error) func([]string) error {
		return func(args []string) error {
			if err := parseFlags(newFlags(name), args); err != nil {
				return err
			}
			return do()
		}
	}
	manage := func(action string) func([]string) error {
		return noFlags(action, func() error { return control(action) })
	}
	commands = []command{
		{"run", "[--config PATH] [--socket PATH] [--log-level LEVEL] [--replace]", "Serve in the foreground (what the user service runs).", runDaemon},
		{"install", "", "Install authd as a user service (a systemd user unit or a launchd agent).", manage("install")},
		{"uninstall", "", "Remove the user service.", manage("uninstall")},
		{"start", "", "Start the user service.", manage("start")},
		{"stop", "", "Stop the user service.", manage("stop")},
		{"status", "", "Say whether the user service is running ('authc status' asks the daemon itself).", manage("status")},
		{"print-unit", "", "Print the systemd user unit that 'authd install' writes.", noFlags("print-unit", printUnit)},
		{"version", "", "Print authd's version.", noFlags("version", printVersion)},
		{"help", "[COMMAND]", "Show the commands, or one command's usage and flags.", runHelp},
	}
}

const about = `authd is the per-user OAuth2/OIDC credential broker: it keeps the user's
logins and refresh tokens, and hands access tokens to authc and the Go
client over a Unix socket.
`

const footer = `
The socket is --socket, else $AUTHD_SOCKET, else $XDG_RUNTIME_DIR/authd/authd.sock,
else authd/authd.sock in the user's cache directory (~/.cache/authd/authd.sock
on Linux). The config file is --config, else $AUTHD_CONFIG, else
$XDG_CONFIG_HOME/authd/config.toml (~/.config/authd/config.toml).
Exit codes: 0 ok, 1 error, 2 usage.
`

// usage is the list of commands: 'authd help' prints it.
func usage() string {
	var b strings.Builder
	b.WriteString(about + "\nUsage: authd COMMAND [flags]\n\nCommands:\n")
	for _, c := range commands {
		fmt.Fprintf(&b, "  %-11s %s\n", c.name, c.summary)
	}
	b.WriteString("\nRun 'authd help COMMAND' for a command's flags; 'authd --version' prints the version.\n")
	b.WriteString(footer)
	return b.String()
}

func main() {
	os.Exit(run(os.Args[1:]))
}

func run(args []string) int {
	if len(args) == 0 {
		fmt.Fprint(os.Stderr, usage())
		return exitUsage
	}
	var err error
	switch name := args[0]; name {
	case "-h", "-help", "--help":
		fmt.Print(usage())
	case "-version", "--version":
		err = printVersion()
	default:
		c := lookup(name)
		if c == nil {
			err = usageError{fmt.Sprintf("unknown command %q", name), ""}
			break
		}
		err = c.run(args[1:])
	}
	var ue usageError
	switch {
	case err == nil, errors.Is(err, flag.ErrHelp):
		return exitOK
	case errors.As(err, &ue):
		fmt.Fprintf(os.Stderr, "authd: %s (run 'authd help%s')\n", ue.msg, ue.cmd)
		return exitUsage
	}
	fmt.Fprintf(os.Stderr, "authd: %v\n", err)
	return exitError
}

const (
	exitOK    = 0
	exitError = 1
	exitUsage = 2
)

// usageError is a mistake on the command line of cmd ("" for authd itself).
type usageError struct{ msg, cmd string }

func (e usageError) Error() string { return e.msg }

func lookup(name string) *command {
	for i := range commands {
		if commands[i].name == name {
			return &commands[i]
		}
	}
	return nil
}

// newFlags returns the flag set of a command; parseFlags reports its errors.
func newFlags(name string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	return fs
}

// parseFlags parses a command's flags and, for --help, prints its help to
// stdout and returns flag.ErrHelp. A command takes no arguments but its flags.
func parseFlags(fs *flag.FlagSet, args []string) error {
	err := fs.Parse(args)
	switch {
	case errors.Is(err, flag.ErrHelp):
		printHelp(lookup(fs.Name()), fs)
		return err
	case err != nil:
		return usageError{err.Error(), " " + fs.Name()}
	case fs.NArg() > 0:
		return usageError{fmt.Sprintf("unexpected argument %q", fs.Arg(0)), " " + fs.Name()}
	}
	return nil
}

// printHelp prints a command's usage line, summary and flags.
func printHelp(c *command, fs *flag.FlagSet) {
	fmt.Printf("Usage: %s\n\n%s\n", strings.TrimSpace("authd "+c.name+" "+c.args), c.summary)
	if fs != nil {
		n := 0
		fs.VisitAll(func(*flag.Flag) { n++ })
		if n > 0 {
			fmt.Print("\nFlags:\n")
			fs.SetOutput(os.Stdout)
			fs.PrintDefaults()
			fs.SetOutput(io.Discard)
		}
	}
}

func runHelp(args []string) error {
	fs := newFlags("help")
	if err := fs.Parse(args); errors.Is(err, flag.ErrHelp) {
		printHelp(lookup("help"), fs)
		return err
	} else if err != nil {
		return usageError{err.Error(), " help"}
	}
	switch fs.NArg() {
	case 0:
		fmt.Print(usage())
		return nil
	case 1:
		c := lookup(fs.Arg(0))
		if c == nil {
			return usageError{fmt.Sprintf("unknown command %q", fs.Arg(0)), ""}
		}
		// The command prints its own help: it knows its flags.
		return c.run([]string{"--help"})
	}
	return usageError{"help takes at most one command", " help"}
}

func printVersion() error {
	fmt.Println("authd", buildinfo.Version(version))
	return nil
}

// daemon is the service kardianos runs: Start must not block.
type daemon struct {
	configPath string
	socketPath string
	replace    bool // take the socket over from the daemon serving it
	log        *slog.Logger
	ownSocket  fs.FileInfo // the socket file to remove when stopping; nil for one the service manager made

	broker *broker.Broker
	cancel context.CancelFunc
	done   chan error
	compat *oidcAgentSocket // the oidc-agent socket; nil unless the config names one
}

func runDaemon(args []string) error {
	set := newFlags("run")
	configPath := set.String("config", "", "config file (default $AUTHD_CONFIG, else $XDG_CONFIG_HOME/authd/config.toml); it must exist")
	socketPath := set.String("socket", "", "socket path (default $AUTHD_SOCKET, else $XDG_RUNTIME_DIR/authd/authd.sock, else ~/.cache/authd/authd.sock)")
	level := set.String("log-level", "info", "debug, info, warn or error")
	replace := set.Bool("replace", false, "take the socket over from the authd running on it, which answers its calls, ends its logins and exits; then serve (for upgrades)")
	if err := parseFlags(set, args); err != nil {
		return err
	}
	var lvl slog.Level
	if err := lvl.UnmarshalText([]byte(*level)); err != nil {
		return usageError{fmt.Sprintf("--log-level must be debug, info, warn or error, not %q", *level), " run"}
	}
	if *configPath != "" {
		// A file named on purpose that is not there is a typo; only the
		// default one may be missing (no profiles yet).
		if _, err := os.Stat(*configPath); errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("config file %s does not exist", *configPath)
		}
	}
	d := &daemon{configPath: *configPath, socketPath: *socketPath, replace: *replace,
		log: slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: lvl}))}
	if d.configPath == "" {
		p, err := config.DefaultPath()
		if err != nil {
			return err
		}
		d.configPath = p
	}
	if d.socketPath == "" {
		p, err := socket.Path()
		if err != nil {
			return err
		}
		d.socketPath = p
	}
	svc, err := newService(d)
	if err != nil {
		return err
	}
	if service.Interactive() {
		// In a terminal or under systemd: serve until a signal. One that
		// comes during the start (a replace waits seconds for the daemon
		// it replaces) is handled once the daemon serves.
		sig := make(chan os.Signal, 1)
		signal.Notify(sig, os.Interrupt, syscall.SIGTERM, syscall.SIGHUP)
		if err := d.Start(svc); err != nil {
			return err
		}
		return handleSignals(sig, d.done, d.reload, func(s os.Signal) error {
			d.log.Info("stopping", "signal", s.String())
			return d.Stop(svc)
		})
	}
	return svc.Run()
}

func (d *daemon) Start(service.Service) error {
	before, files, err := raiseFileLimit()
	if err != nil {
		d.log.Debug("cannot raise the open file limit", "limit", before, "err", err)
	} else {
		d.log.Debug("open file limit", "was", before, "now", files)
	}
	limits := server.Limits{MaxConns: server.ConnsForFiles(files)}
	ln, path, err := d.listen()
	if errors.Is(err, socket.ErrInUse) {
		return fmt.Errorf("authd is already running (socket %s); 'authc status' shows it, 'authd run --replace' takes over from it", d.socketPath)
	}
	if err != nil {
		return err
	}
	d.socketPath = path
	d.broker = broker.New(broker.Options{ConfigPath: d.configPath, Logger: d.log, Version: buildinfo.Version(version), Build: buildinfo.Build(),
		StartedBy: os.Getenv(api.StartedByEnv)})
	ctx, cancel := context.WithCancel(context.Background())
	d.cancel, d.done = cancel, make(chan error, 1)
	d.log.Info("serving", "socket", d.socketPath, "config", d.configPath, "version", buildinfo.Version(version), "profiles", strings.Join(d.broker.Profiles(), ","))
	go func() { d.done <- server.ServeLimits(ctx, d.broker, ln, limits) }()
	d.compat = d.startOIDCAgent(ctx)
	return nil
}

func (d *daemon) reload() {
	// The broker logs what changed, or why the file did not load, as it
	// does for 'authc reload'.
	_ = d.broker.Reload()
}

func (d *daemon) Stop(service.Service) error {
	// The server stops accepting, ends the logins in flight and answers
	// the calls in flight (see server.Serve); then the refreshes still
	// running get the rest of stopTimeout to reach the keyring.
	ctx, cancel := context.WithTimeout(context.Background(), stopTimeout-stopMargin)
	defer cancel()
	d.cancel()
	d.compat.wait()
	err := <-d.done
	d.removeSocket()
	if serr := d.broker.Shutdown(ctx); serr != nil {
		d.log.Warn("stopped with work unfinished", "err", serr)
	}
	d.log.Info("stopped")
	return err
}
