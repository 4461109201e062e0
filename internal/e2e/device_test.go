package e2e

import (
	"context"
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
