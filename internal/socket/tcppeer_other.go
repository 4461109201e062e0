//go:build !linux

package socket

import (
	"errors"
	"net"
)

// LoopbackPeerUID is implemented on Linux only. Elsewhere the login
// callback relies on its state and PKCE alone: another local user who
// reaches the port cannot guess the state, and without the verifier a
// stolen code is worthless.
func LoopbackPeerUID(net.Conn) (uid int, err error) {
	return -1, errors.ErrUnsupported
}
