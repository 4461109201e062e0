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

func TestDeviceLogin(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name    string
		approve bool
	}{{"approved", true}, {"denied", false}} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			d := daemontest.New(t, "file", idptest.Options{DevicePollInterval: time.Second}, "")
			ctx := daemontest.Context(t)
			c := d.Client()
			var code *client.DeviceCode
			err := c.Login(ctx, client.LoginOptions{Device: true}, func(ev client.LoginEvent) {
				if ev.OpenURL != nil {
					t.Error("device login asked for a browser redirect")
				}
				if ev.DeviceCode == nil {
					return
				}
				code = ev.DeviceCode
				act := idptest.ApproveDevice
				if !tt.approve {
					act = idptest.DenyDevice
				}
				go func() {
					if err := act(ctx, code.VerificationURI, code.UserCode, "alice", "alice-password"); err != nil {
						t.Error(err)
					}
				}()
			})
			if code == nil || code.UserCode == "" || !strings.HasPrefix(code.VerificationURI, d.IdP.Issuer()) || code.Expires.IsZero() {
				t.Fatalf("device code event %+v", code)
			}
			if tt.approve {
				if err != nil {
					t.Fatal(err)
				}
				if _, err := c.Token(ctx, client.TokenOptions{}); err != nil {
					t.Fatal(err)
				}
				return
			}
			t.Logf("denied: %v", err)
			if !errors.Is(err, client.ErrLoginFailed) || !strings.Contains(err.Error(), "denied") {
				t.Errorf("denied device login: %v", err)
			}
		})
	}
}
