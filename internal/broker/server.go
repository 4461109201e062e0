package broker

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"strings"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/timestamppb"

	"authd.dev/authd/internal/flow"
	"authd.dev/authd/internal/socket"
	"authd.dev/authd/internal/store"
	pb "authd.dev/authd/proto/authd/v1"
)

// ErrorDomain is the ErrorInfo domain of every error the broker returns.
const ErrorDomain = "authd.dev"

// Serve answers the Broker API on ln until ln is closed or ctx ends. When
// ctx ends, calls in flight get a few seconds to finish.
func (b *Broker) Serve(ctx context.Context, ln net.Listener) error {
	srv := b.NewServer()
	stop := context.AfterFunc(ctx, func() {
		timer := time.AfterFunc(5*time.Second, srv.Stop)
		defer timer.Stop()
		srv.GracefulStop()
	})
	defer stop()
	return srv.Serve(ln)
}

// NewServer returns a gRPC server with the Broker service registered.
func (b *Broker) NewServer() *grpc.Server {
	uid := os.Getuid()
	srv := grpc.NewServer(
		grpc.Creds(peerCredentials{uid: uid}),
		grpc.UnaryInterceptor(func(ctx context.Context, req any, _ *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
			if err := checkPeer(ctx, uid); err != nil {
				return nil, err
			}
			return h(ctx, req)
		}),
		grpc.StreamInterceptor(func(srv any, ss grpc.ServerStream, _ *grpc.StreamServerInfo, h grpc.StreamHandler) error {
			if err := checkPeer(ss.Context(), uid); err != nil {
				return err
			}
			return h(srv, ss)
		}),
		// authc opens a connection per command: keep what each one allocates small.
		grpc.ReadBufferSize(8<<10),
		grpc.WriteBufferSize(8<<10),
		grpc.SharedWriteBuffer(true),
	)
	pb.RegisterBrokerServer(srv, &service{b: b})
	return srv
}

type service struct {
	pb.UnimplementedBrokerServer
	b *Broker
}

func (s *service) GetToken(ctx context.Context, req *pb.GetTokenRequest) (*pb.Token, error) {
	sess, err := s.b.Session(req.GetProfile())
	if err != nil {
		return nil, toStatus(err)
	}
	if d := req.GetMinValid(); d != nil && (d.CheckValid() != nil || d.AsDuration() < 0) {
		return nil, toStatus(fmt.Errorf("%w: min_valid must be a positive duration", ErrInvalidRequest))
	}
	tok, err := sess.Token(ctx, TokenRequest{
		Scopes:       req.GetScopes(),
		Audience:     req.GetAudience(),
		MinValid:     req.GetMinValid().AsDuration(),
		Interactive:  req.GetInteractive(),
		ForceRefresh: req.GetForceRefresh(),
	})
	if err != nil {
		return nil, toStatus(err)
	}
	out := &pb.Token{
		AccessToken: tok.AccessToken,
		TokenType:   tok.TokenType,
		Scopes:      tok.Scopes,
		Profile:     sess.profile.Name,
	}
	if !tok.Expiry.IsZero() {
		out.Expiry = timestamppb.New(tok.Expiry)
	}
	if req.GetWantIdToken() {
		out.IdToken = tok.IDToken
	}
	return out, nil
}

func (s *service) Login(req *pb.LoginRequest, stream grpc.ServerStreamingServer[pb.LoginEvent]) error {
	sess, err := s.b.Session(req.GetProfile())
	if err != nil {
		return toStatus(err)
	}
	err = sess.Login(stream.Context(), LoginRequest{
		Force:     req.GetForce(),
		Device:    req.GetDevice(),
		NoBrowser: req.GetNoBrowser(),
		StartedBy: startedBy(stream.Context()),
	}, loginStream{stream})
	if err != nil {
		return toStatus(err)
	}
	return nil
}

// loginStream sends a login's progress to one client.
type loginStream struct {
	stream grpc.ServerStreamingServer[pb.LoginEvent]
}

func (l loginStream) Joined(startedBy string) error {
	return l.stream.Send(&pb.LoginEvent{Event: &pb.LoginEvent_Waiting{Waiting: &pb.Waiting{StartedBy: startedBy}}})
}

func (l loginStream) Prompt(p Prompt) error {
	if dc := p.Device; dc != nil {
		ev := &pb.DeviceCode{VerificationUri: dc.VerificationURI, UserCode: dc.UserCode, VerificationUriComplete: dc.VerificationURIComplete}
		if !dc.Expires.IsZero() {
			ev.Expires = timestamppb.New(dc.Expires)
		}
		return l.stream.Send(&pb.LoginEvent{Event: &pb.LoginEvent_DeviceCode{DeviceCode: ev}})
	}
	return l.stream.Send(&pb.LoginEvent{Event: &pb.LoginEvent_OpenUrl{OpenUrl: &pb.OpenURL{Url: p.URL, RedirectUri: p.RedirectURI}}})
}

func (l loginStream) Done(account string, expiry time.Time) error {
	done := &pb.Done{Account: account}
	if !expiry.IsZero() {
		done.Expiry = timestamppb.New(expiry)
	}
	return l.stream.Send(&pb.LoginEvent{Event: &pb.LoginEvent_Done{Done: done}})
}

func (s *service) Logout(ctx context.Context, req *pb.LogoutRequest) (*pb.LogoutResponse, error) {
	names := []string{req.GetProfile()}
	if req.GetAll() {
		names = s.b.Profiles()
	}
	resp := &pb.LogoutResponse{}
	for _, name := range names {
		sess, err := s.b.Session(name)
		if err != nil {
			return resp, toStatus(err)
		}
		if err := sess.Logout(ctx); err != nil {
			return resp, toStatus(err)
		}
		resp.Profiles = append(resp.Profiles, sess.profile.Name)
	}
	return resp, nil
}

func (s *service) Status(ctx context.Context, _ *pb.StatusRequest) (*pb.StatusResponse, error) {
	b := s.b
	b.mu.Lock()
	resp := &pb.StatusResponse{Version: b.opts.Version, ConfigPath: b.opts.ConfigPath, Pid: int32(os.Getpid())}
	if b.cfg != nil {
		resp.DefaultProfile = b.cfg.DefaultProfile
	}
	if b.store != nil {
		resp.KeyringBackend = b.store.Backend()
	}
	cfgErr := b.cfgErr
	b.mu.Unlock()
	if cfgErr != nil {
		return nil, toStatus(fmt.Errorf("%w: %w", errInvalidConfig, cfgErr))
	}
	for _, name := range b.Profiles() {
		ps := &pb.ProfileStatus{Name: name}
		sess, err := b.Session(name)
		if err != nil {
			ps.LastError = err.Error()
			resp.Profiles = append(resp.Profiles, ps)
			continue
		}
		st := sess.Status(ctx)
		ps.Issuer, ps.Flow = st.Profile.Issuer, st.Profile.Flow
		ps.State, ps.Account, ps.HasRefreshToken = string(st.State), st.Account, st.HasRefreshToken
		ps.Failures, ps.Source = int32(st.Failures), st.Source
		ps.Expiry, ps.LastRefresh, ps.NextRefresh = stamp(st.Expiry), stamp(st.LastRefresh), stamp(st.NextRefresh)
		if st.LastError != nil {
			ps.LastError = st.LastError.Error()
		}
		resp.Profiles = append(resp.Profiles, ps)
	}
	return resp, nil
}

func (s *service) SetCredential(ctx context.Context, req *pb.SetCredentialRequest) (*pb.SetCredentialResponse, error) {
	sess, err := s.b.Session(req.GetProfile())
	if err != nil {
		return nil, toStatus(err)
	}
	var rec *store.Record
	switch c := req.GetCredential().(type) {
	case *pb.SetCredentialRequest_AccessToken:
		rec, err = sess.SetStaticToken(ctx, c.AccessToken)
	case *pb.SetCredentialRequest_ClientSecret:
		rec, err = sess.SetClientSecret(ctx, c.ClientSecret)
	default:
		err = fmt.Errorf("%w: no credential given", ErrInvalidRequest)
	}
	if err != nil {
		return nil, toStatus(err)
	}
	return &pb.SetCredentialResponse{Profile: sess.profile.Name, Expiry: stamp(rec.Expiry)}, nil
}

func stamp(t time.Time) *timestamppb.Timestamp {
	if t.IsZero() {
		return nil
	}
	return timestamppb.New(t)
}

// Reason names the condition behind an error, as clients see it.
func Reason(err error) pb.ErrorReason {
	switch {
	case errors.Is(err, ErrProfileNotFound):
		return pb.ErrorReason_PROFILE_NOT_FOUND
	case errors.Is(err, errInvalidConfig):
		return pb.ErrorReason_INVALID_CONFIG
	case errors.Is(err, ErrLoginTimeout):
		return pb.ErrorReason_LOGIN_TIMEOUT
	case errors.Is(err, ErrLoginRequired), errors.Is(err, flow.ErrInvalidGrant) && !errors.Is(err, flow.ErrLoginFailed):
		return pb.ErrorReason_LOGIN_REQUIRED
	case errors.Is(err, flow.ErrLoginFailed):
		return pb.ErrorReason_LOGIN_FAILED
	case errors.Is(err, flow.ErrUnavailable):
		return pb.ErrorReason_IDP_UNAVAILABLE
	case errors.Is(err, store.ErrLocked):
		return pb.ErrorReason_KEYRING_LOCKED
	case errors.Is(err, store.ErrUnavailable), errors.Is(err, store.ErrTimeout), errors.Is(err, store.ErrNoPassphrase), errors.Is(err, store.ErrCorrupt):
		return pb.ErrorReason_KEYRING_UNAVAILABLE
	case errors.Is(err, ErrTokenLifetime):
		return pb.ErrorReason_TOKEN_LIFETIME
	case errors.Is(err, ErrInvalidRequest):
		return pb.ErrorReason_INVALID_REQUEST
	}
	return pb.ErrorReason_ERROR_REASON_UNSPECIFIED
}

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

// toStatus turns an error into a gRPC status with an ErrorInfo reason.
func toStatus(err error) error {
	if _, ok := status.FromError(err); ok {
		return err
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) && !errors.Is(err, ErrLoginTimeout) {
		return status.FromContextError(err).Err()
	}
	reason := Reason(err)
	code, ok := reasonCodes[reason]
	if !ok {
		code = codes.Internal
	}
	st := status.New(code, err.Error())
	if withInfo, derr := st.WithDetails(&errdetails.ErrorInfo{Reason: reason.String(), Domain: ErrorDomain}); derr == nil {
		st = withInfo
	}
	return st.Err()
}

// peerCredentials records each connection's peer uid and pid from the kernel.
// The handshake itself accepts everyone so that a refused user gets a clear
// PERMISSION_DENIED answer instead of a dropped connection; every RPC checks.
type peerCredentials struct{ uid int }

type peerInfo struct {
	credentials.CommonAuthInfo
	uid, pid int
}

func (peerInfo) AuthType() string { return "unix-peercred" }

func (c peerCredentials) ServerHandshake(conn net.Conn) (net.Conn, credentials.AuthInfo, error) {
	uid, pid, err := socket.Peer(conn)
	switch {
	case errors.Is(err, errors.ErrUnsupported):
		// No peer credentials on this platform: the socket directory's
		// mode (0700) is the only guard, as for ssh-agent.
		uid, pid = c.uid, -1
	case err != nil:
		uid, pid = -1, -1
	}
	return conn, peerInfo{CommonAuthInfo: credentials.CommonAuthInfo{SecurityLevel: credentials.PrivacyAndIntegrity}, uid: uid, pid: pid}, nil
}

func (c peerCredentials) ClientHandshake(context.Context, string, net.Conn) (net.Conn, credentials.AuthInfo, error) {
	return nil, nil, errors.New("peer credentials are for servers")
}

func (c peerCredentials) Info() credentials.ProtocolInfo {
	return credentials.ProtocolInfo{SecurityProtocol: "unix-peercred"}
}
func (c peerCredentials) Clone() credentials.TransportCredentials { return c }
func (c peerCredentials) OverrideServerName(string) error         { return nil }

// checkPeer refuses callers whose uid is not the daemon's own (want).
func checkPeer(ctx context.Context, want int) error {
	uid := -1
	if p, ok := peer.FromContext(ctx); ok {
		if info, ok := p.AuthInfo.(peerInfo); ok {
			uid = info.uid
		}
	}
	if uid != want {
		st := status.New(codes.PermissionDenied,
			fmt.Sprintf("this authd serves uid %d only; the caller is uid %d", want, uid))
		if withInfo, err := st.WithDetails(&errdetails.ErrorInfo{Reason: pb.ErrorReason_PERMISSION_DENIED.String(), Domain: ErrorDomain}); err == nil {
			st = withInfo
		}
		return st.Err()
	}
	return nil
}

// startedBy names the process that started a login, for those who join it.
func startedBy(ctx context.Context) string {
	p, ok := peer.FromContext(ctx)
	if !ok {
		return "another client"
	}
	info, ok := p.AuthInfo.(peerInfo)
	if !ok || info.pid <= 0 {
		return "another client"
	}
	if comm, err := os.ReadFile(fmt.Sprintf("/proc/%d/comm", info.pid)); err == nil {
		return fmt.Sprintf("%s (pid %d)", strings.TrimSpace(string(comm)), info.pid)
	}
	return fmt.Sprintf("pid %d", info.pid)
}
