package socket

import (
	"context"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"authd.dev/authd/internal/otheruser"
)

func TestMain(m *testing.M) {
	otheruser.Main()
	os.Exit(m.Run())
}

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
	// A child another test forks at this moment holds a copy of the
	// listening descriptor until it execs: wait until the socket is
	// really dead, as a killed daemon's is.
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		c, err := net.Dial("unix", path)
		if err != nil {
			break
		}
		c.Close()
		if time.Now().After(deadline) {
			t.Fatal("the closed listener still accepts connections")
		}
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
	// A relative XDG_RUNTIME_DIR is ignored (the XDG spec), and a relative
	// AUTHD_SOCKET made absolute: a daemon started elsewhere finds it.
	t.Setenv("XDG_RUNTIME_DIR", "rel")
	if p, _ := Path(); !filepath.IsAbs(p) || strings.Contains(p, "rel") {
		t.Errorf("relative XDG_RUNTIME_DIR: got %s", p)
	}
	t.Setenv("AUTHD_SOCKET", "rel.sock")
	wd, _ := os.Getwd()
	if p, _ := Path(); p != filepath.Join(wd, "rel.sock") {
		t.Errorf("relative AUTHD_SOCKET: got %s", p)
	}
}

// TestListenRefusesDirectoryUnderOtherUsers: the socket's own directory is
// the user's, but a directory above it is another user's, who could rename
// it away and put a directory and a socket of theirs in its place.
func TestListenRefusesDirectoryUnderOtherUsers(t *testing.T) {
	t.Parallel()
	if os.Getuid() != 0 {
		t.Skip("needs root to give a directory to another uid")
	}
	for _, tt := range []struct {
		name  string
		mode  os.FileMode
		owner int
		want  string
	}{
		{"owned by another user", 0o755, otheruser.UID, "belongs to uid 65534"},
		{"writable by all", 0o777, 0, "writable by other users"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			shared := filepath.Join(t.TempDir(), "shared")
			if err := os.Mkdir(shared, 0o700); err != nil {
				t.Fatal(err)
			}
			if err := os.Chmod(shared, tt.mode); err != nil {
				t.Fatal(err)
			}
			if err := os.Chown(shared, tt.owner, tt.owner); err != nil {
				t.Fatal(err)
			}
			ln, err := Listen(filepath.Join(shared, "sub", "authd.sock"))
			if err == nil {
				ln.Close()
				t.Fatal("Listen under another user's directory succeeded")
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q does not say %q", err, tt.want)
			}
		})
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

// A symlink in place of authd's directory is not followed: the directory it
// names keeps its mode and gets no socket.
func TestListenRefusesSymlinkedDirectory(t *testing.T) {
	t.Parallel()
	base := t.TempDir()
	target := filepath.Join(base, "elsewhere")
	if err := os.Mkdir(target, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(target, 0o755); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(base, "authd")
	if err := os.Symlink(target, link); err != nil {
		t.Fatal(err)
	}
	ln, err := Listen(filepath.Join(link, "authd.sock"))
	if err == nil {
		ln.Close()
		t.Fatal("Listen in a symlinked directory succeeded")
	}
	if !strings.Contains(err.Error(), "symlink") {
		t.Errorf("error does not say why: %v", err)
	}
	fi, err := os.Stat(target)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o755 {
		t.Errorf("symlink target's mode changed to %v", fi.Mode().Perm())
	}
	if _, err := os.Lstat(filepath.Join(target, "authd.sock")); err == nil {
		t.Error("a socket was created in the symlink's target")
	}
}

// A socket directory of another user is refused, and left as it is.
func TestListenRefusesDirectoryOfOtherUser(t *testing.T) {
	t.Parallel()
	if os.Getuid() != 0 {
		t.Skip("needs root to give a directory to another uid")
	}
	dir := filepath.Join(t.TempDir(), "authd")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(dir, otheruser.UID, otheruser.UID); err != nil {
		t.Fatal(err)
	}
	ln, err := Listen(filepath.Join(dir, "authd.sock"))
	if err == nil {
		ln.Close()
		t.Fatal("Listen in another user's directory succeeded")
	}
	if !strings.Contains(err.Error(), "belongs to uid 65534") {
		t.Errorf("error does not name the owner: %v", err)
	}
	fi, err := os.Stat(dir)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o755 {
		t.Errorf("other user's directory mode changed to %v", fi.Mode().Perm())
	}
}

// A symlink at the socket path is neither followed nor removed.
func TestListenRefusesSymlinkSocketPath(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	target := filepath.Join(dir, "precious")
	if err := os.WriteFile(target, []byte("keep me"), 0o644); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "authd.sock")
	if err := os.Symlink(target, path); err != nil {
		t.Fatal(err)
	}
	ln, err := Listen(path)
	if err == nil {
		ln.Close()
		t.Fatal("Listen on a symlink succeeded")
	}
	if fi, err := os.Lstat(path); err != nil || fi.Mode()&os.ModeSymlink == 0 {
		t.Errorf("symlink at the socket path was replaced (%v)", err)
	}
	if b, err := os.ReadFile(target); err != nil || string(b) != "keep me" {
		t.Errorf("symlink target changed: %q, %v", b, err)
	}
}

// A live socket of another user is not "authd is already running".
func TestListenOtherUsersLiveSocket(t *testing.T) {
	t.Parallel()
	srv := otheruser.Serve(t)
	_, err := Listen(srv.Path)
	if errors.Is(err, ErrInUse) || !errors.Is(err, ErrWrongServer) {
		t.Fatalf("Listen on another user's live socket: %v, want ErrWrongServer", err)
	}
	if !strings.Contains(err.Error(), "another user's process holds the socket path") || !strings.Contains(err.Error(), "belongs to uid 65534") {
		t.Errorf("error does not say who holds the path: %v", err)
	}
	if n := srv.Received(t); n != 0 {
		t.Errorf("the other user's server received %d bytes", n)
	}
}

// Dial refuses a server of another uid before sending anything.
func TestDialRefusesOtherUsersServer(t *testing.T) {
	t.Parallel()
	srv := otheruser.Serve(t)
	c, err := Dial(context.Background(), srv.Path)
	if err == nil {
		c.Write([]byte("secret"))
		c.Close()
		t.Fatal("Dial accepted another user's server")
	}
	var wrong *WrongServerError
	if !errors.As(err, &wrong) || !errors.Is(err, ErrWrongServer) || wrong.UID != otheruser.UID {
		t.Fatalf("Dial: %v, want a WrongServerError for uid %d", err, otheruser.UID)
	}
	if n := srv.Received(t); n != 0 {
		t.Errorf("the other user's server received %d bytes", n)
	}
}
