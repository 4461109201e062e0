package broker_test

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"authd.dev/authd/client"
	"authd.dev/authd/internal/broker"
	"authd.dev/authd/internal/daemontest"
	"authd.dev/authd/internal/idptest"
	"authd.dev/authd/internal/store"
)

// pendingLogin is a login a client waits on in the background.
type pendingLogin struct {
	url     string             // the browser login's URL
	code    *client.DeviceCode // the device login's code
	joined  string             // who started the login, when the client joined one
	err     chan error         // how the client's Login call ended
	goodbye context.CancelFunc // the client goes away
}

// startLogin starts (or joins) a login with c and returns once the client
// has been told what the user must do.
func startLogin(t *testing.T, ctx context.Context, c *client.Client, o client.LoginOptions) *pendingLogin {
	t.Helper()
	lctx, cancel := context.WithCancel(ctx)
	t.Cleanup(cancel)
	p := &pendingLogin{err: make(chan error, 1), goodbye: cancel}
	prompted := make(chan struct{})
	go func() {
		p.err <- c.Login(lctx, o, func(ev client.LoginEvent) {
			switch {
			case ev.Waiting != "":
				p.joined = ev.Waiting
			case ev.OpenURL != nil:
				p.url = ev.OpenURL.URL
				close(prompted)
			case ev.DeviceCode != nil:
				p.code = ev.DeviceCode
				close(prompted)
			}
		})
	}()
	select {
	case <-prompted:
	case err := <-p.err:
		t.Fatalf("the login ended before it asked anything of the user: %v", err)
	}
	return p
}

// end waits for the client's Login call to return.
func (p *pendingLogin) end(t *testing.T) error {
	t.Helper()
	select {
	case err := <-p.err:
		return err
	case <-time.After(15 * time.Second):
		t.Fatal("the client is still waiting on the login 15s later")
		return nil
	}
}

// leave makes the client go away, as Ctrl-C on authc does.
func (p *pendingLogin) leave(t *testing.T) {
	t.Helper()
	p.goodbye()
	if err := p.end(t); err == nil {
		t.Fatal("a client that went away was told the login succeeded")
	}
}

func (p *pendingLogin) approve(t *testing.T, ctx context.Context) {
	t.Helper()
	if err := idptest.ApproveDevice(ctx, p.code.VerificationURI, p.code.UserCode, "alice", "alice-password"); err != nil {
		t.Fatalf("approve the device code: %v", err)
	}
}

const noWaiterLog = "no client waits for the login"

func wantCancelled(t *testing.T, err error, why string) {
	t.Helper()
	if !errors.Is(err, client.ErrLoginFailed) || !strings.Contains(err.Error(), why) {
		t.Errorf("login error = %v; want a failed login saying %q", err, why)
	}
}

func wantLoggedOut(t *testing.T, ctx context.Context, c *client.Client) {
	t.Helper()
	if st := profileStatus(t, c).State; st != string(broker.StateLoggedOut) {
		t.Errorf("state = %s, want %s", st, broker.StateLoggedOut)
	}
	if _, err := c.Token(ctx, client.TokenOptions{}); !errors.Is(err, client.ErrLoginRequired) {
		t.Errorf("token = %v, want login required", err)
	}
}

// TestLogoutCancelsPendingLogin: a logout ends the login in flight, its
// waiters are told why, and approving its code afterwards logs nobody in.
func TestLogoutCancelsPendingLogin(t *testing.T) {
	t.Parallel()
	d := daemontest.New(t, "file", idptest.Options{DevicePollInterval: time.Second}, "")
	ctx := daemontest.Context(t)
	c := d.Client()

	p := startLogin(t, ctx, c, client.LoginOptions{Device: true})
	if _, err := c.Logout(ctx, "", false); err != nil {
		t.Fatalf("logout: %v", err)
	}
	wantCancelled(t, p.end(t), "the login was cancelled by a logout")
	wantLoggedOut(t, ctx, c)

	polls := d.IdP.Count(idptest.EndpointTokenDeviceCode)
	p.approve(t, ctx)
	// Two poll intervals: a login still polling would have its tokens.
	time.Sleep(2500 * time.Millisecond)
	if n := d.IdP.Count(idptest.EndpointTokenDeviceCode); n != polls {
		t.Errorf("the cancelled login polled the provider %d more times", n-polls)
	}
	wantLoggedOut(t, ctx, c)
}

// gatedStore holds the first Put until the test lets it go: a login's
// tokens on their way to the keyring.
type gatedStore struct {
	broker.Store
	putting chan struct{} // closed when the first Put starts
	release chan struct{} // closed to let it finish
	put     sync.Once
}

func (g *gatedStore) Put(ctx context.Context, key string, rec *store.Record) error {
	first := false
	g.put.Do(func() { first = true; close(g.putting) })
	if first {
		<-g.release
	}
	return g.Store.Put(ctx, key, rec)
}

// TestLoginFinishingAfterLogoutStoresNothing logs out while a login that
// has its tokens is writing them: the logout wins, in the keyring and in
// memory, and the login's waiter is told it was cancelled.
func TestLoginFinishingAfterLogoutStoresNothing(t *testing.T) {
	t.Parallel()
	k, err := store.Open(store.Options{Backend: "file", FileDir: filepath.Join(t.TempDir(), "keyring"), Passphrase: "p"})
	if err != nil {
		t.Fatal(err)
	}
	g := &gatedStore{Store: k, putting: make(chan struct{}), release: make(chan struct{})}
	var releaseOnce sync.Once
	release := func() { releaseOnce.Do(func() { close(g.release) }) }
	t.Cleanup(release)
	d := daemontest.NewOn(t, "file", idptest.New(t, idptest.Options{DevicePollInterval: time.Second}), "", g)
	ctx := daemontest.Context(t)
	c := d.Client()

	p := startLogin(t, ctx, c, client.LoginOptions{Device: true})
	p.approve(t, ctx)
	select {
	case <-g.putting:
	case <-time.After(15 * time.Second):
		t.Fatal("the approved login did not write to the keyring")
	}
	logout := make(chan error, 1)
	go func() {
		_, err := c.Logout(ctx, "", false)
		logout <- err
	}()
	// The logout waits for the write it must undo. One that returns first
	// has deleted an item the write then brings back.
	var logoutErr error
	select {
	case logoutErr = <-logout:
		release()
	case <-time.After(time.Second):
		release()
		logoutErr = <-logout
	}
	if logoutErr != nil {
		t.Fatalf("logout: %v", logoutErr)
	}
	wantCancelled(t, p.end(t), "the login was cancelled by a logout")
	if _, err := k.Get(ctx, "profile:work"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("keyring after the logout: %v, want ErrNotFound", err)
	}
	wantLoggedOut(t, ctx, c)
}

// TestForcedLoginReplacesPendingLogin: --force starts a new login instead
// of joining the one in flight, whose waiters are told it was replaced.
func TestForcedLoginReplacesPendingLogin(t *testing.T) {
	t.Parallel()
	d := daemontest.New(t, "file", idptest.Options{DevicePollInterval: time.Second}, "")
	ctx := daemontest.Context(t)
	old := startLogin(t, ctx, d.Client(), client.LoginOptions{Device: true})
	c := d.Client()
	p := startLogin(t, ctx, c, client.LoginOptions{Device: true, Force: true})
	if p.joined != "" || p.code.UserCode == old.code.UserCode {
		t.Fatalf("the forced login joined the one in flight (started by %q, same code: %v)", p.joined, p.code.UserCode == old.code.UserCode)
	}
	wantCancelled(t, old.end(t), "the login was replaced")
	p.approve(t, ctx)
	if err := p.end(t); err != nil {
		t.Fatalf("the forced login: %v", err)
	}
	if _, err := c.Token(ctx, client.TokenOptions{}); err != nil {
		t.Errorf("token after the forced login: %v", err)
	}
}

// TestAbandonedLoginIsCancelled: a login whose last client went away is
// cancelled after broker.LoginGrace, not before.
func TestAbandonedLoginIsCancelled(t *testing.T) {
	t.Parallel()
	d := daemontest.New(t, "file", idptest.Options{DevicePollInterval: time.Second}, "")
	ctx := daemontest.Context(t)
	c := d.Client()

	p := startLogin(t, ctx, c, client.LoginOptions{Device: true})
	p.leave(t)
	d.WaitLog(noWaiterLog, 1)
	d.Clock.Advance(broker.LoginGrace - time.Second)
	if st := profileStatus(t, c).State; st != string(broker.StateLoggingIn) {
		t.Fatalf("state %s before the grace period passed, want %s", st, broker.StateLoggingIn)
	}
	d.Clock.Advance(2 * time.Second)
	wantLoggedOut(t, ctx, c)

	// Nothing is left of it: the next login is a new one.
	if p := startLogin(t, ctx, c, client.LoginOptions{Device: true}); p.joined != "" {
		t.Errorf("a login after the cancelled one joined %q", p.joined)
	}
}

// TestAbandonedLoginJoinedInTime: a client that joins within the grace
// period keeps the login going.
func TestAbandonedLoginJoinedInTime(t *testing.T) {
	t.Parallel()
	d := daemontest.New(t, "file", idptest.Options{DevicePollInterval: time.Second}, "")
	ctx := daemontest.Context(t)
	c := d.Client()

	startLogin(t, ctx, c, client.LoginOptions{Device: true}).leave(t)
	d.WaitLog(noWaiterLog, 1)
	p := startLogin(t, ctx, c, client.LoginOptions{Device: true})
	if p.joined == "" {
		t.Fatal("the second client did not join the login in its grace period")
	}
	d.Clock.Advance(2 * broker.LoginGrace)
	if st := profileStatus(t, c).State; st != string(broker.StateLoggingIn) {
		t.Fatalf("state %s after the grace period with a client waiting, want %s", st, broker.StateLoggingIn)
	}
	p.approve(t, ctx)
	if err := p.end(t); err != nil {
		t.Fatalf("the joined login: %v", err)
	}
}

// TestTokenRequestWaitsOnLogin: a token request that started a login waits
// on it as a client does: another client leaving does not end it.
func TestTokenRequestWaitsOnLogin(t *testing.T) {
	t.Parallel()
	d := daemontest.New(t, "file", idptest.Options{}, "")
	ctx := daemontest.Context(t)
	c := d.Client()

	tok := make(chan error, 1)
	go func() {
		_, err := c.Token(ctx, client.TokenOptions{Interactive: true})
		tok <- err
	}()
	for deadline := time.Now().Add(10 * time.Second); profileStatus(t, c).State != string(broker.StateLoggingIn); {
		if time.Now().After(deadline) {
			t.Fatal("the interactive token request started no login within 10s")
		}
		time.Sleep(5 * time.Millisecond)
	}
	p := startLogin(t, ctx, d.Client(), client.LoginOptions{})
	if p.joined == "" {
		t.Fatal("the login client did not join the token request's login")
	}
	p.leave(t)
	// The daemon notices the client left a moment later: move the clock
	// past the grace period until then and after.
	for range 20 {
		d.Clock.Advance(broker.LoginGrace + time.Second)
		time.Sleep(10 * time.Millisecond)
	}
	if st := profileStatus(t, c).State; st != string(broker.StateLoggingIn) {
		t.Fatalf("state %s with a token request waiting on the login, want %s", st, broker.StateLoggingIn)
	}
	if status, body, err := idptest.CompleteLogin(ctx, p.url, "alice", "alice-password"); err != nil || status != 200 {
		t.Fatalf("complete login: status %d, err %v, body %s", status, err, body)
	}
	if err := <-tok; err != nil {
		t.Fatalf("token request that waited on the login: %v", err)
	}
}

// TestLoginWhenLoggedInSaysSo: the Done event tells a login that ran from
// one that found the session logged in already.
func TestLoginWhenLoggedInSaysSo(t *testing.T) {
	t.Parallel()
	d := daemontest.New(t, "file", idptest.Options{}, "")
	ctx := daemontest.Context(t)
	c := d.Client()
	login := func(req client.LoginOptions) *client.Done {
		t.Helper()
		var done *client.Done
		err := c.Login(ctx, req, func(ev client.LoginEvent) {
			switch {
			case ev.OpenURL != nil:
				if status, body, err := idptest.CompleteLogin(ctx, ev.OpenURL.URL, "alice", "alice-password"); err != nil || status != 200 {
					t.Errorf("complete login: status %d, err %v, body %s", status, err, body)
				}
			case ev.DeviceCode != nil:
				t.Error("a logged-in session started a device login")
			case ev.Done != nil:
				done = ev.Done
			}
		})
		if err != nil || done == nil {
			t.Fatalf("login %+v: %v, done event %v", req, err, done)
		}
		return done
	}
	if done := login(client.LoginOptions{}); done.AlreadyLoggedIn {
		t.Errorf("a login that ran says already_logged_in")
	}
	done := login(client.LoginOptions{Device: true})
	if !done.AlreadyLoggedIn || done.Account != "alice@example.com" || done.Expiry.IsZero() {
		t.Errorf("login when logged in: %+v, want already_logged_in with the account and expiry", done)
	}
}
