//go:build !unix

package main

import "errors"

// raiseFileLimit has nothing to raise where there is no RLIMIT_NOFILE.
func raiseFileLimit() (before, now uint64, err error) {
	return 0, 0, errors.ErrUnsupported
}
