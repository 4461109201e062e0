package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	"authd.dev/authd/client"
	"authd.dev/authd/internal/socket"
)

// Taking the socket over: 'authd run --replace'.
//
// The new daemon makes sure a daemon of the user's answers on the socket
// and learns its pid from it (Status), which must be the pid the kernel
// gives for the socket's listener (a socket a service manager made is
// refused: restart the service instead). It listens on a socket of its own
// beside the old one and renames it over the socket's path, atomically:
// every connection from then on reaches the new daemon, and waits in its
// listener's queue. Then it sends SIGTERM to the old daemon, which stops
// as it always does (see handleSignals): it accepts and serves the
// connections already in its own queue (see server.ServeLimits), answers
// the calls in flight, ends the logins in flight with SHUTTING_DOWN (their
// clients are told to run the login again), lets the refreshes in flight
// store the refresh tokens the provider rotated, and exits, within
// stopTimeout. The new daemon waits for it to exit (replaceWait; then
// SIGKILL) before it reads the config and the keyring, and before it
// accepts a connection: two daemons never redeem the same refresh token,
// and the new one starts from what the old one stored last.
//
// A daemon of before --replace removes the socket's path when it stops,
// though the path is the new daemon's by then: the new daemon keeps a
// second name of its socket, and renames it back over the path when the
// path disappears. Clients that dial in between fail; the daemons of this
// version remove the path only while it is still their own socket.

// replaceWait bounds the wait for the daemon being replaced to exit: its
// stop is bounded by stopTimeout, then its process exits.
const replaceWait = stopTimeout + 2*time.Second

// oldDaemon is the daemon being replaced.
type oldDaemon struct {
	pid     int
	version string
}

// errNoDaemon is a socket path that no daemon serves.
var errNoDaemon = errors.New("no authd is running on the socket")

// listen returns the daemon's listener and the socket's path: one the
// service manager handed over, one taken over from a running daemon
// (--replace), or one of its own.
func (d *daemon) listen() (net.Listener, string, error) {
	inherited := os.Getenv("LISTEN_PID") == strconv.Itoa(os.Getpid())
	if d.replace && inherited {
		return nil, "", errors.New("--replace: the service manager hands authd its socket; restart the service instead ('authd stop' then 'authd start')")
	}
	if d.replace {
		ln, err := d.takeOver()
		if !errors.Is(err, errNoDaemon) {
			return ln, d.socketPath, err
		}
		d.log.Info("no authd to replace; starting", "socket", d.socketPath)
	}
	ln, path, err := listenSocket(d.socketPath, d.log)
	if err != nil || inherited {
		return ln, path, err
	}
	return ln, path, d.own(ln, path)
}

// own makes the socket at path, ln's, the daemon's to remove when it
// stops, as long as the path is still that socket (see removeSocket): not
// on ln's close, which would remove the socket of a daemon that took the
// path over.
func (d *daemon) own(ln net.Listener, path string) error {
	if ul, ok := ln.(*net.UnixListener); ok {
		ul.SetUnlinkOnClose(false)
	}
	fi, err := os.Lstat(path)
	if err != nil {
		ln.Close()
		return fmt.Errorf("socket: %w", err)
	}
	d.ownSocket = fi
	return nil
}

// removeSocket removes the daemon's socket file, unless another daemon
// has taken the path over.
func (d *daemon) removeSocket() {
	if d.ownSocket == nil {
		return
	}
	if fi, err := os.Lstat(d.socketPath); err == nil && os.SameFile(fi, d.ownSocket) {
		_ = os.Remove(d.socketPath)
	}
}

// takeOver replaces the daemon serving d.socketPath (see above), and
// returns the listener now at the path. It is errNoDaemon when nothing
// serves the path.
func (d *daemon) takeOver() (net.Listener, error) {
	path := d.socketPath
	old, err := findDaemon(path)
	if err != nil {
		return nil, err
	}
	proc, err := openProcess(old.pid, filepath.Dir(path))
	if err != nil {
		return nil, fmt.Errorf("--replace: the authd running (pid %d): %w", old.pid, err)
	}
	defer proc.release()
	tmp := filepath.Join(filepath.Dir(path), fmt.Sprintf(".authd-%d.sock", os.Getpid()))
	spare := tmp + ".spare"
	ln, err := socket.Listen(tmp)
	if err != nil {
		return nil, fmt.Errorf("--replace: %w", err)
	}
	ln.(*net.UnixListener).SetUnlinkOnClose(false)
	fail := func(err error) (net.Listener, error) {
		ln.Close()
		_ = os.Remove(tmp)
		_ = os.Remove(spare)
		return nil, fmt.Errorf("--replace: %w", err)
	}
	if err := os.Link(tmp, spare); err != nil {
		return fail(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fail(err)
	}
	if err := d.own(ln, path); err != nil {
		_ = os.Remove(spare)
		return nil, fmt.Errorf("--replace: %w", err)
	}
	d.log.Info("took the socket over; stopping the authd that served it", "socket", path, "pid", old.pid, "version", old.version)
	if err := proc.signal(syscall.SIGTERM); err != nil && !errors.Is(err, os.ErrProcessDone) {
		ln.Close()
		_ = os.Remove(spare)
		return nil, fmt.Errorf("--replace: stop the authd running (pid %d): %w", old.pid, err)
	}
	err = d.waitReplaced(proc, old.pid, spare)
	_ = os.Remove(spare)
	if err != nil {
		ln.Close()
		return nil, err
	}
	d.log.Info("the replaced authd has exited; serving", "pid", old.pid)
	return ln, nil
}

// waitReplaced waits until the daemon being replaced has exited: after
// replaceWait it is killed. Meanwhile, should the path disappear (a daemon
// of before --replace removes it as it stops), the spare name of the new
// socket is put back there.
func (d *daemon) waitReplaced(proc process, pid int, spare string) error {
	deadline := time.Now().Add(replaceWait)
	killed := false
	for {
		exited := proc.wait(50 * time.Millisecond)
		if _, err := os.Lstat(d.socketPath); errors.Is(err, fs.ErrNotExist) {
			if err := os.Rename(spare, d.socketPath); err == nil {
				d.log.Warn("the replaced authd removed the socket as it stopped (an authd older than this one); put it back", "socket", d.socketPath)
			}
		}
		switch {
		case exited:
			return nil
		case time.Now().Before(deadline):
		case !killed:
			d.log.Warn("the replaced authd did not exit in time; killing it", "pid", pid, "waited", replaceWait)
			_ = proc.signal(syscall.SIGKILL)
			killed, deadline = true, time.Now().Add(2*time.Second)
		default:
			return fmt.Errorf("--replace: the authd being replaced (pid %d) does not exit", pid)
		}
	}
}

// findDaemon asks the daemon on path who it is. Its pid must be the
// pid the kernel gives for the socket's listener: a socket made by a
// service manager (socket activation) is not the daemon's to hand over.
func findDaemon(path string) (oldDaemon, error) {
	// A daemon under load answers late: as long as a client would wait.
	ctx, cancel := context.WithTimeout(context.Background(), client.CallTimeout)
	defer cancel()
	// socket.Dial refuses a socket served by another user.
	conn, err := socket.Dial(ctx, path)
	switch {
	case errors.Is(err, fs.ErrNotExist), errors.Is(err, syscall.ECONNREFUSED):
		return oldDaemon{}, errNoDaemon
	case err != nil:
		return oldDaemon{}, fmt.Errorf("--replace: %w", err)
	}
	_, listener, err := socket.Peer(conn)
	conn.Close()
	if err != nil && !errors.Is(err, errors.ErrUnsupported) {
		return oldDaemon{}, fmt.Errorf("--replace: %w", err)
	}
	c, err := client.New(client.WithSocket(path))
	if err != nil {
		return oldDaemon{}, err
	}
	defer c.Close()
	st, err := c.Status(ctx)
	if err != nil {
		return oldDaemon{}, fmt.Errorf("--replace: the authd on %s did not say who it is (%w); stop it first", path, err)
	}
	if pid := int(st.PID); pid <= 0 || listener > 0 && pid != listener {
		return oldDaemon{}, fmt.Errorf("--replace: the socket %s was made by pid %d, not by the authd serving it (pid %d): a service manager's socket is not handed over; restart the service instead",
			path, listener, st.PID)
	}
	return oldDaemon{pid: int(st.PID), version: st.Version}, nil
}

// process is the daemon being replaced, pinned so that its pid cannot
// name another process once it has exited.
type process interface {
	signal(syscall.Signal) error // os.ErrProcessDone once it has exited
	// wait waits at most d for it to exit, and less when a name is
	// removed from the socket's directory, where the system tells; it
	// reports whether the process has exited.
	wait(d time.Duration) bool
	release()
}
