package server_test

import (
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/http2"

	"authd.dev/authd/client"
	"authd.dev/authd/internal/daemontest"
	"authd.dev/authd/internal/idptest"
	"authd.dev/authd/internal/otheruser"
	"authd.dev/authd/internal/server"
)

// Every string and list of a request is bounded before it reaches a
// session, a name too long is not echoed, and an oversized audience or
// scope list never reaches the provider.
func TestRequestFieldLimits(t *testing.T) {
	t.Parallel()
	d := daemontest.New(t, "file", idptest.Options{}, "")
	ctx := daemontest.Context(t)
	c := d.Client()
	d.Login(ctx, c)
	tokenRequests := len(d.IdP.TokenRequests())

	long := func(n int) string { return strings.Repeat("x", n) }
	many := func(n int, scope string) []string {
		s := make([]string, n)
		for i := range s {
			s[i] = scope
		}
		return s
	}
	distinct := func(n int) []string {
		s := make([]string, n)
		for i := range s {
			s[i] = fmt.Sprintf("scope%d", i)
		}
		return s
	}
	token := func(o client.TokenOptions) func() error {
		return func() error { _, err := c.Token(ctx, o); return err }
	}
	for _, tc := range []struct {
		name string
		call func() error
		want string // in the INVALID_REQUEST message; "" for any refusal
	}{
		{"profile", token(client.TokenOptions{Profile: long(129)}), "profile name too long (129 bytes)"},
		{"1 MB profile", token(client.TokenOptions{Profile: long(1 << 20)}), ""},
		{"audience", token(client.TokenOptions{Audience: long(1025)}), "audience too long"},
		{"1 MB audience", token(client.TokenOptions{Audience: long(1 << 20)}), ""},
		{"scope", token(client.TokenOptions{Scopes: []string{long(257)}}), "scope too long"},
		{"65 scopes", token(client.TokenOptions{Scopes: distinct(65)}), "too many scopes"},
		{"65 duplicate scopes", token(client.TokenOptions{Scopes: many(65, "openid")}), "too many scopes"},
		{"100k duplicate scopes", token(client.TokenOptions{Scopes: many(100_000, "openid")}), ""},
		{"rejected token", token(client.TokenOptions{Rejected: long(64<<10 + 1)}), "rejected token too long"},
		{"login profile", func() error { return c.Login(ctx, client.LoginOptions{Profile: long(200)}, func(client.LoginEvent) {}) }, "profile name too long (200 bytes)"},
		{"logout profile", func() error { _, err := c.Logout(ctx, long(200), false); return err }, "profile name too long (200 bytes)"},
		{"credential profile", func() error { _, err := c.SetToken(ctx, long(200), "t"); return err }, "profile name too long (200 bytes)"},
		{"access token", func() error { _, err := c.SetToken(ctx, "work", long(64<<10+1)); return err }, "credential too long"},
		{"client secret", func() error { _, err := c.SetClientSecret(ctx, "work", long(64<<10+1)); return err }, "credential too long"},
	} {
		err := tc.call()
		if err == nil {
			t.Errorf("%s: accepted", tc.name)
			continue
		}
		if len(err.Error()) > 512 {
			t.Errorf("%s: the error echoes the request (%d bytes): %.100s...", tc.name, len(err.Error()), err)
		}
		if tc.want == "" {
			continue
		}
		var e *client.Error
		if !errors.As(err, &e) || e.Reason != "INVALID_REQUEST" || !strings.Contains(e.Message, tc.want) {
			t.Errorf("%s: %v, want INVALID_REQUEST saying %q", tc.name, err, tc.want)
		}
	}
	if n := len(d.IdP.TokenRequests()); n != tokenRequests {
		t.Errorf("the provider got %d token requests for refused ones", n-tokenRequests)
	}

	// At the bounds, a request still works, its scopes sent once.
	if _, err := c.Token(ctx, client.TokenOptions{Scopes: many(64, "openid")}); err != nil {
		t.Fatalf("64 duplicate scopes: %v", err)
	}
	reqs := d.IdP.TokenRequests()
	if got := reqs[len(reqs)-1].Get("scope"); got != "openid" {
		t.Errorf("the provider got scope %q, want %q", got, "openid")
	}
}

// serveLimited serves a broker with no profiles on a fresh socket with
// lim, and returns the socket and the broker's log.
func serveLimited(t *testing.T, lim server.Limits) (string, *daemontest.Log) {
	t.Helper()
	d := daemontest.NewLimited(t, lim)
	return d.Sock, d.Logs
}

// A connection that never begins HTTP/2 does not hold up the daemon's stop
// until its handshake times out.
func TestStopWithSilentConnection(t *testing.T) {
	t.Parallel()
	d := daemontest.NewLimited(t, server.Limits{IdleTimeout: time.Hour})
	sock, stop := d.Sock, d.Stop
	silent, err := net.Dial("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	defer silent.Close()
	// Once the server has written its SETTINGS, the connection is in
	// its handshake.
	silent.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, err := http2.NewFramer(nil, silent).ReadFrame(); err != nil {
		t.Fatal(err)
	}
	stopped := make(chan error, 1)
	go func() { stopped <- stop() }()
	select {
	case <-stopped:
	case <-time.After(30 * time.Second):
		t.Fatal("Serve did not return 30s after its context ended")
	}
}

// A client that keeps an idle connection does not hold the stop until the
// drain timeout: the client package pools its connections and reads only
// during a call, so it never acknowledges the GOAWAY's ping that a
// graceful stop waits for. Once no call is in flight, such connections
// are closed; the next call of the client finds the daemon gone.
func TestStopWithIdleClient(t *testing.T) {
	t.Parallel()
	d := daemontest.NewLimited(t, server.Limits{DrainTimeout: 10 * time.Minute})
	ctx := daemontest.Context(t)
	c := d.Client()
	if _, err := c.Status(ctx); err != nil {
		t.Fatal(err)
	}
	stopped := make(chan error, 1)
	go func() { stopped <- d.Stop() }()
	select {
	case <-stopped:
	case <-time.After(30 * time.Second):
		t.Fatal("Serve did not return 30s after its context ended: it waits for the idle client's connection")
	}
	d.WaitLog(`msg="no call in flight; closed the idle connections left" conns=1`, 1)
	if _, err := c.Status(ctx); !errors.Is(err, client.ErrDaemonUnreachable) {
		t.Errorf("a call after the stop: %v, want the daemon unreachable", err)
	}
}

// readUntilClosed reads c until the server closes it, acknowledging
// SETTINGS and PINGs as an HTTP/2 client does when it has spoken first. It
// returns the bytes read, or fails the test when c is still open at the
// deadline.
func readUntilClosed(t *testing.T, c net.Conn, deadline time.Duration) int {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(deadline))
	r := &countingReader{r: c}
	fr := http2.NewFramer(c, r)
	for {
		f, err := fr.ReadFrame()
		if errors.Is(err, os.ErrDeadlineExceeded) {
			t.Fatalf("connection still open after %v (%d bytes read)", deadline, r.n)
		}
		if err != nil {
			return r.n
		}
		switch f := f.(type) {
		case *http2.SettingsFrame:
			if !f.IsAck() {
				fr.WriteSettingsAck()
			}
		case *http2.PingFrame:
			if !f.IsAck() {
				fr.WritePing(true, f.Data)
			}
		}
	}
}

type countingReader struct {
	r io.Reader
	n int
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += n
	return n, err
}

// Connections with no call in progress are closed after the idle time:
// one that spoke HTTP/2 and one that never did.
func TestIdleConnectionsClosed(t *testing.T) {
	t.Parallel()
	sock, _ := serveLimited(t, server.Limits{IdleTimeout: 200 * time.Millisecond, HandshakeTimeout: 200 * time.Millisecond})
	silent, err := net.Dial("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	defer silent.Close()
	spoke, err := net.Dial("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	defer spoke.Close()
	if _, err := io.WriteString(spoke, http2.ClientPreface); err != nil {
		t.Fatal(err)
	}
	if err := http2.NewFramer(spoke, nil).WriteSettings(); err != nil {
		t.Fatal(err)
	}
	readUntilClosed(t, spoke, 30*time.Second)
	silent.SetReadDeadline(time.Now().Add(30 * time.Second))
	if _, err := io.Copy(io.Discard, silent); err != nil {
		t.Fatalf("silent connection: %v", err)
	}
}

// Over the cap, new connections are closed at once, with one log line for
// the burst, while an open one keeps being served.
func TestConnectionCap(t *testing.T) {
	t.Parallel()
	sock, logs := serveLimited(t, server.Limits{MaxConns: 2})
	ctx := daemontest.Context(t)
	c, err := client.New(client.WithSocket(sock))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Status(ctx); err != nil && !errors.Is(err, client.ErrInvalidConfig) {
		t.Fatal(err)
	}
	held, err := net.Dial("unix", sock) // the second, and last, under the cap
	if err != nil {
		t.Fatal(err)
	}
	defer held.Close()
	for i := range 5 {
		over, err := net.Dial("unix", sock)
		if err != nil {
			t.Fatal(err)
		}
		if n := readUntilClosed(t, over, 10*time.Second); n != 0 {
			t.Errorf("connection %d over the cap got %d bytes", i, n)
		}
		over.Close()
	}
	for range 3 {
		if _, err := c.Status(ctx); err != nil && !errors.Is(err, client.ErrInvalidConfig) {
			t.Fatalf("the open connection stopped working: %v", err)
		}
	}
	if n := strings.Count(logs.String(), "too many connections"); n != 1 {
		t.Errorf("%d log lines for one burst, want 1:\n%s", n, logs)
	}
	// A place freed is a place given.
	held.Close()
	deadline := time.Now().Add(10 * time.Second)
	for {
		again, err := net.Dial("unix", sock)
		if err != nil {
			t.Fatal(err)
		}
		io.WriteString(again, http2.ClientPreface)
		http2.NewFramer(again, nil).WriteSettings()
		again.SetReadDeadline(time.Now().Add(time.Second))
		_, err = http2.NewFramer(nil, again).ReadFrame()
		again.Close()
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no connection accepted after one under the cap closed")
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// A connection from another uid is closed at accept time: not one byte of
// HTTP/2 comes back, even with the socket's modes opened to everyone.
func TestOtherUserConnectionClosed(t *testing.T) {
	t.Parallel()
	sock, logs := serveLimited(t, server.Limits{})
	for _, d := range []string{filepath.Dir(filepath.Dir(filepath.Dir(sock))), filepath.Dir(filepath.Dir(sock)), filepath.Dir(sock)} {
		if err := os.Chmod(d, 0o711); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Chmod(sock, 0o666); err != nil {
		t.Fatal(err)
	}
	got, closed := otheruser.Dial(t, "unix", sock, []byte(http2.ClientPreface)).Received(t)
	if len(got) != 0 || !closed {
		t.Errorf("another user's connection: %d bytes, closed %v; want 0 bytes then closed", len(got), closed)
	}
	if !strings.Contains(logs.String(), "closed connections from another user") || !strings.Contains(logs.String(), "uid=65534") {
		t.Errorf("no log line names the other user:\n%s", logs)
	}
}

// A connection that never begins HTTP/2 is closed after the handshake
// timeout, long before the idle one: 512 silent connections once held
// every place under the cap for two minutes.
func TestSilentConnectionsClosedSoon(t *testing.T) {
	t.Parallel()
	sock, _ := serveLimited(t, server.Limits{IdleTimeout: time.Hour, HandshakeTimeout: 200 * time.Millisecond})
	silent, err := net.Dial("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	defer silent.Close()
	silent.SetReadDeadline(time.Now().Add(30 * time.Second))
	if _, err := io.Copy(io.Discard, silent); err != nil {
		t.Fatalf("silent connection not closed: %v", err)
	}
}

// The cap follows the file limit: a thousand concurrent authc processes
// are served where the daemon may open enough files.
func TestConnsForFiles(t *testing.T) {
	for files, want := range map[uint64]int{0: 512, 100: 64, 1024: 896, 20000: 16384, 4096: 3968, 1 << 20: 16384} {
		if got := server.ConnsForFiles(files); got != want {
			t.Errorf("ConnsForFiles(%d) = %d, want %d", files, got, want)
		}
	}
}
