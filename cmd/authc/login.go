package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"time"

	"authd.dev/authd/client"
)

func runLogin(ctx context.Context, args []string) error {
	fs := flags("login")
	profile := profileFlags(fs)
	noBrowser := fs.Bool("no-browser", false, "print the URL instead of opening a browser")
	device := fs.Bool("device", false, "use the device code flow (for machines without a browser)")
	force := fs.Bool("force", false, "log in again even when already logged in")
	if err := parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usageError{fmt.Sprintf("unexpected argument %q", fs.Arg(0))}
	}
	c, err := dial()
	if err != nil {
		return err
	}
	defer c.Close()
	return login(ctx, c, client.LoginOptions{Profile: *profile, Force: *force, Device: *device}, loginUI{noBrowser: *noBrowser})
}

// loginUI tells the user, on stderr, what a login needs from them.
type loginUI struct {
	noBrowser bool
}

// login runs or joins a login, showing each step, and opens the browser
// unless another client already did so for the same login.
func login(ctx context.Context, c *client.Client, o client.LoginOptions, ui loginUI) error {
	joined := false
	return c.Login(ctx, o, func(ev client.LoginEvent) {
		switch {
		case ev.Waiting != "":
			joined = true
			fmt.Fprintf(os.Stderr, "A login is already in progress (started by %s); waiting for it.\n", ev.Waiting)
		case ev.OpenURL != nil:
			ui.openURL(ev.OpenURL, joined)
		case ev.DeviceCode != nil:
			dc := ev.DeviceCode
			fmt.Fprintf(os.Stderr, "To log in, visit %s and enter the code %s\n", dc.VerificationURI, dc.UserCode)
			if dc.VerificationURIComplete != "" {
				fmt.Fprintf(os.Stderr, "or open %s\n", dc.VerificationURIComplete)
			}
			fmt.Fprintln(os.Stderr, "Waiting for approval... (Ctrl-C stops waiting)")
		case ev.Done != nil:
			msg := "Logged in"
			if ev.Done.Account != "" {
				msg += " as " + ev.Done.Account
			}
			if !ev.Done.Expiry.IsZero() {
				msg += fmt.Sprintf(" (token valid until %s)", ev.Done.Expiry.Local().Format(time.TimeOnly))
			}
			fmt.Fprintln(os.Stderr, msg+".")
		}
	})
}

func (ui loginUI) openURL(u *client.OpenURL, joined bool) {
	switch {
	case joined:
		fmt.Fprintf(os.Stderr, "Finish the login in the browser window already opened for it, or open:\n\n    %s\n\n", u.URL)
	case ui.noBrowser:
		fmt.Fprintf(os.Stderr, "Open this URL in a browser to log in:\n\n    %s\n\n", u.URL)
		if port := portOf(u.RedirectURI); port != "" {
			fmt.Fprintf(os.Stderr, "The browser returns to %s on this machine. If the browser runs on another\n"+
				"machine, forward the port first: ssh -L %s:127.0.0.1:%s THIS-HOST\n", u.RedirectURI, port, port)
		}
	default:
		if err := openBrowser(u.URL); err != nil {
			fmt.Fprintf(os.Stderr, "Could not open a browser (%v). Open this URL to log in:\n\n    %s\n\n", err, u.URL)
		} else {
			fmt.Fprintf(os.Stderr, "Opened a browser to log in. If it did not open, visit:\n\n    %s\n\n", u.URL)
		}
	}
	fmt.Fprintln(os.Stderr, "Waiting for the browser... (Ctrl-C stops waiting)")
}

func portOf(redirectURI string) string {
	i := strings.LastIndex(redirectURI, ":")
	if i < 0 {
		return ""
	}
	rest := redirectURI[i+1:]
	if j := strings.IndexByte(rest, '/'); j >= 0 {
		rest = rest[:j]
	}
	return rest
}

// openBrowser opens url with $BROWSER (a colon-separated list of commands,
// "%s" standing for the URL, as xdg-open and git read it) or the platform's
// opener. It does not wait for the browser to exit.
func openBrowser(url string) error {
	var candidates [][]string
	if env := os.Getenv("BROWSER"); env != "" {
		for _, cmd := range strings.Split(env, ":") {
			fields := strings.Fields(cmd)
			if len(fields) == 0 {
				continue
			}
			if strings.Contains(cmd, "%s") {
				for i, f := range fields {
					fields[i] = strings.ReplaceAll(f, "%s", url)
				}
			} else {
				fields = append(fields, url)
			}
			candidates = append(candidates, fields)
		}
	}
	switch runtime.GOOS {
	case "darwin":
		candidates = append(candidates, []string{"open", url})
	case "windows":
		candidates = append(candidates, []string{"rundll32", "url.dll,FileProtocolHandler", url})
	default:
		candidates = append(candidates, []string{"xdg-open", url})
	}
	var lastErr error
	for _, argv := range candidates {
		cmd := exec.Command(argv[0], argv[1:]...)
		cmd.Stdout, cmd.Stderr = nil, nil
		if err := cmd.Start(); err != nil {
			lastErr = err
			continue
		}
		// Openers like xdg-open fail fast when there is no display; a
		// browser that keeps running is a success.
		exited := make(chan error, 1)
		go func() { exited <- cmd.Wait() }()
		select {
		case err := <-exited:
			if err != nil {
				lastErr = fmt.Errorf("%s: %w", argv[0], err)
				continue
			}
		case <-time.After(2 * time.Second):
		}
		return nil
	}
	return lastErr
}
