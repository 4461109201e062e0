package socket

import (
	"net"

	"golang.org/x/sys/unix"
)

// Peer returns the uid and pid of the process at the other end of a Unix socket.
func Peer(c net.Conn) (uid, pid int, err error) {
	err = withFD(c, func(fd int) error {
		cred, err := unix.GetsockoptXucred(fd, unix.SOL_LOCAL, unix.LOCAL_PEERCRED)
		if err == nil {
			uid = int(cred.Uid)
			pid, _ = unix.GetsockoptInt(fd, unix.SOL_LOCAL, unix.LOCAL_PEERPID)
		}
		return err
	})
	if err != nil {
		return -1, -1, err
	}
	return uid, pid, nil
}
