package client_test

import (
	"context"
	"io"
	"net"
	"path/filepath"
	"sync/atomic"
	"testing"

	"authd.dev/authd/client"
	"authd.dev/authd/internal/daemontest"
	"authd.dev/authd/internal/server"
)

// stoppingFront is a socket whose first connection reads a call and
// closes without answering, as a daemon that stops before answering (one
// that 'authd run --replace' replaces, cut at its stop's bound); the next
// ones reach the daemon behind it, as the one that took the socket over.
func stoppingFront(t *testing.T, daemonSock string) (sock string, conns *atomic.Int32) {
	t.Helper()
	sock = filepath.Join(t.TempDir(), "front.sock")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	conns = &atomic.Int32{}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			if conns.Add(1) == 1 {
				_, _ = c.Read(make([]byte, 1024)) // the call has reached the daemon
				c.Close()
				continue
			}
			back, err := net.Dial("unix", daemonSock)
			if err != nil {
				c.Close()
				continue
			}
			go func() { _, _ = io.Copy(back, c); back.Close() }()
			go func() { _, _ = io.Copy(c, back); c.Close() }()
		}
	}()
	return sock, conns
}

// A call whose new connection ends without an answer runs once more, on
// another connection: the daemon may have stopped before answering, and
// every call but a login that has begun can be made again.
func TestCallRetriedWhenDaemonStopsBeforeAnswering(t *testing.T) {
	t.Parallel()
	d := daemontest.NewLimited(t, server.Limits{})
	sock, conns := stoppingFront(t, d.Sock)
	c, err := client.New(client.WithSocket(sock))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Status(context.Background()); err != nil {
		t.Fatalf("Status on a connection closed unanswered, then on a new one: %v", err)
	}
	if n := conns.Load(); n != 2 {
		t.Errorf("%d connections, want 2", n)
	}
}
