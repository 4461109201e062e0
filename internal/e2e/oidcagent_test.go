package e2e

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"authd.dev/authd/internal/idptest"
	"authd.dev/authd/internal/otheruser"
)

// oidcTokenPath is oidc-agent's client, as Debian's oidc-agent-cli
// installs it.
const oidcTokenPath = "/usr/bin/oidc-token"

// oidcToken returns the path of oidc-token, or skips t when it is missing;
// under CI (CI=true) a missing oidc-token fails t, so that the tests of
// the oidc-agent socket cannot silently stop running.
func oidcToken(t *testing.T) string {
	t.Helper()
	if _, err := exec.LookPath(oidcTokenPath); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("no oidc-token at %s (run scripts/deps.sh oidc-agent-cli): %v", oidcTokenPath, err)
		}
		t.Skipf("no oidc-token at %s (run scripts/deps.sh oidc-agent-cli): %v", oidcTokenPath, err)
	}
	return oidcTokenPath
}

// agentEnv is an env whose daemon also serves oidc-agent's clients.
type agentEnv struct {
	*env
	tool string // oidc-token
	sock string // the oidc-agent socket
}

// The provider's access tokens live this long in the tests of the
// oidc-agent socket.
const agentTokenLifetime = 10 * time.Minute

// newAgentEnv is newEnv with an oidc-agent socket in the config, and
// profiles of other issuers: "other" (https://idp.example.org, never
// logged in) and "twin-a" and "twin-b", which share
// https://twins.example.org. The daemon reads the socket's path when it
// starts, so it is restarted on the new config.
func newAgentEnv(t *testing.T) *agentEnv {
	t.Helper()
	tool := oidcToken(t)
	e := &agentEnv{env: newEnvWith(t, idptest.Options{AccessTokenLifetime: agentTokenLifetime}), tool: tool}
	e.sock = filepath.Join(e.runtime, "oidc-agent", "agent.sock")
	extra := fmt.Sprintf(`
[compat]
oidc_agent_socket = %q

[profiles.other]
issuer = "https://idp.example.org"
client_id = "authd-cli"

[profiles.twin-a]
issuer = "https://twins.example.org"
client_id = "a"

[profiles.twin-b]
issuer = "https://twins.example.org/"
client_id = "b"
`, e.sock)
	f, err := os.OpenFile(e.config, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	_, err = f.WriteString(extra)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		t.Fatal(err)
	}
	e.stopDaemon(e.daemon)
	e.restartDaemon()
	e.waitAgentSocket()
	return e
}

// waitAgentSocket waits until the daemon accepts connections on the
// oidc-agent socket, which it opens just after its own.
func (e *agentEnv) waitAgentSocket() {
	e.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		c, err := net.DialTimeout("unix", e.sock, time.Second)
		if err == nil {
			c.Close()
			return
		}
		if time.Now().After(deadline) {
			e.t.Fatalf("no oidc-agent socket at %s within 30s (last: %v)\nauthd log:\n%s", e.sock, err, e.daemon.logs)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// oidcToken runs oidc-token with OIDC_SOCK naming the daemon's socket.
func (e *agentEnv) oidcToken(args ...string) result {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), commandTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, e.tool, args...)
	cmd.Env = e.environ("OIDC_SOCK=" + e.sock)
	cmd.WaitDelay = 5 * time.Second
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	return finish(e.t, cmd, cmd.Run(), &stdout, &stderr)
}

// token is what 'authc token' prints: the token authd serves.
func (e *agentEnv) token() string {
	e.t.Helper()
	r := e.authc(nil, "token")
	if r.code != 0 || len(lines(r.stdout)) != 1 {
		e.t.Fatalf("authc token: %s", redactStdout(r))
	}
	return strings.TrimSpace(r.stdout)
}

// wantToken checks that oidc-token with args printed tok, alone.
func (e *agentEnv) wantToken(tok string, args ...string) {
	e.t.Helper()
	r := e.oidcToken(args...)
	if r.code != 0 || r.stdout != tok+"\n" || r.stderr != "" {
		e.t.Errorf("oidc-token %s: want exit 0 and authd's token; got %s", strings.Join(args, " "), redactStdout(r))
	}
}

// wantError checks that oidc-token with args failed (exit 1) with one
// "Error: " line containing want, and printed no token.
func (e *agentEnv) wantError(want string, args ...string) {
	e.t.Helper()
	r := e.oidcToken(args...)
	if r.code != 1 || r.stdout != "" || len(lines(r.stderr)) != 1 || !strings.HasPrefix(r.stderr, "Error: ") || !strings.Contains(r.stderr, want) {
		e.t.Errorf("oidc-token %s: want exit 1 and an error with %q; got %s", strings.Join(args, " "), want, redactStdout(r))
	}
}

// TestOIDCToken runs oidc-agent's oidc-token against authd: by profile
// name and by issuer, with min-valid, force and scope, and its failures.
func TestOIDCToken(t *testing.T) {
	t.Parallel()
	e := newAgentEnv(t)

	// The socket is the user's alone, in a directory of its own.
	for path, want := range map[string]fs.FileMode{e.sock: fs.ModeSocket | 0o600, filepath.Dir(e.sock): fs.ModeDir | 0o700} {
		fi, err := os.Lstat(path)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode() != want {
			t.Errorf("%s: mode %v, want %v", path, fi.Mode(), want)
		}
	}

	// Before a login: what to do, and no login started.
	e.wantError("not logged in: run 'authc login -p work'", "work")
	if n := e.idp.Count(idptest.EndpointAuthorize) + e.idp.Count(idptest.EndpointToken); n != 0 {
		t.Errorf("the provider saw %d requests before any login", n)
	}

	e.loginWithoutBrowser()
	tok := e.token()
	e.wantToken(tok, "work")
	e.wantToken(tok, "--name", "e2e", "-t", "60", "work")

	// -a prints the token, the issuer and the expiry.
	r := e.oidcToken("-a", "work")
	out := lines(r.stdout)
	if r.code != 0 || len(out) != 3 || out[0] != tok || out[1] != e.idp.Issuer() {
		t.Fatalf("oidc-token -a work: want the token, then issuer %s, then the expiry; got %s", e.idp.Issuer(), redactStdout(r))
	}
	exp, err := strconv.ParseInt(out[2], 10, 64)
	if left := time.Until(time.Unix(exp, 0)); err != nil || left <= agentTokenLifetime-time.Minute || left > agentTokenLifetime {
		t.Errorf("oidc-token -a work: expiry %q is not about %s from now", out[2], agentTokenLifetime)
	}

	// min-valid: more than a fresh token lives is an error; more than the
	// cached one has left refreshes it. The cached token must be 3 s old
	// for that: its expiry is whole seconds.
	e.wantError("not longer than the 1h0m0s asked for", "-t", "3600", "work")
	time.Sleep(time.Until(time.Unix(exp, 0).Add(-agentTokenLifetime + 4*time.Second)))
	refreshes := e.idp.Count(idptest.EndpointTokenRefresh)
	r = e.oidcToken("-t", strconv.Itoa(int((agentTokenLifetime-2*time.Second)/time.Second)), "work")
	if r.code != 0 || r.stdout == tok+"\n" || e.idp.Count(idptest.EndpointTokenRefresh) != refreshes+1 {
		t.Errorf("oidc-token -t (almost a fresh token's lifetime): want a refreshed token; got %s, %d refreshes", redactStdout(r), e.idp.Count(idptest.EndpointTokenRefresh)-refreshes)
	}
	tok = e.token()
	e.wantToken(tok, "work")

	// --force-new: a new token, which authd then serves to everyone.
	r = e.oidcToken("-f", "work")
	if r.code != 0 || r.stdout == tok+"\n" || len(lines(r.stdout)) != 1 {
		t.Errorf("oidc-token -f work: want a new token; got %s", redactStdout(r))
	}
	tok = e.token()
	if r.stdout != tok+"\n" {
		t.Error("authc token after oidc-token -f: not the new token")
	}

	// A down-scoped token, and a scope the profile lacks.
	r = e.oidcToken("-s", "openid", "-s", "email", "work")
	if r.code != 0 || r.stdout == tok+"\n" || len(lines(r.stdout)) != 1 {
		t.Errorf("oidc-token -s openid -s email work: want a down-scoped token; got %s", redactStdout(r))
	}
	e.wantError(`invalid request: scope "admin" is not one of profile work's scopes`, "-s", "admin", "work")

	// By issuer: oidc-token asks by issuer for https URLs only, which the
	// test provider is not; the other profiles' issuers are.
	e.wantError("not logged in: run 'authc login -p other'", "https://idp.example.org")
	e.wantError("not logged in: run 'authc login -p other'", "-t", "60", "https://idp.example.org/")
	e.wantError(`several authd profiles have the issuer "https://twins.example.org" (twin-a, twin-b): ask for one of them by name`, "https://twins.example.org")
	e.wantError(`no authd profile has the issuer "https://nowhere.example.com"`, "https://nowhere.example.com")

	// Unknown profiles and requests authd does not serve.
	e.wantError(`no authd profile named "nosuch"`, "nosuch")
	r = e.oidcToken("--id-token", "https://idp.example.org")
	if r.code != 1 || r.stdout != "" || !strings.Contains(r.stderr, `request "id_token" is not supported by authd`) {
		t.Errorf("oidc-token --id-token: want exit 1 and not supported; got %s", redactStdout(r))
	}

	// Nothing of the above needed a browser, and authd still serves its
	// own clients the token it served oidc-token.
	if n := e.idp.Count(idptest.EndpointAuthorize); n != 1 {
		t.Errorf("%d authorize requests, want the login's 1", n)
	}
	e.wantToken(e.token(), "work")
}

// TestOIDCTokenOtherUser opens the oidc-agent socket to everyone and runs
// oidc-token as another uid: the daemon closes its connection unread, and
// it gets no token.
func TestOIDCTokenOtherUser(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 2*commandTimeout)
	defer cancel()
	cmd := otheruser.Command(ctx, t, oidcToken(t), "work") // skips unless root
	e := newAgentEnv(t)
	e.loginWithoutBrowser()
	for _, d := range []string{filepath.Dir(e.dir), e.dir, e.runtime, filepath.Dir(e.sock)} {
		if err := os.Chmod(d, 0o711); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Chmod(e.sock, 0o666); err != nil {
		t.Fatal(err)
	}
	cmd.Env = []string{"OIDC_SOCK=" + e.sock, "HOME=/tmp", "PATH=/usr/bin:/bin"}
	cmd.WaitDelay = 5 * time.Second
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	// oidc-token dies of SIGPIPE when it writes to the closed connection,
	// or exits 1 when it reads that it is closed.
	err := cmd.Run()
	if exit := (*exec.ExitError)(nil); !errors.As(err, &exit) || stdout.Len() != 0 {
		t.Errorf("oidc-token as nobody: %v, %d bytes on stdout; want a failure and no token\nstderr:\n%s", err, stdout.Len(), &stderr)
	}
	if !e.daemon.logs.waitFor("closed connections from another user", "uid=65534") {
		t.Errorf("the daemon logged no refused connection of uid 65534")
	}
	e.wantToken(e.token(), "work")
}
