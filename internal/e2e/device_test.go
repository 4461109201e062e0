package e2e

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"authd.dev/authd/internal/idptest"
)

// What `authc login --device` prints on stderr (cmd/authc/login.go), each
// up to its newline so that a line still being written does not match.
var (
	deviceCodeLine     = regexp.MustCompile(`To log in, visit (\S+) and enter the code (\S+)\n`)
	deviceCompleteLine = regexp.MustCompile(`(?m)^or open (\S+)\n`)
)

// newDeviceEnv is an env whose provider has the device flow poll every
// second, the shortest interval it sends.
func newDeviceEnv(t *testing.T) *env {
	t.Helper()
	return newEnvWith(t, idptest.Options{DevicePollInterval: time.Second})
}

// driveDevice runs the browser driver as the person who approves a device
// login on another machine: action device or device-deny, on url, typing
// userCode when the page asks for it ("" when url carries the code).
func (e *env) driveDevice(action, url, userCode string) {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), commandTimeout+10*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, filepath.Join(bin, "browserdriver"), url)
	extra := []string{"AUTHD_DRIVER_ACTION=" + action}
	if userCode != "" {
		extra = append(extra, "AUTHD_DRIVER_USER_CODE="+userCode)
	}
	cmd.Env = e.environ(extra...)
	cmd.WaitDelay = 5 * time.Second
	if out, err := cmd.CombinedOutput(); err != nil {
		e.t.Fatalf("browserdriver %s: %v\n%s", action, err, out)
	}
}

// TestDeviceLogin (issue 5) logs in with the device flow: authc shows the
// verification URI and the code, a real browser enters the code, signs in
// and allows the device, and authc's login ends with a working session.
func TestDeviceLogin(t *testing.T) {
	t.Parallel()
	chromium(t)
	e := newDeviceEnv(t)

	login := e.startAuthc(nil, "login", "--device")
	m := login.waitStderr(deviceCodeLine)
	verificationURI, userCode := m[1], m[2]
	if !strings.HasPrefix(verificationURI, e.idp.Issuer()+"/") {
		t.Fatalf("verification URI %q is not on the provider %s", verificationURI, e.idp.Issuer())
	}
	// The bare URI, code typed in by hand: the path every device flow has.
	e.driveDevice("device", verificationURI, userCode)

	r := login.wait()
	if r.code != 0 || !strings.Contains(r.stderr, "Logged in") {
		t.Fatalf("authc login --device: want exit 0 and \"Logged in\"; got %s", r)
	}
	l := e.oneLaunch("device", "Device allowed.")
	if strings.Contains(l.FinalURL, userCode) {
		t.Errorf("the driver recorded the user code: %s", l.FinalURL)
	}
	if n := e.idp.Count(idptest.EndpointAuthorize); n != 0 {
		t.Errorf("a device login sent %d authorization requests, want 0", n)
	}
	if n := e.idp.Count(idptest.EndpointTokenDeviceCode); n == 0 {
		t.Errorf("the provider saw no device code token request")
	}

	r = e.authc(nil, "token", "--no-login")
	if out := lines(r.stdout); r.code != 0 || len(out) != 1 || strings.TrimSpace(out[0]) == "" {
		t.Fatalf("authc token after the device login: want exit 0 and one line with the token; got %s", redactStdout(r))
	}

	// Logged in already: authc says so and how to log in again, and
	// starts no device flow.
	r = e.authc(nil, "login", "--device")
	if r.code != 0 || !strings.Contains(r.stderr, "Already logged in as "+idptest.DefaultUsername) ||
		!strings.Contains(r.stderr, "run 'authc login --device --force' to log in again") || deviceCodeLine.MatchString(r.stderr) {
		t.Fatalf("authc login --device when logged in: want exit 0 and \"Already logged in as %s ... run 'authc login --device --force' to log in again\"; got %s",
			idptest.DefaultUsername, r)
	}
	if n := e.idp.Count(idptest.EndpointDeviceAuthorization); n != 1 {
		t.Errorf("the provider saw %d device authorizations, want 1", n)
	}
}

// profileState is the work profile's state as 'authc status --json' shows it.
func (e *env) profileState() string {
	e.t.Helper()
	r := e.authc(nil, "status", "--json")
	var st struct {
		Profiles []struct {
			Name  string `json:"name"`
			State string `json:"state"`
		} `json:"profiles"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &st); r.code != 0 || err != nil || len(st.Profiles) != 1 {
		e.t.Fatalf("authc status --json: %v; got %s", err, r)
	}
	return st.Profiles[0].State
}

// TestDeviceLoginCancelled stops a device login with Ctrl-C, replaces it
// with 'authc login --force', and logs out while that one is pending: each
// login ends with one line saying why, nothing is left logging in, and the
// first code, approved after all that, logs nobody in.
func TestDeviceLoginCancelled(t *testing.T) {
	t.Parallel()
	chromium(t)
	e := newDeviceEnv(t)

	first := e.startAuthc(nil, "login", "--device")
	m := first.waitStderr(deviceCodeLine)
	verificationURI, firstCode := m[1], m[2]
	if err := first.cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	r := first.wait()
	if errs := errorLines(r.stderr); r.code != 130 || len(errs) != 1 || errs[0] != "authc: login cancelled" {
		t.Fatalf("authc login --device, Ctrl-C: want exit 130 and the one line \"authc: login cancelled\"; got %s", r)
	}
	// authd keeps the login a while for a client that comes back.
	if st := e.profileState(); st != "logging_in" {
		t.Errorf("state right after Ctrl-C: %s, want logging_in", st)
	}

	second := e.startAuthc(nil, "login", "--device", "--force")
	secondCode := second.waitStderr(deviceCodeLine)[2]
	if secondCode == firstCode || strings.Contains(second.stderr.String(), "already in progress") {
		t.Fatalf("authc login --device --force joined the login in progress:\n%s", second.stderr)
	}

	if r := e.authc(nil, "logout"); r.code != 0 {
		t.Fatalf("authc logout: %s", r)
	}
	r = second.wait()
	if errs := errorLines(r.stderr); r.code != exitLoginFailed || len(errs) != 1 || !strings.Contains(errs[0], "the login was cancelled by a logout") {
		t.Fatalf("authc login --device --force, then a logout: want exit %d and one error line saying the logout cancelled it; got %s", exitLoginFailed, r)
	}
	if st := e.profileState(); st != "logged_out" {
		t.Errorf("state after the logout: %s, want logged_out", st)
	}

	e.driveDevice("device", verificationURI, firstCode)
	e.oneLaunch("device", "Device allowed.")
	// Two poll intervals: a login still polling would have its tokens.
	time.Sleep(2500 * time.Millisecond)
	if r := e.authc(nil, "token", "--no-login"); r.code != exitLoginRequired {
		t.Errorf("authc token --no-login after approving the cancelled login's code: want exit %d; got %s", exitLoginRequired, redactStdout(r))
	}
	if st := e.profileState(); st != "logged_out" {
		t.Errorf("state after approving the cancelled login's code: %s, want logged_out", st)
	}
}

// TestDeviceLoginDenied denies the device on the consent page: authc exits
// with the login-failed code and one line saying access was denied.
func TestDeviceLoginDenied(t *testing.T) {
	t.Parallel()
	chromium(t)
	e := newDeviceEnv(t)

	login := e.startAuthc(nil, "login", "--device")
	m := login.waitStderr(deviceCodeLine)
	verificationURI, userCode := m[1], m[2]
	// verification_uri_complete carries the code: the browser skips the
	// code page.
	complete := login.waitStderr(deviceCompleteLine)[1]
	if !strings.HasPrefix(complete, verificationURI) || !strings.Contains(complete, userCode) {
		t.Fatalf("verification_uri_complete %q is not %s with the code", complete, verificationURI)
	}
	e.driveDevice("device-deny", complete, "")

	r := login.wait()
	errs := errorLines(r.stderr)
	if r.code != exitLoginFailed || len(errs) != 1 || !strings.Contains(strings.ToLower(errs[0]), "denied") {
		t.Fatalf("authc login --device, denied: want exit %d and one error line saying access was denied; got %s", exitLoginFailed, r)
	}
	if strings.Contains(r.stderr, "Logged in") {
		t.Errorf("a denied device login printed \"Logged in\":\n%s", r.stderr)
	}
	e.oneLaunch("device-deny", "Device denied.")

	r = e.authc(nil, "token", "--no-login")
	if r.code != exitLoginRequired {
		t.Errorf("authc token --no-login after a denied device login: want exit %d; got %s", exitLoginRequired, redactStdout(r))
	}
}
