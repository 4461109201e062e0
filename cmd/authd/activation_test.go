package main

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"authd.dev/authd/client"
)

// buildAuthd builds this command into a directory of the test's.
func buildAuthd(t *testing.T) string {
	t.Helper()
	exe := filepath.Join(t.TempDir(), "authd")
	out, err := exec.Command("go", "build", "-o", exe, ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return exe
}

// lockedBuffer is a bytes.Buffer for a child's output, read while written.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// activate runs 'authd run' under systemd-socket-activate, which listens on
// a socket of mode 0644 and starts authd on the first connection; mode, if
// not zero, is the mode to give the socket before (as authd.socket's
// SocketMode does).
func activate(t *testing.T, mode os.FileMode) (sock string, logs *lockedBuffer) {
	t.Helper()
	if _, err := exec.LookPath("systemd-socket-activate"); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("systemd-socket-activate is not installed (package systemd; scripts/test.sh installs it)")
		}
		t.Skip("systemd-socket-activate not installed")
	}
	exe := buildAuthd(t)
	dir := t.TempDir()
	sock = filepath.Join(dir, "run", "authd", "authd.sock")
	if err := os.MkdirAll(filepath.Dir(sock), 0o700); err != nil {
		t.Fatal(err)
	}
	config := filepath.Join(dir, "config.toml")
	if err := os.WriteFile(config, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	logs = &lockedBuffer{}
	cmd := exec.Command("systemd-socket-activate", "-l", sock, exe, "run", "--config", config, "--socket", sock)
	cmd.Env = append(os.Environ(), "AUTHD_KEYRING_PASSPHRASE=x", "XDG_RUNTIME_DIR="+filepath.Join(dir, "run"))
	cmd.Stdout, cmd.Stderr = logs, logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Signal(os.Interrupt)
		done := make(chan struct{})
		go func() { _ = cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
	})
	for i := 0; ; i++ {
		if _, err := os.Stat(sock); err == nil {
			break
		}
		if i == 200 {
			t.Fatalf("systemd-socket-activate made no socket:\n%s", logs)
		}
		time.Sleep(25 * time.Millisecond)
	}
	if mode != 0 {
		if err := os.Chmod(sock, mode); err != nil {
			t.Fatal(err)
		}
	}
	if strings.Contains(logs.String(), "serving") {
		t.Fatalf("authd started before the first connection:\n%s", logs)
	}
	return sock, logs
}

// TestSocketActivation starts authd the way systemd's authd.socket does:
// on the first connection, on the socket the service manager made, which
// authd takes over instead of making its own.
func TestSocketActivation(t *testing.T) {
	sock, logs := activate(t, 0o600)
	c, err := client.New(client.WithSocket(sock), client.WithTimeouts(20*time.Second, time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := c.Status(ctx); err != nil {
		t.Fatalf("Status through the activated socket: %v\n%s", err, logs)
	}
	// The log comes through a pipe: it may trail the answer.
	for i := 0; !strings.Contains(logs.String(), "socket handed over by the service manager"); i++ {
		if i == 200 {
			t.Fatalf("authd did not take the socket over:\n%s", logs)
		}
		time.Sleep(25 * time.Millisecond)
	}
}

// TestSocketActivationRefusesOpenSocket: a socket that others may connect
// to (made without SocketMode=0600) is refused, loudly.
func TestSocketActivationRefusesOpenSocket(t *testing.T) {
	sock, logs := activate(t, 0)
	c, err := client.New(client.WithSocket(sock), client.WithTimeouts(5*time.Second, time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := c.Status(ctx); err == nil {
		t.Fatalf("authd served on a socket of mode 0644:\n%s", logs)
	}
	for i := 0; !strings.Contains(logs.String(), "it must be 0600"); i++ {
		if i == 200 {
			t.Fatalf("authd did not say why it refused the socket:\n%s", logs)
		}
		time.Sleep(25 * time.Millisecond)
	}
}
