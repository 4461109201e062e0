package socket

import (
	"fmt"
	"io/fs"
	"net"
	"os"
	"path/filepath"
)

// CheckInherited checks a listener that a service manager (systemd's
// socket activation) made and handed over: a Unix stream socket at a path,
// in a directory no other user controls, the socket file the user's own and
// closed to group and others. It returns the socket's path. The daemon
// checks each connection's peer as it does on a socket of its own; this
// check is that nobody else could have swapped or opened the socket.
func CheckInherited(ln net.Listener) (string, error) {
	ul, ok := ln.(*net.UnixListener)
	if !ok {
		return "", fmt.Errorf("the inherited socket is %s, not a Unix stream socket", ln.Addr().Network())
	}
	path := ul.Addr().String()
	if path == "" || path[0] == '@' {
		return "", fmt.Errorf("the inherited socket has no path (%q); give it one (ListenStream=%%t/authd/authd.sock)", path)
	}
	if err := secureDir(filepath.Dir(path)); err != nil {
		return "", err
	}
	fi, err := os.Lstat(path)
	if err != nil {
		return "", fmt.Errorf("inherited socket: %w", err)
	}
	if fi.Mode()&fs.ModeSocket == 0 {
		return "", fmt.Errorf("inherited socket %s: not a socket", path)
	}
	if owner, err := fileOwner(path); err != nil || owner != os.Getuid() {
		return "", fmt.Errorf("inherited socket %s belongs to uid %d, not you (uid %d)", path, owner, os.Getuid())
	}
	if fi.Mode().Perm()&0o077 != 0 {
		return "", fmt.Errorf("inherited socket %s has mode %v; it must be 0600 (SocketMode=0600)", path, fi.Mode().Perm())
	}
	// The service manager owns the file: it stays when the daemon stops,
	// for the next activation.
	ul.SetUnlinkOnClose(false)
	return path, nil
}

// SecureDir makes sure the directory of the socket at path is the user's
// own (creating it 0700 when missing), as Listen does: for the files that
// live beside the socket, such as the lock that makes clients start one
// daemon between them.
func SecureDir(path string) error { return secureDir(filepath.Dir(path)) }
