package socket

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
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
	if err := os.Chown(dir, otherUID, otherUID); err != nil {
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
	srv := serveAsOtherUser(t)
	_, err := Listen(srv.path)
	if errors.Is(err, ErrInUse) || !errors.Is(err, ErrWrongServer) {
		t.Fatalf("Listen on another user's live socket: %v, want ErrWrongServer", err)
	}
	if !strings.Contains(err.Error(), "another user's process holds the socket path") || !strings.Contains(err.Error(), "belongs to uid 65534") {
		t.Errorf("error does not say who holds the path: %v", err)
	}
	if n := srv.received(t); n != 0 {
		t.Errorf("the other user's server received %d bytes", n)
	}
}

// Dial refuses a server of another uid before sending anything.
func TestDialRefusesOtherUsersServer(t *testing.T) {
	t.Parallel()
	srv := serveAsOtherUser(t)
	c, err := Dial(context.Background(), srv.path)
	if err == nil {
		c.Write([]byte("secret"))
		c.Close()
		t.Fatal("Dial accepted another user's server")
	}
	var wrong *WrongServerError
	if !errors.As(err, &wrong) || !errors.Is(err, ErrWrongServer) || wrong.UID != otherUID {
		t.Fatalf("Dial: %v, want a WrongServerError for uid %d", err, otherUID)
	}
	if n := srv.received(t); n != 0 {
		t.Errorf("the other user's server received %d bytes", n)
	}
}

// otherUID is the uid helper processes run as: nobody.
const otherUID = 65534

// otherServer is a helper process of another uid listening on path.
type otherServer struct {
	path string
	out  *bufio.Scanner
	cmd  *exec.Cmd
}

// serveAsOtherUser re-executes the test binary as uid 65534 (setpriv) to
// listen on a socket in a fresh root-owned sticky directory, as a squatter
// in /tmp would; the kernel records the listener's uid at listen time, so
// no chown in this process could fake it. It skips unless run as root.
func serveAsOtherUser(t *testing.T) *otherServer {
	t.Helper()
	if os.Getuid() != 0 {
		t.Skip("needs root to run a helper process as another uid")
	}
	setpriv, err := exec.LookPath("setpriv")
	if err != nil {
		t.Skip("needs setpriv (util-linux) to run a helper process as another uid")
	}
	dir := t.TempDir()
	for d, mode := range map[string]os.FileMode{filepath.Dir(dir): 0o711, dir: 0o777 | os.ModeSticky} {
		if err := os.Chmod(d, mode); err != nil {
			t.Fatal(err)
		}
	}
	// The test binary's own directory is root's 0700 build directory.
	exe := filepath.Join(dir, "helper.test")
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(self)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(exe, b, 0o755); err != nil {
		t.Fatal(err)
	}
	s := &otherServer{path: filepath.Join(dir, "authd.sock")}
	s.cmd = exec.Command(setpriv, "--reuid=65534", "--regid=65534", "--clear-groups", exe, "-test.run=^TestOtherUserHelper$")
	s.cmd.Env = append(os.Environ(), "AUTHD_TEST_HELPER_SOCKET="+s.path)
	s.cmd.Stderr = os.Stderr
	stdout, err := s.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := s.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		s.cmd.Process.Kill()
		s.cmd.Wait()
	})
	s.out = bufio.NewScanner(stdout)
	if !s.out.Scan() || s.out.Text() != "ready" {
		t.Fatalf("helper did not start: %q %v", s.out.Text(), s.out.Err())
	}
	return s
}

// received waits for the helper to see its connection closed and returns
// how many bytes came on it.
func (s *otherServer) received(t *testing.T) int {
	t.Helper()
	if !s.out.Scan() {
		t.Fatalf("helper ended without a report: %v", s.out.Err())
	}
	n, err := strconv.Atoi(s.out.Text())
	if err != nil {
		t.Fatalf("helper: %s", s.out.Text())
	}
	return n
}

// TestOtherUserHelper is the helper process of serveAsOtherUser, not a
// test: it accepts one connection and reports the bytes it received until
// the client closed it (or 10 seconds passed).
func TestOtherUserHelper(t *testing.T) {
	path := os.Getenv("AUTHD_TEST_HELPER_SOCKET")
	if path == "" {
		t.Skip("helper process only")
	}
	ln, err := net.Listen("unix", path)
	if err != nil {
		fmt.Println(err)
		os.Exit(1)
	}
	fmt.Println("ready")
	c, err := ln.Accept()
	if err != nil {
		fmt.Println(err)
		os.Exit(1)
	}
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	n, _ := io.Copy(io.Discard, c)
	fmt.Println(n)
	os.Exit(0)
}
