package oidcagent

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/crypto/nacl/box"

	"authd.dev/authd/client"
	"authd.dev/authd/internal/broker"
	"authd.dev/authd/internal/daemontest"
	"authd.dev/authd/internal/idptest"
	"authd.dev/authd/internal/otheruser"
	"authd.dev/authd/internal/socket"
)

func TestMain(m *testing.M) {
	otheruser.Main()
	os.Exit(m.Run())
}

// serve runs Serve for b on a fresh socket until the test ends, and
// returns the socket's path and the server's log.
func serve(t *testing.T, b Sessions, opts Options) (string, *daemontest.Log) {
	t.Helper()
	logs := &daemontest.Log{}
	opts.Logger = slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	sock := filepath.Join(t.TempDir(), "oidc-agent", "agent.sock")
	ln, err := socket.Listen(sock)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- Serve(ctx, b, ln, opts) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
		if t.Failed() {
			t.Logf("server log:\n%s", logs)
		}
	})
	return sock, logs
}

// answer is an answer as a client reads it.
type answer struct {
	Status      string `json:"status"`
	AccessToken string `json:"access_token"`
	Issuer      string `json:"issuer"`
	ExpiresAt   int64  `json:"expires_at"`
	Error       string `json:"error"`

	fields []string // every field, sorted
	clear  bool     // sent in the clear
}

func (a answer) String() string {
	if a.AccessToken != "" {
		a.AccessToken = "<redacted>"
	}
	return fmt.Sprintf("%+v", struct {
		Status, Issuer, Error string
		ExpiresAt             int64
		Fields                []string
		Clear                 bool
	}{a.Status, a.Issuer, a.Error, a.ExpiresAt, a.fields, a.clear})
}

func dial(t *testing.T, sock string) net.Conn {
	t.Helper()
	c, err := net.DialTimeout("unix", sock, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(time.Minute))
	return c
}

// exchangeKeys does a client's side of the key exchange on c.
func exchangeKeys(t *testing.T, c net.Conn) *sessionKey {
	t.Helper()
	pub, secret, err := box.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Write(encodePublicKey(pub)); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, publicKeyLen)
	if _, err := io.ReadFull(c, buf); err != nil {
		t.Fatalf("read the server's public key: %v", err)
	}
	spk, err := decodePublicKey(buf)
	if err != nil {
		t.Fatal(err)
	}
	k, err := newSessionKey(spk, secret)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// ask sends body as oidc-agent's clients send it, encrypted after a key
// exchange, and returns the answer.
func ask(t *testing.T, sock, body string) answer {
	t.Helper()
	c := dial(t, sock)
	k := exchangeKeys(t, c)
	sealed, err := k.seal([]byte(body))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Write(sealed); err != nil {
		t.Fatal(err)
	}
	return readAnswer(t, c, k)
}

// askClear sends body in the clear.
func askClear(t *testing.T, sock, body string) answer {
	t.Helper()
	c := dial(t, sock)
	if _, err := c.Write([]byte(body)); err != nil {
		t.Fatal(err)
	}
	return readAnswer(t, c, nil)
}

// readAnswer reads the answer on c, up to the server's close, and opens it
// with k unless it came in the clear.
func readAnswer(t *testing.T, c net.Conn, k *sessionKey) answer {
	t.Helper()
	msg, err := io.ReadAll(c)
	if err != nil {
		t.Fatalf("read the answer: %v", err)
	}
	a := answer{clear: isJSONObject(msg)}
	if !a.clear {
		if k == nil {
			t.Fatalf("answer %q is not JSON", msg)
		}
		if msg, err = k.open(msg); err != nil {
			t.Fatalf("open the answer: %v", err)
		}
	}
	var fields map[string]any
	if err := json.Unmarshal(msg, &a); err != nil || json.Unmarshal(msg, &fields) != nil {
		t.Fatalf("answer %q: %v", msg, err)
	}
	a.fields = slices.Sorted(maps.Keys(fields))
	return a
}

func tokenRequestJSON(fields string) string {
	return `{"request":"access_token",` + fields + `,"application_hint":"test"}`
}

// loggedIn is a daemon whose profile "work" is logged in, with its
// broker served on an oidc-agent socket.
func loggedIn(t *testing.T, opts idptest.Options) (*daemontest.Daemon, *client.Client, string) {
	t.Helper()
	d := daemontest.New(t, "file", opts, "")
	c := d.Client()
	d.Login(daemontest.Context(t), c)
	sock, _ := serve(t, d.Broker, Options{})
	return d, c, sock
}

// The token of an account is the token authd serves its own clients, with
// the profile's issuer and the token's expiry, and nothing else: no
// refresh token, no ID token.
func TestTokenByAccount(t *testing.T) {
	t.Parallel()
	d, c, sock := loggedIn(t, idptest.Options{})
	ctx := daemontest.Context(t)
	want, err := c.Token(ctx, client.TokenOptions{IDToken: true})
	if err != nil {
		t.Fatal(err)
	}
	a := ask(t, sock, tokenRequestJSON(`"account":"work","min_valid_period":0`))
	if a.Status != "success" || a.clear || a.AccessToken != want.AccessToken || a.Issuer != d.IdP.Issuer() || a.ExpiresAt != want.Expiry.Unix() {
		t.Fatalf("answer %s; want authd's token, issuer %s, expiry %d, encrypted", a, d.IdP.Issuer(), want.Expiry.Unix())
	}
	if want := []string{"access_token", "expires_at", "issuer", "status"}; !slices.Equal(a.fields, want) {
		t.Errorf("fields %v, want %v", a.fields, want)
	}
	if rt := d.RefreshToken(ctx); rt == "" || a.AccessToken == rt || a.AccessToken == want.IDToken {
		t.Error("the answer's token is the refresh token or the ID token")
	}
	// A request in the clear is answered in the clear.
	if a := askClear(t, sock, tokenRequestJSON(`"account":"work"`)); a.Status != "success" || !a.clear || a.AccessToken != want.AccessToken {
		t.Errorf("request in the clear: %s", a)
	}
}

// An issuer selects the one profile with that issuer, trailing slash or
// not; an issuer of several profiles is an error that names them.
func TestTokenByIssuer(t *testing.T) {
	t.Parallel()
	d, c, sock := loggedIn(t, idptest.Options{})
	d.AddProfile("other", "issuer = \"https://idp.example.org\"\nclient_id = \"x\"\n")
	want, err := c.Token(daemontest.Context(t), client.TokenOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, iss := range []string{d.IdP.Issuer(), d.IdP.Issuer() + "/"} {
		a := ask(t, sock, tokenRequestJSON(fmt.Sprintf(`"issuer":%q`, iss)))
		if a.Status != "success" || a.AccessToken != want.AccessToken || a.Issuer != d.IdP.Issuer() {
			t.Errorf("issuer %s: %s", iss, a)
		}
	}
	if a := ask(t, sock, tokenRequestJSON(`"issuer":"https://idp.example.org/"`)); a.Error != "not logged in: run 'authc login -p other'" {
		t.Errorf("issuer of the logged-out profile: %s", a)
	}
	if a := ask(t, sock, tokenRequestJSON(`"issuer":"https://nowhere.example.com"`)); a.Status != "failure" || a.Error != `no authd profile has the issuer "https://nowhere.example.com"` {
		t.Errorf("unknown issuer: %s", a)
	}
	d.AddProfile("twin", fmt.Sprintf("issuer = %q\nclient_id = %q\n", d.IdP.Issuer(), idptest.PublicClientID))
	a := ask(t, sock, tokenRequestJSON(fmt.Sprintf(`"issuer":%q`, d.IdP.Issuer())))
	if a.Status != "failure" || a.AccessToken != "" || !strings.Contains(a.Error, "several authd profiles") || !strings.Contains(a.Error, "(twin, work)") {
		t.Errorf("issuer of two profiles: %s", a)
	}
}

// min_valid_period means what authd's min_valid means: 0 is the default,
// more than the cached token has left refreshes, more than a fresh token
// has is an error; -1 forces a new token.
func TestMinValid(t *testing.T) {
	t.Parallel()
	d, _, sock := loggedIn(t, idptest.Options{AccessTokenLifetime: 5 * time.Minute})
	refreshes := func() int { return d.IdP.Count(idptest.EndpointTokenRefresh) }
	first := ask(t, sock, tokenRequestJSON(`"account":"work"`))
	if first.Status != "success" {
		t.Fatal(first)
	}
	before := refreshes()
	if a := ask(t, sock, tokenRequestJSON(`"account":"work","min_valid_period":240`)); a.AccessToken != first.AccessToken || refreshes() != before {
		t.Errorf("4m of a fresh 5m token: %s, %d refreshes", a, refreshes()-before)
	}
	d.Clock.Sleep(2 * time.Minute)
	again := ask(t, sock, tokenRequestJSON(`"account":"work","min_valid_period":240`))
	if again.Status != "success" || again.AccessToken == first.AccessToken || refreshes() != before+1 {
		t.Errorf("4m of a token with 3m left: %s, %d refreshes; want a new token, 1 refresh", again, refreshes()-before)
	}
	if a := ask(t, sock, tokenRequestJSON(`"account":"work","min_valid_period":3600`)); a.Status != "failure" || !strings.Contains(a.Error, "not longer than the 1h0m0s asked for") {
		t.Errorf("1h of 5m tokens: %s", a)
	}
	forced := ask(t, sock, tokenRequestJSON(`"account":"work","min_valid_period":-1`))
	if forced.Status != "success" || forced.AccessToken == again.AccessToken {
		t.Errorf("forced: %s; want a new token", forced)
	}
}

// Scopes ask for a down-scoped token, minted as authd mints it; a scope the
// profile lacks is refused.
func TestScopes(t *testing.T) {
	t.Parallel()
	_, _, sock := loggedIn(t, idptest.Options{})
	whole := ask(t, sock, tokenRequestJSON(`"account":"work"`))
	if a := ask(t, sock, tokenRequestJSON(`"account":"work","scope":"openid email"`)); a.Status != "success" || a.AccessToken == whole.AccessToken {
		t.Errorf("down-scoped: %s", a)
	}
	if a := ask(t, sock, tokenRequestJSON(`"account":"work","scope":"openid admin"`)); a.Status != "failure" || !strings.Contains(a.Error, `scope "admin" is not one of profile work's scopes`) {
		t.Errorf("a scope the profile lacks: %s", a)
	}
}

// A profile that needs a login is told so, and no login starts.
func TestNotLoggedIn(t *testing.T) {
	t.Parallel()
	d := daemontest.New(t, "file", idptest.Options{}, "")
	sock, _ := serve(t, d.Broker, Options{})
	for _, body := range []string{tokenRequestJSON(`"account":"work"`), tokenRequestJSON(`"account":"work","min_valid_period":-1`)} {
		if a := ask(t, sock, body); a.Status != "failure" || a.Error != "not logged in: run 'authc login -p work'" {
			t.Errorf("%s: %s", body, a)
		}
	}
	sess, err := d.Broker.Session("work")
	if err != nil {
		t.Fatal(err)
	}
	if st := sess.Status(daemontest.Context(t)).State; st != broker.StateLoggedOut || d.IdP.Count(idptest.EndpointAuthorize) != 0 || d.IdP.Count(idptest.EndpointToken) != 0 {
		t.Errorf("state %s, %d authorize and %d token requests: a login started", st, d.IdP.Count(idptest.EndpointAuthorize), d.IdP.Count(idptest.EndpointToken))
	}
}

func TestRefusedRequests(t *testing.T) {
	t.Parallel()
	_, _, sock := loggedIn(t, idptest.Options{})
	for body, want := range map[string]string{
		tokenRequestJSON(`"account":"nosuch"`):                     `no authd profile named "nosuch"`,
		`{"request":"add","config":{"refresh_token":"x"}}`:         `request "add" is not supported by authd: it hands out access tokens only`,
		`{"request":"remove","account":"work"}`:                    `request "remove" is not supported by authd`,
		`{"request":"gen"}`:                                        `request "gen" is not supported by authd`,
		`{"request":"id_token","account":"work"}`:                  `request "id_token" is not supported by authd`,
		`{"request":"loaded_accounts"}`:                            `request "loaded_accounts" is not supported by authd`,
		`{"request":"\u001b[2J","account":"work"}`:                 `request "\x1b[2J" is not supported`,
		`{"account":"work"}`:                                       "Bad Request: no request type",
		tokenRequestJSON(`"account":"work","min_valid_period":-5`): "Bad Request: min_valid_period",
		`[]`: "Bad Request: the request is not a JSON object",
	} {
		a := ask(t, sock, body)
		if a.Status != "failure" || a.AccessToken != "" || !strings.HasPrefix(a.Error, want) || a.clear {
			t.Errorf("%s: %s; want an encrypted failure starting %q", body, a, want)
		}
	}
}

// Messages that are not what a client sends are answered with a failure
// in the clear, as oidc-agent answers them, or the connection is closed.
func TestBadMessages(t *testing.T) {
	t.Parallel()
	sock, _ := serve(t, noSessions{}, Options{ReadTimeout: time.Second})
	t.Run("public key", func(t *testing.T) {
		c := dial(t, sock)
		c.Write([]byte(strings.Repeat("!", publicKeyLen)))
		if a := readAnswer(t, c, nil); !a.clear || !strings.HasPrefix(a.Error, "Bad Request: bad public key") {
			t.Errorf("%s", a)
		}
	})
	t.Run("low-order public key", func(t *testing.T) {
		c := dial(t, sock)
		c.Write(encodePublicKey(&[keySize]byte{}))
		if a := readAnswer(t, c, nil); !a.clear || !strings.Contains(a.Error, "public key is not usable") {
			t.Errorf("%s", a)
		}
	})
	for name, seal := range map[string]func(k *sessionKey) []byte{
		"garbage": func(*sessionKey) []byte { return []byte("this is no encrypted message") },
		"another key": func(*sessionKey) []byte {
			var other sessionKey
			rand.Read(other[:])
			m, _ := other.seal([]byte(`{"request":"access_token","account":"work"}`))
			return m
		},
		"wrong length": func(k *sessionKey) []byte {
			m, _ := k.seal([]byte(`{"request":"access_token","account":"work"}`))
			return append([]byte("42"), m[2:]...)
		},
	} {
		t.Run(name, func(t *testing.T) {
			c := dial(t, sock)
			k := exchangeKeys(t, c)
			c.Write(seal(k))
			if a := readAnswer(t, c, k); !a.clear || !strings.HasPrefix(a.Error, "Bad Request: ") {
				t.Errorf("%s", a)
			}
		})
	}
	t.Run("too long", func(t *testing.T) {
		c := dial(t, sock)
		go c.Write([]byte("{" + strings.Repeat(" ", maxMessage+10)))
		// Closed with bytes unread, the connection is reset.
		if got, err := io.ReadAll(c); len(got) != 0 || err != nil && !errors.Is(err, syscall.ECONNRESET) {
			t.Errorf("read %q, %v; want the connection closed", got, err)
		}
	})
	for name, send := range map[string]string{"silent": "", "half a key": "abc", "a key and no request": "key"} {
		t.Run(name, func(t *testing.T) {
			c := dial(t, sock)
			start := time.Now()
			var k *sessionKey
			switch send {
			case "key":
				k = exchangeKeys(t, c)
			default:
				c.Write([]byte(send))
			}
			got, err := io.ReadAll(c)
			if d := time.Since(start); err != nil || d > 5*time.Second {
				t.Errorf("closed after %s, %v; want ReadTimeout (1s)", d, err)
			}
			if k == nil && len(got) > 0 && !isJSONObject(got) {
				t.Errorf("read %q", got)
			}
		})
	}
}

// Connections over the cap are closed at once; the others are served,
// and once one ends a new one is.
func TestMaxConns(t *testing.T) {
	t.Parallel()
	sock, logs := serve(t, noSessions{}, Options{MaxConns: 1})
	held := dial(t, sock)
	over := dial(t, sock)
	if got, err := io.ReadAll(over); len(got) != 0 || err != nil {
		t.Fatalf("over the cap: read %q, %v; want the connection closed", got, err)
	}
	held.Close()
	deadline := time.Now().Add(10 * time.Second)
	for {
		c := dial(t, sock)
		c.Write([]byte(`{"request":"gen"}`))
		got, _ := io.ReadAll(c)
		if isJSONObject(got) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no connection served after the one under the cap closed")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if !strings.Contains(logs.String(), "too many connections") {
		t.Errorf("nothing logged of the connection over the cap:\n%s", logs)
	}
}

// Another user's connection is closed before a byte of it is read, even
// with the socket open to everyone.
func TestOtherUserRefused(t *testing.T) {
	t.Parallel()
	sock, logs := serve(t, noSessions{}, Options{})
	dir := filepath.Dir(sock)
	for _, d := range []string{filepath.Dir(filepath.Dir(dir)), filepath.Dir(dir), dir} {
		if err := os.Chmod(d, 0o711); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Chmod(sock, 0o666); err != nil {
		t.Fatal(err)
	}
	got, closed := otheruser.Dial(t, "unix", sock, []byte(`{"request":"access_token","account":"work"}`)).Received(t)
	if len(got) != 0 || !closed {
		t.Errorf("another user's connection: read %q, closed %v; want nothing, closed", got, closed)
	}
	if !strings.Contains(logs.String(), "closed connections from another user") || !strings.Contains(logs.String(), "uid=65534") {
		t.Errorf("no log line names the other user:\n%s", logs)
	}
	// Its owner is still served.
	if a := askClear(t, sock, `{"request":"gen"}`); a.Status != "failure" {
		t.Errorf("the owner after another user: %s", a)
	}
}

// panicking is a broker whose every call panics.
type panicking struct{}

func (panicking) Profiles() []string                      { panic("profiles") }
func (panicking) Session(string) (*broker.Session, error) { panic("session") }

// A request whose handling panics closes its connection, unanswered, and
// the daemon goes on serving.
func TestPanicRecovered(t *testing.T) {
	t.Parallel()
	sock, logs := serve(t, panicking{}, Options{})
	for _, body := range []string{tokenRequestJSON(`"account":"work"`), tokenRequestJSON(`"issuer":"https://idp.example.com"`)} {
		c := dial(t, sock)
		k := exchangeKeys(t, c)
		sealed, _ := k.seal([]byte(body))
		c.Write(sealed)
		if got, err := io.ReadAll(c); len(got) != 0 || err != nil {
			t.Errorf("%s: read %q, %v; want the connection closed", body, got, err)
		}
	}
	if a := ask(t, sock, `{"request":"gen"}`); a.Status != "failure" {
		t.Errorf("after the panics: %s", a)
	}
	if n := strings.Count(logs.String(), "internal error"); n != 2 {
		t.Errorf("%d internal errors logged, want 2:\n%s", n, logs)
	}
}

// Many clients at once get the one cached token, without a refresh.
func TestConcurrentClients(t *testing.T) {
	t.Parallel()
	d, _, sock := loggedIn(t, idptest.Options{})
	want := ask(t, sock, tokenRequestJSON(`"account":"work"`))
	before := d.IdP.Count(idptest.EndpointToken)
	var wg sync.WaitGroup
	for range 16 {
		wg.Go(func() {
			if a := ask(t, sock, tokenRequestJSON(`"account":"work"`)); a.AccessToken != want.AccessToken {
				t.Errorf("%s", a)
			}
		})
	}
	wg.Wait()
	if n := d.IdP.Count(idptest.EndpointToken) - before; n != 0 {
		t.Errorf("%d token requests", n)
	}
}

// When its context ends, Serve closes the socket and every connection,
// a silent one included, and returns.
func TestStop(t *testing.T) {
	t.Parallel()
	sock := filepath.Join(t.TempDir(), "agent.sock")
	ln, err := socket.Listen(sock)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- Serve(ctx, noSessions{}, ln, Options{ReadTimeout: time.Hour}) }()
	silent := dial(t, sock)
	// Once the server answers another connection, the silent one is
	// being served too.
	if a := askClear(t, sock, `{"request":"gen"}`); a.Status != "failure" {
		t.Fatal(a)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Serve: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Serve did not return 10s after its context ended")
	}
	if got, err := io.ReadAll(silent); len(got) != 0 || err != nil {
		t.Errorf("silent connection: read %q, %v; want it closed", got, err)
	}
	if _, err := os.Lstat(sock); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("socket file after stop: %v", err)
	}
}

// A request in flight when the daemon stops is answered: its client hears
// that authd is stopping, rather than nothing.
func TestStopAnswersInFlight(t *testing.T) {
	t.Parallel()
	d, proxy := daemontest.NewProxied(t, idptest.Options{})
	d.Login(daemontest.Context(t), d.Client())
	sock := filepath.Join(t.TempDir(), "agent.sock")
	ln, err := socket.Listen(sock)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- Serve(ctx, d.Broker, ln, Options{}) }()

	proxy.Set(idptest.Fault{Hang: true})
	before := proxy.Count(daemontest.TokenPath)
	c := dial(t, sock)
	k := exchangeKeys(t, c)
	sealed, _ := k.seal([]byte(tokenRequestJSON(`"account":"work","min_valid_period":-1`)))
	c.Write(sealed)
	for deadline := time.Now().Add(10 * time.Second); proxy.Count(daemontest.TokenPath) == before; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the forced refresh did not reach the provider")
		}
	}
	cancel()
	if a := readAnswer(t, c, k); a.Status != "failure" || a.Error != "authd is shutting down" {
		t.Errorf("answer %s; want that authd is shutting down", a)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Serve: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Serve did not return 10s after its context ended")
	}
}
