package server

import (
	"context"
	"errors"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"authd.dev/authd/api"
	"authd.dev/authd/internal/broker"
	pb "authd.dev/authd/proto/authd/v1"
)

// ErrorDomain is the ErrorInfo domain of every error the server returns.
const ErrorDomain = api.ErrorDomain

// protoReason is the enum value of r, whose name r is; a reason the enum
// lacks is ERROR_REASON_UNSPECIFIED, which clients treat as an internal
// error.
func protoReason(r api.Reason) pb.ErrorReason {
	return pb.ErrorReason(pb.ErrorReason_value[string(r)])
}

// reasonCode is the gRPC code the daemon sends r with, for clients that
// know no reasons: api's table's.
func reasonCode(r api.Reason) codes.Code {
	if c := r.Info().Code; c != 0 {
		return codes.Code(c)
	}
	return codes.Internal
}

// toStatus turns an error into a gRPC status with an ErrorInfo reason. A
// status passes as is, and a context that ended is the caller's own
// cancellation or deadline: no reason, nothing the user must fix.
func toStatus(err error) error {
	if _, ok := status.FromError(err); ok {
		return err
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) && !errors.Is(err, broker.ErrLoginTimeout) {
		return status.FromContextError(err).Err()
	}
	reason := broker.ReasonOf(err)
	st := status.New(reasonCode(reason), err.Error())
	return withReason(st, reason).Err()
}

// withReason adds the ErrorInfo clients branch on to st.
func withReason(st *status.Status, reason api.Reason) *status.Status {
	info := &errdetails.ErrorInfo{Reason: protoReason(reason).String(), Domain: api.ErrorDomain}
	if withInfo, err := st.WithDetails(info); err == nil {
		return withInfo
	}
	return st
}
