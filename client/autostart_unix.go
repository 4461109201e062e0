//go:build unix

package client

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"authd.dev/authd/api"
)

const exeSuffix = ""

// lockFile takes an exclusive flock on path (made 0600), waiting for it
// within ctx; the lock ends when the process does, however it ends.
func lockFile(ctx context.Context, path string) (unlock func(), err error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|syscall.O_NOFOLLOW|syscall.O_CLOEXEC, 0o600)
	if err != nil {
		return nil, err
	}
	// Another user's file there (in a shared directory) would let them
	// hold the lock, and so keep the daemon from starting: say so.
	var st unix.Stat_t
	if err := unix.Fstat(int(f.Fd()), &st); err != nil {
		f.Close()
		return nil, err
	}
	if int(st.Uid) != os.Getuid() || st.Mode&unix.S_IFMT != unix.S_IFREG {
		f.Close()
		return nil, fmt.Errorf("%s is not a file of yours (uid %d)", path, st.Uid)
	}
	for {
		err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB)
		if err == nil {
			return func() { _ = unix.Flock(int(f.Fd()), unix.LOCK_UN); f.Close() }, nil
		}
		if err != unix.EWOULDBLOCK && err != unix.EINTR {
			f.Close()
			return nil, err
		}
		select {
		case <-ctx.Done():
			f.Close()
			return nil, context.Cause(ctx)
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// spawn starts 'exe run --socket path' in a session of its own (no
// controlling terminal, out of the caller's process group, so that the
// caller's Ctrl-C does not reach it), stdin from /dev/null, stdout and
// stderr appended to logPath. exited closes if it ends while this process
// runs.
func spawn(exe, path, logPath string) (exited <-chan struct{}, err error) {
	rotateLog(logPath)
	logf, err := os.OpenFile(logPath, os.O_WRONLY|os.O_APPEND|os.O_CREATE|syscall.O_NOFOLLOW|syscall.O_CLOEXEC, 0o600)
	if err != nil {
		return nil, err
	}
	defer logf.Close()
	null, err := os.Open(os.DevNull)
	if err != nil {
		return nil, err
	}
	defer null.Close()
	// The daemon outlives this process: it must not hold open what the
	// caller handed this process (a pipe its caller waits on to close, a
	// terminal, a file). exec passes on every descriptor not marked
	// close-on-exec, so mark them all first.
	closeInheritedOnExec()
	cmd := exec.Command(exe, "run", "--socket", path)
	cmd.Env = append(os.Environ(), api.StartedByEnv+"=autostart")
	cmd.Stdin, cmd.Stdout, cmd.Stderr = null, logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	cmd.Dir = "/"
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	return done, nil
}

// maxLog is the size above which the autostarted daemon's log is moved
// aside (to authd.log.1, replacing the one before) when a daemon is next
// started: two logs of this size at most are kept.
const maxLog = 8 << 20

// rotateLog moves the log at path aside when it has grown past maxLog. The
// caller holds the spawn lock, so no other authc rotates it at once; a
// daemon still writing to the old file (it is being replaced) goes on
// writing there.
func rotateLog(path string) {
	if fi, err := os.Lstat(path); err == nil && fi.Mode().IsRegular() && fi.Size() > maxLog {
		_ = os.Rename(path, path+".1")
	}
}

// closeInheritedOnExec marks every descriptor above stderr close-on-exec.
// The Go runtime marks its own; this is for those the process inherited.
func closeInheritedOnExec() {
	for _, dir := range []string{"/proc/self/fd", "/dev/fd"} {
		entries, err := os.ReadDir(dir)
		if err != nil {
			continue
		}
		for _, e := range entries {
			if fd, err := strconv.Atoi(e.Name()); err == nil && fd > 2 {
				unix.CloseOnExec(fd)
			}
		}
		return
	}
}
