//go:build unix

package main

import (
	"fmt"

	"golang.org/x/sys/unix"
)

// raiseFileLimit raises the soft limit on open files to the hard limit and
// returns both soft limits, before and after. Every client connection is a
// file descriptor, and the usual soft limit (1024) is what a burst of
// clients would reach first. (Go's runtime has done the same at start
// since Go 1.19, capped on macOS; doing it here keeps it so, and logged.)
func raiseFileLimit() (before, now uint64, err error) {
	var lim unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &lim); err != nil {
		return 0, 0, fmt.Errorf("getrlimit: %w", err)
	}
	before = lim.Cur
	if lim.Cur >= lim.Max {
		return before, lim.Cur, nil
	}
	lim.Cur = lim.Max
	if err := unix.Setrlimit(unix.RLIMIT_NOFILE, &lim); err != nil {
		return before, before, fmt.Errorf("setrlimit: %w", err)
	}
	return before, lim.Cur, nil
}
