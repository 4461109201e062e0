package wire_test

import (
	"context"
	"errors"
	"net"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/timestamppb"

	"authd.dev/authd/api"
	"authd.dev/authd/client/internal/wire"
	pb "authd.dev/authd/proto/authd/v1"
)

// fakeBroker is a Broker whose methods the test chooses; a method left nil
// is unimplemented.
type fakeBroker struct {
	pb.UnimplementedBrokerServer
	getToken      func(context.Context, *pb.GetTokenRequest) (*pb.Token, error)
	login         func(*pb.LoginRequest, grpc.ServerStreamingServer[pb.LoginEvent]) error
	logout        func(context.Context, *pb.LogoutRequest) (*pb.LogoutResponse, error)
	status        func(context.Context, *pb.StatusRequest) (*pb.StatusResponse, error)
	setCredential func(context.Context, *pb.SetCredentialRequest) (*pb.SetCredentialResponse, error)
	reload        func(context.Context, *pb.ReloadRequest) (*pb.ReloadResponse, error)
}

func (f *fakeBroker) Reload(ctx context.Context, r *pb.ReloadRequest) (*pb.ReloadResponse, error) {
	if f.reload == nil {
		return f.UnimplementedBrokerServer.Reload(ctx, r)
	}
	return f.reload(ctx, r)
}

func (f *fakeBroker) GetToken(ctx context.Context, r *pb.GetTokenRequest) (*pb.Token, error) {
	if f.getToken == nil {
		return f.UnimplementedBrokerServer.GetToken(ctx, r)
	}
	return f.getToken(ctx, r)
}

func (f *fakeBroker) Login(r *pb.LoginRequest, s grpc.ServerStreamingServer[pb.LoginEvent]) error {
	if f.login == nil {
		return f.UnimplementedBrokerServer.Login(r, s)
	}
	return f.login(r, s)
}

func (f *fakeBroker) Logout(ctx context.Context, r *pb.LogoutRequest) (*pb.LogoutResponse, error) {
	if f.logout == nil {
		return f.UnimplementedBrokerServer.Logout(ctx, r)
	}
	return f.logout(ctx, r)
}

func (f *fakeBroker) Status(ctx context.Context, r *pb.StatusRequest) (*pb.StatusResponse, error) {
	if f.status == nil {
		return f.UnimplementedBrokerServer.Status(ctx, r)
	}
	return f.status(ctx, r)
}

func (f *fakeBroker) SetCredential(ctx context.Context, r *pb.SetCredentialRequest) (*pb.SetCredentialResponse, error) {
	if f.setCredential == nil {
		return f.UnimplementedBrokerServer.SetCredential(ctx, r)
	}
	return f.setCredential(ctx, r)
}

// serve runs a grpc-go server for b on a Unix socket and returns its path.
func serve(t testing.TB, b *fakeBroker) (string, *grpc.Server) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "s")
	ln, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	srv := grpc.NewServer()
	pb.RegisterBrokerServer(srv, b)
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(srv.Stop)
	return path, srv
}

func dial(t testing.TB, path string) *wire.Conn {
	t.Helper()
	conn, err := wire.Dial(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	return conn
}

// await fails the test if ch does not close in time: a hung call, not a
// slow one (no test measures speed).
func await(t *testing.T, ch <-chan struct{}, what string) {
	t.Helper()
	select {
	case <-ch:
	case <-time.After(20 * time.Second):
		t.Fatalf("still waiting for %s", what)
	}
}

func TestGetToken(t *testing.T) {
	t.Parallel()
	expiry := time.Date(2031, 2, 3, 4, 5, 6, 7, time.UTC)
	var gotReq *pb.GetTokenRequest
	var gotMD metadata.MD
	path, _ := serve(t, &fakeBroker{getToken: func(ctx context.Context, r *pb.GetTokenRequest) (*pb.Token, error) {
		gotReq = r
		gotMD, _ = metadata.FromIncomingContext(ctx)
		return &pb.Token{AccessToken: "at", TokenType: "Bearer", Expiry: timestamppb.New(expiry), Scopes: []string{"a", "b"}, IdToken: "idt", Profile: r.Profile}, nil
	}})
	conn := dial(t, path)
	tok, err := conn.GetToken(context.Background(), &wire.GetTokenRequest{Profile: "work", Scopes: []string{"s1"}, MinValid: 5 * time.Minute, WantIDToken: true})
	if err != nil {
		t.Fatal(err)
	}
	want := wire.Token{AccessToken: "at", TokenType: "Bearer", Expiry: expiry, Scopes: []string{"a", "b"}, IDToken: "idt", Profile: "work"}
	if tok.AccessToken != want.AccessToken || tok.TokenType != want.TokenType || !tok.Expiry.Equal(want.Expiry) ||
		strings.Join(tok.Scopes, ",") != "a,b" || tok.IDToken != want.IDToken || tok.Profile != want.Profile {
		t.Errorf("GetToken = %+v, want %+v", tok, want)
	}
	if gotReq.GetProfile() != "work" || gotReq.GetMinValid().AsDuration() != 5*time.Minute || !gotReq.GetWantIdToken() || len(gotReq.GetScopes()) != 1 {
		t.Errorf("server got %v", gotReq)
	}
	if got := gotMD.Get(":authority"); len(got) != 1 || got[0] != "localhost" {
		t.Errorf(":authority = %q, want localhost", got)
	}
	if got := gotMD.Get("content-type"); len(got) != 1 || got[0] != "application/grpc" {
		t.Errorf("content-type = %q", got)
	}

	// The connection serves further calls, of every method.
	for range 3 {
		if _, err := conn.GetToken(context.Background(), &wire.GetTokenRequest{}); err != nil {
			t.Fatal(err)
		}
	}
}

func TestOtherMethods(t *testing.T) {
	t.Parallel()
	stamp := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	path, _ := serve(t, &fakeBroker{
		logout: func(_ context.Context, r *pb.LogoutRequest) (*pb.LogoutResponse, error) {
			if !r.All {
				return nil, status.Error(codes.InvalidArgument, "want all")
			}
			if r.Profile == "none" {
				return &pb.LogoutResponse{}, nil // an empty message: 0 bytes
			}
			return &pb.LogoutResponse{Profiles: []string{"a", "b"}}, nil
		},
		status: func(context.Context, *pb.StatusRequest) (*pb.StatusResponse, error) {
			return &pb.StatusResponse{Version: "v1", Pid: 42, Profiles: []*pb.ProfileStatus{{Name: "work", State: "valid", Failures: 2, NextRefresh: timestamppb.New(stamp)}}}, nil
		},
		setCredential: func(_ context.Context, r *pb.SetCredentialRequest) (*pb.SetCredentialResponse, error) {
			if r.GetClientSecret() != "s3cret" {
				return nil, status.Error(codes.InvalidArgument, "want the secret")
			}
			return &pb.SetCredentialResponse{Profile: r.Profile, Expiry: timestamppb.New(stamp)}, nil
		},
		reload: func(context.Context, *pb.ReloadRequest) (*pb.ReloadResponse, error) {
			return &pb.ReloadResponse{ConfigPath: "/c.toml", Added: []string{"a", "b"}, Removed: []string{"c"}, KeyringChanged: true}, nil
		},
	})
	conn := dial(t, path)
	ctx := context.Background()
	out, err := conn.Logout(ctx, &wire.LogoutRequest{All: true})
	if err != nil || strings.Join(out.Profiles, ",") != "a,b" {
		t.Errorf("Logout = %+v, %v", out, err)
	}
	if out, err := conn.Logout(ctx, &wire.LogoutRequest{All: true, Profile: "none"}); err != nil || len(out.Profiles) != 0 {
		t.Errorf("Logout with an empty response = %+v, %v", out, err)
	}
	st, err := conn.Status(ctx)
	if err != nil || st.Version != "v1" || st.PID != 42 || len(st.Profiles) != 1 || st.Profiles[0].Failures != 2 || !st.Profiles[0].NextRefresh.Equal(stamp) {
		t.Errorf("Status = %+v, %v", st, err)
	}
	set, err := conn.SetCredential(ctx, &wire.SetCredentialRequest{Profile: "ci", ClientSecret: "s3cret"})
	if err != nil || set.Profile != "ci" || !set.Expiry.Equal(stamp) {
		t.Errorf("SetCredential = %+v, %v", set, err)
	}
	re, err := conn.Reload(ctx)
	if err != nil || re.ConfigPath != "/c.toml" || strings.Join(re.Added, ",") != "a,b" || len(re.Changed) != 0 || strings.Join(re.Removed, ",") != "c" || !re.KeyringChanged {
		t.Errorf("Reload = %+v, %v", re, err)
	}
}

func TestErrorWithErrorInfo(t *testing.T) {
	t.Parallel()
	const message = "profile \"wörk\" is 100% logged out\nrun: authc login"
	detailed := func() error {
		st, err := status.New(codes.FailedPrecondition, message).WithDetails(
			&errdetails.ErrorInfo{Reason: "LOGIN_REQUIRED", Domain: "authd.dev", Metadata: map[string]string{"profile": "wörk"}})
		if err != nil {
			panic(err)
		}
		return st.Err()
	}
	tests := []struct {
		name    string
		handler func(context.Context, *pb.GetTokenRequest) (*pb.Token, error)
	}{
		{"trailers only", func(context.Context, *pb.GetTokenRequest) (*pb.Token, error) {
			return nil, detailed()
		}},
		{"after response headers", func(ctx context.Context, _ *pb.GetTokenRequest) (*pb.Token, error) {
			if err := grpc.SendHeader(ctx, metadata.Pairs("x-early", "1")); err != nil {
				return nil, err
			}
			return nil, detailed()
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			path, _ := serve(t, &fakeBroker{getToken: tt.handler})
			conn := dial(t, path)
			for range 2 { // and the connection still works after an error
				_, err := conn.GetToken(context.Background(), &wire.GetTokenRequest{})
				var st *wire.Status
				if !errors.As(err, &st) {
					t.Fatalf("GetToken error = %v, want a *wire.Status", err)
				}
				if st.Code != wire.CodeFailedPrecondition || st.Message != message || st.Reason != api.LoginRequired ||
					st.Domain != api.ErrorDomain || st.Metadata["profile"] != "wörk" {
					t.Errorf("status = %+v", st)
				}
				if errors.Is(err, wire.ErrUnavailable) || errors.Is(err, context.DeadlineExceeded) {
					t.Errorf("status %v matches a sentinel it is not", err)
				}
			}
		})
	}
}

func TestErrorWithoutDetails(t *testing.T) {
	t.Parallel()
	path, _ := serve(t, &fakeBroker{}) // every method unimplemented
	conn := dial(t, path)
	_, err := conn.GetToken(context.Background(), &wire.GetTokenRequest{})
	var st *wire.Status
	if !errors.As(err, &st) || st.Code != wire.CodeUnimplemented || st.Reason != "" {
		t.Errorf("GetToken error = %#v, want Unimplemented", err)
	}
	_, err = conn.Unary(context.Background(), "/authd.v1.Nope/Nope", nil)
	if !errors.As(err, &st) || st.Code != wire.CodeUnimplemented {
		t.Errorf("unknown service: error = %v, want Unimplemented", err)
	}
}

// TestLargeResponses needs the client's flow control: each response is
// bigger than the stream and connection windows, and several of them go
// over one connection.
func TestLargeResponses(t *testing.T) {
	t.Parallel()
	big := strings.Repeat("0123456789abcdef", 3<<20/16)
	path, _ := serve(t, &fakeBroker{
		getToken: func(_ context.Context, r *pb.GetTokenRequest) (*pb.Token, error) {
			return &pb.Token{AccessToken: big[:len(big)-len(r.Profile)] + r.Profile}, nil
		},
		login: func(_ *pb.LoginRequest, s grpc.ServerStreamingServer[pb.LoginEvent]) error {
			for range 4 {
				if err := s.Send(&pb.LoginEvent{Event: &pb.LoginEvent_OpenUrl{OpenUrl: &pb.OpenURL{Url: big[:1<<20]}}}); err != nil {
					return err
				}
			}
			return nil
		},
	})
	conn := dial(t, path)
	// A stall in flow control fails at this deadline.
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for i := range 4 {
		profile := strings.Repeat("p", i)
		tok, err := conn.GetToken(ctx, &wire.GetTokenRequest{Profile: profile})
		if err != nil {
			t.Fatal(err)
		}
		if tok.AccessToken != big[:len(big)-i]+profile {
			t.Fatalf("call %d: token of %d bytes differs", i, len(tok.AccessToken))
		}
	}
	events := 0
	err := conn.Login(ctx, &wire.LoginRequest{}, func(e *wire.LoginEvent) error {
		if e.OpenURL == nil || len(e.OpenURL.URL) != 1<<20 {
			t.Errorf("event %d = %+v", events, e)
		}
		events++
		return nil
	})
	if err != nil || events != 4 {
		t.Errorf("Login = %v after %d events, want 4 events", err, events)
	}
}

func TestLargeRequest(t *testing.T) {
	t.Parallel()
	path, _ := serve(t, &fakeBroker{setCredential: func(_ context.Context, r *pb.SetCredentialRequest) (*pb.SetCredentialResponse, error) {
		return &pb.SetCredentialResponse{Profile: r.Profile + ":" + r.GetAccessToken()[:4] + r.GetAccessToken()[len(r.GetAccessToken())-4:]}, nil
	}})
	conn := dial(t, path)
	// Bigger than the server's initial windows: the client waits for
	// WINDOW_UPDATE in the middle of the request.
	tokenValue := "head" + strings.Repeat("x", 1<<20) + "tail"
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for range 2 {
		out, err := conn.SetCredential(ctx, &wire.SetCredentialRequest{Profile: "p", AccessToken: tokenValue})
		if err != nil || out.Profile != "p:headtail" {
			t.Fatalf("SetCredential = %+v, %v", out, err)
		}
	}
}

func TestLoginStream(t *testing.T) {
	t.Parallel()
	expires := time.Date(2030, 5, 6, 7, 8, 9, 0, time.UTC)
	events := []*pb.LoginEvent{
		{Event: &pb.LoginEvent_Waiting{Waiting: &pb.Waiting{StartedBy: "pid 7"}}},
		{Event: &pb.LoginEvent_DeviceCode{DeviceCode: &pb.DeviceCode{VerificationUri: "https://v", UserCode: "ABCD", Expires: timestamppb.New(expires)}}},
		{Event: &pb.LoginEvent_OpenUrl{OpenUrl: &pb.OpenURL{Url: "https://idp/auth", RedirectUri: "http://127.0.0.1:5/cb"}}},
		{Event: &pb.LoginEvent_Done{Done: &pb.Done{Account: "me@example.com", Expiry: timestamppb.New(expires)}}},
	}
	tests := []struct {
		name    string
		fail    error // returned after the events
		wantErr func(error) bool
	}{
		{"ends OK", nil, func(err error) bool { return err == nil }},
		{"fails mid-stream", status.Error(codes.DeadlineExceeded, "login timed out"), func(err error) bool {
			var st *wire.Status
			return errors.As(err, &st) && st.Code == wire.CodeDeadlineExceeded && st.Message == "login timed out" && errors.Is(err, context.DeadlineExceeded)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var gotReq *pb.LoginRequest
			path, _ := serve(t, &fakeBroker{login: func(r *pb.LoginRequest, s grpc.ServerStreamingServer[pb.LoginEvent]) error {
				gotReq = r
				for _, e := range events {
					if err := s.Send(e); err != nil {
						return err
					}
				}
				return tt.fail
			}})
			conn := dial(t, path)
			var got []*wire.LoginEvent
			err := conn.Login(context.Background(), &wire.LoginRequest{Profile: "work", Device: true, NoBrowser: true}, func(e *wire.LoginEvent) error {
				got = append(got, e)
				return nil
			})
			if !tt.wantErr(err) {
				t.Errorf("Login error = %v", err)
			}
			if gotReq.GetProfile() != "work" || !gotReq.GetDevice() || !gotReq.GetNoBrowser() || gotReq.GetForce() {
				t.Errorf("server got %v", gotReq)
			}
			if len(got) != len(events) {
				t.Fatalf("got %d events, want %d", len(got), len(events))
			}
			if got[0].Waiting == nil || got[0].Waiting.StartedBy != "pid 7" ||
				got[1].DeviceCode == nil || got[1].DeviceCode.UserCode != "ABCD" || !got[1].DeviceCode.Expires.Equal(expires) ||
				got[2].OpenURL == nil || got[2].OpenURL.RedirectURI != "http://127.0.0.1:5/cb" ||
				got[3].Done == nil || got[3].Done.Account != "me@example.com" {
				t.Errorf("events = %+v %+v %+v %+v", got[0], got[1], got[2], got[3])
			}
		})
	}
}

// TestStreamStoppedByReceiver cancels the stream on the server, and leaves
// the connection usable.
func TestStreamStoppedByReceiver(t *testing.T) {
	t.Parallel()
	serverDone := make(chan struct{})
	path, _ := serve(t, &fakeBroker{
		login: func(_ *pb.LoginRequest, s grpc.ServerStreamingServer[pb.LoginEvent]) error {
			defer close(serverDone)
			for {
				if err := s.Send(&pb.LoginEvent{Event: &pb.LoginEvent_Waiting{Waiting: &pb.Waiting{}}}); err != nil {
					return err
				}
				select {
				case <-s.Context().Done():
					return s.Context().Err()
				case <-time.After(time.Millisecond):
				}
			}
		},
		getToken: func(context.Context, *pb.GetTokenRequest) (*pb.Token, error) {
			return &pb.Token{AccessToken: "ok"}, nil
		},
	})
	conn := dial(t, path)
	errStop := errors.New("stop")
	n := 0
	err := conn.Login(context.Background(), &wire.LoginRequest{}, func(*wire.LoginEvent) error {
		if n++; n == 3 {
			return errStop
		}
		return nil
	})
	if err != errStop {
		t.Errorf("Login = %v, want the receiver's error", err)
	}
	await(t, serverDone, "the server to see the stream cancelled")
	if tok, err := conn.GetToken(context.Background(), &wire.GetTokenRequest{}); err != nil || tok.AccessToken != "ok" {
		t.Errorf("GetToken after a cancelled stream = %v, %v", tok, err)
	}
}

func TestUnaryCallToAStream(t *testing.T) {
	t.Parallel()
	path, _ := serve(t, &fakeBroker{login: func(_ *pb.LoginRequest, s grpc.ServerStreamingServer[pb.LoginEvent]) error {
		for range 2 {
			if err := s.Send(&pb.LoginEvent{}); err != nil {
				return err
			}
		}
		return nil
	}})
	_, err := dial(t, path).Unary(context.Background(), "Login", nil)
	var st *wire.Status
	if !errors.As(err, &st) || st.Code != wire.CodeInternal || !strings.Contains(st.Message, "more than one") {
		t.Errorf("Unary to a stream of 2 messages = %v, want Internal: more than one message", err)
	}
}

func TestDeadline(t *testing.T) {
	t.Parallel()
	type seen struct {
		deadline    time.Time
		hasDeadline bool
	}
	called := make(chan seen, 1)
	ended := make(chan struct{})
	path, _ := serve(t, &fakeBroker{getToken: func(ctx context.Context, _ *pb.GetTokenRequest) (*pb.Token, error) {
		d, ok := ctx.Deadline()
		called <- seen{d, ok}
		<-ctx.Done() // sleeps past the deadline
		close(ended)
		return nil, ctx.Err()
	}})
	conn := dial(t, path)
	const timeout = 300 * time.Millisecond
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	start := time.Now()
	returned := make(chan struct{})
	var err error
	go func() {
		defer close(returned)
		_, err = conn.GetToken(ctx, &wire.GetTokenRequest{})
	}()
	await(t, returned, "GetToken to return at its deadline")
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("GetToken error = %v, want context.DeadlineExceeded", err)
	}
	if errors.Is(err, wire.ErrUnavailable) {
		t.Errorf("GetToken error = %v, matches ErrUnavailable", err)
	}
	var s seen
	select {
	case s = <-called:
	case <-time.After(20 * time.Second):
		t.Fatal("the server was not called")
	}
	if !s.hasDeadline {
		t.Fatal("the server's context has no deadline: no grpc-timeout was sent")
	}
	if s.deadline.Before(start) || s.deadline.After(start.Add(timeout+time.Second)) {
		t.Errorf("server deadline %v is not about %v after %v", s.deadline, timeout, start)
	}
	await(t, ended, "the server's call to end")
}

func TestCancel(t *testing.T) {
	t.Parallel()
	called := make(chan struct{})
	ended := make(chan struct{})
	path, _ := serve(t, &fakeBroker{getToken: func(ctx context.Context, _ *pb.GetTokenRequest) (*pb.Token, error) {
		if _, ok := ctx.Deadline(); ok {
			t.Error("a context without deadline sent a grpc-timeout")
		}
		close(called)
		<-ctx.Done()
		close(ended)
		return nil, ctx.Err()
	}})
	conn := dial(t, path)
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		<-called
		cancel()
	}()
	_, err := conn.GetToken(ctx, &wire.GetTokenRequest{})
	if !errors.Is(err, context.Canceled) {
		t.Errorf("GetToken error = %v, want context.Canceled", err)
	}
	await(t, ended, "the server to see the call cancelled")
	// A call its context interrupted closes the connection.
	if _, err := conn.GetToken(context.Background(), &wire.GetTokenRequest{}); !errors.Is(err, wire.ErrClosed) {
		t.Errorf("GetToken after a cancelled call = %v, want ErrClosed", err)
	}
	if err := conn.Close(); err != nil {
		t.Errorf("Close after a cancelled call = %v", err)
	}
}

func TestContextDoneBeforeTheCall(t *testing.T) {
	t.Parallel()
	path, _ := serve(t, &fakeBroker{getToken: func(context.Context, *pb.GetTokenRequest) (*pb.Token, error) {
		t.Error("the server was called")
		return &pb.Token{}, nil
	}})
	conn := dial(t, path)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := conn.GetToken(ctx, &wire.GetTokenRequest{}); !errors.Is(err, context.Canceled) {
		t.Errorf("GetToken = %v, want context.Canceled", err)
	}
	ctx, cancel = context.WithDeadline(context.Background(), time.Now().Add(-time.Second))
	defer cancel()
	if _, err := conn.GetToken(ctx, &wire.GetTokenRequest{}); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("GetToken = %v, want context.DeadlineExceeded", err)
	}
}

func TestDaemonUnavailable(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	_, err := wire.Dial(context.Background(), filepath.Join(dir, "missing"))
	if !errors.Is(err, wire.ErrUnavailable) {
		t.Errorf("Dial of a missing socket = %v, want ErrUnavailable", err)
	}

	// A stale socket: the file is there, nobody listens.
	stale := filepath.Join(dir, "stale")
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: stale, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	ln.SetUnlinkOnClose(false)
	ln.Close()
	// A child another test forks at this moment holds a copy of the
	// listening descriptor until it execs: wait until the socket is
	// really dead, as a stopped daemon's is.
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		c, err := net.Dial("unix", stale)
		if err != nil {
			break
		}
		c.Close()
		if time.Now().After(deadline) {
			t.Fatal("the closed listener still accepts connections")
		}
	}
	if _, err := wire.Dial(context.Background(), stale); !errors.Is(err, wire.ErrUnavailable) {
		t.Errorf("Dial of a stale socket = %v, want ErrUnavailable", err)
	}
}

func TestServerGoesAway(t *testing.T) {
	t.Parallel()
	t.Run("graceful stop between calls", func(t *testing.T) {
		t.Parallel()
		path, srv := serve(t, &fakeBroker{getToken: func(context.Context, *pb.GetTokenRequest) (*pb.Token, error) {
			return &pb.Token{}, nil
		}})
		conn := dial(t, path)
		if _, err := conn.GetToken(context.Background(), &wire.GetTokenRequest{}); err != nil {
			t.Fatal(err)
		}
		srv.GracefulStop()
		if _, err := conn.GetToken(context.Background(), &wire.GetTokenRequest{}); !errors.Is(err, wire.ErrUnavailable) {
			t.Errorf("GetToken after GracefulStop = %v, want ErrUnavailable", err)
		}
	})
	t.Run("stop during a call", func(t *testing.T) {
		t.Parallel()
		called := make(chan struct{})
		path, srv := serve(t, &fakeBroker{getToken: func(ctx context.Context, _ *pb.GetTokenRequest) (*pb.Token, error) {
			close(called)
			<-ctx.Done()
			return nil, ctx.Err()
		}})
		conn := dial(t, path)
		go func() {
			<-called
			srv.Stop()
		}()
		if _, err := conn.GetToken(context.Background(), &wire.GetTokenRequest{}); !errors.Is(err, wire.ErrUnavailable) {
			t.Errorf("GetToken during Stop = %v, want ErrUnavailable", err)
		}
	})
}

func TestCloseDuringACall(t *testing.T) {
	t.Parallel()
	called := make(chan struct{})
	path, _ := serve(t, &fakeBroker{getToken: func(ctx context.Context, _ *pb.GetTokenRequest) (*pb.Token, error) {
		close(called)
		<-ctx.Done()
		return nil, ctx.Err()
	}})
	conn := dial(t, path)
	go func() {
		<-called
		conn.Close()
	}()
	if _, err := conn.GetToken(context.Background(), &wire.GetTokenRequest{}); !errors.Is(err, wire.ErrClosed) {
		t.Errorf("GetToken during Close = %v, want ErrClosed", err)
	}
	if _, err := conn.GetToken(context.Background(), &wire.GetTokenRequest{}); !errors.Is(err, wire.ErrClosed) {
		t.Errorf("GetToken after Close = %v, want ErrClosed", err)
	}
}

func TestConcurrentCalls(t *testing.T) {
	t.Parallel()
	path, _ := serve(t, &fakeBroker{getToken: func(_ context.Context, r *pb.GetTokenRequest) (*pb.Token, error) {
		return &pb.Token{AccessToken: "token-for-" + r.Profile}, nil
	}})
	conn := dial(t, path)
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 25 {
				profile := strings.Repeat("x", g*10+i)
				tok, err := conn.GetToken(context.Background(), &wire.GetTokenRequest{Profile: profile})
				if err != nil || tok.AccessToken != "token-for-"+profile {
					t.Errorf("GetToken(%q) = %v, %v", profile, tok, err)
					return
				}
			}
		})
	}
	wg.Wait()
}

func BenchmarkUnary(b *testing.B) {
	path, _ := serve(b, &fakeBroker{getToken: func(context.Context, *pb.GetTokenRequest) (*pb.Token, error) {
		return &pb.Token{AccessToken: strings.Repeat("t", 1000), TokenType: "Bearer", Expiry: timestamppb.Now(), Profile: "work"}, nil
	}})
	conn := dial(b, path)
	req := &wire.GetTokenRequest{Profile: "work", MinValid: time.Minute}
	ctx, cancel := context.WithTimeout(context.Background(), time.Hour)
	defer cancel()
	for b.Loop() {
		if _, err := conn.GetToken(ctx, req); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkDialUnary is what one authc command does: dial, call, close.
func BenchmarkDialUnary(b *testing.B) {
	path, _ := serve(b, &fakeBroker{getToken: func(context.Context, *pb.GetTokenRequest) (*pb.Token, error) {
		return &pb.Token{AccessToken: strings.Repeat("t", 1000), TokenType: "Bearer", Expiry: timestamppb.Now(), Profile: "work"}, nil
	}})
	req := &wire.GetTokenRequest{Profile: "work", MinValid: time.Minute}
	for b.Loop() {
		conn, err := wire.Dial(context.Background(), path)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := conn.GetToken(context.Background(), req); err != nil {
			b.Fatal(err)
		}
		conn.Close()
	}
}
