package client_test

import (
	"context"
	"errors"
	"net"
	"path/filepath"
	"testing"
	"time"

	"authd.dev/authd/client"
)

// A call whose context has no deadline still ends: against a daemon that
// accepts and never answers (stopped with SIGSTOP), Token and Login used to
// wait forever.
func TestCallsGetADefaultDeadline(t *testing.T) {
	t.Parallel()
	sock := filepath.Join(t.TempDir(), "authd.sock")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		var held []net.Conn // open, never answered
		defer func() {
			for _, c := range held {
				c.Close()
			}
		}()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			held = append(held, c)
		}
	}()
	c, err := client.New(client.WithSocket(sock), client.WithTimeouts(200*time.Millisecond, 300*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Token(context.Background(), client.TokenOptions{}); !errors.Is(err, context.DeadlineExceeded) && !errors.Is(err, client.ErrDaemonUnreachable) {
		t.Errorf("Token against a silent daemon: %v, want a deadline", err)
	}
	if err := c.Login(context.Background(), client.LoginOptions{}, func(client.LoginEvent) {}); !errors.Is(err, context.DeadlineExceeded) && !errors.Is(err, client.ErrDaemonUnreachable) {
		t.Errorf("Login against a silent daemon: %v, want a deadline", err)
	}
}
