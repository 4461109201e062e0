package server

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"runtime"
	"sync/atomic"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/keepalive"
	"google.golang.org/grpc/metadata"
	"google.golang.org/protobuf/types/known/timestamppb"

	"authd.dev/authd/api"
	"authd.dev/authd/internal/broker"
	pb "authd.dev/authd/proto/authd/v1"
)

// Limits bound what the server gives its clients, so that no client (and
// no number of them) can take the daemon's file descriptors or memory from
// the others. A zero field takes its default.
type Limits struct {
	// MaxConns caps the connections open at once (default 512, well
	// under the usual 1024 file descriptors; authd sets it from its
	// file limit with [ConnsForFiles]): more are closed as soon as they
	// are accepted, and the open ones keep being served.
	MaxConns int
	// IdleTimeout closes a connection with no call in progress for this
	// long (default 2 minutes).
	IdleTimeout time.Duration
	// HandshakeTimeout closes a connection that has not begun HTTP/2
	// within it (default 10 seconds): a client sends its preface at once,
	// and silent connections must not hold places under MaxConns.
	HandshakeTimeout time.Duration
	// DrainTimeout is how long the calls in flight get to finish once the
	// server stops (default 3 seconds, which leaves authd's 5 seconds to
	// stop some for the keyring); their connections are closed then.
	DrainTimeout time.Duration
}

// ConnsForFiles is the connection cap for a daemon allowed files open
// file descriptors: all but a reserve for the keyring, the provider and
// the logs, and within [64, 16384]. 0 (unknown) gives the default, 512.
func ConnsForFiles(files uint64) int {
	if files == 0 {
		return defaultMaxConns
	}
	const reserve, lo, hi = 128, 64, 16384
	if files < lo+reserve {
		return lo
	}
	return int(min(files-reserve, hi))
}

const (
	defaultMaxConns    = 512
	defaultIdleTimeout = 2 * time.Minute
	defaultHandshake   = 10 * time.Second
	defaultDrain       = 3 * time.Second
	// maxStreamsPerConn bounds one connection's calls in flight; a client
	// needs a handful (a login and a few token requests).
	maxStreamsPerConn = 64
	// maxRecvMsgSize is the largest request: one credential at its
	// limit with room for its envelope. Every other request is tiny.
	maxRecvMsgSize = maxCredentialLen + 4<<10
)

// Serve answers the Broker API with b on ln until ln is closed or ctx
// ends, with the default Limits. When ctx ends, the server stops accepting
// connections and calls, drains b (see [broker.Broker.Drain]: the logins
// in flight end, and their clients hear that authd is shutting down), and
// gives the calls in flight [Limits.DrainTimeout] to finish. Shutting b
// down is the caller's, after Serve returns.
func Serve(ctx context.Context, b *broker.Broker, ln net.Listener) error {
	return ServeLimits(ctx, b, ln, Limits{})
}

// ServeLimits is Serve with lim. Connections from another uid than the
// daemon's, and those over lim.MaxConns, are closed at accept time, before
// the server spends anything on them.
func ServeLimits(ctx context.Context, b *broker.Broker, ln net.Listener, lim Limits) error {
	if lim.MaxConns <= 0 {
		lim.MaxConns = defaultMaxConns
	}
	if lim.IdleTimeout <= 0 {
		lim.IdleTimeout = defaultIdleTimeout
	}
	if lim.HandshakeTimeout <= 0 {
		lim.HandshakeTimeout = defaultHandshake
	}
	if lim.DrainTimeout <= 0 {
		lim.DrainTimeout = defaultDrain
	}
	// The listener and every call check against the same uid.
	uid := os.Getuid()
	inFlight := &callCount{}
	srv := newServer(b, lim, uid, inFlight)
	gl := &guardedListener{Listener: ln, uid: uid, max: int64(lim.MaxConns), log: b.Logger(), conns: map[*peerConn]struct{}{}}
	stopped := make(chan struct{})
	stop := context.AfterFunc(ctx, func() {
		defer close(stopped)
		hardStop := func() {
			// Stop waits for connections still in the HTTP/2 handshake,
			// which only their close ends.
			gl.closeAll()
			srv.Stop()
		}
		timer := time.AfterFunc(lim.DrainTimeout, func() {
			b.Logger().Warn("calls still in flight at the end of the drain; closing their connections", "timeout", lim.DrainTimeout)
			hardStop()
		})
		defer timer.Stop()
		// The connections that were waiting to be accepted are served
		// too (see backlog.go).
		gl.stopAccepting()
		if !gl.waitHanded(min(time.Second, lim.DrainTimeout)) {
			b.Logger().Warn("connections accepted at the stop were not all taken up by the server in time")
		}
		// The logins end first, so that their calls do not keep the
		// server waiting for a browser.
		b.Drain()
		// GracefulStop ends a connection once its client has acknowledged
		// the GOAWAY's ping; a client that reads only during its calls (the
		// client package's pooled connections) never does, and would hold
		// the stop for the whole DrainTimeout. Once no call has been in
		// flight for quietPeriod, the connections left are such idle
		// ones, and are closed; a request that crossed the close is sent
		// again, once, by the client package on a new connection.
		graceful := make(chan struct{})
		go func() {
			if inFlight.waitQuiet(quietPeriod, graceful) {
				n := gl.closeAll()
				srv.Stop()
				b.Logger().Debug("no call in flight; closed the idle connections left", "conns", n)
			}
		}()
		srv.GracefulStop()
		close(graceful)
	})
	defer stop()
	err := srv.Serve(gl)
	if ctx.Err() != nil || errors.Is(err, errStopped) {
		<-stopped
		return nil
	}
	return err
}

// newServer returns a gRPC server with the Broker service registered.
// quietPeriod is how long no call may have been in flight before a
// stopping server closes the connections left (see ServeLimits).
const quietPeriod = 100 * time.Millisecond

// callCount counts the calls in flight, and those begun, for the stop.
type callCount struct {
	inFlight atomic.Int64
	begun    atomic.Uint64
}

func (c *callCount) begin() {
	c.begun.Add(1)
	c.inFlight.Add(1)
}

func (c *callCount) end() { c.inFlight.Add(-1) }

// waitQuiet waits until no call has been in flight, and none has begun,
// for quiet, and reports true; or reports false when done closes first.
func (c *callCount) waitQuiet(quiet time.Duration, done <-chan struct{}) bool {
	const poll = 10 * time.Millisecond
	t := time.NewTicker(poll)
	defer t.Stop()
	begun, still := c.begun.Load(), time.Duration(0)
	for {
		select {
		case <-done:
			return false
		case <-t.C:
		}
		if n := c.begun.Load(); n != begun || c.inFlight.Load() != 0 {
			begun, still = n, 0
			continue
		}
		if still += poll; still >= quiet {
			return true
		}
	}
}

func newServer(b *broker.Broker, lim Limits, uid int, calls *callCount) *grpc.Server {
	// Every answer carries the daemon's version in the header
	// api.VersionHeader. A client learns from it that it runs against an
	// older or newer daemon with the answer to a call it makes anyway:
	// asking Status first would add a round trip to every 'authc token',
	// whose start-up a CLI that runs it before each command pays; a field
	// of Token would serve GetToken only, and not its errors. The header
	// costs a few bytes per answer (less once HPACK has indexed it on a
	// connection), and a client that does not look ignores it.
	info, _ := b.Info() // the version is known even when the config is not
	version := metadata.Pairs(api.VersionHeader, info.Version)
	srv := grpc.NewServer(
		grpc.Creds(peerCredentials{uid: uid}),
		grpc.UnaryInterceptor(func(ctx context.Context, req any, _ *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
			calls.begin()
			defer calls.end()
			if err := checkPeer(ctx, uid); err != nil {
				return nil, err
			}
			_ = grpc.SetHeader(ctx, version)
			return h(ctx, req)
		}),
		grpc.StreamInterceptor(func(srv any, ss grpc.ServerStream, _ *grpc.StreamServerInfo, h grpc.StreamHandler) error {
			calls.begin()
			defer calls.end()
			if err := checkPeer(ss.Context(), uid); err != nil {
				return err
			}
			_ = ss.SetHeader(version)
			return h(srv, ss)
		}),
		// authc opens a connection per command: keep what each one allocates small.
		grpc.ReadBufferSize(8<<10),
		grpc.WriteBufferSize(8<<10),
		grpc.SharedWriteBuffer(true),
		grpc.KeepaliveParams(keepalive.ServerParameters{MaxConnectionIdle: lim.IdleTimeout}),
		// authc reads a pasted secret before it dials, and sends the
		// HTTP/2 preface with the call that follows.
		grpc.ConnectionTimeout(lim.HandshakeTimeout),
		grpc.MaxConcurrentStreams(maxStreamsPerConn),
		grpc.MaxRecvMsgSize(maxRecvMsgSize),
	)
	pb.RegisterBrokerServer(srv, &service{b: b})
	return srv
}

type service struct {
	pb.UnimplementedBrokerServer
	b *broker.Broker
}

func (s *service) GetToken(ctx context.Context, req *pb.GetTokenRequest) (*pb.Token, error) {
	if err := checkTokenRequest(req); err != nil {
		return nil, toStatus(err)
	}
	sess, err := s.b.Session(req.GetProfile())
	if err != nil {
		return nil, toStatus(err)
	}
	tok, err := sess.Token(ctx, broker.TokenRequest{
		Scopes:       req.GetScopes(),
		Audience:     req.GetAudience(),
		MinValid:     req.GetMinValid().AsDuration(),
		Interactive:  req.GetInteractive(),
		ForceRefresh: req.GetForceRefresh(),
		Rejected:     req.GetRejectedToken(),
	})
	if err != nil {
		return nil, toStatus(err)
	}
	out := &pb.Token{
		AccessToken: tok.AccessToken,
		TokenType:   tok.TokenType,
		Expiry:      stamp(tok.Expiry),
		Scopes:      tok.Scopes,
		Profile:     sess.Profile().Name,
	}
	if req.GetWantIdToken() {
		out.IdToken = tok.IDToken
	}
	return out, nil
}

func (s *service) Login(req *pb.LoginRequest, stream grpc.ServerStreamingServer[pb.LoginEvent]) error {
	if err := checkProfile(req.GetProfile()); err != nil {
		return toStatus(err)
	}
	sess, err := s.b.Session(req.GetProfile())
	if err != nil {
		return toStatus(err)
	}
	err = sess.Login(stream.Context(), broker.LoginRequest{
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

func (l loginStream) Prompt(p broker.Prompt) error {
	if dc := p.Device; dc != nil {
		ev := &pb.DeviceCode{VerificationUri: dc.VerificationURI, UserCode: dc.UserCode, VerificationUriComplete: dc.VerificationURIComplete, Expires: stamp(dc.Expires)}
		return l.stream.Send(&pb.LoginEvent{Event: &pb.LoginEvent_DeviceCode{DeviceCode: ev}})
	}
	return l.stream.Send(&pb.LoginEvent{Event: &pb.LoginEvent_OpenUrl{OpenUrl: &pb.OpenURL{Url: p.URL, RedirectUri: p.RedirectURI}}})
}

func (l loginStream) Done(r broker.LoginResult) error {
	done := &pb.Done{Account: r.Account, AlreadyLoggedIn: r.AlreadyLoggedIn, Expiry: stamp(r.Expiry)}
	return l.stream.Send(&pb.LoginEvent{Event: &pb.LoginEvent_Done{Done: done}})
}

func (s *service) Logout(ctx context.Context, req *pb.LogoutRequest) (*pb.LogoutResponse, error) {
	if err := checkProfile(req.GetProfile()); err != nil {
		return nil, toStatus(err)
	}
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
		resp.Profiles = append(resp.Profiles, sess.Profile().Name)
	}
	return resp, nil
}

func (s *service) Status(ctx context.Context, _ *pb.StatusRequest) (*pb.StatusResponse, error) {
	info, err := s.b.Info()
	if err != nil {
		return nil, toStatus(err)
	}
	resp := &pb.StatusResponse{
		Version: info.Version, Build: info.Build, StartedBy: info.StartedBy, ConfigPath: info.ConfigPath, Pid: int32(os.Getpid()),
		DefaultProfile: info.DefaultProfile, KeyringBackend: info.KeyringBackend, Goroutines: int32(runtime.NumGoroutine()),
	}
	if info.ReloadError != nil {
		resp.ReloadError = info.ReloadError.Error()
	}
	for _, name := range s.b.Profiles() {
		ps := &pb.ProfileStatus{Name: name}
		sess, err := s.b.Session(name)
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
	if err := checkCredentialRequest(req); err != nil {
		return nil, toStatus(err)
	}
	sess, err := s.b.Session(req.GetProfile())
	if err != nil {
		return nil, toStatus(err)
	}
	var expiry time.Time
	switch c := req.GetCredential().(type) {
	case *pb.SetCredentialRequest_AccessToken:
		expiry, err = sess.SetStaticToken(ctx, c.AccessToken)
	case *pb.SetCredentialRequest_ClientSecret:
		expiry, err = sess.SetClientSecret(ctx, c.ClientSecret)
	default:
		err = fmt.Errorf("%w: no credential given", broker.ErrInvalidRequest)
	}
	if err != nil {
		return nil, toStatus(err)
	}
	return &pb.SetCredentialResponse{Profile: sess.Profile().Name, Expiry: stamp(expiry)}, nil
}

func (s *service) Reload(ctx context.Context, _ *pb.ReloadRequest) (*pb.ReloadResponse, error) {
	ch, err := s.b.ReloadConfig(ctx)
	if err != nil {
		return nil, toStatus(err)
	}
	return &pb.ReloadResponse{
		ConfigPath: ch.ConfigPath, Added: ch.Added, Changed: ch.Changed, Removed: ch.Removed,
		KeyringChanged: ch.KeyringChanged,
	}, nil
}

// stamp is t for the API, where no time is no field.
func stamp(t time.Time) *timestamppb.Timestamp {
	if t.IsZero() {
		return nil
	}
	return timestamppb.New(t)
}
