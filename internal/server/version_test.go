package server_test

import (
	"context"
	"errors"
	"path/filepath"
	"testing"

	"authd.dev/authd/client"
	"authd.dev/authd/internal/broker"
	"authd.dev/authd/internal/daemontest"
	"authd.dev/authd/internal/idptest"
	"authd.dev/authd/internal/server"
	"authd.dev/authd/internal/socket"
)

// Every answer carries the daemon's version, errors included, so that a
// client knows it without asking for Status; Status has it with the build.
func TestAnswersCarryVersion(t *testing.T) {
	t.Parallel()
	d := daemontest.New(t, "file", idptest.Options{}, "")
	ctx := daemontest.Context(t)
	var told []string
	c, err := client.New(client.WithSocket(d.Sock), client.WithDaemonVersion(func(v string) { told = append(told, v) }))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Token(ctx, client.TokenOptions{}); !errors.Is(err, client.ErrLoginRequired) {
		t.Fatalf("token before a login: %v", err)
	}
	if v := c.DaemonVersion(); v != "test" {
		t.Errorf("DaemonVersion after an error = %q, want the daemon's, test", v)
	}
	d.Login(ctx, c)
	if _, err := c.Token(ctx, client.TokenOptions{}); err != nil {
		t.Fatal(err)
	}
	if len(told) != 1 || told[0] != "test" {
		t.Errorf("WithDaemonVersion's function was called with %q; want once, with test", told)
	}
}

// Status has the daemon's version and build.
func TestStatusVersionAndBuild(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	sock := filepath.Join(dir, "authd.sock")
	ln, err := socket.Listen(sock)
	if err != nil {
		t.Fatal(err)
	}
	b := broker.New(broker.Options{ConfigPath: filepath.Join(dir, "none.toml"), Version: "v1.2.3", Build: "0123456789ab, go1.26.8"})
	defer b.Close()
	ctx, cancel := context.WithCancel(daemontest.Context(t))
	served := make(chan error, 1)
	go func() { served <- server.Serve(ctx, b, ln) }()
	defer func() { cancel(); <-served }()
	c, err := client.New(client.WithSocket(sock))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	st, err := c.Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st.Version != "v1.2.3" || st.Build != "0123456789ab, go1.26.8" || c.DaemonVersion() != "v1.2.3" {
		t.Errorf("Status version %q, build %q, header %q; want the broker's", st.Version, st.Build, c.DaemonVersion())
	}
}
