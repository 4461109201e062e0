package broker_test

import (
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"authd.dev/authd/client"
	"authd.dev/authd/internal/daemontest"
	"authd.dev/authd/internal/idptest"
)

func TestClientCredentials(t *testing.T) {
	t.Parallel()
	d := daemontest.New(t, "file", idptest.Options{}, "")
	// A service profile whose secret lives in the keyring only.
	d.AddProfile("svc", fmt.Sprintf("issuer = %q\nclient_id = %q\nflow = \"client_credentials\"\nscopes = [\"openid\"]\n",
		d.IdP.Issuer(), idptest.ConfidentialClientID))
	ctx := daemontest.Context(t)
	c := d.Client()

	if _, err := c.Token(ctx, client.TokenOptions{Profile: "svc"}); !errors.Is(err, client.ErrLoginRequired) {
		t.Fatalf("token without a secret: %v", err)
	}
	err := c.Login(ctx, client.LoginOptions{Profile: "svc"}, func(client.LoginEvent) {})
	if !errors.Is(err, client.ErrLoginRequired) || !strings.Contains(err.Error(), "--client-secret-stdin") {
		t.Fatalf("login without a secret: %v", err)
	}
	if _, err := c.SetClientSecret(ctx, "svc", "wrong-secret"); err == nil || !strings.Contains(err.Error(), "refused the client secret") {
		t.Fatalf("wrong secret: %v", err)
	}
	if _, err := c.Token(ctx, client.TokenOptions{Profile: "svc"}); !errors.Is(err, client.ErrLoginRequired) {
		t.Fatalf("a refused secret was kept: %v", err)
	}
	if _, err := c.SetClientSecret(ctx, "work", idptest.ConfidentialClientSecret); !errors.Is(err, client.ErrInvalidRequest) {
		t.Errorf("secret for a browser profile: %v", err)
	}

	expiry, err := c.SetClientSecret(ctx, "svc", idptest.ConfidentialClientSecret)
	if err != nil || expiry.IsZero() {
		t.Fatalf("set secret: %v (expiry %v)", err, expiry)
	}
	tok, err := c.Token(ctx, client.TokenOptions{Profile: "svc"})
	if err != nil {
		t.Fatal(err)
	}
	// Expired: a new token from the same secret, no user involved.
	d.Clock.Sleep(time.Hour)
	fresh, err := c.Token(ctx, client.TokenOptions{Profile: "svc"})
	if err != nil || fresh.AccessToken == tok.AccessToken {
		t.Fatalf("renewal: %v", err)
	}
	if n := d.IdP.Count("token:client_credentials"); n != 3 { // wrong secret, accepted secret, renewal
		t.Errorf("%d client_credentials requests, want 3", n)
	}
	st, err := c.Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range st.Profiles {
		if p.Name == "svc" && (p.Source != "client_credentials" || p.State != "valid") {
			t.Errorf("status of svc: %v", p)
		}
	}
	// The secret survives a restart, and never leaves the daemon.
	d.Restart()
	d.Clock.Sleep(time.Hour)
	if _, err := c.Token(ctx, client.TokenOptions{Profile: "svc"}); err != nil {
		t.Errorf("renewal after restart: %v", err)
	}
	if strings.Contains(fmt.Sprintf("%+v", st), idptest.ConfidentialClientSecret) || strings.Contains(fmt.Sprint(fresh), idptest.ConfidentialClientSecret) {
		t.Error("the client secret crossed the socket")
	}
	assertNoSecretsInLogs(t, d, idptest.ConfidentialClientSecret, "wrong-secret", tok.AccessToken)
}

func jwtWith(claims string) string {
	enc := base64.RawURLEncoding.EncodeToString
	return enc([]byte(`{"alg":"none"}`)) + "." + enc([]byte(claims)) + ".sig"
}

func TestStaticToken(t *testing.T) {
	t.Parallel()
	d := daemontest.New(t, "file", idptest.Options{}, "")
	ctx := daemontest.Context(t)
	c := d.Client()

	exp := d.Clock.Now().Add(time.Hour).Unix()
	static := jwtWith(fmt.Sprintf(`{"sub":"ci-bot","exp":%d}`, exp))
	expiry, err := c.SetToken(ctx, "", static)
	if err != nil || expiry.Unix() != exp {
		t.Fatalf("set token: %v, expiry %v", err, expiry)
	}
	tok, err := c.Token(ctx, client.TokenOptions{})
	if err != nil || tok.AccessToken != static || tok.Expiry.Unix() != exp {
		t.Fatalf("stored token: %v %+v", err, tok)
	}
	st, err := c.Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if p := st.Profiles[0]; p.Source != "static" || p.Account != "ci-bot" {
		t.Errorf("status %v", p)
	}
	d.Clock.Sleep(2 * time.Hour)
	_, err = c.Token(ctx, client.TokenOptions{})
	if !errors.Is(err, client.ErrLoginRequired) || !strings.Contains(err.Error(), "stored token expired") {
		t.Errorf("expired stored token: %v", err)
	}
	if n := d.IdP.Count("token"); n != 0 {
		t.Errorf("%d provider requests for a static token", n)
	}

	// Refused: already expired, or not one token.
	if _, err := c.SetToken(ctx, "", jwtWith(`{"exp":1}`)); !errors.Is(err, client.ErrInvalidRequest) {
		t.Errorf("expired token stored: %v", err)
	}
	if _, err := c.SetToken(ctx, "", "two words"); !errors.Is(err, client.ErrInvalidRequest) {
		t.Errorf("malformed token stored: %v", err)
	}
	// Control characters would reach a terminal or an HTTP header raw.
	for _, bad := range []string{"tok\x1b[2Jen", "tok\x00en", "tok\u202een"} {
		if _, err := c.SetToken(ctx, "", bad); !errors.Is(err, client.ErrInvalidRequest) {
			t.Errorf("token %q: %v, want an invalid request", bad, err)
		}
	}
	// An opaque token has no expiry and is served as is.
	if _, err := c.SetToken(ctx, "", "opaque-api-key"); err != nil {
		t.Fatal(err)
	}
	if tok, err := c.Token(ctx, client.TokenOptions{}); err != nil || tok.AccessToken != "opaque-api-key" || !tok.Expiry.IsZero() {
		t.Errorf("opaque stored token: %v %+v", err, tok)
	}
}

func TestNoBrowserUsesDeviceFlow(t *testing.T) {
	t.Parallel()
	d := daemontest.New(t, "file", idptest.Options{}, "")
	ctx := daemontest.Context(t)
	c := d.Client()
	var sawDevice, sawURL bool
	err := c.Login(ctx, client.LoginOptions{NoBrowser: true}, func(ev client.LoginEvent) {
		sawURL = sawURL || ev.OpenURL != nil
		if ev.DeviceCode != nil {
			sawDevice = true
			go idptest.ApproveDevice(ctx, ev.DeviceCode.VerificationURI, ev.DeviceCode.UserCode, "alice", "alice-password")
		}
	})
	if err != nil || !sawDevice || sawURL {
		t.Fatalf("login without a browser: err %v, device %v, url %v", err, sawDevice, sawURL)
	}
}

func TestDeviceCodeExpires(t *testing.T) {
	t.Parallel()
	d := daemontest.New(t, "file", idptest.Options{DeviceCodeLifetime: 2 * time.Second, DevicePollInterval: time.Second}, "")
	err := d.Client().Login(daemontest.Context(t), client.LoginOptions{Device: true}, func(client.LoginEvent) {})
	if !errors.Is(err, client.ErrLoginFailed) || !strings.Contains(err.Error(), "expired") {
		t.Errorf("unapproved device code: %v", err)
	}
}

// A provider that answers slow_down makes authd poll less often, and the
// login still completes.
func TestDeviceLoginSlowDown(t *testing.T) {
	t.Parallel()
	d := daemontest.New(t, "file", idptest.Options{DevicePollInterval: time.Second, DeviceSlowDownBelow: 2 * time.Second}, "")
	ctx := daemontest.Context(t)
	approved := make(chan struct{})
	err := d.Client().Login(ctx, client.LoginOptions{Device: true}, func(ev client.LoginEvent) {
		if dc := ev.DeviceCode; dc != nil {
			go func() {
				defer close(approved)
				// Let a couple of polls come first.
				time.Sleep(2500 * time.Millisecond)
				if err := idptest.ApproveDevice(ctx, dc.VerificationURI, dc.UserCode, "alice", "alice-password"); err != nil {
					t.Error(err)
				}
			}()
		}
	})
	<-approved
	if err != nil {
		t.Fatalf("device login with slow_down: %v", err)
	}
	if n := d.IdP.SlowDowns(); n != 1 {
		t.Errorf("%d slow_down answers, want 1 (authd must poll less often after one)", n)
	}
}
