package client

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"authd.dev/authd/client/internal/wire"
	"authd.dev/authd/internal/socket"
)

// WithAutostart makes the client start the daemon when nothing answers on
// its socket, as ssh-agent's and gpg-agent's clients do: 'authd run' in the
// background, detached from the caller's terminal and process group,
// logging to $XDG_STATE_HOME/authd/authd.log (~/.local/state/authd). A lock
// beside the socket makes concurrent first calls start one daemon between
// them; each waits up to [AutostartTimeout] for the socket. Autostart is off
// unless asked for; AUTHD_NO_AUTOSTART=1 turns it off whatever the option
// says. It works on Unix systems only.
func WithAutostart(a Autostart) Option {
	return func(c *Client) { c.autostart = &a }
}

// Autostart says how [WithAutostart] starts the daemon.
type Autostart struct {
	// Daemon is the authd executable; "" for authd beside this program's
	// executable (authc and authd are installed together), else on $PATH.
	Daemon string
	// Allowed, if set, is asked when the daemon is found absent, before
	// it is started: authc reads the config's autostart key there, so
	// that a running daemon costs no read of the config.
	Allowed func() bool
	// Started, if set, is told where the log of a daemon this client
	// started goes (authc says so on stderr).
	Started func(log string)
}

// AutostartTimeout bounds the wait for a daemon that a client started.
const AutostartTimeout = 5 * time.Second

// AutostartError is why a client could not start the daemon
// ([WithAutostart]); the call's error wraps it beside
// [ErrDaemonUnreachable].
type AutostartError struct{ Err error }

func (e *AutostartError) Error() string { return "cannot start authd: " + e.Err.Error() }
func (e *AutostartError) Unwrap() error { return e.Err }

// startDaemon starts the daemon for the socket at path unless another
// client does or did, and returns once the socket answers.
func (c *Client) startDaemon(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, AutostartTimeout)
	defer cancel()
	if err := socket.SecureDir(c.path); err != nil {
		return autostartError("%w", err)
	}
	// The lock is named for the socket: two sockets in one directory
	// (/tmp, say) have a lock each.
	unlock, err := lockFile(ctx, c.path+".lock")
	if err != nil {
		return autostartError("the lock beside the socket: %w", err)
	}
	defer unlock()
	if answers(ctx, c.path) {
		return nil // another client started it while this one waited
	}
	exe, err := daemonExecutable(c.autostart.Daemon)
	if err != nil {
		return autostartError("%w", err)
	}
	logPath, err := logFile()
	if err != nil {
		return autostartError("its log: %w", err)
	}
	exited, err := spawn(exe, c.path, logPath)
	if err != nil {
		return autostartError("%w", err)
	}
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		if answers(ctx, c.path) {
			if c.autostart.Started != nil {
				c.autostart.Started(logPath)
			}
			return nil
		}
		select {
		case <-exited:
			return autostartError("%s run exited at once; see %s%s", exe, logPath, lastLine(logPath))
		case <-ctx.Done():
			return autostartError("%s run did not listen on %s within %s; see %s", exe, c.path, AutostartTimeout, logPath)
		case <-tick.C:
		}
	}
}

// daemonAbsent reports whether err, a failed dial, says that no daemon
// listens: no socket, or a stale one. Other failures (another user's
// socket, a directory the caller cannot enter) are not helped by starting
// one.
func daemonAbsent(err error) bool {
	return errors.Is(err, wire.ErrUnavailable) && (errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ECONNREFUSED))
}

// answers reports whether a daemon of the user's accepts connections at
// path.
func answers(ctx context.Context, path string) bool {
	ctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	nc, err := socket.Dial(ctx, path)
	if err != nil {
		return false
	}
	nc.Close()
	return true
}

// autostartOff reports whether the environment turns autostart off.
func autostartOff() bool {
	v := strings.TrimSpace(os.Getenv("AUTHD_NO_AUTOSTART"))
	return v != "" && v != "0" && !strings.EqualFold(v, "false")
}

// daemonExecutable returns exe if set, else authd beside this program's
// executable (authc and authd are installed together), else authd on PATH.
func daemonExecutable(exe string) (string, error) {
	if exe != "" {
		return exe, nil
	}
	if self, err := os.Executable(); err == nil {
		beside := filepath.Join(filepath.Dir(self), "authd"+exeSuffix)
		if fi, err := os.Stat(beside); err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0 {
			return beside, nil
		}
	}
	p, err := exec.LookPath("authd")
	if err != nil {
		return "", errors.New("authd is neither beside this program nor on PATH")
	}
	return p, nil
}

// logFile returns the path of the autostarted daemon's log, making its
// directory (0700).
func logFile() (string, error) {
	dir := os.Getenv("XDG_STATE_HOME")
	if !filepath.IsAbs(dir) {
		home, err := os.UserHomeDir()
		if err != nil {
			return "", err
		}
		dir = filepath.Join(home, ".local", "state")
	}
	dir = filepath.Join(dir, "authd")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", err
	}
	return filepath.Join(dir, "authd.log"), nil
}

// lastLine returns ": " and the last line of the log at path, cut short,
// or "" (the log is the user's own; still, it is printed as text only).
func lastLine(path string) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	buf := make([]byte, 4096)
	if fi, err := f.Stat(); err == nil && fi.Size() > int64(len(buf)) {
		_, _ = f.Seek(fi.Size()-int64(len(buf)), 0)
	}
	n, _ := f.Read(buf)
	lines := strings.Split(strings.TrimRight(string(buf[:n]), "\n"), "\n")
	last := strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return ' '
		}
		return r
	}, lines[len(lines)-1])
	if last == "" {
		return ""
	}
	if len(last) > 300 {
		last = last[:300] + "..."
	}
	return ": " + last
}

func autostartError(format string, args ...any) error {
	return &AutostartError{Err: fmt.Errorf(format, args...)}
}
