// Command devidp runs the in-process test OpenID provider of
// authd.dev/authd/internal/idptest as a program, for the demo and for
// trying authd by hand. It listens on loopback only.
//
// Usage:
//
//	devidp [-addr 127.0.0.1:9998] [-token-lifetime 5m] [-refresh-lifetime 24h] [-device-interval 5s] [-v]
//
// It prints the issuer URL, the client IDs and the demo user, then serves
// until SIGINT or SIGTERM.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	"authd.dev/authd/internal/idptest"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			os.Exit(0)
		}
		fmt.Fprintln(os.Stderr, "devidp:", err)
		os.Exit(2)
	}
}

// run serves until ctx is done.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	flags := flag.NewFlagSet("devidp", flag.ContinueOnError)
	flags.SetOutput(stderr)
	addr := flags.String("addr", "127.0.0.1:9998", "loopback `host:port` to listen on")
	tokenLifetime := flags.Duration("token-lifetime", 5*time.Minute, "access token lifetime")
	refreshLifetime := flags.Duration("refresh-lifetime", 24*time.Hour, "refresh token lifetime")
	deviceInterval := flags.Duration("device-interval", 5*time.Second, "device flow polling interval (whole seconds)")
	verbose := flags.Bool("v", false, "log requests and protocol errors to stderr")
	if err := flags.Parse(args); err != nil {
		return err
	}
	if flags.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q", flags.Args())
	}
	if err := idptest.CheckLoopback(*addr); err != nil {
		return fmt.Errorf("%w (devidp has fixed passwords: use 127.0.0.1 or [::1])", err)
	}
	if *tokenLifetime <= 0 || *refreshLifetime <= 0 || *deviceInterval <= 0 {
		return errors.New("-token-lifetime, -refresh-lifetime and -device-interval must be positive")
	}

	// zitadel's op logs protocol errors through the default logger; this
	// is a program, so it may set it.
	level := slog.LevelError
	if *verbose {
		level = slog.LevelDebug
	}
	logger := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))
	slog.SetDefault(logger)

	p, err := idptest.Start(idptest.Options{
		Addr:                 *addr,
		AccessTokenLifetime:  *tokenLifetime,
		RefreshTokenLifetime: *refreshLifetime,
		DevicePollInterval:   *deviceInterval,
		Logger:               logger,
	})
	if err != nil {
		return err
	}
	defer p.Close()

	fmt.Fprintf(stdout, `devidp: test OpenID provider (not for real credentials)
issuer:         %s
public client:  %s (no secret, PKCE; redirect %s on any port)
service client: %s (secret %s)
user:           %s / %s
`, p.Issuer(), idptest.PublicClientID, idptest.RedirectURI,
		idptest.ConfidentialClientID, idptest.ConfidentialClientSecret,
		idptest.DefaultUsername, idptest.DefaultPassword)

	<-ctx.Done()
	fmt.Fprintln(stdout, "devidp: stopping")
	return p.Close()
}
