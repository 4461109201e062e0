package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/mdp/qrterminal/v3"
	"golang.org/x/term"

	"authd.dev/authd/api"
	"authd.dev/authd/client"
)

func runLogin(ctx context.Context, args []string) (err error) {
	fs := flags("login")
	profile := profileFlags(fs)
	noBrowser := fs.Bool("no-browser", false, "print the URL instead of opening a browser")
	device := fs.Bool("device", false, "use the device code flow (for machines without a browser)")
	force := fs.Bool("force", false, "log in again even when already logged in")
	withToken := fs.Bool("with-token", false, "store the access token read from stdin (an API key, a CI token) for the profile")
	secretStdin := fs.Bool("client-secret-stdin", false, "store the client secret read from stdin for a client_credentials profile")
	asJSON := fs.Bool("json", false, "also write each step of the login as a line of JSON on stdout, for programs")
	timeout := timeoutFlag(fs, loginTimeout, "give up when the login has not finished within this long (authd must start it within 30s)")
	if err := parse(fs, args); err != nil {
		return err
	}
	var events *loginEvents
	if *asJSON {
		events = &loginEvents{w: os.Stdout, profile: *profile}
		defer func() { events.failed(err) }()
	}
	if err := checkTimeout(*timeout); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usageError{fmt.Sprintf("unexpected argument %q", fs.Arg(0))}
	}
	if *withToken && *secretStdin {
		return usageError{"--with-token and --client-secret-stdin exclude each other"}
	}
	// authd answers (starts the login, checks a secret) within 30s; the
	// rest of the wait is for the person at the browser.
	answer := min(*timeout, defaultTimeout)
	var credential string
	if *withToken || *secretStdin {
		// Read before connecting: authd need not hold a connection open
		// while someone pastes a secret.
		var err error
		if credential, err = readCredential(ctx, *withToken); err != nil {
			return err
		}
	}
	conn, err := connect()
	if err != nil {
		return err
	}
	defer conn.Close()
	if *withToken || *secretStdin {
		return storeCredential(ctx, conn, *profile, *withToken, credential, answer, events)
	}
	ui := &loginUI{noBrowser: *noBrowser || !canOpenBrowser(), events: events}
	req := client.LoginOptions{Profile: *profile, Force: *force, Device: *device, NoBrowser: ui.noBrowser && !*noBrowser}
	return login(ctx, conn, req, ui, answer, *timeout)
}

// readCredential reads a token or client secret from stdin, so that it never
// appears on a command line or in the config file. Too much, or control
// characters inside it, is an error, never a silently shortened or garbled
// credential.
func readCredential(ctx context.Context, isToken bool) (string, error) {
	what := "client secret"
	if isToken {
		what = "token"
	}
	if term.IsTerminal(int(os.Stdin.Fd())) {
		fmt.Fprintf(os.Stderr, "Paste the %s, then press Enter and Ctrl-D:\n", what)
	}
	value, err := readStdin(ctx, os.Stdin, what)
	if err != nil {
		return "", err
	}
	if strings.ContainsFunc(value, func(r rune) bool { return unsafeRune(r) || r == utf8.RuneError }) {
		return "", usageError{fmt.Sprintf("the %s on stdin has control characters in it; nothing was stored", what)}
	}
	return value, nil
}

// storeCredential hands the daemon a token or client secret read from stdin.
func storeCredential(ctx context.Context, conn *client.Client, profile string, isToken bool, value string, timeout time.Duration, events *loginEvents) error {
	set := conn.SetClientSecret
	if isToken {
		set = conn.SetToken
	}
	var expiry time.Time
	err := within(ctx, timeout, func(ctx context.Context) (err error) {
		expiry, err = set(ctx, profile, value)
		return err
	})
	if err != nil {
		return err
	}
	msg := "Stored the token"
	if !isToken {
		msg = "Stored the client secret; the provider accepted it"
	}
	if !expiry.IsZero() {
		msg += fmt.Sprintf(" (the token expires %s)", humanTime(expiry))
	}
	fmt.Fprintln(os.Stderr, msg+".")
	events.stored(isToken, expiry)
	return nil
}

// canOpenBrowser guesses whether a browser can be opened for the user here:
// not over SSH, nor on a Unix without a display, unless $BROWSER says how.
func canOpenBrowser() bool {
	if os.Getenv("BROWSER") != "" {
		return true
	}
	if os.Getenv("SSH_CONNECTION") != "" || os.Getenv("SSH_TTY") != "" {
		return false
	}
	switch runtime.GOOS {
	case "darwin", "windows":
		return true
	}
	return os.Getenv("DISPLAY") != "" || os.Getenv("WAYLAND_DISPLAY") != ""
}

// loginUI tells the user, on stderr, what a login needs from them, and a
// program the same, on stdout, with --json.
type loginUI struct {
	noBrowser bool
	page      string       // the login page handed to the browser, removed when the login ends
	events    *loginEvents // nil without --json
}

// login runs or joins a login, showing each step, and opens the browser
// unless another client already did so for the same login. authd must
// answer within answer; the whole login may take up to total.
func login(ctx context.Context, conn *client.Client, req client.LoginOptions, ui *loginUI, answer, total time.Duration) error {
	defer ui.removePage()
	lctx, cancel := context.WithTimeoutCause(ctx, total, errDeadline)
	defer cancel()
	// Until the first event, a silent daemon is one that does not answer.
	fctx, cancelFirst := context.WithCancelCause(lctx)
	defer cancelFirst(nil)
	noAnswer := time.AfterFunc(min(answer, total), func() { cancelFirst(errDeadline) })
	defer noAnswer.Stop()

	started, joined := false, false
	err := conn.Login(fctx, req, func(ev client.LoginEvent) {
		if !started {
			started = true
			noAnswer.Stop()
		}
		switch {
		case ev.Waiting != "":
			joined = true
			fmt.Fprintf(os.Stderr, "A login is already in progress (started by %s); waiting for it.\n", printable(ev.Waiting))
			ui.events.waiting(ev.Waiting)
		case ev.OpenURL != nil:
			opened := ui.openURL(ev.OpenURL, joined)
			ui.events.openURL(ev.OpenURL, opened)
		case ev.DeviceCode != nil:
			showDeviceCode(ev.DeviceCode)
			ui.events.deviceCode(ev.DeviceCode)
		case ev.Done != nil:
			fmt.Fprintln(os.Stderr, doneLine(ev.Done, req))
			ui.events.done(ev.Done)
		}
	})
	if err == nil {
		return nil
	}
	if ctx.Err() != nil {
		// Ctrl-C: whatever the call ended with, the user stopped it.
		// authd cancels the login once no client waits for it.
		return &daemonError{reason: api.Interrupted, msg: "login cancelled", cause: ctx.Err()}
	}
	if !started {
		return explainDeadline(ctx, fctx, min(answer, total), err)
	}
	// The daemon sees the deadline too (grpc-timeout), and may end the
	// call a moment before authc does.
	switch {
	case daemonDeadline(err) || errors.Is(context.Cause(lctx), errDeadline) && ctx.Err() == nil && !answered(err):
		return &timeoutError{after: total, login: true, cause: err}
	case errors.Is(context.Cause(fctx), errDeadline) && lctx.Err() == nil && !answered(err):
		// The first event came as the answer deadline passed.
		return &timeoutError{after: min(answer, total), busy: true, cause: err}
	}
	return explainCall(err, "")
}

// doneLine is what authc says when a login ends well: logged in, or
// already logged in and how to log in again.
func doneLine(d *client.Done, req client.LoginOptions) string {
	msg := "Logged in"
	if d.AlreadyLoggedIn {
		msg = "Already logged in"
	}
	if d.Account != "" {
		msg += " as " + printable(d.Account)
	}
	if !d.Expiry.IsZero() {
		msg += fmt.Sprintf(" (the token expires %s)", humanTime(d.Expiry))
	}
	if !d.AlreadyLoggedIn {
		return msg + "."
	}
	again := "authc login" + profileHint()
	if req.Device {
		again += " --device"
	}
	return msg + "; run '" + again + " --force' to log in again."
}

// showDeviceCode tells the user how to approve a device login, with a QR
// code of the complete URI for a phone when stderr is a terminal.
func showDeviceCode(dc *client.DeviceCode) {
	fmt.Fprintf(os.Stderr, "To log in, visit %s and enter the code %s\n", printable(dc.VerificationURI), printable(dc.UserCode))
	if dc.VerificationURIComplete != "" {
		fmt.Fprintf(os.Stderr, "or open %s\n", printable(dc.VerificationURIComplete))
		if term.IsTerminal(int(os.Stderr.Fd())) {
			fmt.Fprintln(os.Stderr)
			qrterminal.GenerateWithConfig(dc.VerificationURIComplete, qrterminal.Config{
				Level: qrterminal.L, Writer: os.Stderr, HalfBlocks: true, QuietZone: 2,
				BlackChar: qrterminal.BLACK_BLACK, WhiteBlackChar: qrterminal.WHITE_BLACK,
				WhiteChar: qrterminal.WHITE_WHITE, BlackWhiteChar: qrterminal.BLACK_WHITE,
			})
		}
	}
	if !dc.Expires.IsZero() {
		fmt.Fprintf(os.Stderr, "The code expires %s. ", humanTime(dc.Expires))
	}
	fmt.Fprintln(os.Stderr, "Waiting for approval... (Ctrl-C stops waiting)")
}

// openURL shows the login URL, or opens a browser on it, and reports
// whether it opened one.
func (ui *loginUI) openURL(u *client.OpenURL, joined bool) (opened bool) {
	shown := printable(u.URL)
	switch {
	case joined:
		fmt.Fprintf(os.Stderr, "Finish the login in the browser window already opened for it, or open:\n\n    %s\n\n", shown)
	case ui.noBrowser:
		fmt.Fprintf(os.Stderr, "Open this URL in a browser to log in:\n\n    %s\n\n", shown)
		if port := portOf(u.RedirectURI); port != "" {
			port = printable(port)
			fmt.Fprintf(os.Stderr, "The browser returns to %s on this machine. If the browser runs on another\n"+
				"machine, forward the port first: ssh -L %s:127.0.0.1:%s THIS-HOST\n", printable(u.RedirectURI), port, port)
		}
	default:
		if err := ui.openBrowser(u.URL); err != nil {
			fmt.Fprintf(os.Stderr, "Could not open a browser (%s). Open this URL to log in:\n\n    %s\n\n", printable(err.Error()), shown)
		} else {
			opened = true
			fmt.Fprintf(os.Stderr, "Opened a browser to log in. If it did not open, visit:\n\n    %s\n\n", shown)
		}
	}
	fmt.Fprintln(os.Stderr, "Waiting for the browser... (Ctrl-C stops waiting)")
	return opened
}

// openBrowser writes the login page that sends the browser to loginURL and
// opens it: the URL itself, with the login's state and PKCE challenge,
// stays out of every process's argv.
func (ui *loginUI) openBrowser(loginURL string) error {
	ui.removePage() // a login shows one URL; never leave two pages
	page, err := writeLoginPage(loginURL)
	if err != nil {
		return err
	}
	ui.page = page
	return openBrowser(fileURL(page))
}

func (ui *loginUI) removePage() {
	if ui.page != "" {
		_ = os.Remove(ui.page)
		ui.page = ""
	}
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

// openBrowser opens url (a login page's file URL) with $BROWSER (a colon-separated list of commands,
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

// loginEvents writes the steps of a login as lines of JSON on stdout, for
// 'authc login --json': one object a line, written as the step happens,
// beside the text on stderr, which stays what it is without --json. The
// names are those of authc's other JSON: snake_case, times in RFC 3339
// (UTC), and what is not known left out. Every line has "event", and
// "profile" when the command named one:
//
//	{"event":"waiting","started_by":"..."}          joined a login another client started
//	{"event":"open_url","url":"...","redirect_uri":"...","opened":false}
//	{"event":"device_code","verification_uri":"...","user_code":"...","verification_uri_complete":"...","expires_at":"..."}
//	{"event":"done","account":"...","expiry":"...","already_logged_in":true}
//	{"event":"stored","credential":"token","expiry":"..."}   --with-token, --client-secret-stdin ("client_secret")
//	{"event":"error","reason":"LOGIN_FAILED","message":"..."}
//
// opened tells whether authc opened a browser on the URL; when it did not,
// the URL is for the user to open. A login ends with done, stored or
// error; error's message is the line authc prints on stderr (without
// "authc: "), and its reason, when known, one of package api's. The
// exit code is authc's usual one. The values are the daemon's and the
// provider's text, exact: a program shows them as untrusted text.
type loginEvents struct {
	w       io.Writer
	profile string
}

// loginEventJSON is one line of [loginEvents].
type loginEventJSON struct {
	Event                   string     `json:"event"`
	Profile                 string     `json:"profile,omitempty"`
	StartedBy               string     `json:"started_by,omitempty"`
	URL                     string     `json:"url,omitempty"`
	RedirectURI             string     `json:"redirect_uri,omitempty"`
	Opened                  *bool      `json:"opened,omitempty"`
	VerificationURI         string     `json:"verification_uri,omitempty"`
	UserCode                string     `json:"user_code,omitempty"`
	VerificationURIComplete string     `json:"verification_uri_complete,omitempty"`
	ExpiresAt               *jsonTime  `json:"expires_at,omitempty"`
	Account                 string     `json:"account,omitempty"`
	Expiry                  *jsonTime  `json:"expiry,omitempty"`
	AlreadyLoggedIn         bool       `json:"already_logged_in,omitempty"`
	Credential              string     `json:"credential,omitempty"`
	Reason                  api.Reason `json:"reason,omitempty"`
	Message                 string     `json:"message,omitempty"`
}

// write writes ev as one line. A nil e (no --json) writes nothing. A
// reader that went away is no reason to stop the login: the text on
// stderr goes on.
func (e *loginEvents) write(ev loginEventJSON) {
	if e == nil {
		return
	}
	ev.Profile = e.profile
	b, err := json.Marshal(ev)
	if err != nil {
		return
	}
	_, _ = e.w.Write(append(jsonPrintable(b), '\n'))
}

func (e *loginEvents) waiting(startedBy string) {
	e.write(loginEventJSON{Event: "waiting", StartedBy: startedBy})
}

func (e *loginEvents) openURL(u *client.OpenURL, opened bool) {
	e.write(loginEventJSON{Event: "open_url", URL: u.URL, RedirectURI: u.RedirectURI, Opened: &opened})
}

func (e *loginEvents) deviceCode(dc *client.DeviceCode) {
	e.write(loginEventJSON{Event: "device_code", VerificationURI: dc.VerificationURI, UserCode: dc.UserCode,
		VerificationURIComplete: dc.VerificationURIComplete, ExpiresAt: timePtr(dc.Expires)})
}

func (e *loginEvents) done(d *client.Done) {
	e.write(loginEventJSON{Event: "done", Account: d.Account, Expiry: timePtr(d.Expiry), AlreadyLoggedIn: d.AlreadyLoggedIn})
}

func (e *loginEvents) stored(isToken bool, expiry time.Time) {
	credential := "client_secret"
	if isToken {
		credential = "token"
	}
	e.write(loginEventJSON{Event: "stored", Credential: credential, Expiry: timePtr(expiry)})
}

// failed writes the error event of a login that ended with err, with the
// message authc prints for it; nothing for nil or --help.
func (e *loginEvents) failed(err error) {
	if err == nil || errors.Is(err, flag.ErrHelp) {
		return
	}
	_, msg := explain(&loginError{err})
	e.write(loginEventJSON{Event: "error", Reason: errorReason(err), Message: msg})
}

// errorReason is the reason of package api behind err, as its exit code
// tells it: the daemon's own, or for authc's deadlines the reason of the
// same exit code. A usage error has none.
func errorReason(err error) api.Reason {
	var de *daemonError
	var te *timeoutError
	switch {
	case errors.As(err, &te) && te.login:
		return api.LoginTimeout
	case errors.As(err, &te) && te.busy:
		return api.IDPUnavailable
	case errors.As(err, &te):
		return api.DaemonUnreachable
	case errors.As(err, &de):
		return de.reason
	case errors.As(err, new(usageError)):
		return ""
	}
	return api.Unspecified
}
