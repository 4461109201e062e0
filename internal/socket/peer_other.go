//go:build !linux && !darwin

package socket

import (
	"errors"
	"net"
)

// Peer is implemented on Linux only so far; elsewhere the daemon relies on
// the socket directory's mode.
func Peer(net.Conn) (uid, pid int, err error) {
	return -1, -1, errors.ErrUnsupported
}
