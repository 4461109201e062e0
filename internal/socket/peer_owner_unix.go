//go:build unix

package socket

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"
)

// fileOwner returns the uid that owns path itself (a symlink there is not
// followed).
func fileOwner(path string) (int, error) {
	var st unix.Stat_t
	if err := unix.Lstat(path, &st); err != nil {
		return -1, &fs.PathError{Op: "lstat", Path: path, Err: err}
	}
	return int(st.Uid), nil
}

// secureDir makes sure dir, the socket's directory, is a real directory that
// no other user controls, creating it (0700) when it is missing. Ownership
// and mode are read from the directory as opened, without following a
// symlink, so a directory swapped in after the Lstat is not the one judged.
// Only authd's own directory (named "authd") is tightened to 0700, and only
// once it is known to be the user's: chmod on a directory someone else
// chose would change what is not ours to change.
func secureDir(dir string) error {
	fi, err := os.Lstat(dir)
	if errors.Is(err, fs.ErrNotExist) {
		if err := os.MkdirAll(filepath.Dir(dir), 0o700); err != nil {
			return fmt.Errorf("create socket directory: %w", err)
		}
		if err := os.Mkdir(dir, 0o700); err != nil && !errors.Is(err, fs.ErrExist) {
			return fmt.Errorf("create socket directory: %w", err)
		}
		fi, err = os.Lstat(dir)
	}
	if err != nil {
		return fmt.Errorf("socket directory: %w", err)
	}
	if fi.Mode()&fs.ModeSymlink != 0 {
		return fmt.Errorf("socket directory %s is a symlink; refusing to follow it", dir)
	}
	if !fi.IsDir() {
		return fmt.Errorf("socket directory %s is not a directory", dir)
	}
	fd, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("open socket directory %s: %w", dir, err)
	}
	defer unix.Close(fd)
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return fmt.Errorf("stat socket directory %s: %w", dir, err)
	}
	mode := uint32(st.Mode)
	sticky := mode&unix.S_ISVTX != 0
	me := os.Getuid()
	switch {
	case int(st.Uid) == me:
		if filepath.Base(dir) == "authd" {
			if mode&0o777 != 0o700 {
				if err := unix.Fchmod(fd, 0o700); err != nil {
					return fmt.Errorf("secure socket directory %s: %w", dir, err)
				}
			}
			return nil
		}
	case st.Uid == 0 && sticky:
		// A shared directory such as /tmp: its sticky bit keeps other
		// users from removing or renaming our socket.
	default:
		return fmt.Errorf("socket directory %s belongs to uid %d, not you (uid %d)", dir, st.Uid, me)
	}
	if mode&0o022 != 0 && !sticky {
		// Anyone who can write here could replace the socket with theirs.
		return fmt.Errorf("socket directory %s is writable by other users (mode %#o); make it 0700 or use another path", dir, mode&0o777)
	}
	return secureAncestors(dir)
}

// secureAncestors checks the directories above dir, symlinks resolved:
// each must belong to the user or to root, and none may be writable by
// another user unless it is sticky (/tmp). Whoever can rename a directory
// above the socket's can put a directory of theirs, and a socket, in its
// place.
func secureAncestors(dir string) error {
	real, err := filepath.EvalSymlinks(dir)
	if err != nil {
		return fmt.Errorf("socket directory %s: %w", dir, err)
	}
	me, myGroup := os.Getuid(), os.Getgid()
	for d := filepath.Dir(real); ; d = filepath.Dir(d) {
		var st unix.Stat_t
		if err := unix.Stat(d, &st); err != nil {
			return fmt.Errorf("directory %s above the socket: %w", d, err)
		}
		mode := uint32(st.Mode)
		switch {
		case int(st.Uid) != me && st.Uid != 0:
			return fmt.Errorf("directory %s above the socket belongs to uid %d, neither you (uid %d) nor root: its owner could swap the socket's directory", d, st.Uid, me)
		case mode&unix.S_ISVTX != 0:
		case mode&0o002 != 0, mode&0o020 != 0 && int(st.Gid) != myGroup:
			return fmt.Errorf("directory %s above the socket is writable by other users (mode %#o): they could swap the socket's directory", d, mode&0o777)
		}
		if d == filepath.Dir(d) {
			return nil
		}
	}
}
