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
//
// # Dialing
//
// [Dial] checks the server the same way before the caller sends anything:
// a socket served by another uid, root included, is [ErrWrongServer].
package socket

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
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
		// Absolute: a daemon started elsewhere (autostart runs it in /)
		// must find the same socket.
		return filepath.Abs(p)
	}
	dir, err := RuntimeDir()
	if err != nil {
		return "", fmt.Errorf("socket path: set XDG_RUNTIME_DIR or AUTHD_SOCKET: %w", err)
	}
	return filepath.Join(dir, "authd.sock"), nil
}

// RuntimeDir is authd's own directory for what lives as long as the user's
// session (the socket by default, authc's login pages):
// $XDG_RUNTIME_DIR/authd, else authd in the user's cache directory. It is
// not created here.
func RuntimeDir() (string, error) {
	if dir := os.Getenv("XDG_RUNTIME_DIR"); filepath.IsAbs(dir) {
		// A relative one is invalid (the XDG base directory spec says
		// to ignore it), as it would make the socket depend on the
		// current directory.
		return filepath.Join(dir, "authd"), nil
	}
	dir, err := os.UserCacheDir()
	if err != nil {
		return "", err
	}
	return filepath.Join(dir, "authd"), nil
}

// Listen creates the socket at path, mode 0600. Its directory is created
// (0700) when missing; it must be the user's own, or a root-owned sticky
// directory such as /tmp, and no symlink, and it is tightened to 0700 only
// when it is authd's own (named "authd"): a shared directory named by
// AUTHD_SOCKET is left as it is. A socket path that is a symlink is refused.
// A live socket is left alone and reported as ErrInUse when it is the user's
// daemon, or as an error wrapping ErrWrongServer when another user's process
// serves it; a stale one is removed.
func Listen(path string) (net.Listener, error) {
	if err := secureDir(filepath.Dir(path)); err != nil {
		return nil, err
	}
	if err := clearPath(path); err != nil {
		return nil, err
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

// clearPath makes way for a new socket at path, removing a stale socket of
// the user's and nothing else.
func clearPath(path string) error {
	fi, err := os.Lstat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("socket: %w", err)
	}
	if fi.Mode()&fs.ModeSymlink != 0 {
		return fmt.Errorf("socket path %s is a symlink; refusing to follow it", path)
	}
	if c, err := net.DialTimeout("unix", path, time.Second); err == nil {
		err := checkServer(c, path)
		c.Close()
		switch {
		case errors.Is(err, ErrWrongServer):
			return fmt.Errorf("another user's process holds the socket path: %w", err)
		case err != nil:
			return err
		}
		return fmt.Errorf("%s: %w", path, ErrInUse)
	}
	if fi.Mode()&fs.ModeSocket == 0 {
		return fmt.Errorf("%s exists and is not a socket; refusing to replace it", path)
	}
	if uid, err := fileOwner(path); err == nil && uid != os.Getuid() {
		return fmt.Errorf("socket %s belongs to uid %d, not you (uid %d)", path, uid, os.Getuid())
	}
	if err := os.Remove(path); err != nil {
		return fmt.Errorf("remove stale socket: %w", err)
	}
	return nil
}

// Dial connects to the socket at path and returns the connection only when
// the process serving it is the user's own: before a byte is sent, so that
// a socket squatted by another user (or named by a planted AUTHD_SOCKET)
// never receives a request, let alone a client secret. Another server is an
// error wrapping ErrWrongServer; a failure to connect is returned as the
// dialer reported it.
func Dial(ctx context.Context, path string) (net.Conn, error) {
	var d net.Dialer
	c, err := d.DialContext(ctx, "unix", path)
	if err != nil {
		return nil, err
	}
	if err := checkServer(c, path); err != nil {
		c.Close()
		return nil, err
	}
	return c, nil
}

// ErrWrongServer means the socket is served by a process of another user.
var ErrWrongServer = errors.New("the socket is served by another user")

// WrongServerError is a socket served by a process of another uid than the
// caller's.
type WrongServerError struct {
	Path string
	UID  int // the server's
	Want int // the caller's
}

func (e *WrongServerError) Error() string {
	return fmt.Sprintf("the socket %s belongs to uid %d, not you (uid %d)", e.Path, e.UID, e.Want)
}

// Unwrap returns ErrWrongServer.
func (e *WrongServerError) Unwrap() error { return ErrWrongServer }

// checkServer refuses c, a connection dialed to path, unless the user's own
// uid serves it. Root is refused too: authd is a per-user broker, and a
// daemon of root serving a user is not that user's daemon (it would hold
// the user's secrets in root's keyring), so nothing legitimate looks so.
func checkServer(c net.Conn, path string) error {
	uid, err := serverUID(c, path)
	if errors.Is(err, errors.ErrUnsupported) {
		// No uids on this platform: the socket directory's ACL is the guard.
		return nil
	}
	if err != nil {
		return fmt.Errorf("check the server of %s: %w", path, err)
	}
	if me := os.Getuid(); uid != me {
		return &WrongServerError{Path: path, UID: uid, Want: me}
	}
	return nil
}

// serverUID returns the uid of the process serving c, a connection dialed
// to path: from the kernel, which recorded the listener's credentials when
// it called listen, or, where peer credentials are not available, from the
// owner of the socket file, who bound it.
func serverUID(c net.Conn, path string) (int, error) {
	uid, _, err := Peer(c)
	if errors.Is(err, errors.ErrUnsupported) {
		return fileOwner(path)
	}
	return uid, err
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
