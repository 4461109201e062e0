package broker_test

import (
	"errors"
	"os"
	"strings"
	"testing"

	"authd.dev/authd/client"
	"authd.dev/authd/internal/daemontest"
	"authd.dev/authd/internal/idptest"
)

func TestReload(t *testing.T) {
	t.Parallel()
	d := daemontest.New(t, "file", idptest.Options{}, "")
	ctx := daemontest.Context(t)
	c := d.Client()
	d.Login(ctx, c)
	orig, err := os.ReadFile(d.Config)
	if err != nil {
		t.Fatal(err)
	}

	// A broken file is reported and the running configuration kept.
	if err := os.WriteFile(d.Config, append(orig, "\n[profiles.other]\nclient_idd = \"x\"\n"...), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := d.Broker.Reload(); err == nil || !strings.Contains(err.Error(), "client_idd") {
		t.Fatalf("reload of a broken file: %v", err)
	}
	if _, err := c.Token(ctx, client.TokenOptions{}); err != nil {
		t.Fatalf("token after a failed reload: %v", err)
	}

	// A new profile appears; the unchanged one keeps its session.
	extra := "\n[profiles.other]\nissuer = \"" + d.IdP.Issuer() + "\"\nclient_id = \"" + idptest.PublicClientID + "\"\n"
	if err := os.WriteFile(d.Config, append(orig, extra...), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := d.Broker.Reload(); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Token(ctx, client.TokenOptions{}); err != nil {
		t.Fatalf("token of the unchanged profile after reload: %v", err)
	}
	if _, err := c.Token(ctx, client.TokenOptions{Profile: "other"}); !errors.Is(err, client.ErrLoginRequired) {
		t.Fatalf("new profile: %v, want ErrLoginRequired", err)
	}
}

func TestBrokenConfigAtStart(t *testing.T) {
	t.Parallel()
	d := daemontest.New(t, "file", idptest.Options{}, "flow = \"sideways\"\n")
	_, err := d.Client().Token(daemontest.Context(t), client.TokenOptions{})
	if !errors.Is(err, client.ErrInvalidConfig) || !strings.Contains(err.Error(), "profiles.work.flow") {
		t.Fatalf("token with a broken config: %v", err)
	}
}
