package server_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"authd.dev/authd/api"
	"authd.dev/authd/client"
	"authd.dev/authd/internal/daemontest"
	"authd.dev/authd/internal/idptest"
)

// A server that stops ends the logins in flight, and every client waiting
// on one hears that authd is shutting down (SHUTTING_DOWN), not a cut
// connection; then it accepts no more calls.
func TestStopEndsLogins(t *testing.T) {
	t.Parallel()
	d := daemontest.New(t, "file", idptest.Options{}, "")
	ctx := daemontest.Context(t)
	prompted, joined := make(chan struct{}), make(chan struct{})
	results := make(chan error, 2)
	go func() {
		results <- d.Client().Login(ctx, client.LoginOptions{}, func(ev client.LoginEvent) {
			if ev.OpenURL != nil {
				close(prompted) // and nobody opens it
			}
		})
	}()
	<-prompted
	go func() {
		results <- d.Client().Login(ctx, client.LoginOptions{}, func(ev client.LoginEvent) {
			if ev.Waiting != "" {
				close(joined)
			}
		})
	}()
	<-joined

	if err := d.Stop(); err != nil {
		t.Fatalf("Stop: %v", err)
	}
	for range 2 {
		err := <-results
		var ce *client.Error
		if !errors.As(err, &ce) || ce.Reason != api.ShuttingDown || !errors.Is(err, client.ErrDaemonUnreachable) ||
			!strings.Contains(err.Error(), "authd is shutting down") {
			t.Errorf("a login in flight when the server stopped: %v; want SHUTTING_DOWN saying authd is shutting down", err)
		}
	}
	d.WaitLog(`msg="login cancelled" profile=work why="the login was cancelled: authd is shutting down"`, 1)
	if _, err := d.Client().Status(ctx); !errors.Is(err, client.ErrDaemonUnreachable) {
		t.Errorf("a call after the stop: %v, want the daemon unreachable", err)
	}
}

// A call in flight when the server stops is answered: a token request
// waiting on a slow provider gets its token, and the rotated refresh token
// is in the keyring before the server has stopped.
func TestStopAnswersCallsInFlight(t *testing.T) {
	t.Parallel()
	d, proxy := daemontest.NewProxied(t, idptest.Options{})
	ctx := daemontest.Context(t)
	c := d.Client()
	d.Login(ctx, c)
	before := d.RefreshToken(ctx)
	proxy.Set(idptest.Fault{Delay: 500 * time.Millisecond})
	calls := proxy.Count(daemontest.TokenPath)
	type result struct {
		tok *client.Token
		err error
	}
	got := make(chan result, 1)
	go func() {
		tok, err := c.Token(ctx, client.TokenOptions{ForceRefresh: true})
		got <- result{tok, err}
	}()
	for proxy.Count(daemontest.TokenPath) == calls {
		time.Sleep(time.Millisecond) // until the refresh has reached the provider
	}
	if err := d.Stop(); err != nil {
		t.Fatalf("Stop: %v", err)
	}
	r := <-got
	if r.err != nil {
		t.Fatalf("the token call in flight when the server stopped: %v; want its token", r.err)
	}
	if after := d.RefreshToken(ctx); after == before {
		t.Errorf("the refresh in flight did not store its rotated refresh token")
	}
}
