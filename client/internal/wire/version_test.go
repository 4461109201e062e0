package wire_test

import (
	"context"
	"errors"
	"net"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"authd.dev/authd/api"
	"authd.dev/authd/client/internal/wire"
	pb "authd.dev/authd/proto/authd/v1"
)

// serveVersion is serve with every answer carrying version's value in the
// header api.VersionHeader, as authd's server sends it ("" sends none).
func serveVersion(t *testing.T, b *fakeBroker, version *atomic.Value) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "s")
	ln, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	header := func() metadata.MD {
		v, _ := version.Load().(string)
		if v == "" {
			return nil
		}
		return metadata.Pairs(api.VersionHeader, v)
	}
	srv := grpc.NewServer(
		grpc.UnaryInterceptor(func(ctx context.Context, req any, _ *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
			if md := header(); md != nil {
				_ = grpc.SetHeader(ctx, md)
			}
			return h(ctx, req)
		}),
		grpc.StreamInterceptor(func(srv any, ss grpc.ServerStream, _ *grpc.StreamServerInfo, h grpc.StreamHandler) error {
			if md := header(); md != nil {
				_ = ss.SetHeader(md)
			}
			return h(srv, ss)
		}),
	)
	pb.RegisterBrokerServer(srv, b)
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(srv.Stop)
	return path
}

// The daemon's version comes with every answer (a success, an error, a
// stream's first message), is read during a stream, and follows a change.
func TestServerVersion(t *testing.T) {
	t.Parallel()
	var version atomic.Value
	version.Store("v1.2.3")
	var duringStream string
	var conn *wire.Conn
	path := serveVersion(t, &fakeBroker{
		getToken: func(context.Context, *pb.GetTokenRequest) (*pb.Token, error) {
			return &pb.Token{AccessToken: "at"}, nil
		},
		status: func(context.Context, *pb.StatusRequest) (*pb.StatusResponse, error) {
			return nil, status.Error(codes.FailedPrecondition, "broken")
		},
		login: func(_ *pb.LoginRequest, s grpc.ServerStreamingServer[pb.LoginEvent]) error {
			return s.Send(&pb.LoginEvent{Event: &pb.LoginEvent_Waiting{Waiting: &pb.Waiting{StartedBy: "x"}}})
		},
	}, &version)
	conn = dial(t, path)
	ctx := context.Background()
	if v := conn.ServerVersion(); v != "" {
		t.Errorf("ServerVersion before any call = %q", v)
	}
	if _, err := conn.GetToken(ctx, &wire.GetTokenRequest{}); err != nil {
		t.Fatal(err)
	}
	if v := conn.ServerVersion(); v != "v1.2.3" {
		t.Errorf("ServerVersion after GetToken = %q, want v1.2.3", v)
	}

	version.Store("v1.3.0")
	var st *wire.Status
	if _, err := conn.Status(ctx); !errors.As(err, &st) {
		t.Fatalf("Status: %v, want the server's error", err)
	}
	if v := conn.ServerVersion(); v != "v1.3.0" {
		t.Errorf("ServerVersion after an error = %q, want v1.3.0", v)
	}

	version.Store("v1.4.0")
	err := conn.Login(ctx, &wire.LoginRequest{}, func(*wire.LoginEvent) error {
		duringStream = conn.ServerVersion()
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if duringStream != "v1.4.0" {
		t.Errorf("ServerVersion during a stream = %q, want v1.4.0", duringStream)
	}

	// A value no version of authd's has is not kept.
	version.Store(strings.Repeat("v", 10000))
	if _, err := conn.GetToken(ctx, &wire.GetTokenRequest{}); err != nil {
		t.Fatal(err)
	}
	if v := conn.ServerVersion(); v != "v1.4.0" {
		t.Errorf("ServerVersion after an overlong header = %.20q..., want v1.4.0 kept", v)
	}
}

// A daemon that sends no version leaves ServerVersion empty.
func TestServerVersionAbsent(t *testing.T) {
	t.Parallel()
	var none atomic.Value
	path := serveVersion(t, &fakeBroker{getToken: func(context.Context, *pb.GetTokenRequest) (*pb.Token, error) {
		return &pb.Token{AccessToken: "at"}, nil
	}}, &none)
	conn := dial(t, path)
	if _, err := conn.GetToken(context.Background(), &wire.GetTokenRequest{}); err != nil {
		t.Fatal(err)
	}
	if v := conn.ServerVersion(); v != "" {
		t.Errorf("ServerVersion = %q, want none", v)
	}
}
