// Command authd is the per-user OAuth2/OIDC credential broker daemon. It owns
// the user's keyring and login sessions and serves access tokens to authc and
// the client package over a Unix socket.
//
//	authd run                                   serve in the foreground
//	authd install|uninstall|start|stop|status   manage the user service
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/kardianos/service"

	"authd.dev/authd/internal/broker"
	"authd.dev/authd/internal/config"
	"authd.dev/authd/internal/socket"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

const usage = `authd is the per-user OAuth2/OIDC credential broker.

Usage:
  authd run [--config PATH] [--socket PATH] [--log-level debug|info|warn|error]
  authd install | uninstall | start | stop | status
  authd print-unit      print the systemd user unit 'authd install' writes
  authd version
`

func main() {
	os.Exit(run(os.Args[1:]))
}

func run(args []string) int {
	if len(args) == 0 {
		fmt.Fprint(os.Stderr, usage)
		return 2
	}
	var err error
	switch args[0] {
	case "run":
		err = runDaemon(args[1:])
	case "install", "uninstall", "start", "stop", "status":
		err = control(args[0])
	case "print-unit":
		err = printUnit()
	case "version":
		fmt.Println("authd", version)
	case "help", "-h", "--help":
		fmt.Print(usage)
	default:
		fmt.Fprintf(os.Stderr, "authd: unknown command %q\n\n%s", args[0], usage)
		return 2
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "authd: %v\n", err)
		return 1
	}
	return 0
}

// daemon is the service kardianos runs: Start must not block.
type daemon struct {
	configPath string
	socketPath string
	log        *slog.Logger

	broker *broker.Broker
	cancel context.CancelFunc
	done   chan error
}

func runDaemon(args []string) error {
	fs := flag.NewFlagSet("authd run", flag.ContinueOnError)
	configPath := fs.String("config", "", "config file (default $AUTHD_CONFIG, else $XDG_CONFIG_HOME/authd/config.toml)")
	socketPath := fs.String("socket", "", "socket path (default $AUTHD_SOCKET, else $XDG_RUNTIME_DIR/authd/authd.sock)")
	level := fs.String("log-level", "info", "debug, info, warn or error")
	if err := fs.Parse(args); err != nil {
		return err
	}
	var lvl slog.Level
	if err := lvl.UnmarshalText([]byte(*level)); err != nil {
		return fmt.Errorf("--log-level: %w", err)
	}
	d := &daemon{configPath: *configPath, socketPath: *socketPath,
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
		// In a terminal or under systemd: serve until a signal.
		if err := d.Start(svc); err != nil {
			return err
		}
		sig := make(chan os.Signal, 1)
		signal.Notify(sig, os.Interrupt, syscall.SIGTERM, syscall.SIGHUP)
		return handleSignals(sig, d.done, d.reload, func(s os.Signal) error {
			d.log.Info("stopping", "signal", s.String())
			return d.Stop(svc)
		})
	}
	return svc.Run()
}

// handleSignals reloads on SIGHUP and stops on any other signal, until
// stopped or until the server ends (done). Reloads run in a goroutine of
// their own, one at a time, so that a reload that blocks never keeps a
// signal (SIGTERM above all) waiting; a SIGHUP during a reload queues one
// more, which reads the config as it is by then, and further ones join it.
func handleSignals(sig <-chan os.Signal, done <-chan error, reload func(), stop func(os.Signal) error) error {
	reloads := make(chan struct{}, 1)
	defer close(reloads)
	go func() {
		for range reloads {
			reload()
		}
	}()
	for {
		select {
		case s := <-sig:
			if s == syscall.SIGHUP {
				select {
				case reloads <- struct{}{}:
				default: // one is queued already
				}
				continue
			}
			return stop(s)
		case err := <-done:
			return err
		}
	}
}

func (d *daemon) Start(service.Service) error {
	if before, now, err := raiseFileLimit(); err != nil {
		d.log.Debug("cannot raise the open file limit", "limit", before, "err", err)
	} else {
		d.log.Debug("open file limit", "was", before, "now", now)
	}
	ln, err := socket.Listen(d.socketPath)
	if errors.Is(err, socket.ErrInUse) {
		return fmt.Errorf("authd is already running (socket %s); 'authc status' shows it", d.socketPath)
	}
	if err != nil {
		return err
	}
	d.broker = broker.New(broker.Options{ConfigPath: d.configPath, Logger: d.log, Version: version})
	ctx, cancel := context.WithCancel(context.Background())
	d.cancel, d.done = cancel, make(chan error, 1)
	d.log.Info("serving", "socket", d.socketPath, "config", d.configPath, "version", version, "profiles", strings.Join(d.broker.Profiles(), ","))
	go func() { d.done <- d.broker.Serve(ctx, ln) }()
	return nil
}

func (d *daemon) reload() {
	if err := d.broker.Reload(); err != nil {
		d.log.Error("reload failed; keeping the previous configuration", "err", err)
		return
	}
	d.log.Info("configuration reloaded", "profiles", strings.Join(d.broker.Profiles(), ","))
}

func (d *daemon) Stop(service.Service) error {
	// Ending the logins first lets their clients hear why, and the server
	// stop without waiting for a browser.
	d.broker.Close()
	d.cancel()
	return <-d.done
}
