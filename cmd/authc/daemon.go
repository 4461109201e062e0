package main

import (
	"context"
	"errors"
	"fmt"

	"authd.dev/authd/internal/socket"
	"authd.dev/authd/internal/wire"
)

// authc talks to the daemon with internal/wire: a standard gRPC call over
// the socket that links neither grpc-go nor the protobuf runtime, whose
// start-up would cost every 'authc token' more than the call itself. Go
// programs use the client package instead.

// daemonError is an error answered by the daemon, or the failure to reach it.
type daemonError struct {
	reason string // the daemon's ErrorReason, or one of the reasons below
	msg    string
	cause  error
}

// Reasons for failures that happen before the daemon can answer.
const (
	reasonUnreachable = "DAEMON_UNREACHABLE"
	reasonInterrupted = "INTERRUPTED"
)

func (e *daemonError) Error() string { return e.msg }
func (e *daemonError) Unwrap() error { return e.cause }

// connect dials the daemon's socket.
func connect(ctx context.Context) (*wire.Conn, error) {
	path, err := socket.Path()
	if err != nil {
		return nil, err
	}
	conn, err := wire.Dial(ctx, path)
	if err != nil {
		return nil, explainCall(err, path)
	}
	return conn, nil
}

// explainCall turns a call's error into a *daemonError with the daemon's reason.
func explainCall(err error, path string) error {
	var st *wire.Status
	switch {
	case errors.As(err, &st) && st.Reason != "":
		return &daemonError{reason: st.Reason, msg: st.Message, cause: err}
	case errors.Is(err, context.Canceled), errors.As(err, &st) && st.Code == wire.CodeCanceled:
		return &daemonError{reason: reasonInterrupted, msg: "interrupted", cause: err}
	case errors.Is(err, wire.ErrUnavailable), errors.As(err, &st) && st.Code == wire.CodeUnavailable:
		if path == "" {
			path, _ = socket.Path()
		}
		return &daemonError{reason: reasonUnreachable, cause: err,
			msg: fmt.Sprintf("cannot reach authd at %s (is it running? start it with 'authd run' or 'authd start')", path)}
	}
	return err
}

// asStatus is errors.As for the daemon's gRPC status.
func asStatus(err error, st **wire.Status) bool {
	return err != nil && errors.As(err, st)
}
