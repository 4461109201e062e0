//go:build !unix

package socket

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
)

// fileOwner is not known where files have no uid: the caller decides what
// errors.ErrUnsupported means.
func fileOwner(string) (int, error) {
	return -1, errors.ErrUnsupported
}

// secureDir creates dir when it is missing and refuses a symlink; without
// uids there is no owner to check, and the directory's ACL is the guard.
func secureDir(dir string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("create socket directory: %w", err)
	}
	fi, err := os.Lstat(dir)
	if err != nil {
		return fmt.Errorf("socket directory: %w", err)
	}
	if fi.Mode()&fs.ModeSymlink != 0 {
		return fmt.Errorf("socket directory %s is a symlink; refusing to follow it", dir)
	}
	if !fi.IsDir() {
		return fmt.Errorf("socket directory %s is not a directory", dir)
	}
	return nil
}
