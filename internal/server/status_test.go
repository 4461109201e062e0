package server

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"authd.dev/authd/api"
	"authd.dev/authd/internal/broker"
	"authd.dev/authd/internal/flow"
	"authd.dev/authd/internal/store"
	pb "authd.dev/authd/proto/authd/v1"
)

// TestToStatus pins the code and ErrorInfo reason each condition reaches
// clients with; one error per reason broker.ReasonOf gives.
func TestToStatus(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		err    error
		code   codes.Code
		reason string // "" for no ErrorInfo
	}{
		{fmt.Errorf("get: %w", broker.ErrProfileNotFound), codes.NotFound, "PROFILE_NOT_FOUND"},
		{fmt.Errorf("profile work: %w", broker.ErrLoginRequired), codes.Unauthenticated, "LOGIN_REQUIRED"},
		{fmt.Errorf("refresh work: %w", flow.ErrUnavailable), codes.Unavailable, "IDP_UNAVAILABLE"},
		{store.ErrLocked, codes.FailedPrecondition, "KEYRING_LOCKED"},
		{store.ErrCorrupt, codes.FailedPrecondition, "KEYRING_UNAVAILABLE"},
		{fmt.Errorf("login work: %w", flow.ErrLoginFailed), codes.Aborted, "LOGIN_FAILED"},
		{fmt.Errorf("login work: %w: %w", broker.ErrLoginTimeout, context.DeadlineExceeded), codes.DeadlineExceeded, "LOGIN_TIMEOUT"},
		{fmt.Errorf("%w: too long", broker.ErrInvalidRequest), codes.InvalidArgument, "INVALID_REQUEST"},
		{fmt.Errorf("%w: profile work", broker.ErrTokenLifetime), codes.OutOfRange, "TOKEN_LIFETIME"},
		{errors.New("boom"), codes.Internal, "ERROR_REASON_UNSPECIFIED"},
		// The caller's own context: no reason, nothing to fix.
		{fmt.Errorf("refresh work: %w", context.Canceled), codes.Canceled, ""},
		{context.DeadlineExceeded, codes.DeadlineExceeded, ""},
		// A status passes as it is.
		{status.Error(codes.PermissionDenied, "not yours"), codes.PermissionDenied, ""},
	} {
		st := status.Convert(toStatus(tt.err))
		reason := ""
		for _, d := range st.Details() {
			if info, ok := d.(*errdetails.ErrorInfo); ok {
				reason = info.GetReason()
				if info.GetDomain() != ErrorDomain {
					t.Errorf("%v: ErrorInfo domain %q, want %q", tt.err, info.GetDomain(), ErrorDomain)
				}
			}
		}
		if st.Code() != tt.code || reason != tt.reason {
			t.Errorf("toStatus(%v) = %v with reason %q, want %v with reason %q", tt.err, st.Code(), reason, tt.code, tt.reason)
		}
		if tt.reason != "" && st.Message() != tt.err.Error() {
			t.Errorf("toStatus(%v): message %q, want the error's text", tt.err, st.Message())
		}
	}
}

// TestInvalidConfigReason reaches the broker's unexported invalid-config
// error through a broker whose config file does not parse.
func TestInvalidConfigReason(t *testing.T) {
	t.Parallel()
	cfg := filepath.Join(t.TempDir(), "config.toml")
	if err := os.WriteFile(cfg, []byte("[profiles.work\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	b := broker.New(broker.Options{ConfigPath: cfg})
	defer b.Close()
	_, err := b.Info()
	if st := status.Convert(toStatus(err)); st.Code() != codes.FailedPrecondition || protoReason(broker.ReasonOf(err)) != pb.ErrorReason_INVALID_CONFIG {
		t.Errorf("broken config: %v (%v), want FAILED_PRECONDITION with INVALID_CONFIG", st.Code(), err)
	}
}

// The API's reasons are the enum's: every reason the daemon sends has an
// authd.v1.ErrorReason value of its name and a gRPC code, and every value
// of the enum is such a reason; the reasons clients give are not in it.
func TestReasonsAreTheEnum(t *testing.T) {
	t.Parallel()
	daemon := make(map[string]bool)
	for _, ri := range api.Reasons {
		_, inEnum := pb.ErrorReason_value[string(ri.Reason)]
		switch {
		case ri.Code == 0 && inEnum:
			t.Errorf("%s is in the enum, but has no gRPC code", ri.Reason)
		case ri.Code != 0 && !inEnum:
			t.Errorf("%s has a gRPC code, but no value in the enum", ri.Reason)
		case ri.Code != 0 && (codes.Code(ri.Code) == codes.OK || codes.Code(ri.Code) == codes.Unknown || ri.Code > int(codes.Unauthenticated)):
			t.Errorf("%s: gRPC code %d, want one a client can act on", ri.Reason, ri.Code)
		}
		if ri.Code != 0 {
			daemon[string(ri.Reason)] = true
		}
	}
	for _, name := range pb.ErrorReason_name {
		if !daemon[name] {
			t.Errorf("enum value %s is no reason of package api's table", name)
		}
	}
}
