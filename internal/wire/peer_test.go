package wire_test

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

	"authd.dev/authd/internal/wire"
)

// Dial refuses a socket served by another uid, before a byte is sent: what
// keeps 'authc login --client-secret-stdin' from handing a secret to a
// squatter of the socket path.
func TestDialRefusesOtherUsersServer(t *testing.T) {
	t.Parallel()
	srv := serveAsOtherUser(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := wire.Dial(ctx, srv.path)
	if err == nil {
		// What the old Dial let through: the first call's bytes.
		cctx, ccancel := context.WithTimeout(ctx, time.Second)
		_, _ = conn.Unary(cctx, "SetCredential", []byte("client-secret"))
		ccancel()
		conn.Close()
		t.Fatalf("Dial accepted another user's server; it received %d bytes", srv.received(t))
	}
	if !errors.Is(err, wire.ErrWrongServer) {
		t.Fatalf("Dial: %v, want ErrWrongServer", err)
	}
	if errors.Is(err, wire.ErrUnavailable) {
		t.Errorf("Dial: %v also wraps ErrUnavailable: authc would retry or autostart", err)
	}
	if want := fmt.Sprintf("belongs to uid %d, not you", otherUID); !strings.Contains(err.Error(), want) {
		t.Errorf("Dial: %q does not say %q", err, want)
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
	cmd := exec.Command(setpriv, "--reuid=65534", "--regid=65534", "--clear-groups", exe, "-test.run=^TestOtherUserHelper$")
	cmd.Env = append(os.Environ(), "AUTHD_TEST_HELPER_SOCKET="+s.path)
	cmd.Stderr = os.Stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
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
