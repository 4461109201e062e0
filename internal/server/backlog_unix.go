//go:build unix

package server

import (
	"net"
	"os"
	"syscall"

	"golang.org/x/sys/unix"
)

// acceptQueued accepts every connection waiting in ln's queue, without
// waiting for more: the listening socket is non-blocking, and accept(2)
// says EAGAIN once the queue is empty.
func acceptQueued(ln net.Listener) []net.Conn {
	sc, ok := ln.(syscall.Conn)
	if !ok {
		return nil
	}
	raw, err := sc.SyscallConn()
	if err != nil {
		return nil
	}
	var conns []net.Conn
	_ = raw.Control(func(fd uintptr) {
		for {
			// As the net package does where accept4 is missing: no
			// fork between the accept and the close-on-exec flag.
			syscall.ForkLock.RLock()
			nfd, _, err := unix.Accept(int(fd))
			if err == nil {
				unix.CloseOnExec(nfd)
			}
			syscall.ForkLock.RUnlock()
			switch err {
			case nil:
			case unix.EINTR, unix.ECONNABORTED:
				continue
			default:
				return // EAGAIN: the queue is empty
			}
			f := os.NewFile(uintptr(nfd), "")
			c, err := net.FileConn(f)
			f.Close()
			if err == nil {
				conns = append(conns, c)
			}
		}
	})
	return conns
}
