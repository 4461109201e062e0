// Package socket finds, guards and dials the daemon's Unix socket.
//
// # Path
//
// [Path] is $AUTHD_SOCKET when set, else $XDG_RUNTIME_DIR/authd/authd.sock,
// else authd/authd.sock in the user's cache directory. Its directory is 0700
// and the socket 0600.
//
// # Listening
//
// [Listen] refuses to start when a live daemon already answers on the path
// ([ErrInUse]) and replaces a stale socket file. [Peer] reads the
// connecting process's uid and pid from the kernel (SO_PEERCRED on Linux), so the
// daemon can refuse other users even when the file modes are wrong.
package socket

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"time"
)

// ErrInUse means another daemon is serving on the socket.
var ErrInUse = errors.New("another authd is already running on this socket")

// Path returns the socket path both sides use.
func Path() (string, error) {
	if p := os.Getenv("AUTHD_SOCKET"); p != "" {
		return p, nil
	}
	if dir := os.Getenv("XDG_RUNTIME_DIR"); dir != "" {
		return filepath.Join(dir, "authd", "authd.sock"), nil
	}
	dir, err := os.UserCacheDir()
	if err != nil {
		return "", fmt.Errorf("socket path: set XDG_RUNTIME_DIR or AUTHD_SOCKET: %w", err)
	}
	return filepath.Join(dir, "authd", "authd.sock"), nil
}

// Listen creates the socket at path, mode 0600, in a directory of mode
// 0700: created when missing, and tightened when it is authd's own (named
// "authd"); a shared directory such as /tmp named by AUTHD_SOCKET is left as
// it is. A live socket is left alone and reported as ErrInUse; a stale one
// is removed.
func Listen(path string) (net.Listener, error) {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("create socket directory: %w", err)
	}
	if filepath.Base(dir) == "authd" {
		if err := os.Chmod(dir, 0o700); err != nil {
			return nil, fmt.Errorf("secure socket directory: %w", err)
		}
	}
	if _, err := os.Lstat(path); err == nil {
		c, err := net.DialTimeout("unix", path, time.Second)
		if err == nil {
			c.Close()
			return nil, fmt.Errorf("%s: %w", path, ErrInUse)
		}
		if err := os.Remove(path); err != nil {
			return nil, fmt.Errorf("remove stale socket: %w", err)
		}
	}
	ln, err := net.Listen("unix", path)
	if err != nil {
		return nil, fmt.Errorf("listen on %s: %w", path, err)
	}
	if err := os.Chmod(path, 0o600); err != nil {
		ln.Close()
		return nil, fmt.Errorf("secure socket: %w", err)
	}
	ln.(*net.UnixListener).SetUnlinkOnClose(true)
	return ln, nil
}

// Dial connects to the socket at path.
func Dial(ctx context.Context, path string) (net.Conn, error) {
	var d net.Dialer
	return d.DialContext(ctx, "unix", path)
}

// withFD runs f on the file descriptor of a Unix socket connection.
func withFD(c net.Conn, f func(fd int) error) error {
	uc, ok := c.(*net.UnixConn)
	if !ok {
		return fmt.Errorf("peer credentials: not a unix socket (%T)", c)
	}
	raw, err := uc.SyscallConn()
	if err != nil {
		return fmt.Errorf("peer credentials: %w", err)
	}
	var ferr error
	if err := raw.Control(func(fd uintptr) { ferr = f(int(fd)) }); err != nil {
		return fmt.Errorf("peer credentials: %w", err)
	}
	if ferr != nil {
		return fmt.Errorf("peer credentials: %w", ferr)
	}
	return nil
}
