//go:build unix && !linux

package main

import (
	"errors"
	"os"
	"syscall"
	"time"
)

// pidProcess is a process known by its pid alone: it is taken to have
// exited once kill(pid, 0) says there is no such process.
type pidProcess struct{ pid int }

func openProcess(pid int, _ string) (process, error) { return pidProcess{pid}, nil }

func (p pidProcess) signal(sig syscall.Signal) error {
	err := syscall.Kill(p.pid, sig)
	if errors.Is(err, syscall.ESRCH) {
		return os.ErrProcessDone
	}
	return err
}

func (p pidProcess) wait(d time.Duration) bool {
	time.Sleep(min(d, 2*time.Millisecond)) // the socket's path is checked in between
	return errors.Is(syscall.Kill(p.pid, 0), syscall.ESRCH)
}

func (p pidProcess) release() {}
