package server_test

import (
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"

	"authd.dev/authd/api"
	"authd.dev/authd/client"
	"authd.dev/authd/internal/daemontest"
	"authd.dev/authd/internal/idptest"
)

// The Reload call says which profiles changed, keeps the sessions of the
// others (a token minted for an unchanged profile is served from memory,
// without a request to the provider), and keeps the old configuration when
// the file has problems, which it names by file and line.
func TestReloadCall(t *testing.T) {
	t.Parallel()
	d, proxy := daemontest.NewProxied(t, idptest.Options{})
	ctx := daemontest.Context(t)
	c := d.Client()
	d.Login(ctx, c)
	orig, err := os.ReadFile(d.Config)
	if err != nil {
		t.Fatal(err)
	}
	write := func(body string) {
		t.Helper()
		if err := os.WriteFile(d.Config, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	// A down-scoped token lives in the session's memory only: what a
	// session that starts over no longer has.
	minted := func() string {
		t.Helper()
		tok, err := c.Token(ctx, client.TokenOptions{Scopes: []string{"openid"}})
		if err != nil {
			t.Fatal(err)
		}
		return tok.AccessToken
	}
	first := minted()
	calls := proxy.Count(daemontest.TokenPath)

	other := fmt.Sprintf("\n[profiles.other]\nissuer = %q\nclient_id = %q\n", d.IdP.Issuer(), idptest.PublicClientID)
	write(string(orig) + other)
	res, err := c.Reload(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if res.ConfigPath != d.Config || !slices.Equal(res.Added, []string{"other"}) || len(res.Changed)+len(res.Removed) != 0 || res.KeyringChanged {
		t.Errorf("Reload = %+v, want other added and nothing else", res)
	}
	if got := minted(); got != first || proxy.Count(daemontest.TokenPath) != calls {
		t.Errorf("after a reload that left profile work as it was, its minted token was fetched again (%d provider calls, was %d)",
			proxy.Count(daemontest.TokenPath), calls)
	}
	d.WaitLog(`msg="config reloaded" added=[other] changed=[] removed=[]`, 1)

	// Problems in the file: named by line, nothing changes.
	broken := string(orig) + other + "\n[profiles.third]\nclient_idd = \"x\"\n"
	write(broken)
	_, err = c.Reload(ctx)
	var ce *client.Error
	line := strings.Count(broken, "\n")
	if !errors.Is(err, client.ErrInvalidConfig) || !errors.As(err, &ce) || ce.Reason != api.InvalidConfig ||
		!strings.Contains(err.Error(), fmt.Sprintf("%s:%d: profiles.third.client_idd: unknown key", d.Config, line)) ||
		!strings.Contains(err.Error(), "keeps serving the configuration it had") {
		t.Errorf("Reload of a broken file: %v; want INVALID_CONFIG naming %s:%d and saying the old config is kept", err, d.Config, line)
	}
	if st, err := c.Status(ctx); err != nil || !strings.Contains(st.ReloadError, "client_idd") || len(st.Profiles) != 2 {
		t.Errorf("Status after a failed reload: %+v, %v", st, err)
	}
	if got := minted(); got != first {
		t.Errorf("a failed reload changed profile work's session")
	}

	// A changed profile starts over: its minted token is gone. (This is
	// what tells the check above from one that cannot fail.)
	write(string(orig) + "token_lifetime = \"7m\"\n")
	res, err = c.Reload(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(res.Changed, []string{"work"}) || !slices.Equal(res.Removed, []string{"other"}) || len(res.Added) != 0 {
		t.Errorf("Reload = %+v, want work changed and other removed", res)
	}
	if got := minted(); got == first || proxy.Count(daemontest.TokenPath) != calls+1 {
		t.Errorf("a changed profile kept its minted token (%d provider calls, was %d)", proxy.Count(daemontest.TokenPath), calls)
	}
}
