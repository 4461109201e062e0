// Package e2e tests authd end to end, as a user runs it: the real authd and
// authc binaries, the test OpenID provider of internal/idptest, and a real
// headless Chromium driven by the browserdriver command as $BROWSER.
//
// # Running
//
//	go test ./internal/e2e/
//
// TestMain builds the binaries once (with -race when the tests are built
// with it, so the build cache is shared and the daemon is race-checked).
// The browser tests skip when Chromium is missing; scripts/test.sh installs
// it and runs them in a network namespace that has only loopback.
//
// # What a test gets
//
// [newEnv] starts a provider and an `authd run` with one profile "work" on
// an encrypted file keyring, all under t.TempDir(); [newEnvWith] does the
// same with provider [idptest.Options]. [env.authc] runs the client against
// it and [env.startAuthc] starts one whose stderr a test reads as it comes
// (login URLs, device codes); [env.launches] waits for every browser the
// client started to finish and returns what each one saw.
// [env.killDaemon] and [env.restartDaemon] crash and restart the daemon.
package e2e

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"image/png"
	"io"
	"log"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime/debug"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"authd.dev/authd/internal/idptest"
	"authd.dev/authd/internal/otheruser"
)

// Exit codes of authc as the README and 'authc help' promise them to
// scripts. They are spelt here, not taken from package api, on purpose: the
// numbers are a contract with users' scripts, and a change to api's table
// must fail this test rather than move the test with it.
const (
	exitUsage         = 2
	exitLoginRequired = 3
	exitDaemon        = 4
	exitProfile       = 6
	exitLoginFailed   = 7
	exitKeyring       = 8
	exitPermission    = 9
)

const commandTimeout = 60 * time.Second

// bin holds the built binaries: authd, authc, browserdriver.
var bin string

func TestMain(m *testing.M) {
	os.Exit(buildAndRun(m))
}

func buildAndRun(m *testing.M) int {
	dir, err := os.MkdirTemp("", "authd-e2e-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		return 1
	}
	defer os.RemoveAll(dir)
	bin = dir
	// The provider's protocol errors (authorization_pending every poll)
	// go to slog.Default; keep what matters to a reader of the test log.
	// The log package keeps writing straight to stderr.
	slog.SetDefault(slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})))
	log.SetOutput(os.Stderr)
	log.SetFlags(log.LstdFlags)
	args := []string{"build", "-o", dir + string(os.PathSeparator)}
	if raceEnabled() {
		args = append(args, "-race")
	}
	args = append(args, "authd.dev/authd/cmd/authd", "authd.dev/authd/cmd/authc", "authd.dev/authd/tools/browserdriver")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, goTool(), args...).CombinedOutput()
	if err != nil {
		fmt.Fprintf(os.Stderr, "e2e: go %s: %v\n%s", strings.Join(args, " "), err, out)
		return 1
	}
	return m.Run()
}

func raceEnabled() bool {
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return false
	}
	for _, s := range info.Settings {
		if s.Key == "-race" {
			return s.Value == "true"
		}
	}
	return false
}

func goTool() string {
	if p, err := exec.LookPath("go"); err == nil {
		return p
	}
	return filepath.Join(os.Getenv("GOROOT"), "bin", "go")
}

// chromium returns the browser the driver will use, or skips t.
func chromium(t *testing.T) string {
	t.Helper()
	path := os.Getenv("AUTHD_CHROMIUM")
	if path == "" {
		path = "/usr/bin/chromium"
	}
	if _, err := exec.LookPath(path); err != nil {
		t.Skipf("no Chromium at %s (set AUTHD_CHROMIUM, or run scripts/deps.sh chromium): %v", path, err)
	}
	return path
}

// env is one user's world: a provider, a daemon, the client's environment.
type env struct {
	t       *testing.T
	idp     *idptest.Provider
	dir     string
	runtime string // XDG_RUNTIME_DIR
	sock    string
	config  string
	out     string // the browser driver's reports
	keyring string // the file keyring's directory
	vars    []string

	daemon *daemon
}

// daemon is one run of authd.
type daemon struct {
	cmd    *exec.Cmd
	logs   *syncBuffer
	exited chan struct{} // closed once err is set
	err    error         // how it exited
	killed bool          // by killDaemon: no clean exit to check
}

// syncBuffer collects a process's output; changed is signalled (without
// blocking) after every write, for readers waiting on a line.
type syncBuffer struct {
	mu      sync.Mutex
	buf     bytes.Buffer
	changed chan struct{}
}

func newSyncBuffer() *syncBuffer { return &syncBuffer{changed: make(chan struct{}, 1)} }

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	n, err := b.buf.Write(p)
	select {
	case b.changed <- struct{}{}:
	default:
	}
	return n, err
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// waitFor waits, 10 s at most, until the output holds every one of what,
// and reports whether it does: a process's output reaches the buffer
// through a pipe, after whatever the process did before writing it.
func (b *syncBuffer) waitFor(what ...string) bool {
	deadline := time.After(10 * time.Second)
	for {
		out, all := b.String(), true
		for _, w := range what {
			all = all && strings.Contains(out, w)
		}
		if all {
			return true
		}
		select {
		case <-b.changed:
		case <-deadline:
			return false
		}
	}
}

// newEnv writes a config with one profile "work" on a fresh provider, and
// starts authd on it.
func newEnv(t *testing.T) *env {
	t.Helper()
	return newEnvWith(t, idptest.Options{})
}

// keyringPassphrase is the file keyring's passphrase in every env.
const keyringPassphrase = "e2e-passphrase"

// newEnvWith is newEnv with a provider started with opts.
func newEnvWith(t *testing.T, opts idptest.Options) *env {
	t.Helper()
	dir := t.TempDir()
	e := &env{
		t:       t,
		idp:     idptest.New(t, opts),
		dir:     dir,
		runtime: filepath.Join(dir, "run"),
		out:     filepath.Join(dir, "browser"),
		keyring: filepath.Join(dir, "keyring"),
	}
	configHome := filepath.Join(dir, "config")
	e.config = filepath.Join(configHome, "authd", "config.toml")
	e.sock = filepath.Join(e.runtime, "authd", "authd.sock")
	passphrase := filepath.Join(dir, "passphrase")
	for _, d := range []string{e.runtime, filepath.Dir(e.config), e.out} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(passphrase, []byte(keyringPassphrase+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	config := fmt.Sprintf(`default_profile = "work"

[keyring]
backend = "file"
file_dir = %q
passphrase_file = %q

[profiles.work]
issuer = %q
client_id = %q
login_timeout = "50s"
`, e.keyring, passphrase, e.idp.Issuer(), idptest.PublicClientID)
	if err := os.WriteFile(e.config, []byte(config), 0o600); err != nil {
		t.Fatal(err)
	}
	e.vars = []string{
		"XDG_RUNTIME_DIR=" + e.runtime,
		"XDG_CONFIG_HOME=" + configHome,
		"AUTHD_CONFIG=" + e.config,
		"AUTHD_SOCKET=" + e.sock,
		"BROWSER=" + filepath.Join(bin, "browserdriver"),
		"AUTHD_DRIVER_OUT=" + e.out,
		// A test that stops authd means it stopped: authc must not start
		// one (TestAutostart* turn autostart on).
		"AUTHD_NO_AUTOSTART=1",
	}
	e.startDaemon()
	return e
}

// environ is the process environment with e's variables and extra on top;
// a passphrase in the caller's environment would override the config's.
func (e *env) environ(extra ...string) []string {
	// Race-built binaries sleep a second before they exit unless told not
	// to (GORACE atexit_sleep_ms, default 1000): a second per command.
	gorace := strings.TrimSpace(os.Getenv("GORACE") + " atexit_sleep_ms=0")
	set := append(append([]string{"GORACE=" + gorace}, e.vars...), extra...)
	drop := map[string]bool{"AUTHD_KEYRING_PASSPHRASE": true, "AUTHD_DRIVER_ACTION": true, "AUTHD_DRIVER_USER_CODE": true}
	for _, kv := range set {
		drop[kv[:strings.IndexByte(kv, '=')]] = true
	}
	var out []string
	for _, kv := range os.Environ() {
		if i := strings.IndexByte(kv, '='); i < 0 || !drop[kv[:i]] {
			out = append(out, kv)
		}
	}
	return append(out, set...)
}

// startDaemon starts authd and returns once it answers 'authc status'.
// Every run is stopped with SIGTERM when the test ends, unless
// [env.killDaemon] killed it before.
func (e *env) startDaemon() {
	e.t.Helper()
	d := e.runDaemon()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if r := e.authcCtx(ctx, nil, "status"); r.code != 0 {
		e.t.Fatalf("authc status on a fresh authd: %s\nauthd log:\n%s", r, d.logs)
	}
}

// restartDaemon starts authd again after [env.killDaemon] and returns once
// it listens, without asking it anything: what a test asks next is the
// check.
func (e *env) restartDaemon() {
	e.t.Helper()
	if e.daemon != nil {
		select {
		case <-e.daemon.exited:
		default:
			e.t.Fatal("restartDaemon: authd is still running")
		}
	}
	e.runDaemon()
}

// runDaemon starts authd and waits until its socket accepts connections. A
// socket left by a killed daemon refuses them until the new one has
// replaced it.
func (e *env) runDaemon() *daemon {
	e.t.Helper()
	d := &daemon{logs: newSyncBuffer(), exited: make(chan struct{})}
	d.cmd = exec.Command(filepath.Join(bin, "authd"), "run", "--config", e.config, "--socket", e.sock, "--log-level", "debug")
	d.cmd.Env = e.environ()
	d.cmd.Stdout, d.cmd.Stderr = d.logs, d.logs
	if err := d.cmd.Start(); err != nil {
		e.t.Fatalf("start authd: %v", err)
	}
	e.daemon = d
	go func() { d.err = d.cmd.Wait(); close(d.exited) }()
	e.t.Cleanup(func() { e.stopDaemon(d) })

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var dialer net.Dialer
	for {
		c, err := dialer.DialContext(ctx, "unix", e.sock)
		if err == nil {
			c.Close()
			return d
		}
		select {
		case <-d.exited:
			e.t.Fatalf("authd exited (%v) before it served:\n%s", d.err, d.logs)
		case <-ctx.Done():
			e.t.Fatalf("authd did not listen on %s within 30s (last: %v)\n%s", e.sock, err, d.logs)
		case <-time.After(5 * time.Millisecond):
		}
	}
}

// killDaemon kills authd with SIGKILL, as the OOM killer or a power button
// would, and waits until it is gone.
func (e *env) killDaemon() {
	e.t.Helper()
	d := e.daemon
	d.killed = true
	_ = d.cmd.Process.Kill()
	select {
	case <-d.exited:
	case <-time.After(15 * time.Second):
		e.t.Fatalf("authd still running 15s after SIGKILL")
	}
	if strings.Contains(d.logs.String(), "WARNING: DATA RACE") {
		e.t.Errorf("authd reported a data race before it was killed:\n%s", d.logs)
	}
}

// stopDaemon sends SIGTERM and expects a clean exit with no data race.
func (e *env) stopDaemon(d *daemon) {
	t := e.t
	if d.killed {
		return
	}
	_ = d.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-d.exited:
		if d.err != nil {
			t.Errorf("authd exited with %v after SIGTERM", d.err)
		}
	case <-time.After(15 * time.Second):
		_ = d.cmd.Process.Kill()
		<-d.exited
		t.Errorf("authd did not stop within 15s of SIGTERM")
	}
	logs := d.logs.String()
	if strings.Contains(logs, "WARNING: DATA RACE") {
		t.Errorf("authd reported a data race")
	}
	if t.Failed() {
		t.Logf("authd log:\n%s", logs)
	}
}

// result is how a command ended.
type result struct {
	code           int
	stdout, stderr string
}

func (r result) String() string {
	return fmt.Sprintf("exit %d\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
}

// authc runs the client with e's environment plus extra.
func (e *env) authc(extra []string, args ...string) result {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), commandTimeout)
	defer cancel()
	return e.authcCtx(ctx, extra, args...)
}

func (e *env) authcCtx(ctx context.Context, extra []string, args ...string) result {
	e.t.Helper()
	cmd := e.command(ctx, extra, args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	return finish(e.t, cmd, cmd.Run(), &stdout, &stderr)
}

func (e *env) command(ctx context.Context, extra []string, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, filepath.Join(bin, "authc"), args...)
	cmd.Env = e.environ(extra...)
	cmd.WaitDelay = 5 * time.Second
	return cmd
}

// redactStdout is r for a failure message, with what authc printed on
// stdout (tokens) replaced by its line count.
func redactStdout(r result) result {
	if r.stdout != "" {
		r.stdout = fmt.Sprintf("<%d lines redacted>\n", len(lines(r.stdout)))
	}
	return r
}

// running is an authc started by [env.startAuthc].
type running struct {
	t      *testing.T
	cmd    *exec.Cmd
	cancel context.CancelFunc
	stdout *syncBuffer
	stderr *syncBuffer
	exited chan struct{} // closed once err is set
	err    error
}

// startAuthc starts the client without waiting for it; it is killed when
// the test ends, or after commandTimeout.
func (e *env) startAuthc(extra []string, args ...string) *running {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), commandTimeout)
	r := &running{t: e.t, cmd: e.command(ctx, extra, args...), cancel: cancel,
		stdout: newSyncBuffer(), stderr: newSyncBuffer(), exited: make(chan struct{})}
	r.cmd.Stdout, r.cmd.Stderr = r.stdout, r.stderr
	if err := r.cmd.Start(); err != nil {
		cancel()
		e.t.Fatalf("start authc %v: %v", args, err)
	}
	go func() { r.err = r.cmd.Wait(); close(r.exited) }()
	e.t.Cleanup(func() { cancel(); <-r.exited })
	return r
}

// waitStderr waits until stderr matches re and returns the submatches, or
// fails the test when authc exits or the command's deadline passes first.
func (r *running) waitStderr(re *regexp.Regexp) []string {
	r.t.Helper()
	for {
		if m := re.FindStringSubmatch(r.stderr.String()); m != nil {
			return m
		}
		select {
		case <-r.stderr.changed:
		case <-r.exited:
			if m := re.FindStringSubmatch(r.stderr.String()); m != nil {
				return m
			}
			r.t.Fatalf("authc %v exited (%v) before its stderr matched %q:\n%s", r.cmd.Args[1:], r.err, re, r.stderr)
		}
	}
}

// wait waits for authc to exit.
func (r *running) wait() result {
	r.t.Helper()
	<-r.exited
	defer r.cancel()
	return exitResult(r.t, r.cmd, r.err, r.stdout.String(), r.stderr.String())
}

func finish(t *testing.T, cmd *exec.Cmd, err error, stdout, stderr *bytes.Buffer) result {
	t.Helper()
	return exitResult(t, cmd, err, stdout.String(), stderr.String())
}

func exitResult(t *testing.T, cmd *exec.Cmd, err error, stdout, stderr string) result {
	t.Helper()
	r := result{stdout: stdout, stderr: stderr}
	var exit *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &exit) && exit.Exited():
		r.code = exit.ExitCode()
	default:
		t.Fatalf("%s: %v\n%s", strings.Join(cmd.Args, " "), err, r)
	}
	return r
}

// launch is one line of the browser driver's launches.jsonl.
type launch struct {
	Action       string   `json:"action"`
	Argv         []string `json:"argv"`
	FinalURL     string   `json:"final_url"`
	Result       string   `json:"result"`
	Message      string   `json:"message"`
	Screenshot   string   `json:"screenshot"`
	Error        string   `json:"error"`
	ProcsScanned int      `json:"procs_scanned"`
	CmdlineLeaks []string `json:"cmdline_leaks"`
}

// launches waits until no browser driver is running (authc does not wait
// for its browser) and returns every launch so far.
func (e *env) launches() []launch {
	e.t.Helper()
	deadline := time.Now().Add(commandTimeout)
	for {
		running, err := filepath.Glob(filepath.Join(e.out, "*.running"))
		if err != nil {
			e.t.Fatal(err)
		}
		if len(running) == 0 {
			break
		}
		if time.Now().After(deadline) {
			e.t.Fatalf("browser drivers still running after %v: %v", commandTimeout, running)
		}
		time.Sleep(50 * time.Millisecond)
	}
	data, err := os.ReadFile(filepath.Join(e.out, "launches.jsonl"))
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		e.t.Fatal(err)
	}
	var out []launch
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		var l launch
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			e.t.Fatalf("launches.jsonl: %v in %q", err, sc.Text())
		}
		out = append(out, l)
	}
	return out
}

// oneLaunch asserts exactly one browser launch that ended on want.
func (e *env) oneLaunch(action, want string) launch {
	e.t.Helper()
	ls := e.launches()
	if len(ls) != 1 {
		e.t.Fatalf("browser launches = %d, want 1: %+v", len(ls), ls)
	}
	l := ls[0]
	if l.Error != "" || l.Action != action || l.Result != want {
		e.t.Fatalf("browser launch = %+v, want action %s ending on %q", l, action, want)
	}
	checkPNG(e.t, l.Screenshot)
	return l
}

func checkPNG(t *testing.T, path string) {
	t.Helper()
	if path == "" {
		t.Fatal("the browser driver saved no screenshot")
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	defer f.Close()
	cfg, err := png.DecodeConfig(f)
	if err != nil || cfg.Width == 0 || cfg.Height == 0 {
		t.Fatalf("screenshot %s is not a non-empty PNG: %v %+v", path, err, cfg)
	}
}

var loginURL = regexp.MustCompile(`https?://127\.0\.0\.1:[0-9]+/authorize\?\S+`)

// authorizeURL returns the provider login URL a client printed, checking
// that it points at e's provider.
func (e *env) authorizeURL(stderr string) string {
	e.t.Helper()
	u := loginURL.FindString(stderr)
	if !strings.HasPrefix(u, e.idp.Issuer()+"/authorize?") {
		e.t.Fatalf("stderr shows no login URL of the provider %s:\n%s", e.idp.Issuer(), stderr)
	}
	return u
}

func lines(s string) []string {
	s = strings.TrimRight(s, "\n")
	if s == "" {
		return nil
	}
	return strings.Split(s, "\n")
}

// errorLines are the lines authc prints for an error ("authc: ...").
func errorLines(stderr string) []string {
	var out []string
	for _, l := range lines(stderr) {
		if strings.HasPrefix(l, "authc: ") {
			out = append(out, l)
		}
	}
	return out
}

// TestBrowserLogin logs in through a real browser, uses the token, and
// logs out.
func TestBrowserLogin(t *testing.T) {
	t.Parallel()
	chromium(t)
	e := newEnv(t)

	r := e.authc(nil, "login")
	if r.code != 0 || !strings.Contains(r.stderr, "Logged in") {
		t.Fatalf("authc login: want exit 0 and \"Logged in\"; got %s", r)
	}
	e.authorizeURL(r.stderr)
	l := e.oneLaunch("login", "Signed in")
	if !strings.Contains(l.Message, "work") {
		t.Errorf("success page message %q does not name the profile", l.Message)
	}
	e.checkURLNotInArgv(l)
	if strings.Contains(l.FinalURL, "code=") && !strings.Contains(l.FinalURL, "code=REDACTED") {
		t.Errorf("the driver recorded the authorization code: %s", l.FinalURL)
	}

	r = e.authc(nil, "token")
	out := lines(r.stdout)
	if r.code != 0 || len(out) != 1 || strings.TrimSpace(out[0]) == "" || strings.ContainsAny(out[0], " \t") {
		t.Fatalf("authc token: want exit 0 and exactly one line with the token; got %s", r)
	}
	token := out[0]

	r = e.authc(nil, "inspect")
	var decoded struct {
		Claims map[string]any `json:"claims"`
	}
	if r.code != 0 {
		t.Fatalf("authc inspect: %s", r)
	}
	if err := json.Unmarshal([]byte(r.stdout), &decoded); err != nil {
		t.Fatalf("authc inspect printed no JSON: %v\n%s", err, r)
	}
	if decoded.Claims["iss"] != e.idp.Issuer() || decoded.Claims["sub"] != idptest.DefaultUsername {
		t.Errorf("inspected claims = %v, want iss %s and sub %s", decoded.Claims, e.idp.Issuer(), idptest.DefaultUsername)
	}

	// Logged in already: no browser, no new authorization request.
	r = e.authc(nil, "login")
	if r.code != 0 {
		t.Fatalf("second authc login: %s", r)
	}
	if n := len(e.launches()); n != 1 {
		t.Errorf("second login launched a browser: %d launches, want 1", n)
	}
	if n := e.idp.Count(idptest.EndpointAuthorize); n != 1 {
		t.Errorf("provider saw %d authorization requests, want 1", n)
	}
	if r = e.authc(nil, "token"); r.code != 0 || strings.TrimSpace(r.stdout) != token {
		t.Errorf("authc token after the second login: want the same token; got %s", r)
	}

	if r = e.authc(nil, "logout"); r.code != 0 {
		t.Fatalf("authc logout: %s", r)
	}
	r = e.authc(nil, "token", "--no-login")
	if r.code != exitLoginRequired || r.stdout != "" || len(lines(r.stderr)) != 1 ||
		!strings.Contains(r.stderr, "authc login") {
		t.Fatalf("authc token --no-login after logout: want exit %d and one stderr line that says to run 'authc login'; got %s", exitLoginRequired, r)
	}
}

// checkURLNotInArgv checks that while the browser had the provider's login
// page open, no process (the browser, its opener, authc) had the login's
// state or PKCE challenge in its argv, where every local uid can read it;
// and that authc's login page, which carried them instead, is gone.
func (e *env) checkURLNotInArgv(l launch) {
	e.t.Helper()
	if l.ProcsScanned == 0 {
		e.t.Errorf("the browser driver scanned no process's argv: %+v", l)
	}
	if len(l.CmdlineLeaks) > 0 {
		e.t.Errorf("while the login was pending, the login URL's state or code_challenge was in the argv of:\n%s", strings.Join(l.CmdlineLeaks, "\n"))
	}
	if len(l.Argv) != 2 || !strings.HasPrefix(l.Argv[1], "file:///") {
		e.t.Errorf("authc started the browser with %q, want a file: URL of its login page", l.Argv)
	}
	pages, err := filepath.Glob(filepath.Join(e.runtime, "authd", "login-*.html"))
	if err != nil || len(pages) > 0 {
		e.t.Errorf("login pages left after the login: %v %v", pages, err)
	}
}

// TestBrowserLoginDenied cancels at the provider: the login fails with the
// provider's error and the browser shows the failure page.
func TestBrowserLoginDenied(t *testing.T) {
	t.Parallel()
	chromium(t)
	e := newEnv(t)

	r := e.authc([]string{"AUTHD_DRIVER_ACTION=deny"}, "login")
	errs := errorLines(r.stderr)
	if r.code != exitLoginFailed || len(errs) != 1 || !strings.Contains(errs[0], "access_denied") {
		t.Fatalf("authc login, denied: want exit %d and one error line naming access_denied; got %s", exitLoginFailed, r)
	}
	if strings.Contains(r.stderr, "Logged in") {
		t.Errorf("a denied login printed \"Logged in\":\n%s", r.stderr)
	}
	e.checkURLNotInArgv(e.oneLaunch("deny", "Sign-in failed"))

	r = e.authc(nil, "token", "--no-login")
	if r.code != exitLoginRequired {
		t.Errorf("authc token --no-login after a denied login: want exit %d; got %s", exitLoginRequired, r)
	}
}

// TestConcurrentLogin starts three clients at once on a logged-out profile:
// one browser, one code exchange, and every client sees the URL and ends
// with the same token.
func TestConcurrentLogin(t *testing.T) {
	t.Parallel()
	chromium(t)
	e := newEnv(t)

	ctx, cancel := context.WithTimeout(context.Background(), commandTimeout)
	defer cancel()
	argvs := [][]string{{"login"}, {"token", "--login"}, {"token", "--login"}}
	cmds := make([]*exec.Cmd, len(argvs))
	stdouts := make([]*bytes.Buffer, len(argvs))
	stderrs := make([]*bytes.Buffer, len(argvs))
	for i, argv := range argvs {
		cmds[i] = e.command(ctx, nil, argv...)
		stdouts[i], stderrs[i] = &bytes.Buffer{}, &bytes.Buffer{}
		cmds[i].Stdout, cmds[i].Stderr = stdouts[i], stderrs[i]
	}
	for i, cmd := range cmds {
		if err := cmd.Start(); err != nil {
			t.Fatalf("start authc %v: %v", argvs[i], err)
		}
	}
	results := make([]result, len(cmds))
	for i, cmd := range cmds {
		results[i] = finish(t, cmd, cmd.Wait(), stdouts[i], stderrs[i])
	}

	var urls []string
	joined := 0
	for i, r := range results {
		if r.code != 0 {
			t.Fatalf("authc %v: %s", argvs[i], r)
		}
		urls = append(urls, e.authorizeURL(r.stderr))
		if strings.Contains(r.stderr, "already in progress") {
			joined++
		}
	}
	if joined != len(cmds)-1 {
		t.Errorf("%d clients joined a login in progress, want %d:\n%s\n%s\n%s", joined, len(cmds)-1, results[0], results[1], results[2])
	}
	if urls[0] != urls[1] || urls[1] != urls[2] {
		t.Errorf("clients showed different login URLs: %q", urls)
	}
	tok1, tok2 := strings.TrimSpace(results[1].stdout), strings.TrimSpace(results[2].stdout)
	if tok1 == "" || tok1 != tok2 || len(lines(results[1].stdout)) != 1 {
		t.Errorf("the token clients printed different or no tokens:\n%s\n%s", results[1], results[2])
	}
	e.checkURLNotInArgv(e.oneLaunch("login", "Signed in"))
	if n := e.idp.Count(idptest.EndpointTokenCode); n != 1 {
		t.Errorf("provider saw %d code exchanges, want 1", n)
	}
}

// TestDaemonAndUsageErrors checks the documented exit codes of the
// failures that need no browser.
func TestDaemonAndUsageErrors(t *testing.T) {
	t.Parallel()
	e := newEnv(t)

	t.Run("second daemon", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), commandTimeout)
		defer cancel()
		cmd := exec.CommandContext(ctx, filepath.Join(bin, "authd"), "run", "--config", e.config, "--socket", e.sock)
		cmd.Env = e.environ()
		out, err := cmd.CombinedOutput()
		if err == nil || !strings.Contains(string(out), "already running") {
			t.Errorf("second authd run: want a non-zero exit saying \"already running\"; got %v:\n%s", err, out)
		}
		if r := e.authc(nil, "status"); r.code != 0 {
			t.Errorf("the first daemon stopped serving after a second one tried: %s", r)
		}
	})

	noDaemon := filepath.Join(e.dir, "nowhere", "authd.sock")
	tests := []struct {
		name     string
		extra    []string
		args     []string
		code     int
		stderrIn string
	}{
		{"no daemon", []string{"AUTHD_SOCKET=" + noDaemon}, []string{"token", "--no-login"}, exitDaemon, noDaemon},
		{"unknown profile", nil, []string{"token", "-p", "nope", "--no-login"}, exitProfile, "nope"},
		{"bad flag", nil, []string{"token", "--no-such-flag"}, exitUsage, "no-such-flag"},
		{"unknown command", nil, []string{"frobnicate"}, exitUsage, "frobnicate"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := e.authc(tt.extra, tt.args...)
			if r.code != tt.code || len(lines(r.stderr)) != 1 || !strings.Contains(r.stderr, tt.stderrIn) {
				t.Errorf("authc %v: want exit %d and one stderr line containing %q; got %s", tt.args, tt.code, tt.stderrIn, r)
			}
		})
	}
}

// TestOtherUserRefused opens the socket to everyone, as a wrong umask or a
// careless chmod would, and checks that another uid still gets nowhere:
// its authc sees by the peer credentials that the socket is not its own
// user's and sends nothing (exit 9, one line); the daemon, which refuses
// such a connection as well, keeps serving its owner.
func TestOtherUserRefused(t *testing.T) {
	t.Parallel()
	e := newEnv(t)

	// nobody must reach the socket and the binary: open the path to it.
	for _, d := range []string{filepath.Dir(e.dir), e.dir, e.runtime, filepath.Dir(e.sock)} {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Chmod(e.sock, 0o777); err != nil {
		t.Fatal(err)
	}
	authc := filepath.Join(e.dir, "nobody-bin", "authc")
	copyFile(t, filepath.Join(bin, "authc"), authc, 0o755)
	if err := os.Chmod(filepath.Dir(authc), 0o755); err != nil {
		t.Fatal(err)
	}

	ctx, cancel := context.WithTimeout(context.Background(), commandTimeout)
	defer cancel()
	cmd := otheruser.Command(ctx, t, authc, "status")
	cmd.Env = []string{"AUTHD_SOCKET=" + e.sock, "HOME=/tmp", "PATH=/usr/bin:/bin"}
	cmd.WaitDelay = 5 * time.Second
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	r := finish(t, cmd, cmd.Run(), &stdout, &stderr)
	want := fmt.Sprintf("the socket at %s belongs to another user; authc sent nothing", e.sock)
	if r.code != exitPermission || !strings.Contains(r.stderr, want) || len(lines(r.stderr)) != 1 {
		t.Fatalf("authc status as nobody: want exit %d and one line %q; got %s", exitPermission, want, r)
	}
	if r := e.authc(nil, "status"); r.code != 0 {
		t.Errorf("authc status as the owner: %s", r)
	}
}

func copyFile(t *testing.T, from, to string, mode os.FileMode) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(to), 0o755); err != nil {
		t.Fatal(err)
	}
	src, err := os.Open(from)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	dst, err := os.OpenFile(to, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, mode)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(dst, src); err != nil {
		dst.Close()
		t.Fatal(err)
	}
	if err := dst.Close(); err != nil {
		t.Fatal(err)
	}
}
