//go:build unix

package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"authd.dev/authd/api"
	"authd.dev/authd/client"
	"authd.dev/authd/internal/idptest"
	"authd.dev/authd/internal/store"
)

// The tests of a stop (SIGTERM) run a real daemon: this test binary, run
// again as 'authd run' by TestDaemonProcess.

const daemonProcessEnv = "AUTHD_TEST_DAEMON_PROCESS"

// TestDaemonProcess is 'authd run' when a test below runs this binary as
// the daemon; otherwise it does nothing.
func TestDaemonProcess(t *testing.T) {
	if os.Getenv(daemonProcessEnv) != "1" {
		t.Skip("run as the daemon of the stop tests only")
	}
	os.Exit(run(flag.Args()))
}

// syncLog is a daemon's output, read while it is written.
type syncLog struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *syncLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *syncLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// stopEnv is a provider, a config with one profile "work" on a file
// keyring, and a daemon serving it in a process of its own.
type stopEnv struct {
	t      *testing.T
	dir    string
	sock   string
	config string
	idp    *idptest.Provider
	proxy  *idptest.FaultProxy
	cmd    *exec.Cmd
	logs   *syncLog
	exited chan struct{} // closed once err is set
	err    error
}

const stopPassphrase = "stop-test-passphrase"

// tokenPath is the provider's token endpoint, which the proxy counts.
const tokenPath = "/oauth/token"

func newStopEnv(t *testing.T) *stopEnv {
	t.Helper()
	return newDaemonEnv(t, "TestDaemonProcess", daemonProcessEnv)
}

// newDaemonEnv is newStopEnv with the daemon run by the test named test
// of this binary, when the variable env is 1.
func newDaemonEnv(t *testing.T, test, env string) *stopEnv {
	t.Helper()
	idp := idptest.New(t, idptest.Options{})
	e := &stopEnv{t: t, dir: t.TempDir(), idp: idp, proxy: idptest.NewFaultProxy(t, idp.Issuer()), logs: &syncLog{}, exited: make(chan struct{})}
	e.sock = filepath.Join(e.dir, "authd.sock")
	pass := filepath.Join(e.dir, "passphrase")
	config := filepath.Join(e.dir, "config.toml")
	e.config = config
	if err := os.WriteFile(pass, []byte(stopPassphrase+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	body := fmt.Sprintf(`default_profile = "work"

[keyring]
backend = "file"
file_dir = %q
passphrase_file = %q

[profiles.work]
issuer = %q
client_id = %q
token_endpoint = %q
timeout = "30s"
`, filepath.Join(e.dir, "keyring"), pass, idp.Issuer(), idptest.PublicClientID, e.proxy.URL()+tokenPath)
	if err := os.WriteFile(config, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	e.cmd = exec.Command(os.Args[0], "-test.run=^"+test+"$", "--",
		"run", "--config", config, "--socket", e.sock, "--log-level", "debug")
	// A race-enabled binary sleeps a second before it exits, unless told.
	e.cmd.Env = append(os.Environ(), env+"=1", "GORACE=atexit_sleep_ms=0", "AUTHD_KEYRING_PASSPHRASE=")
	e.cmd.Stdout, e.cmd.Stderr = e.logs, e.logs
	if err := e.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { e.err = e.cmd.Wait(); close(e.exited) }()
	t.Cleanup(func() {
		_ = e.cmd.Process.Kill()
		<-e.exited
		if t.Failed() {
			t.Logf("authd's log:\n%s", e.logs)
		}
	})
	deadline := time.Now().Add(30 * time.Second)
	for {
		c := e.client()
		_, err := c.Status(context.Background())
		c.Close()
		if err == nil {
			return e
		}
		select {
		case <-e.exited:
			t.Fatalf("authd exited before it served (%v):\n%s", e.err, e.logs)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("authd did not answer within 30s: %v\n%s", err, e.logs)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (e *stopEnv) client() *client.Client {
	c, err := client.New(client.WithSocket(e.sock))
	if err != nil {
		e.t.Fatal(err)
	}
	return c
}

// login logs profile work in, completing the provider's form over HTTP.
func (e *stopEnv) login(ctx context.Context) {
	e.t.Helper()
	c := e.client()
	defer c.Close()
	err := c.Login(ctx, client.LoginOptions{}, func(ev client.LoginEvent) {
		if ev.OpenURL != nil {
			if status, body, err := idptest.CompleteLogin(ctx, ev.OpenURL.URL, idptest.DefaultUsername, idptest.DefaultPassword); err != nil || status != 200 {
				e.t.Errorf("complete login: status %d, %v, %s", status, err, body)
			}
		}
	})
	if err != nil {
		e.t.Fatalf("login: %v", err)
	}
}

// tokenResult is how a token request ended.
type tokenResult struct {
	tok *client.Token
	err error
}

// refreshInFlight starts a token request that refreshes, and returns once
// the refresh has reached the provider; the request's result comes on the
// channel.
func (e *stopEnv) refreshInFlight(ctx context.Context) <-chan tokenResult {
	e.t.Helper()
	calls := e.proxy.Count(tokenPath)
	done := make(chan tokenResult, 1)
	go func() {
		c := e.client()
		defer c.Close()
		tok, err := c.Token(ctx, client.TokenOptions{ForceRefresh: true})
		done <- tokenResult{tok, err}
	}()
	for e.proxy.Count(tokenPath) == calls {
		time.Sleep(time.Millisecond)
	}
	return done
}

func (e *stopEnv) signal(sig os.Signal) {
	e.t.Helper()
	if err := e.cmd.Process.Signal(sig); err != nil {
		e.t.Fatal(err)
	}
}

// waitExit waits for the daemon to exit, failing the test after within.
func (e *stopEnv) waitExit(within time.Duration) {
	e.t.Helper()
	select {
	case <-e.exited:
	case <-time.After(within):
		e.t.Fatalf("authd still running %s after the signal", within)
	}
}

func testContext(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// SIGTERM with a login in progress: its client hears that authd is
// shutting down, authd stops accepting and exits 0, well within its bound.
func TestSIGTERMWithLoginInProgress(t *testing.T) {
	t.Parallel()
	e := newStopEnv(t)
	ctx := testContext(t)
	prompted := make(chan struct{})
	loginErr := make(chan error, 1)
	go func() {
		c := e.client()
		defer c.Close()
		loginErr <- c.Login(ctx, client.LoginOptions{}, func(ev client.LoginEvent) {
			if ev.OpenURL != nil {
				close(prompted) // nobody completes it
			}
		})
	}()
	<-prompted
	e.signal(syscall.SIGTERM)
	e.waitExit(stopTimeout)
	if e.err != nil {
		t.Errorf("authd exited with %v after SIGTERM, want 0", e.err)
	}
	err := <-loginErr
	var ce *client.Error
	if !errors.As(err, &ce) || ce.Reason != api.ShuttingDown || !strings.Contains(err.Error(), "authd is shutting down") {
		t.Errorf("the login in progress ended with %v; want SHUTTING_DOWN saying authd is shutting down", err)
	}
	for _, want := range []string{`msg=stopping signal=terminated`, `why="the login was cancelled: authd is shutting down"`, `msg=stopped`} {
		if !strings.Contains(e.logs.String(), want) {
			t.Errorf("authd's log does not say %s", want)
		}
	}
	c := e.client()
	defer c.Close()
	if _, err := c.Status(ctx); !errors.Is(err, client.ErrDaemonUnreachable) {
		t.Errorf("a call after the stop: %v; want the daemon unreachable", err)
	}
}

// SIGTERM with a refresh in flight: the call is answered, and the refresh
// token the provider rotated is in the keyring when authd has exited.
func TestSIGTERMAnswersCallInFlight(t *testing.T) {
	t.Parallel()
	e := newStopEnv(t)
	ctx := testContext(t)
	e.login(ctx)
	e.proxy.Set(idptest.Fault{Delay: time.Second})
	done := e.refreshInFlight(ctx)
	e.signal(syscall.SIGTERM)
	r := <-done
	if r.err != nil {
		t.Fatalf("the token call in flight at SIGTERM: %v; want its token", r.err)
	}
	e.waitExit(stopTimeout)
	if e.err != nil {
		t.Errorf("authd exited with %v after SIGTERM, want 0", e.err)
	}
	k, err := store.Open(store.Options{Backend: "file", FileDir: filepath.Join(e.dir, "keyring"), Passphrase: stopPassphrase})
	if err != nil {
		t.Fatal(err)
	}
	rec, err := k.Get(ctx, "profile:work")
	if err != nil {
		t.Fatal(err)
	}
	if rec.AccessToken != r.tok.AccessToken {
		t.Errorf("the keyring does not hold the token the refresh answered")
	}
	if !strings.Contains(e.logs.String(), "msg=stopped") || strings.Contains(e.logs.String(), "work unfinished") {
		t.Errorf("authd did not stop cleanly")
	}
}

// A provider that hangs does not keep authd from exiting within its
// bound; a second SIGTERM exits at once.
func TestSIGTERMBound(t *testing.T) {
	t.Parallel()
	for _, second := range []bool{false, true} {
		t.Run(fmt.Sprintf("second=%v", second), func(t *testing.T) {
			t.Parallel()
			e := newStopEnv(t)
			ctx := testContext(t)
			e.login(ctx)
			e.proxy.Set(idptest.Fault{Hang: true})
			_ = e.refreshInFlight(ctx)
			e.signal(syscall.SIGTERM)
			if !second {
				start := time.Now()
				e.waitExit(stopTimeout + time.Second)
				if waited := time.Since(start); waited < time.Second {
					t.Errorf("authd exited %s after SIGTERM with a call in flight: it did not wait for it", waited)
				}
				if !strings.Contains(e.logs.String(), "work unfinished") {
					t.Errorf("authd's log does not say what it cut off")
				}
				return
			}
			time.Sleep(200 * time.Millisecond) // into the wait for the call in flight
			e.signal(syscall.SIGTERM)
			e.waitExit(time.Second)
			var ee *exec.ExitError
			if !errors.As(e.err, &ee) || ee.ExitCode() != exitError || !strings.Contains(e.logs.String(), "a second signal") {
				t.Errorf("authd exited with %v after a second SIGTERM; want exit %d saying why", e.err, exitError)
			}
		})
	}
}
