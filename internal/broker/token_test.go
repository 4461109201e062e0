package broker_test

import (
	"testing"
	"time"

	"authd.dev/authd/client"
	"authd.dev/authd/internal/daemontest"
	"authd.dev/authd/internal/idptest"
)

// An interactive request whose refresh finds the grant gone logs in, and
// is then served the new login's token: the failed refresh is not held
// against the token the login brought.
func TestInteractiveTokenLogsInAfterInvalidGrant(t *testing.T) {
	t.Parallel()
	d := daemontest.New(t, "file", idptest.Options{}, "")
	ctx := daemontest.Context(t)
	c := d.Client()
	d.Login(ctx, c)
	old, err := c.Token(ctx, client.TokenOptions{})
	if err != nil {
		t.Fatal(err)
	}
	d.IdP.RevokeAllRefreshTokens()
	d.Clock.Sleep(time.Hour)
	d.IdP.ResetCounts()

	type result struct {
		tok *client.Token
		err error
	}
	got := make(chan result, 1)
	go func() {
		tok, err := c.Token(ctx, client.TokenOptions{Interactive: true})
		got <- result{tok, err}
	}()
	// Once the request's refresh has failed and its login runs, join the
	// login to see its URL, and complete it.
	for profileStatus(t, c).State != "logging_in" {
		select {
		case r := <-got:
			t.Fatalf("the interactive request ended before a login: %v", r.err)
		case <-time.After(10 * time.Millisecond):
		}
	}
	if n := d.IdP.Count("token:refresh_token"); n != 1 {
		t.Fatalf("%d refreshes before the login, want 1", n)
	}
	d.Login(ctx, c)
	r := <-got
	if r.err != nil {
		t.Fatalf("interactive token after the login: %v", r.err)
	}
	if r.tok.AccessToken == "" || r.tok.AccessToken == old.AccessToken || !r.tok.Expiry.After(d.Clock.Now()) {
		t.Errorf("interactive token after the login: %+v, want the new login's", r.tok)
	}
	if n := d.IdP.Count("token:authorization_code"); n != 1 {
		t.Errorf("%d code exchanges, want 1", n)
	}
}
