// Package exampledaemon runs the daemon that the Example functions of
// package client and its subpackages talk to. Only their tests import it.
//
// A test binary's TestMain calls [Run], which starts a [daemontest.Daemon]
// with profile "work" logged in, sets $AUTHD_SOCKET to its socket and runs
// the tests: the examples then call client.New() as a program does.
package exampledaemon

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"

	"authd.dev/authd/internal/daemontest"
	"authd.dev/authd/internal/idptest"
)

// Run starts the daemon, runs m and stops the daemon; it returns the exit
// code for os.Exit.
func Run(m *testing.M) int {
	t := &mainTB{}
	d := daemontest.New(t, "file", idptest.Options{}, "")
	if err := os.Setenv("AUTHD_SOCKET", d.Sock); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	d.Login(ctx, d.Client())
	cancel()
	code := m.Run()
	if t.cleanup() && code == 0 {
		code = 1
	}
	return code
}

// Browse stands in for a program's browser opener: it fills in the test
// provider's login form at url, as user alice.
func Browse(url string) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	status, body, err := idptest.CompleteLogin(ctx, url, idptest.DefaultUsername, idptest.DefaultPassword)
	if err != nil || status != 200 {
		fmt.Fprintf(os.Stderr, "exampledaemon: complete login: status %d, err %v, body %s\n", status, err, body)
	}
}

// mainTB is the testing.TB of TestMain, which has none, for a daemon that
// lives as long as the test binary. Only the methods daemontest and
// idptest call are here; any other panics on the nil TB.
type mainTB struct {
	testing.TB
	cleanups []func()
	failed   bool
}

func (*mainTB) Helper() {}

// Name names the daemon's keyring service.
func (*mainTB) Name() string { return "Examples" }

func (t *mainTB) Cleanup(f func()) { t.cleanups = append(t.cleanups, f) }

func (t *mainTB) TempDir() string {
	dir, err := os.MkdirTemp("", "authd-examples")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}

func (t *mainTB) Error(args ...any) {
	fmt.Fprintln(os.Stderr, append([]any{"exampledaemon:"}, args...)...)
	t.failed = true
}

func (t *mainTB) Errorf(format string, args ...any) { t.Error(fmt.Sprintf(format, args...)) }

func (t *mainTB) Fatal(args ...any) {
	t.Error(args...)
	t.cleanup()
	os.Exit(1)
}

func (t *mainTB) Fatalf(format string, args ...any) { t.Fatal(fmt.Sprintf(format, args...)) }

func (t *mainTB) Skip(args ...any) { t.Fatal(append([]any{"skip:"}, args...)...) }

// cleanup runs the cleanups, last first, and says whether anything failed.
func (t *mainTB) cleanup() bool {
	for i := len(t.cleanups) - 1; i >= 0; i-- {
		t.cleanups[i]()
	}
	t.cleanups = nil
	return t.failed
}
