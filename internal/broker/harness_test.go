package broker_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
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

// daemon is a broker serving on a real Unix socket, as authd runs it: the
// broker's tests drive it through the client, as users do.
type daemon struct {
	t       *testing.T
	idp     *idptest.Provider
	config  string
	dir     string
	backend string
	store   broker.Store
	sock    string
	broker  *broker.Broker
	logs    *syncBuffer
	clock   *clock
	stop    func()
}

type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// clock is the wall clock moved forward by Advance; timers fire when their
// time comes on it, so background refreshes happen when a test says.
type clock struct {
	mu     sync.Mutex
	offset time.Duration
	timers []*fakeTimer
}

type fakeTimer struct {
	c       *clock
	at      time.Time
	f       func()
	stopped bool
}

func (t *fakeTimer) Stop() bool {
	t.c.mu.Lock()
	defer t.c.mu.Unlock()
	was := !t.stopped
	t.stopped = true
	return was
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return time.Now().Add(c.offset)
}

func (c *clock) AfterFunc(d time.Duration, f func()) broker.Timer {
	c.mu.Lock()
	defer c.mu.Unlock()
	t := &fakeTimer{c: c, at: time.Now().Add(c.offset + d), f: f}
	c.timers = append(c.timers, t)
	return t
}

// Advance moves the clock and runs the timers that came due, waiting for
// each to finish.
func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.offset += d
	now := time.Now().Add(c.offset)
	var due []*fakeTimer
	kept := c.timers[:0]
	for _, t := range c.timers {
		switch {
		case t.stopped:
		case !t.at.After(now):
			t.stopped = true
			due = append(due, t)
		default:
			kept = append(kept, t)
		}
	}
	c.timers = kept
	c.mu.Unlock()
	for _, t := range due {
		t.f()
	}
}

// Sleep moves the clock without running timers, as a suspended machine
// wakes up with its timers not yet fired.
func (c *clock) Sleep(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.offset += d
}

// keyringConfig is the [keyring] section for a backend, with its files in dir.
func keyringConfig(t *testing.T, backend, dir string) string {
	switch backend {
	case "file":
		pass := filepath.Join(dir, "passphrase")
		if err := os.WriteFile(pass, []byte("test-passphrase\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		return fmt.Sprintf("[keyring]\nbackend = \"file\"\nfile_dir = %q\npassphrase_file = %q\n", filepath.Join(dir, "keyring"), pass)
	case "keyctl":
		unlinkKeyctlOnCleanup(t)
		return "[keyring]\nbackend = \"keyctl\"\n"
	}
	t.Fatalf("unknown backend %s", backend)
	return ""
}

// newDaemon starts a provider and a daemon with one profile "work" on it.
func newDaemon(t *testing.T, backend string, opts idptest.Options, profileExtra string) *daemon {
	t.Helper()
	return newDaemonOn(t, backend, idptest.New(t, opts), profileExtra, nil)
}

// newProxiedDaemon is newDaemon with the provider's token endpoint behind a
// FaultProxy.
func newProxiedDaemon(t *testing.T, opts idptest.Options) (*daemon, *idptest.FaultProxy) {
	t.Helper()
	idp := idptest.New(t, opts)
	proxy := idptest.NewFaultProxy(t, idp.Issuer())
	return newDaemonOn(t, "file", idp, fmt.Sprintf("token_endpoint = %q\n", proxy.URL()+tokenPath), nil), proxy
}

const tokenPath = "/oauth/token"

// newDaemonOn starts a daemon for idp; store, when not nil, replaces the
// keyring the config names.
func newDaemonOn(t *testing.T, backend string, idp *idptest.Provider, profileExtra string, store broker.Store) *daemon {
	t.Helper()
	dir := t.TempDir()
	cfg := filepath.Join(dir, "config.toml")
	body := "default_profile = \"work\"\n" + keyringConfig(t, backend, dir) + fmt.Sprintf(`
[profiles.work]
issuer = %q
client_id = %q
login_timeout = "30s"
timeout = "5s"
%s`, idp.Issuer(), idptest.PublicClientID, profileExtra)
	if err := os.WriteFile(cfg, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	d := &daemon{t: t, idp: idp, config: cfg, dir: dir, backend: backend, store: store, sock: filepath.Join(dir, "run", "authd.sock"), clock: &clock{}, logs: &syncBuffer{}}
	d.start()
	t.Cleanup(func() { d.stop() })
	return d
}

// start runs the broker on the socket; stop and start again is a daemon restart.
func (d *daemon) start() {
	d.t.Helper()
	ln, err := socket.Listen(d.sock)
	if err != nil {
		d.t.Fatal(err)
	}
	d.broker = broker.New(broker.Options{
		ConfigPath: d.config,
		Logger:     slog.New(slog.NewTextHandler(d.logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		Clock:      d.clock,
		Store:      d.store,
		Version:    "test",
		// Parallel tests share the user's keyctl keyring: one service each.
		KeyringService: d.keyringService(),
	})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- server.Serve(ctx, d.broker, ln) }()
	b := d.broker
	d.stop = func() {
		cancel()
		<-done
		b.Close()
		d.stop = func() {}
	}
}

func (d *daemon) restart() {
	d.stop()
	d.start()
}

func (d *daemon) client() *client.Client {
	d.t.Helper()
	c, err := client.New(client.WithSocket(d.sock))
	if err != nil {
		d.t.Fatal(err)
	}
	d.t.Cleanup(func() { c.Close() })
	return c
}

func testContext(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// login runs a login through the API, completing the provider's form over
// plain HTTP the moment the daemon hands out the URL.
func (d *daemon) login(ctx context.Context, c *client.Client) *client.Done {
	d.t.Helper()
	var done *client.Done
	err := c.Login(ctx, client.LoginOptions{}, func(ev client.LoginEvent) {
		switch {
		case ev.OpenURL != nil:
			status, body, err := idptest.CompleteLogin(ctx, ev.OpenURL.URL, "alice", "alice-password")
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

// addProfile appends a profile to the config and reloads it.
func (d *daemon) addProfile(name, body string) {
	d.t.Helper()
	f, err := os.OpenFile(d.config, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		d.t.Fatal(err)
	}
	_, err = fmt.Fprintf(f, "\n[profiles.%s]\n%s", name, body)
	f.Close()
	if err != nil {
		d.t.Fatal(err)
	}
	if err := d.broker.Reload(); err != nil {
		d.t.Fatal(err)
	}
}

func (d *daemon) keyringService() string {
	return keyringServiceFor(d.t)
}

// keyringServiceFor names a test's own keyring service: parallel tests
// share the user's keyctl keyring.
func keyringServiceFor(t *testing.T) string {
	return "authd-test-" + strings.ReplaceAll(t.Name(), "/", "-")
}

// refreshToken reads the stored refresh token straight from the keyring.
func (d *daemon) refreshToken(ctx context.Context) string {
	d.t.Helper()
	opts := store.Options{Backend: d.backend, ServiceName: d.keyringService()}
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

func readAll(resp *http.Response) string {
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}
