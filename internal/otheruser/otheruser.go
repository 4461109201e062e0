// Package otheruser runs part of a test as another user, uid [UID]
// (nobody), by way of setpriv(1). Only tests import it.
//
// The kernel records which uid listens on a socket and which one connects
// to it, so the defences that read peer credentials (socket.Dial,
// socket.Peer, socket.LoopbackPeerUID) can only be tested against a real
// process of another uid: no chown in the test process could fake one.
// Everything here skips the test unless it runs as root with setpriv
// (util-linux) installed.
//
// # Helper processes
//
// [Serve] and [Dial] run the test binary itself again as [UID], so that
// binary's TestMain must call [Main] first:
//
//	func TestMain(m *testing.M) {
//		otheruser.Main()
//		os.Exit(m.Run())
//	}
//
// [Serve] listens on a Unix socket, as a squatter of the socket path
// would, and tells how many bytes its one client sent ([Server.Received]).
// [Dial] connects to a socket, sends some bytes, and tells what the server
// answered and whether it closed the connection ([Client.Received]).
//
// # Other programs
//
// [Command] runs any program as [UID]; the program and everything it
// reads must be reachable by that uid.
package otheruser

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"
)

// UID is the uid, and gid, that helper processes run as: nobody.
const UID = 65534

// jobEnv names the environment variable that makes a test binary a helper
// process and holds its [job].
const jobEnv = "AUTHD_OTHERUSER_JOB"

// patience is how long a helper waits for a connection, for its peer to
// close one, or to connect.
const patience = 10 * time.Second

// job is what a helper process does.
type job struct {
	Listen        bool // accept one connection on Addr, rather than dial it
	Network, Addr string
	Send          []byte // written after dialing
}

// report is one JSON line a helper writes on its stdout: Ready once it
// listens or is connected, then what it received; or an Error.
type report struct {
	Ready    bool   `json:",omitempty"`
	Error    string `json:",omitempty"`
	Received []byte `json:",omitempty"`
	Closed   bool   `json:",omitempty"` // by the peer, before patience ran out
}

// Main runs the job of a helper process that [Serve] or [Dial] started, and
// exits; in any other process it returns at once. Call it first thing in
// TestMain.
func Main() {
	spec, ok := os.LookupEnv(jobEnv)
	if !ok {
		return
	}
	out := json.NewEncoder(os.Stdout)
	var j job
	err := json.Unmarshal([]byte(spec), &j)
	if err == nil {
		err = j.run(out)
	}
	if err != nil {
		out.Encode(report{Error: err.Error()})
		os.Exit(1)
	}
	os.Exit(0)
}

func (j job) run(out *json.Encoder) error {
	var c net.Conn
	if j.Listen {
		ln, err := net.Listen(j.Network, j.Addr)
		if err != nil {
			return err
		}
		out.Encode(report{Ready: true})
		// A test that never connects is not one that sent nothing.
		if d, ok := ln.(interface{ SetDeadline(time.Time) error }); ok {
			d.SetDeadline(time.Now().Add(patience))
		}
		if c, err = ln.Accept(); err != nil {
			return fmt.Errorf("no connection: %w", err)
		}
	} else {
		var err error
		if c, err = net.DialTimeout(j.Network, j.Addr, patience); err != nil {
			return err
		}
		// The server may have closed the connection already: a refused
		// write is what some tests expect, not a failure to connect.
		_, _ = c.Write(j.Send)
		out.Encode(report{Ready: true})
	}
	c.SetReadDeadline(time.Now().Add(patience))
	b, err := io.ReadAll(c)
	// A reset counts as closed: only the deadline means the peer held on.
	return out.Encode(report{Received: b, Closed: !errors.Is(err, os.ErrDeadlineExceeded)})
}

// Server is a helper process of uid [UID] listening on a Unix socket.
type Server struct {
	// Path is the socket, in a fresh root-owned directory that everyone
	// may write to, sticky as /tmp is.
	Path string
	h    *helper
}

// Serve starts a helper process that listens on [Server.Path] and accepts
// one connection. It skips t unless the test runs as root and setpriv is
// installed.
func Serve(t testing.TB) *Server {
	t.Helper()
	dir := reachableDir(t, 0o777|os.ModeSticky)
	s := &Server{Path: filepath.Join(dir, "authd.sock")}
	s.h = start(t, dir, job{Listen: true, Network: "unix", Addr: s.Path})
	return s
}

// Received waits until the helper's connection is closed, or 10 seconds
// pass, and returns how many bytes came on it. It fails t when nobody
// connected in that time.
func (s *Server) Received(t testing.TB) int {
	t.Helper()
	return len(s.h.result(t).Received)
}

// Client is a helper process of uid [UID] connected to a socket.
type Client struct {
	h *helper
}

// Dial starts a helper process that connects to addr on network (as
// net.Dial) and writes send, which the server may refuse. It returns once
// the helper is connected, and fails t when it cannot connect. It skips t
// unless the test runs as root and setpriv is installed.
func Dial(t testing.TB, network, addr string, send []byte) *Client {
	t.Helper()
	dir := reachableDir(t, 0o755)
	return &Client{h: start(t, dir, job{Network: network, Addr: addr, Send: send})}
}

// Received waits until the server closes the helper's connection, or 10
// seconds pass, and returns what the helper read and whether the server
// closed the connection (a reset included) rather than hold it open.
func (c *Client) Received(t testing.TB) (received []byte, closed bool) {
	t.Helper()
	r := c.h.result(t)
	return r.Received, r.Closed
}

// Command returns a command that runs name with args as uid and gid [UID]
// with no supplementary groups, killed when ctx is done. It skips t unless
// the test runs as root and setpriv is installed.
func Command(ctx context.Context, t testing.TB, name string, args ...string) *exec.Cmd {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root to run a process as another uid")
	}
	setpriv, err := exec.LookPath("setpriv")
	if err != nil {
		t.Skip("needs setpriv (util-linux) to run a process as another uid")
	}
	id := strconv.Itoa(UID)
	return exec.CommandContext(ctx, setpriv, append([]string{"--reuid=" + id, "--regid=" + id, "--clear-groups", name}, args...)...)
}

// helper is a running helper process: its reports.
type helper struct {
	out *json.Decoder
}

// start runs the test binary as [UID] on j, from a copy in dir, and waits
// until it is ready.
func start(t testing.TB, dir string, j job) *helper {
	t.Helper()
	exe := filepath.Join(dir, "helper.test")
	cmd := Command(context.Background(), t, exe)
	// The test binary's own directory is root's 0700 build directory.
	linkExecutable(t, exe)
	spec, err := json.Marshal(j)
	if err != nil {
		t.Fatal(err)
	}
	cmd.Env = append(os.Environ(), jobEnv+"="+string(spec))
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
	h := &helper{out: json.NewDecoder(stdout)}
	var r report
	if err := h.out.Decode(&r); err != nil {
		t.Fatalf("helper as uid %d did not start: %v", UID, err)
	}
	if !r.Ready {
		t.Fatalf("helper as uid %d did not start: %s", UID, r.Error)
	}
	return h
}

// result waits for the helper's final report.
func (h *helper) result(t testing.TB) report {
	t.Helper()
	var r report
	if err := h.out.Decode(&r); err != nil {
		t.Fatalf("helper as uid %d ended without a report: %v", UID, err)
	}
	if r.Error != "" {
		t.Fatalf("helper as uid %d: %s", UID, r.Error)
	}
	return r
}

// reachableDir returns a fresh directory with mode that uid [UID] can reach.
func reachableDir(t testing.TB, mode os.FileMode) string {
	t.Helper()
	dir := t.TempDir()
	// The parent is the test's own 0700 directory.
	for d, m := range map[string]os.FileMode{filepath.Dir(dir): 0o711, dir: mode} {
		if err := os.Chmod(d, m); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// linkExecutable puts the running test binary at path: a hard link where
// it can, which spares a copy and the ETXTBSY of executing a file that a
// concurrent fork may still hold open for writing; else a copy.
func linkExecutable(t testing.TB, path string) {
	t.Helper()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(self); err == nil && fi.Mode().Perm()&0o005 == 0o005 && os.Link(self, path) == nil {
		return
	}
	src, err := os.Open(self)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	dst, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o755)
	if err != nil {
		t.Fatal(err)
	}
	_, err = io.Copy(dst, src)
	if cerr := dst.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		t.Fatal(err)
	}
}
