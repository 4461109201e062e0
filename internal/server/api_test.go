package server_test

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"

	"authd.dev/authd/client"
	"authd.dev/authd/internal/daemontest"
	"authd.dev/authd/internal/idptest"
)

// A reload that fails keeps the running configuration, and Status says
// so with every problem of the file, until a reload succeeds.
func TestStatusShowsFailedReload(t *testing.T) {
	t.Parallel()
	d := daemontest.New(t, "file", idptest.Options{}, "")
	ctx := daemontest.Context(t)
	c := d.Client()
	orig, err := os.ReadFile(d.Config)
	if err != nil {
		t.Fatal(err)
	}
	broken := string(orig) + "\n[profiles.other]\nissuer = \"http://idp.example.com\"\nclient_idd = \"x\"\n"
	if err := os.WriteFile(d.Config, []byte(broken), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := d.Broker.Reload(); err == nil {
		t.Fatal("reload of a broken file succeeded")
	}
	st, err := c.Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	n := strings.Count(broken, "\n") // the broken lines are the last two
	want := fmt.Sprintf("%s:%d: profiles.other.client_idd: unknown key (did you mean client_id?)\n"+
		"%s:%d: profiles.other.issuer: must use https (http is allowed only for 127.0.0.1, localhost and [::1])", d.Config, n, d.Config, n-1)
	if got := st.ReloadError; got != want {
		t.Errorf("Status reload_error:\n got %q\nwant %q", got, want)
	}
	if len(st.Profiles) != 1 || st.Profiles[0].Name != "work" {
		t.Errorf("Status profiles %v, want the old config's", st.Profiles)
	}

	if err := os.WriteFile(d.Config, orig, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := d.Broker.Reload(); err != nil {
		t.Fatal(err)
	}
	if st, err := c.Status(ctx); err != nil || st.ReloadError != "" {
		t.Errorf("Status after a good reload: reload_error %q, %v; want none", st.ReloadError, err)
	}
}

// A client secret the provider refuses (invalid_client) is a failed login,
// not an error of the daemon's.
func TestWrongClientSecretIsLoginFailed(t *testing.T) {
	t.Parallel()
	d := daemontest.New(t, "file", idptest.Options{}, "")
	d.AddProfile("svc", fmt.Sprintf("issuer = %q\nclient_id = %q\nflow = \"client_credentials\"\nscopes = [\"openid\"]\n",
		d.IdP.Issuer(), idptest.ConfidentialClientID))
	_, err := d.Client().SetClientSecret(daemontest.Context(t), "svc", "wrong-secret")
	if !errors.Is(err, client.ErrLoginFailed) || !strings.Contains(err.Error(), "invalid_client") {
		t.Errorf("SetClientSecret with a wrong secret: %v; want ErrLoginFailed (LOGIN_FAILED) naming invalid_client", err)
	}
}

// Errors reach the client with the reason it branches on.
func TestErrorsAreTyped(t *testing.T) {
	t.Parallel()
	d := daemontest.New(t, "file", idptest.Options{}, "")
	ctx := daemontest.Context(t)
	c := d.Client()
	if _, err := c.Token(ctx, client.TokenOptions{Profile: "nope"}); !errors.Is(err, client.ErrProfileNotFound) {
		t.Errorf("unknown profile: %v", err)
	}
	if _, err := c.Token(ctx, client.TokenOptions{Scopes: []string{"admin"}}); !errors.Is(err, client.ErrInvalidRequest) {
		t.Errorf("scope outside the profile: %v", err)
	}
	d.Stop()
	_, err := c.Token(ctx, client.TokenOptions{})
	if !errors.Is(err, client.ErrDaemonUnreachable) || !strings.Contains(err.Error(), d.Sock) {
		t.Errorf("daemon down: %v", err)
	}
}
