package broker_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"authd.dev/authd/client"
	"authd.dev/authd/internal/daemontest"
	"authd.dev/authd/internal/idptest"
)

// resumed logs in through a proxy that then silently drops the connection
// the daemon keeps to it (as a NAT forgets it while the machine sleeps),
// and suspends the machine for two hours: the token expired, the
// background refresh has not fired.
func resumed(t *testing.T) (*daemontest.Daemon, *idptest.FaultProxy, *client.Client) {
	t.Helper()
	d, proxy := daemontest.NewProxied(t, idptest.Options{AccessTokenLifetime: 5 * time.Minute})
	c := d.Client()
	d.Login(daemontest.Context(t), c) // the code exchange leaves a connection to the proxy idle
	proxy.DropConnections()
	d.Clock.Sleep(2 * time.Hour)
	d.IdP.ResetCounts()
	return d, proxy, c
}

// After a suspend, the clock check drops the idle connections to the
// provider and runs the overdue background refresh at once, on a new
// connection: it succeeds, and nothing is sent on the dead one.
func TestResumeRefreshesAtOnce(t *testing.T) {
	t.Parallel()
	d, proxy, c := resumed(t)
	// The clocks are compared every 10 s of monotonic time; the refresh
	// was planned about 4 minutes after the login.
	d.Clock.Advance(15 * time.Second)
	d.Clock.Advance(0) // the replanned refresh, due at once
	if n := d.IdP.Count(idptest.EndpointTokenRefresh); n != 1 {
		t.Errorf("%d refreshes after the resume, want 1 at once", n)
	}
	if n := proxy.Injected().Dropped; n != 0 {
		t.Errorf("%d requests sent on a connection kept from before the suspend", n)
	}
	st := profileStatus(t, c)
	if st.State != "valid" || st.LastError != "" || !st.Expiry.After(d.Clock.Now().Add(4*time.Minute)) {
		t.Errorf("after the resume: state %s, expiry in %s, error %q; want a fresh valid token", st.State, st.Expiry.Sub(d.Clock.Now()), st.LastError)
	}
	d.WaitLog("the wall clock jumped", 1)
}

// A caller that comes before the periodic check refreshes on a new
// connection too: the first refresh after a resume does not wait for the
// timeout of a dead one.
func TestResumeFirstCallRefreshes(t *testing.T) {
	t.Parallel()
	d, proxy, c := resumed(t)
	tok, err := c.Token(daemontest.Context(t), client.TokenOptions{})
	if err != nil {
		t.Fatalf("first token after the resume: %v", err)
	}
	if !tok.Expiry.After(d.Clock.Now()) {
		t.Errorf("served a token expired %s ago", d.Clock.Now().Sub(tok.Expiry))
	}
	if n := proxy.Injected().Dropped; n != 0 {
		t.Errorf("%d requests sent on a connection kept from before the suspend", n)
	}
	if n := d.IdP.Count(idptest.EndpointTokenRefresh); n != 1 {
		t.Errorf("%d refreshes, want 1", n)
	}
}

// A refresh the provider redeemed but whose answer was lost is not sent
// again, neither by Go's transport on a new connection nor by the
// session's retries: the provider rotated the token, and a reused one
// would revoke the login. The session needs a login, and says why.
func TestUnansweredRefreshNotReplayed(t *testing.T) {
	t.Parallel()
	d, proxy := daemontest.NewProxied(t, idptest.Options{AccessTokenLifetime: 5 * time.Minute})
	ctx := daemontest.Context(t)
	c := d.Client()
	d.Login(ctx, c)
	d.IdP.ResetCounts()
	before := proxy.Count(daemontest.TokenPath)
	proxy.Set(idptest.Fault{LoseAnswer: true})
	d.Clock.Sleep(time.Hour)
	if _, err := c.Token(ctx, client.TokenOptions{}); !errors.Is(err, client.ErrProviderUnavailable) {
		t.Fatalf("refresh whose answer was lost: %v; want the provider unavailable", err)
	}
	proxy.Set(idptest.Fault{})
	for range 3 {
		d.Clock.Advance(10 * time.Minute) // past any backoff
		if _, err := c.Token(ctx, client.TokenOptions{}); !errors.Is(err, client.ErrLoginRequired) {
			t.Fatalf("token after the lost answer: %v; want a login required", err)
		}
	}
	if n := d.IdP.Count(idptest.EndpointTokenRefresh); n != 1 {
		t.Errorf("the provider got %d refreshes, want 1: the refresh token was sent again", n)
	}
	if n := proxy.Count(daemontest.TokenPath) - before; n != 1 {
		t.Errorf("the token endpoint got %d requests, want 1", n)
	}
	seen := map[string]bool{}
	for _, form := range d.IdP.TokenRequests() {
		if rt := form.Get("refresh_token"); rt != "" && seen[rt] {
			t.Errorf("a refresh token was redeemed twice")
		} else {
			seen[rt] = true
		}
	}
	st := profileStatus(t, c)
	if st.State != "needs_login" || !strings.Contains(st.LastError, "log in again") {
		t.Errorf("status: %s, %q; want needs_login saying why", st.State, st.LastError)
	}
	// A login mends it.
	d.Login(ctx, c)
	if _, err := c.Token(ctx, client.TokenOptions{}); err != nil {
		t.Errorf("token after a new login: %v", err)
	}
}

// A refresh token the session gave up on (the provider refused it, or
// did not answer a refresh that may have rotated it) is dropped from the
// keyring too, not only from memory: authd restarted, or replaced by an
// upgrade, must not send it again. The new daemon says the session needs
// a login, as the old one did.
func TestDeadRefreshTokenForgottenAcrossRestart(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name string
		kill func(*daemontest.Daemon, *idptest.FaultProxy)
		want error // what the token request that finds it dead gets
	}{
		{"answer lost", func(_ *daemontest.Daemon, p *idptest.FaultProxy) { p.Set(idptest.Fault{LoseAnswer: true}) }, client.ErrProviderUnavailable},
		{"refused", func(d *daemontest.Daemon, _ *idptest.FaultProxy) { d.IdP.RevokeAllRefreshTokens() }, client.ErrLoginRequired},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			d, proxy := daemontest.NewProxied(t, idptest.Options{AccessTokenLifetime: 5 * time.Minute})
			ctx := daemontest.Context(t)
			c := d.Client()
			d.Login(ctx, c)
			tt.kill(d, proxy)
			d.Clock.Sleep(time.Hour)
			if _, err := c.Token(ctx, client.TokenOptions{}); !errors.Is(err, tt.want) {
				t.Fatalf("the refresh that finds the token dead: %v; want %v", err, tt.want)
			}
			proxy.Set(idptest.Fault{})
			if rt := d.RefreshToken(ctx); rt != "" {
				t.Errorf("the keyring still holds the dead refresh token")
			}
			d.Restart()
			before := proxy.Count(daemontest.TokenPath)
			c = d.Client()
			if _, err := c.Token(ctx, client.TokenOptions{}); !errors.Is(err, client.ErrLoginRequired) {
				t.Errorf("token after the restart: %v; want a login required", err)
			}
			if n := proxy.Count(daemontest.TokenPath) - before; n != 0 {
				t.Errorf("the restarted daemon sent %d token requests: the dead refresh token went out again", n)
			}
			st := profileStatus(t, c)
			if st.State != "needs_login" || !strings.Contains(st.LastError, "log in again") {
				t.Errorf("status after the restart: %s, %q; want needs_login saying why", st.State, st.LastError)
			}
			d.Login(ctx, c)
			if _, err := c.Token(ctx, client.TokenOptions{}); err != nil {
				t.Errorf("token after a new login: %v", err)
			}
			if st := profileStatus(t, c); st.State != "valid" || st.LastError != "" {
				t.Errorf("status after the login: %s, %q", st.State, st.LastError)
			}
		})
	}
}
