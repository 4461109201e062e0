package socket

import (
	"context"
	"errors"
	"net"
	"os"
	"path/filepath"
	"testing"
)

func TestListenModesAndInUse(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "authd", "authd.sock")
	ln, err := Listen(path)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	for p, want := range map[string]os.FileMode{filepath.Dir(path): 0o700, path: 0o600} {
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if got := fi.Mode().Perm(); got != want {
			t.Errorf("%s mode %v, want %v", p, got, want)
		}
	}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	if _, err := Listen(path); !errors.Is(err, ErrInUse) {
		t.Fatalf("second Listen: %v, want ErrInUse", err)
	}
}

func TestListenReplacesStaleSocket(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "authd.sock")
	// A socket file nobody listens on, as a killed daemon leaves behind.
	ln, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	ln.(*net.UnixListener).SetUnlinkOnClose(false)
	ln.Close()
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("stale socket not left behind: %v", err)
	}
	ln2, err := Listen(path)
	if err != nil {
		t.Fatalf("Listen over stale socket: %v", err)
	}
	ln2.Close()
}

func TestPeer(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "authd.sock")
	ln, err := Listen(path)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	got := make(chan int, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			got <- -2
			return
		}
		defer c.Close()
		uid, _, err := Peer(c)
		if err != nil {
			t.Error(err)
		}
		got <- uid
	}()
	c, err := Dial(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if uid := <-got; uid != os.Getuid() {
		t.Fatalf("Peer uid = %d, want %d", uid, os.Getuid())
	}
}

func TestPath(t *testing.T) {
	t.Setenv("AUTHD_SOCKET", "/x/y.sock")
	if p, _ := Path(); p != "/x/y.sock" {
		t.Errorf("AUTHD_SOCKET: got %s", p)
	}
	t.Setenv("AUTHD_SOCKET", "")
	t.Setenv("XDG_RUNTIME_DIR", "/run/user/7")
	if p, _ := Path(); p != "/run/user/7/authd/authd.sock" {
		t.Errorf("XDG_RUNTIME_DIR: got %s", p)
	}
}

// A socket named in a shared directory must not change that directory.
func TestListenLeavesSharedDirectory(t *testing.T) {
	t.Parallel()
	shared := t.TempDir()
	if err := os.Chmod(shared, 0o777|os.ModeSticky); err != nil {
		t.Fatal(err)
	}
	ln, err := Listen(filepath.Join(shared, "authd.sock"))
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	fi, err := os.Stat(shared)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode()&os.ModePerm != 0o777 || fi.Mode()&os.ModeSticky == 0 {
		t.Errorf("shared directory mode changed to %v", fi.Mode())
	}
}
