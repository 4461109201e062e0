package client

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"syscall"
	"testing"

	"authd.dev/authd/api"
	"authd.dev/authd/client/internal/wire"
)

// wrap gives each failure of the transport the reason that says what to
// do about it, and keeps the transport's error underneath.
func TestWrap(t *testing.T) {
	t.Parallel()
	const path = "/run/user/1000/authd/authd.sock"
	dial := func(errno syscall.Errno) error {
		// As wire.Dial returns it.
		return fmt.Errorf("%w: %w", wire.ErrUnavailable, &net.OpError{Op: "dial", Net: "unix",
			Addr: &net.UnixAddr{Name: path, Net: "unix"}, Err: os.NewSyscallError("connect", errno)})
	}
	tests := []struct {
		name   string
		err    error
		reason api.Reason
		is     error
	}{
		{"daemon's reason", &wire.Status{Code: wire.CodeUnauthenticated, Message: "login required", Reason: api.LoginRequired}, api.LoginRequired, ErrLoginRequired},
		{"no daemon", dial(syscall.ENOENT), api.DaemonUnreachable, ErrDaemonUnreachable},
		{"EACCES", dial(syscall.EACCES), api.SocketDenied, os.ErrPermission},
		{"another uid", fmt.Errorf("dial: %w", wire.ErrWrongServer), api.WrongServer, ErrWrongServer},
		{"closed unanswered", fmt.Errorf("%w: EOF", wire.ErrUnavailable), api.DaemonUnreachable, ErrDaemonUnreachable},
		{"daemon's deadline", &wire.Status{Code: wire.CodeDeadlineExceeded, Message: "slow"}, "DeadlineExceeded", context.DeadlineExceeded},
		{"no reason", &wire.Status{Code: wire.CodeInternal, Message: "boom"}, "Internal", nil},
	}
	c := &Client{path: path}
	for _, tt := range tests {
		err := c.wrap(tt.err)
		var e *Error
		if !errors.As(err, &e) || e.Reason != tt.reason || tt.is != nil && !errors.Is(err, tt.is) {
			t.Errorf("%s: wrap(%v) = %#v, want reason %s matching %v", tt.name, tt.err, err, tt.reason, tt.is)
		}
	}
	// The caller's own deadline is not the daemon's.
	local := fmt.Errorf("GetToken: %w", context.DeadlineExceeded)
	if err := c.wrap(local); err != local {
		t.Errorf("wrap(%v) = %v, want it as it is", local, err)
	}
}
