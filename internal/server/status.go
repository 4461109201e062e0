package server

import (
	"context"
	"errors"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"authd.dev/authd/internal/broker"
	pb "authd.dev/authd/proto/authd/v1"
)

// ErrorDomain is the ErrorInfo domain of every error the server returns.
const ErrorDomain = "authd.dev"

// protoReason is the API's name for r: the broker's reasons are the
// enum's names. A name the enum lacks is ERROR_REASON_UNSPECIFIED, which
// clients treat as an internal error.
func protoReason(r broker.Reason) pb.ErrorReason {
	return pb.ErrorReason(pb.ErrorReason_value[string(r)])
}

// reasonCodes gives each reason the gRPC code a client that knows no
// reasons can still act on; any other is INTERNAL.
var reasonCodes = map[pb.ErrorReason]codes.Code{
	pb.ErrorReason_PROFILE_NOT_FOUND:   codes.NotFound,
	pb.ErrorReason_INVALID_CONFIG:      codes.FailedPrecondition,
	pb.ErrorReason_LOGIN_TIMEOUT:       codes.DeadlineExceeded,
	pb.ErrorReason_LOGIN_REQUIRED:      codes.Unauthenticated,
	pb.ErrorReason_LOGIN_FAILED:        codes.Aborted,
	pb.ErrorReason_IDP_UNAVAILABLE:     codes.Unavailable,
	pb.ErrorReason_KEYRING_LOCKED:      codes.FailedPrecondition,
	pb.ErrorReason_KEYRING_UNAVAILABLE: codes.FailedPrecondition,
	pb.ErrorReason_INVALID_REQUEST:     codes.InvalidArgument,
	pb.ErrorReason_PERMISSION_DENIED:   codes.PermissionDenied,
	pb.ErrorReason_TOKEN_LIFETIME:      codes.OutOfRange,
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
	reason := protoReason(broker.ReasonOf(err))
	code, ok := reasonCodes[reason]
	if !ok {
		code = codes.Internal
	}
	st := status.New(code, err.Error())
	return withReason(st, reason).Err()
}

// withReason adds the ErrorInfo clients branch on to st.
func withReason(st *status.Status, reason pb.ErrorReason) *status.Status {
	if withInfo, err := st.WithDetails(&errdetails.ErrorInfo{Reason: reason.String(), Domain: ErrorDomain}); err == nil {
		return withInfo
	}
	return st
}
