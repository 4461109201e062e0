package main

import (
	"errors"
	"os"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// pidfdProcess is a process held by a pidfd: signals and waits reach the
// process it was opened on, even once its pid is reused. An inotify watch
// of the socket's directory wakes its wait as soon as a name there is
// removed.
type pidfdProcess struct{ pidfd, inotify int }

func openProcess(pid int, dir string) (process, error) {
	fd, err := unix.PidfdOpen(pid, 0)
	if err != nil {
		return nil, os.NewSyscallError("pidfd_open", err)
	}
	p := pidfdProcess{pidfd: fd, inotify: -1}
	if in, err := unix.InotifyInit1(unix.IN_NONBLOCK | unix.IN_CLOEXEC); err == nil {
		if _, err := unix.InotifyAddWatch(in, dir, unix.IN_DELETE|unix.IN_MOVED_FROM|unix.IN_ONLYDIR); err == nil {
			p.inotify = in
		} else {
			unix.Close(in)
		}
	}
	return p, nil
}

func (p pidfdProcess) signal(sig syscall.Signal) error {
	err := unix.PidfdSendSignal(p.pidfd, sig, nil, 0)
	if errors.Is(err, unix.ESRCH) {
		return os.ErrProcessDone
	}
	return err
}

func (p pidfdProcess) wait(d time.Duration) bool {
	// The pidfd becomes readable when the process exits.
	fds := []unix.PollFd{{Fd: int32(p.pidfd), Events: unix.POLLIN}}
	if p.inotify >= 0 {
		fds = append(fds, unix.PollFd{Fd: int32(p.inotify), Events: unix.POLLIN})
	}
	_, err := unix.Poll(fds, int(d.Milliseconds()))
	if err != nil && !errors.Is(err, unix.EINTR) {
		time.Sleep(d) // not expected; never spin
	}
	if len(fds) > 1 && fds[1].Revents != 0 {
		var buf [4096]byte
		for {
			if n, err := unix.Read(p.inotify, buf[:]); n <= 0 || err != nil {
				break
			}
		}
	}
	return fds[0].Revents != 0
}

func (p pidfdProcess) release() {
	unix.Close(p.pidfd)
	if p.inotify >= 0 {
		unix.Close(p.inotify)
	}
}
