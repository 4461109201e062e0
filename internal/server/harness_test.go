package server_test

import (
	"bytes"
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
	"authd.dev/authd/internal/otheruser"
	"authd.dev/authd/internal/server"
	"authd.dev/authd/internal/socket"
)

func TestMain(m *testing.M) {
	otheruser.Main()
	os.Exit(m.Run())
}

// daemon is a broker served on a real Unix socket, as authd runs it, with
// its keyring in files. (The broker's own tests have a fuller harness, with
// a clock they move; the server's need none.)
type daemon struct {
	t      *testing.T
	idp    *idptest.Provider // nil for serve's daemons
	config string
	sock   string
	broker *broker.Broker
	logs   *syncBuffer
	// stop stops the server, closes the broker and returns what Serve
	// returned; it may be called more than once.
	stop func() error
}

// newDaemon starts a provider and a daemon with one profile "work" on it.
func newDaemon(t *testing.T) *daemon {
	t.Helper()
	idp := idptest.New(t, idptest.Options{})
	d := serve(t, fmt.Sprintf(`default_profile = "work"

[profiles.work]
issuer = %q
client_id = %q
login_timeout = "30s"
timeout = "5s"
`, idp.Issuer(), idptest.PublicClientID), server.Limits{})
	d.idp = idp
	return d
}

// serve serves a broker with the config body (to which it adds a file
// keyring) on a fresh socket with lim.
func serve(t *testing.T, body string, lim server.Limits) *daemon {
	t.Helper()
	dir := t.TempDir()
	pass := filepath.Join(dir, "passphrase")
	if err := os.WriteFile(pass, []byte("test-passphrase\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	// The [keyring] table goes last: keys after it would be its own.
	body += fmt.Sprintf("\n[keyring]\nbackend = \"file\"\nfile_dir = %q\npassphrase_file = %q\n", filepath.Join(dir, "keyring"), pass)
	d := &daemon{t: t, config: filepath.Join(dir, "config.toml"), sock: filepath.Join(dir, "run", "authd.sock"), logs: &syncBuffer{}}
	if err := os.WriteFile(d.config, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	ln, err := socket.Listen(d.sock)
	if err != nil {
		t.Fatal(err)
	}
	d.broker = broker.New(broker.Options{
		ConfigPath: d.config, Version: "test", KeyringService: "authd-test-" + strings.ReplaceAll(t.Name(), "/", "-"),
		Logger: slog.New(slog.NewTextHandler(d.logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
	})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- server.ServeLimits(ctx, d.broker, ln, lim) }()
	var served error
	var once sync.Once
	d.stop = func() error {
		once.Do(func() {
			cancel()
			served = <-done
			d.broker.Close()
		})
		return served
	}
	t.Cleanup(func() { d.stop() })
	return d
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

// login runs a login through the API, completing the provider's form over
// plain HTTP the moment the daemon hands out the URL.
func (d *daemon) login(ctx context.Context, c *client.Client) {
	d.t.Helper()
	err := c.Login(ctx, client.LoginOptions{}, func(ev client.LoginEvent) {
		if ev.OpenURL != nil {
			status, body, err := idptest.CompleteLogin(ctx, ev.OpenURL.URL, idptest.DefaultUsername, idptest.DefaultPassword)
			if err != nil || status != 200 {
				d.t.Errorf("complete login: status %d, err %v, body %s", status, err, body)
			}
		}
	})
	if err != nil {
		d.t.Fatalf("login: %v", err)
	}
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

func testContext(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// syncBuffer is a daemon's log, which goroutines write to.
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
