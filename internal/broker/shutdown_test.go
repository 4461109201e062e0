package broker_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"authd.dev/authd/api"
	"authd.dev/authd/client"
	"authd.dev/authd/internal/broker"
	"authd.dev/authd/internal/daemontest"
	"authd.dev/authd/internal/idptest"
)

// A refresh whose caller gave up is still running when the daemon stops:
// Shutdown waits for it, so that the refresh token the provider rotated
// reaches the keyring (with rotation, the old one is dead by then).
func TestShutdownStoresRefreshInFlight(t *testing.T) {
	t.Parallel()
	d, proxy := daemontest.NewProxied(t, idptest.Options{})
	ctx := daemontest.Context(t)
	c := d.Client()
	d.Login(ctx, c)
	before := d.RefreshToken(ctx)
	proxy.Set(idptest.Fault{Delay: 500 * time.Millisecond})
	calls := proxy.Count(daemontest.TokenPath)
	cctx, cancel := context.WithCancel(ctx)
	gaveUp := make(chan error, 1)
	go func() {
		_, err := c.Token(cctx, client.TokenOptions{ForceRefresh: true})
		gaveUp <- err
	}()
	for proxy.Count(daemontest.TokenPath) == calls {
		time.Sleep(time.Millisecond) // until the refresh has reached the provider
	}
	cancel()
	<-gaveUp

	sctx, scancel := context.WithTimeout(ctx, 20*time.Second)
	defer scancel()
	if err := d.Broker.Shutdown(sctx); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	if after := d.RefreshToken(ctx); after == before {
		t.Errorf("Shutdown did not wait for the refresh in flight: the keyring holds the refresh token it replaced")
	}
}

// A refresh that does not end within Shutdown's deadline is cancelled,
// and Shutdown says which profile's work it cut off.
func TestShutdownDeadline(t *testing.T) {
	t.Parallel()
	d, proxy := daemontest.NewProxied(t, idptest.Options{})
	ctx := daemontest.Context(t)
	c := d.Client()
	d.Login(ctx, c)
	proxy.Set(idptest.Fault{Hang: true})
	calls := proxy.Count(daemontest.TokenPath)
	cctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() { _, _ = c.Token(cctx, client.TokenOptions{ForceRefresh: true}) }()
	for proxy.Count(daemontest.TokenPath) == calls {
		time.Sleep(time.Millisecond)
	}
	sctx, scancel := context.WithTimeout(ctx, 200*time.Millisecond)
	defer scancel()
	err := d.Broker.Shutdown(sctx)
	if err == nil || !strings.Contains(err.Error(), "work") || !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Shutdown with a refresh hung past its deadline: %v; want an error naming profile work", err)
	}
}

// Once draining, a login fails at once with the shutdown's reason, as does
// a token request that would wait for one; tokens that need no login are
// still served.
func TestDrainRefusesLogins(t *testing.T) {
	t.Parallel()
	d := daemontest.New(t, "file", idptest.Options{}, "")
	ctx := daemontest.Context(t)
	d.AddProfile("other", "issuer = \""+d.IdP.Issuer()+"\"\nclient_id = \""+idptest.PublicClientID+"\"\n")
	d.Login(ctx, d.Client())
	d.Broker.Drain()

	sess, err := d.Broker.Session("other")
	if err != nil {
		t.Fatal(err)
	}
	err = sess.Login(ctx, broker.LoginRequest{}, nil)
	if !errors.Is(err, broker.ErrShutdown) || broker.ReasonOf(err) != api.ShuttingDown || !strings.Contains(err.Error(), "authd is shutting down") {
		t.Errorf("a login while draining: %v (%s); want ErrShutdown, SHUTTING_DOWN", err, broker.ReasonOf(err))
	}
	_, err = sess.Token(ctx, broker.TokenRequest{Interactive: true})
	if broker.ReasonOf(err) != api.ShuttingDown {
		t.Errorf("an interactive token request while draining: %v (%s); want SHUTTING_DOWN", err, broker.ReasonOf(err))
	}
	work, err := d.Broker.Session("work")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := work.Token(ctx, broker.TokenRequest{ForceRefresh: true}); err != nil {
		t.Errorf("a refresh while draining: %v; want the token", err)
	}
	if st := work.Status(ctx); !st.NextRefresh.IsZero() {
		t.Errorf("a draining session plans a background refresh at %v", st.NextRefresh)
	}
}
