// Command browserdriver is a $BROWSER for authd's end-to-end tests and demo:
// it opens the login URL that authc hands it in a headless Chromium, signs in
// (or cancels) at the test provider the way a person would, and reports the
// page authd's loopback callback showed. It also plays the person who
// approves a device login on another machine.
//
//	BROWSER=browserdriver authc login
//	AUTHD_DRIVER_ACTION=device browserdriver VERIFICATION_URI_COMPLETE
//
// authc hands its browser a login page (a file: URL or a path) that
// redirects to the provider, never the login URL itself: the driver opens
// that page and waits until the tab has left it for the provider. It then
// scans every process's /proc/PID/cmdline for the login's state and for
// "code_challenge", and reports any process that has them in its argv.
//
// # What it does
//
// It starts Chromium with a fresh profile that is removed on exit and a
// resolver that answers nothing but 127.0.0.1 (the provider and authd's
// callback are both on loopback), opens the URL, and then, by
// $AUTHD_DRIVER_ACTION:
//
//   - login (default): types $AUTHD_DRIVER_USER and $AUTHD_DRIVER_PASSWORD
//     (default alice / alice-password) into #username and #password and
//     clicks #submit;
//   - deny: clicks #deny.
//
// It waits until the page is authd's callback (http://127.0.0.1:PORT/callback
// showing a #result element) and reads #result and #message.
//
// The device actions take the device flow's verification URI instead:
//
//   - device: when the page asks for the code (the bare verification_uri),
//     types $AUTHD_DRIVER_USER_CODE into #user_code and clicks #submit
//     (verification_uri_complete carries the code and skips that page);
//     signs in as login does; then clicks #allow on the consent page;
//   - device-deny: the same, but clicks #deny on the consent page.
//
// They wait for the provider's last page (#result with a data-result of
// "allowed" or "denied") and read its #result and first paragraph. An error
// the provider shows on the way (#error: a wrong code or password) ends the
// run at once.
//
// # Environment
//
//	AUTHD_CHROMIUM          the browser binary (default /usr/bin/chromium)
//	AUTHD_DRIVER_ACTION     login, deny, device or device-deny
//	AUTHD_DRIVER_USER       user name for login and device
//	AUTHD_DRIVER_PASSWORD   password for login and device
//	AUTHD_DRIVER_USER_CODE  the device flow's user code, when the URL does not carry it
//	AUTHD_DRIVER_OUT        a directory for the report (optional)
//
// # Report
//
// With $AUTHD_DRIVER_OUT set, each run saves a full-page screenshot as
// <action>-<n>.png and appends one JSON line to launches.jsonl:
//
//	{"action":"login","argv":["browserdriver","file:///..."],"final_url":"...","result":"Signed in",
//	 "message":"...","screenshot":".../login-1.png","procs_scanned":212,"cmdline_leaks":["pid 42: ..."]}
//
// A run that fails adds an "error" field (and screenshots where it stood).
// The query values of final_url are redacted except error and
// error_description: the code in them is a credential. While a run is in
// progress the file browserdriver-<pid>.running exists, so a test can wait
// for every launch to finish before it counts them.
//
// authc does not wait for its browser, so the driver bounds itself: it gives
// up after 60 seconds. It exits 0 when the browser reached the last page
// (authd's callback, or the provider's device result page), whatever the
// page said, and 1 with a message on stderr otherwise.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"html"
	"net/url"
	"os"
	"os/signal"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/chromedp/chromedp"
)

const (
	runDeadline    = 60 * time.Second
	driveDeadline  = 45 * time.Second // leaves time for a failure screenshot
	pollInterval   = 100 * time.Millisecond
	launchesFile   = "launches.jsonl"
	defaultBrowser = "/usr/bin/chromium"
)

// launch is one line of launches.jsonl.
type launch struct {
	Action     string   `json:"action"`
	Argv       []string `json:"argv"` // the driver's own, as its opener started it
	FinalURL   string   `json:"final_url"`
	Result     string   `json:"result"`
	Message    string   `json:"message"`
	Screenshot string   `json:"screenshot"`
	Error      string   `json:"error,omitempty"`
	// ProcsScanned counts the processes whose argv the driver read while
	// the provider's page was open (0: not a browser login, or no /proc);
	// CmdlineLeaks names those whose argv held the login's state or PKCE
	// challenge. Argv is redacted the same way.
	ProcsScanned int      `json:"procs_scanned"`
	CmdlineLeaks []string `json:"cmdline_leaks,omitempty"`
}

// actions are the values of $AUTHD_DRIVER_ACTION.
var actions = []string{"login", "deny", "device", "device-deny"}

// finalPage is what the driver reads from the last page: authd's callback
// page, or the provider's device result page.
type finalPage struct {
	URL     string `json:"url"`
	Result  string `json:"result"`
	Message string `json:"message"`
}

func main() {
	os.Exit(run(os.Args[1:]))
}

func run(args []string) int {
	if len(args) != 1 {
		fmt.Fprintln(os.Stderr, "usage: browserdriver URL")
		return 2
	}
	action := envOr("AUTHD_DRIVER_ACTION", "login")
	if !slices.Contains(actions, action) {
		fmt.Fprintf(os.Stderr, "browserdriver: AUTHD_DRIVER_ACTION must be one of %s, not %q\n", strings.Join(actions, ", "), action)
		return 2
	}
	outDir := os.Getenv("AUTHD_DRIVER_OUT")
	if outDir != "" {
		marker := filepath.Join(outDir, fmt.Sprintf("browserdriver-%d.running", os.Getpid()))
		if err := os.WriteFile(marker, nil, 0o600); err != nil {
			fmt.Fprintf(os.Stderr, "browserdriver: %v\n", err)
			return 1
		}
		defer os.Remove(marker)
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	ctx, cancel := context.WithTimeout(ctx, runDeadline)
	defer cancel()

	rep := launch{Action: action, Argv: redactArgs(os.Args)}
	page, shot, err := drive(ctx, args[0], action, &rep)
	if page != nil {
		rep.FinalURL, rep.Result, rep.Message = redactURL(page.URL), page.Result, page.Message
	}
	if outDir != "" {
		if len(shot) > 0 {
			path, serr := saveScreenshot(outDir, action, shot)
			if serr != nil {
				err = errors.Join(err, serr)
			}
			rep.Screenshot = path
		}
		if err != nil {
			rep.Error = err.Error()
		}
		if rerr := appendLaunch(outDir, rep); rerr != nil {
			err = errors.Join(err, rerr)
		}
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "browserdriver: %s: %v\n", action, err)
		return 1
	}
	fmt.Fprintf(os.Stderr, "browserdriver: %s: %s: %s\n", action, rep.Result, rep.Message)
	return 0
}

// drive runs one browser session: open the URL, act, wait for the last
// page. It returns the page read (nil if never reached) and a screenshot of
// where the browser stood, on success and on failure alike.
func drive(ctx context.Context, target, action string, rep *launch) (*finalPage, []byte, error) {
	loginURL, err := openable(target)
	if err != nil {
		return nil, nil, err
	}
	userDataDir, err := os.MkdirTemp("", "browserdriver-profile-")
	if err != nil {
		return nil, nil, fmt.Errorf("create browser profile: %w", err)
	}
	// Removed after the allocator has waited for Chromium to exit.
	defer os.RemoveAll(userDataDir)

	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(envOr("AUTHD_CHROMIUM", defaultBrowser)),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.UserDataDir(userDataDir),
		chromedp.WindowSize(1024, 768),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-extensions", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("password-store", "basic"),
		chromedp.Flag("use-mock-keychain", true),
		// Nothing resolves: the provider and the callback are IP literals.
		chromedp.Flag("host-resolver-rules", "MAP * ~NOTFOUND, EXCLUDE 127.0.0.1"),
	}
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(ctx, opts...)
	defer cancelAlloc() // kills Chromium and waits for it
	tab, cancelTab := chromedp.NewContext(allocCtx)
	defer cancelTab()
	if err := chromedp.Do(tab); err != nil {
		return nil, nil, fmt.Errorf("start browser: %w", err)
	}

	driveCtx, cancelDrive := context.WithTimeout(tab, driveDeadline)
	page, err := act(driveCtx, loginURL, action, rep)
	cancelDrive()

	shotCtx, cancelShot := context.WithTimeout(tab, 5*time.Second)
	defer cancelShot()
	shot, shotErr := chromedp.Run(shotCtx, chromedp.FullScreenshot(100))
	if err == nil && shotErr != nil {
		err = fmt.Errorf("screenshot: %w", shotErr)
	}
	return page, shot, err
}

// openable returns what the browser opens for target: an http(s) URL as
// it is, a file: URL or an absolute path (authc's login page) as a file: URL.
func openable(target string) (string, error) {
	if filepath.IsAbs(target) {
		return (&url.URL{Scheme: "file", Path: filepath.ToSlash(target)}).String(), nil
	}
	u, err := url.Parse(target)
	switch {
	case err != nil:
	case (u.Scheme == "http" || u.Scheme == "https") && u.Host != "":
		return target, nil
	case u.Scheme == "file" && u.Path != "":
		return target, nil
	}
	return "", fmt.Errorf("not an http(s) URL, a file: URL or an absolute path: %q", target)
}

func act(ctx context.Context, loginURL, action string, rep *launch) (*finalPage, error) {
	secrets := loginSecrets(loginURL)
	if err := chromedp.Do(ctx, chromedp.Navigate(loginURL)); err != nil {
		return nil, fmt.Errorf("open the login URL: %w", err)
	}
	if strings.HasPrefix(loginURL, "file:") {
		if _, err := waitForPage(ctx, leftPageJS); err != nil {
			return nil, fmt.Errorf("wait for the login page to redirect to the provider: %w", err)
		}
	}
	var steps []chromedp.Action[chromedp.Void]
	switch action {
	case "device", "device-deny":
		return actDevice(ctx, action == "device")
	}
	// The login is pending at the provider: the moment the URL is worth
	// stealing.
	rep.ProcsScanned, rep.CmdlineLeaks = scanCmdlines(secrets)
	switch action {
	case "login":
		steps = signIn()
	case "deny":
		steps = []chromedp.Action[chromedp.Void]{chromedp.Click(chromedp.ID("deny"))}
	}
	if err := chromedp.Do(ctx, steps...); err != nil {
		return nil, fmt.Errorf("%s on the provider's page: %w", action, err)
	}
	page, err := waitForPage(ctx, callbackJS)
	if err != nil {
		return nil, fmt.Errorf("wait for authd's callback page: %w", err)
	}
	return page, nil
}

// signIn fills and submits the provider's sign-in form.
func signIn() []chromedp.Action[chromedp.Void] {
	return []chromedp.Action[chromedp.Void]{
		chromedp.WaitVisible(chromedp.ID("password")),
		chromedp.Clear(chromedp.ID("username")),
		chromedp.SendKeys(chromedp.ID("username"), envOr("AUTHD_DRIVER_USER", "alice")),
		chromedp.SendKeys(chromedp.ID("password"), envOr("AUTHD_DRIVER_PASSWORD", "alice-password")),
		chromedp.Click(chromedp.ID("submit")),
	}
}

// devicePage tells which of the provider's device pages the tab shows.
type devicePage struct {
	Step  string `json:"step"` // code, login, consent, done or problem
	Error string `json:"error"`
	finalPage
}

// deviceJS returns the device page the tab shows, or null while it loads.
const deviceJS = `(() => {
	const text = (sel) => { const el = document.querySelector(sel); return el ? el.innerText.trim() : ""; };
	const result = document.querySelector("#result[data-result]");
	if (result) return {step: "done", url: location.href, result: result.innerText.trim(), message: text("p")};
	const error = text("#error");
	if (document.querySelector("#allow")) return {step: "consent", error};
	if (document.querySelector("#password")) return {step: "login", error};
	if (document.querySelector("#user_code")) return {step: "code", error};
	if (error) return {step: "problem", error};
	return null;
})()`

// actDevice plays the user of a device login on the page already open:
// the code (unless the URL carried it), the sign-in form, the consent page.
func actDevice(ctx context.Context, allow bool) (*finalPage, error) {
	page, err := awaitDevicePage(ctx, "code", "login")
	if err != nil {
		return nil, err
	}
	if page.Step == "code" {
		code := os.Getenv("AUTHD_DRIVER_USER_CODE")
		if code == "" {
			return nil, errors.New("the provider asks for the user code: set AUTHD_DRIVER_USER_CODE, or pass verification_uri_complete")
		}
		err := chromedp.Do(ctx,
			chromedp.Clear(chromedp.ID("user_code")),
			chromedp.SendKeys(chromedp.ID("user_code"), code),
			chromedp.Click(chromedp.ID("submit")),
		)
		if err != nil {
			return nil, fmt.Errorf("enter the user code: %w", err)
		}
		if _, err := awaitDevicePage(ctx, "login"); err != nil {
			return nil, err
		}
	}
	if err := chromedp.Do(ctx, signIn()...); err != nil {
		return nil, fmt.Errorf("sign in on the provider's page: %w", err)
	}
	if _, err := awaitDevicePage(ctx, "consent"); err != nil {
		return nil, err
	}
	button := "deny"
	if allow {
		button = "allow"
	}
	if err := chromedp.Do(ctx, chromedp.Click(chromedp.ID(button))); err != nil {
		return nil, fmt.Errorf("click %s on the consent page: %w", button, err)
	}
	page, err = awaitDevicePage(ctx, "done")
	if err != nil {
		return nil, err
	}
	return &page.finalPage, nil
}

// awaitDevicePage waits until the tab shows one of the device pages in
// steps. A page that shows an error (a wrong code or password, a problem
// page) ends the wait at once: the driver never submits a form twice.
func awaitDevicePage(ctx context.Context, steps ...string) (*devicePage, error) {
	var lastURL, lastStep string
	for {
		page, err := chromedp.Run(ctx, chromedp.Evaluate[*devicePage](deviceJS))
		if err == nil && page != nil {
			if page.Error != "" {
				return nil, fmt.Errorf("the provider's %s page says: %s", page.Step, page.Error)
			}
			if slices.Contains(steps, page.Step) {
				return page, nil
			}
			lastStep = page.Step
		}
		if loc, err := chromedp.Run(ctx, chromedp.Location()); err == nil {
			lastURL = loc
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("wait for the device %s page: %w (last page %s, %q)",
				strings.Join(steps, " or "), ctx.Err(), redactURL(lastURL), lastStep)
		case <-time.After(pollInterval):
		}
	}
}

// leftPageJS returns the page once the tab has left authc's login page
// for an http(s) page that finished loading, or null before.
const leftPageJS = `(() => {
	if (!location.protocol.startsWith("http") || document.readyState !== "complete") return null;
	return {url: location.href};
})()`

// loginRefresh finds the login URL in the meta refresh of authc's page.
var loginRefresh = regexp.MustCompile(`http-equiv="refresh" content="0;url=([^"]+)"`)

// loginSecrets returns what of a login the argv of no process should hold:
// the state of the login URL (read from authc's login page when given one)
// and the PKCE parameter's name.
func loginSecrets(loginURL string) []string {
	secrets := []string{"code_challenge"}
	raw := loginURL
	if u, err := url.Parse(loginURL); err == nil && u.Scheme == "file" {
		data, err := os.ReadFile(u.Path)
		m := loginRefresh.FindSubmatch(data)
		if err != nil || m == nil {
			return secrets
		}
		raw = html.UnescapeString(string(m[1]))
	}
	if u, err := url.Parse(raw); err == nil {
		if state := u.Query().Get("state"); state != "" {
			secrets = append(secrets, state)
		}
	}
	return secrets
}

// scanCmdlines reads the argv of every process it may read and returns how
// many it read and which hold one of secrets.
func scanCmdlines(secrets []string) (int, []string) {
	paths, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	scanned := 0
	var leaks []string
	for _, p := range paths {
		data, err := os.ReadFile(p)
		if err != nil {
			continue // gone, or not ours to read
		}
		scanned++
		for _, secret := range secrets {
			if bytes.Contains(data, []byte(secret)) {
				argv := strings.Split(strings.TrimRight(string(data), "\x00"), "\x00")
				leaks = append(leaks, fmt.Sprintf("pid %s: %s", filepath.Base(filepath.Dir(p)), strings.Join(redactArgs(argv), " ")))
				break
			}
		}
	}
	return scanned, leaks
}

// redactArgs is argv with the query values of URLs in it redacted.
func redactArgs(argv []string) []string {
	out := make([]string, len(argv))
	for i, a := range argv {
		out[i] = redactURL(a)
	}
	return out
}

// callbackJS returns the callback page's content, or null while the tab is
// anywhere else.
const callbackJS = `(() => {
	const result = document.querySelector("#result");
	if (location.hostname !== "127.0.0.1" || location.pathname !== "/callback" || !result) return null;
	const message = document.querySelector("#message");
	return {url: location.href, result: result.innerText.trim(), message: message ? message.innerText.trim() : ""};
})()`

// waitForPage polls the tab until js, which returns null while the tab is
// anywhere else, returns a page. It polls from Go rather than with
// chromedp.Poll, which does not survive the redirects on the way.
func waitForPage(ctx context.Context, js string) (*finalPage, error) {
	var lastURL string
	for {
		page, err := chromedp.Run(ctx, chromedp.Evaluate[*finalPage](js))
		if err == nil && page != nil {
			return page, nil
		}
		if loc, err := chromedp.Run(ctx, chromedp.Location()); err == nil {
			lastURL = loc
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("%w (last page %s)", ctx.Err(), redactURL(lastURL))
		case <-time.After(pollInterval):
		}
	}
}

// redactURL hides query values that may be credentials (the authorization
// code, state, a device's user code); errors stay readable.
func redactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.RawQuery == "" {
		return raw
	}
	q := u.Query()
	for k := range q {
		if k != "error" && k != "error_description" {
			q[k] = []string{"REDACTED"}
		}
	}
	u.RawQuery = q.Encode()
	return u.String()
}

// saveScreenshot writes png as dir/<action>-<n>.png with the first free n,
// safe against drivers running at the same time.
func saveScreenshot(dir, action string, png []byte) (string, error) {
	for n := 1; ; n++ {
		path := filepath.Join(dir, fmt.Sprintf("%s-%d.png", action, n))
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
		if errors.Is(err, os.ErrExist) {
			continue
		}
		if err != nil {
			return "", fmt.Errorf("save screenshot: %w", err)
		}
		_, err = f.Write(png)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return "", fmt.Errorf("save screenshot: %w", err)
		}
		return path, nil
	}
}

// appendLaunch appends rep as one line; a single O_APPEND write keeps
// concurrent drivers' lines whole.
func appendLaunch(dir string, rep launch) error {
	line, err := json.Marshal(rep)
	if err != nil {
		return fmt.Errorf("record launch: %w", err)
	}
	f, err := os.OpenFile(filepath.Join(dir, launchesFile), os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("record launch: %w", err)
	}
	_, err = f.Write(append(line, '\n'))
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("record launch: %w", err)
	}
	return nil
}

func envOr(key, def string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return def
}
