//go:build unix

package main

import (
	"errors"
	"fmt"
	"os"
	"syscall"
)

// checkOwnDir refuses a directory of another user, or one others may enter.
func checkOwnDir(dir string, fi os.FileInfo) error {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return errors.New("has no owner to check")
	}
	if int(st.Uid) != os.Getuid() {
		return fmt.Errorf("belongs to uid %d, not to you (uid %d)", st.Uid, os.Getuid())
	}
	if perm := fi.Mode().Perm(); perm&0o077 != 0 {
		return fmt.Errorf("is open to other users (mode %#o; make it 0700)", perm)
	}
	return nil
}
