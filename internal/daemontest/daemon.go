package daemontest

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"authd.dev/authd/client"
	"authd.dev/authd/internal/broker"
	"authd.dev/authd/internal/idptest"
	"authd.dev/authd/internal/server"
	"authd.dev/authd/internal/socket"
	"authd.dev/authd/internal/store"
)

// Daemon is a broker served on a real Unix socket, as authd runs it.
type Daemon struct {
	IdP    *idptest.Provider // nil for [NewLimited]'s daemons
	Config string            // the config file's path
	Sock   string
	Broker *broker.Broker // replaced by [Daemon.Restart]
	Logs   *Log
	Clock  *Clock

	t       testing.TB
	dir     string
	backend string
	store   broker.Store
	limits  server.Limits
	stop    func() error
}

// TokenPath is the provider's token endpoint, as [idptest.FaultProxy]
// counts its requests.
const TokenPath = "/oauth/token"

// New starts a provider and a daemon with one profile "work" on it, its
// keyring backend "file" or "keyctl" (which skips the test off Linux).
// profileExtra is added to the profile's keys.
func New(t testing.TB, backend string, opts idptest.Options, profileExtra string) *Daemon {
	t.Helper()
	return NewOn(t, backend, idptest.New(t, opts), profileExtra, nil)
}

// NewProxied is [New] with a file keyring and the provider's token
// endpoint behind a FaultProxy.
func NewProxied(t testing.TB, opts idptest.Options) (*Daemon, *idptest.FaultProxy) {
	t.Helper()
	idp := idptest.New(t, opts)
	proxy := idptest.NewFaultProxy(t, idp.Issuer())
	return NewOn(t, "file", idp, fmt.Sprintf("token_endpoint = %q\n", proxy.URL()+TokenPath), nil), proxy
}

// NewOn starts a daemon for idp, as [New] does; st, when not nil, replaces
// the keyring the config names.
func NewOn(t testing.TB, backend string, idp *idptest.Provider, profileExtra string, st broker.Store) *Daemon {
	t.Helper()
	d := newDaemon(t, backend, st, server.Limits{})
	d.IdP = idp
	d.writeConfig("default_profile = \"work\"\n" + d.keyringConfig() + fmt.Sprintf(`
[profiles.work]
issuer = %q
client_id = %q
login_timeout = "30s"
timeout = "5s"
%s`, idp.Issuer(), idptest.PublicClientID, profileExtra))
	d.start()
	t.Cleanup(func() { d.Stop() })
	return d
}

// NewLimited starts a daemon with no profiles and a file keyring, served
// with lim.
func NewLimited(t testing.TB, lim server.Limits) *Daemon {
	t.Helper()
	d := newDaemon(t, "file", nil, lim)
	d.writeConfig(d.keyringConfig())
	d.start()
	t.Cleanup(func() { d.Stop() })
	return d
}

func newDaemon(t testing.TB, backend string, st broker.Store, lim server.Limits) *Daemon {
	dir := t.TempDir()
	return &Daemon{
		Config: filepath.Join(dir, "config.toml"), Sock: filepath.Join(dir, "run", "authd.sock"),
		Logs: &Log{}, Clock: &Clock{},
		t: t, dir: dir, backend: backend, store: st, limits: lim,
	}
}

func (d *Daemon) writeConfig(body string) {
	d.t.Helper()
	if err := os.WriteFile(d.Config, []byte(body), 0o600); err != nil {
		d.t.Fatal(err)
	}
}

// keyringConfig is the [keyring] section for the daemon's backend, with its
// files in its directory.
func (d *Daemon) keyringConfig() string {
	d.t.Helper()
	switch d.backend {
	case "file":
		pass := filepath.Join(d.dir, "passphrase")
		if err := os.WriteFile(pass, []byte("test-passphrase\n"), 0o600); err != nil {
			d.t.Fatal(err)
		}
		return fmt.Sprintf("[keyring]\nbackend = \"file\"\nfile_dir = %q\npassphrase_file = %q\n", filepath.Join(d.dir, "keyring"), pass)
	case "keyctl":
		unlinkKeyctlOnCleanup(d.t)
		return "[keyring]\nbackend = \"keyctl\"\n"
	}
	d.t.Fatalf("unknown backend %s", d.backend)
	return ""
}

// start runs a broker on the socket; stop and start again is a daemon
// restart.
func (d *Daemon) start() {
	d.t.Helper()
	ln, err := socket.Listen(d.Sock)
	if err != nil {
		d.t.Fatal(err)
	}
	b := broker.New(broker.Options{
		ConfigPath: d.Config,
		Logger:     slog.New(slog.NewTextHandler(d.Logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		Clock:      d.Clock,
		Store:      d.store,
		Version:    "test",
		// Parallel tests share the user's keyctl keyring: one service each.
		KeyringService: keyringService(d.t),
	})
	d.Broker = b
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- server.ServeLimits(ctx, b, ln, d.limits) }()
	var once sync.Once
	var served error
	d.stop = func() error {
		once.Do(func() {
			cancel()
			served = <-done
			b.Close()
		})
		return served
	}
}

// Stop stops the server, closes the broker and returns what the server's
// Serve returned; it may be called more than once.
func (d *Daemon) Stop() error {
	return d.stop()
}

// Restart stops the daemon and starts it again on the same config,
// keyring and socket.
func (d *Daemon) Restart() {
	d.t.Helper()
	d.Stop()
	d.start()
}

// Client is a client of the daemon, closed when the test ends.
func (d *Daemon) Client() *client.Client {
	d.t.Helper()
	c, err := client.New(client.WithSocket(d.Sock))
	if err != nil {
		d.t.Fatal(err)
	}
	d.t.Cleanup(func() { c.Close() })
	return c
}

// Login runs a login through the API, completing the provider's form over
// plain HTTP the moment the daemon hands out the URL.
func (d *Daemon) Login(ctx context.Context, c *client.Client) *client.Done {
	d.t.Helper()
	var done *client.Done
	err := c.Login(ctx, client.LoginOptions{}, func(ev client.LoginEvent) {
		switch {
		case ev.OpenURL != nil:
			status, body, err := idptest.CompleteLogin(ctx, ev.OpenURL.URL, idptest.DefaultUsername, idptest.DefaultPassword)
			if err != nil || status != 200 {
				d.t.Errorf("complete login: status %d, err %v, body %s", status, err, body)
			}
		case ev.Done != nil:
			done = ev.Done
		}
	})
	if err != nil {
		d.t.Fatalf("login: %v", err)
	}
	if done == nil {
		d.t.Fatal("login ended without a Done event")
	}
	return done
}

// AddProfile appends a profile to the config and reloads it.
func (d *Daemon) AddProfile(name, body string) {
	d.t.Helper()
	f, err := os.OpenFile(d.Config, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		d.t.Fatal(err)
	}
	_, err = fmt.Fprintf(f, "\n[profiles.%s]\n%s", name, body)
	f.Close()
	if err != nil {
		d.t.Fatal(err)
	}
	if err := d.Broker.Reload(); err != nil {
		d.t.Fatal(err)
	}
}

// RefreshToken reads profile "work"'s refresh token straight from the
// keyring the config names.
func (d *Daemon) RefreshToken(ctx context.Context) string {
	d.t.Helper()
	opts := store.Options{Backend: d.backend, ServiceName: keyringService(d.t)}
	if d.backend == "file" {
		opts.FileDir, opts.Passphrase = filepath.Join(d.dir, "keyring"), "test-passphrase"
	}
	k, err := store.Open(opts)
	if err != nil {
		d.t.Fatal(err)
	}
	rec, err := k.Get(ctx, "profile:work")
	if err != nil {
		d.t.Fatal(err)
	}
	return rec.RefreshToken
}

// WaitLog waits until the daemon's log has said what n times, failing the
// test after 10 s.
func (d *Daemon) WaitLog(what string, n int) {
	d.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for strings.Count(d.Logs.String(), what) < n {
		if time.Now().After(deadline) {
			d.t.Fatalf("the daemon did not log %q %d times within 10s:\n%s", what, n, d.Logs)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// keyringService names a test's own keyring service: parallel tests share
// the user's keyctl keyring.
func keyringService(t testing.TB) string {
	return "authd-test-" + strings.ReplaceAll(t.Name(), "/", "-")
}

// Context is a test's context: it ends after 60 s, or with the test.
func Context(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}
