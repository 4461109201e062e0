package broker

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/keepalive"
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

// Limits bound what the server gives its clients, so that no client (and
// no number of them) can take the daemon's file descriptors or memory from
// the others. A zero field takes its default.
type Limits struct {
	// MaxConns caps the connections open at once (default 512, well
	// under the usual 1024 file descriptors): more are closed as soon as
	// they are accepted, and the open ones keep being served.
	MaxConns int
	// IdleTimeout closes a connection with no call in progress for this
	// long, or that has not begun HTTP/2 within it (default 2 minutes).
	IdleTimeout time.Duration
}

const (
	defaultMaxConns    = 512
	defaultIdleTimeout = 2 * time.Minute
	// maxStreamsPerConn bounds one connection's calls in flight; a client
	// needs a handful (a login and a few token requests).
	maxStreamsPerConn = 64
	// maxRecvMsgSize is the largest request: one credential at its
	// limit with room for its envelope. Every other request is tiny.
	maxRecvMsgSize = maxCredentialLen + 4<<10
)

// Serve answers the Broker API on ln until ln is closed or ctx ends, with
// the default Limits. When ctx ends, calls in flight get a few seconds to
// finish.
func (b *Broker) Serve(ctx context.Context, ln net.Listener) error {
	return b.ServeLimits(ctx, ln, Limits{})
}

// ServeLimits is Serve with lim. Connections from another uid than the
// daemon's, and those over lim.MaxConns, are closed at accept time, before
// the server spends anything on them.
func (b *Broker) ServeLimits(ctx context.Context, ln net.Listener, lim Limits) error {
	if lim.MaxConns <= 0 {
		lim.MaxConns = defaultMaxConns
	}
	if lim.IdleTimeout <= 0 {
		lim.IdleTimeout = defaultIdleTimeout
	}
	srv := b.newServer(lim)
	gl := &guardedListener{Listener: ln, uid: os.Getuid(), max: int64(lim.MaxConns), log: b.log, conns: map[*peerConn]struct{}{}}
	stop := context.AfterFunc(ctx, func() {
		timer := time.AfterFunc(5*time.Second, func() {
			// Stop waits for connections still in the HTTP/2 handshake,
			// which only their close ends.
			gl.closeAll()
			srv.Stop()
		})
		defer timer.Stop()
		srv.GracefulStop()
	})
	defer stop()
	return srv.Serve(gl)
}

// NewServer returns a gRPC server with the Broker service registered, with
// the default Limits. The caps on connections are Serve's: a listener
// given straight to this server is not guarded.
func (b *Broker) NewServer() *grpc.Server {
	return b.newServer(Limits{MaxConns: defaultMaxConns, IdleTimeout: defaultIdleTimeout})
}

func (b *Broker) newServer(lim Limits) *grpc.Server {
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
		grpc.KeepaliveParams(keepalive.ServerParameters{MaxConnectionIdle: lim.IdleTimeout}),
		// A connection that has not begun HTTP/2 is idle too. Not shorter:
		// authc dials before it reads a client secret from stdin, and the
		// HTTP/2 preface goes out with its first call, after the paste.
		grpc.ConnectionTimeout(lim.IdleTimeout),
		grpc.MaxConcurrentStreams(maxStreamsPerConn),
		grpc.MaxRecvMsgSize(maxRecvMsgSize),
	)
	pb.RegisterBrokerServer(srv, &service{b: b})
	return srv
}

// guardedListener closes connections from another uid and those over the
// cap as soon as they are accepted, before any HTTP/2: neither gets a byte
// from the server, nor holds a file descriptor for long.
type guardedListener struct {
	net.Listener
	uid  int
	max  int64
	log  *slog.Logger
	open atomic.Int64 // connections handed to the server and not yet closed

	mu           sync.Mutex // guards what follows
	conns        map[*peerConn]struct{}
	full         bool // at the cap since the last connection served
	overflow     int  // connections closed since the cap was reached
	othersClosed int  // other users' connections closed since the last log line
	othersLogged time.Time
}

// Accept returns the next connection of the daemon's own user under the
// cap. A connection over the cap is closed (accepting it takes it out of
// the kernel's queue, where it would wait for nothing), so the loop only
// runs as fast as clients connect; errors, EMFILE included, go to the
// server, which backs off before accepting again.
func (l *guardedListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		uid, pid, err := socket.Peer(c)
		switch {
		case errors.Is(err, errors.ErrUnsupported):
			// No peer credentials on this platform: the socket
			// directory's mode (0700) is the only guard, as for ssh-agent.
			uid, pid = l.uid, -1
		case err != nil:
			l.log.Warn("closing a connection whose peer is unknown", "err", err)
			c.Close()
			continue
		}
		if uid != l.uid {
			c.Close()
			l.closedOther(uid, pid)
			continue
		}
		if l.open.Add(1) > l.max {
			l.open.Add(-1)
			c.Close()
			l.overCap()
			continue
		}
		pc := &peerConn{Conn: c, uid: uid, pid: pid}
		pc.release = func() {
			l.open.Add(-1)
			l.mu.Lock()
			delete(l.conns, pc)
			l.mu.Unlock()
		}
		l.underCap(pc)
		return pc, nil
	}
}

// overCap logs the start of a burst of connections over the cap, once: a
// line per connection would let a flood fill the log too.
func (l *guardedListener) overCap() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.overflow++
	if !l.full {
		l.full = true
		l.log.Warn("too many connections; closing new ones until some end", "limit", l.max)
	}
}

func (l *guardedListener) underCap(pc *peerConn) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.conns[pc] = struct{}{}
	if l.full {
		l.full = false
		l.log.Info("accepting connections again", "closed", l.overflow)
		l.overflow = 0
	}
}

// closeAll closes every connection still open.
func (l *guardedListener) closeAll() {
	l.mu.Lock()
	conns := make([]*peerConn, 0, len(l.conns))
	for pc := range l.conns {
		conns = append(conns, pc)
	}
	l.mu.Unlock()
	for _, pc := range conns {
		pc.Close()
	}
}

// closedOther logs another user's connections at most once a minute.
func (l *guardedListener) closedOther(uid, pid int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.othersClosed++
	if now := time.Now(); now.Sub(l.othersLogged) >= time.Minute {
		l.log.Warn("closed connections from another user", "uid", uid, "pid", pid, "count", l.othersClosed)
		l.othersLogged, l.othersClosed = now, 0
	}
}

// peerConn is an accepted connection with its peer's credentials; closing
// it gives its place under the cap back.
type peerConn struct {
	net.Conn
	uid, pid int
	once     sync.Once
	release  func()
}

func (c *peerConn) Close() error {
	c.once.Do(c.release)
	return c.Conn.Close()
}

// Bounds on request fields. Real requests are far smaller; nothing a client
// sends should cost the daemon or the provider more than a real one does.
const (
	maxProfileLen    = 128
	maxAudienceLen   = 1024
	maxScopes        = 64
	maxScopeLen      = 256
	maxCredentialLen = 64 << 10
)

// checkProfile bounds a profile name. A name too long is not echoed back:
// the error would carry it to the client's terminal.
func checkProfile(name string) error {
	if len(name) > maxProfileLen {
		return fmt.Errorf("%w: profile name too long (%d bytes)", ErrInvalidRequest, len(name))
	}
	return nil
}

// checkTokenRequest bounds a GetToken request and returns its scopes
// without repeats.
func checkTokenRequest(req *pb.GetTokenRequest) ([]string, error) {
	if err := checkProfile(req.GetProfile()); err != nil {
		return nil, err
	}
	if n := len(req.GetAudience()); n > maxAudienceLen {
		return nil, fmt.Errorf("%w: audience too long (%d bytes, at most %d)", ErrInvalidRequest, n, maxAudienceLen)
	}
	scopes := req.GetScopes()
	if len(scopes) > maxScopes {
		return nil, fmt.Errorf("%w: too many scopes (%d, at most %d)", ErrInvalidRequest, len(scopes), maxScopes)
	}
	for _, sc := range scopes {
		if len(sc) > maxScopeLen {
			return nil, fmt.Errorf("%w: scope too long (%d bytes, at most %d)", ErrInvalidRequest, len(sc), maxScopeLen)
		}
	}
	return uniqueScopes(scopes), nil
}

type service struct {
	pb.UnimplementedBrokerServer
	b *Broker
}

func (s *service) GetToken(ctx context.Context, req *pb.GetTokenRequest) (*pb.Token, error) {
	scopes, err := checkTokenRequest(req)
	if err != nil {
		return nil, toStatus(err)
	}
	sess, err := s.b.Session(req.GetProfile())
	if err != nil {
		return nil, toStatus(err)
	}
	if d := req.GetMinValid(); d != nil && (d.CheckValid() != nil || d.AsDuration() < 0) {
		return nil, toStatus(fmt.Errorf("%w: min_valid must be a positive duration", ErrInvalidRequest))
	}
	tok, err := sess.Token(ctx, TokenRequest{
		Scopes:       scopes,
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
	if err := checkProfile(req.GetProfile()); err != nil {
		return toStatus(err)
	}
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

func (l loginStream) Done(r LoginResult) error {
	done := &pb.Done{Account: r.Account, AlreadyLoggedIn: r.AlreadyLoggedIn}
	if !r.Expiry.IsZero() {
		done.Expiry = timestamppb.New(r.Expiry)
	}
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
	if b.reloadErr != nil {
		resp.ReloadError = b.reloadErr.Error()
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
	if err := checkProfile(req.GetProfile()); err != nil {
		return nil, toStatus(err)
	}
	if n := max(len(req.GetAccessToken()), len(req.GetClientSecret())); n > maxCredentialLen {
		return nil, toStatus(fmt.Errorf("%w: credential too long (%d bytes, at most %d)", ErrInvalidRequest, n, maxCredentialLen))
	}
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
		err = refusedSecret(err)
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

// peerCredentials records each connection's peer uid and pid, as the
// guarded listener read them from the kernel. Serve's listener has already
// closed other users' connections; every RPC checks again, for a server
// given an unguarded listener.
type peerCredentials struct{ uid int }

type peerInfo struct {
	credentials.CommonAuthInfo
	uid, pid int
}

func (peerInfo) AuthType() string { return "unix-peercred" }

func (c peerCredentials) ServerHandshake(conn net.Conn) (net.Conn, credentials.AuthInfo, error) {
	info := peerInfo{CommonAuthInfo: credentials.CommonAuthInfo{SecurityLevel: credentials.PrivacyAndIntegrity}}
	if pc, ok := conn.(*peerConn); ok {
		info.uid, info.pid = pc.uid, pc.pid
		return conn, info, nil
	}
	uid, pid, err := socket.Peer(conn)
	switch {
	case errors.Is(err, errors.ErrUnsupported):
		// No peer credentials on this platform: the socket directory's
		// mode (0700) is the only guard, as for ssh-agent.
		uid, pid = c.uid, -1
	case err != nil:
		uid, pid = -1, -1
	}
	info.uid, info.pid = uid, pid
	return conn, info, nil
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

// refusedSecret marks a client secret the provider refused (invalid_client,
// RFC 6749 section 5.2) as a failed login: the user handed over a wrong
// secret, which is no fault of the daemon's.
func refusedSecret(err error) error {
	var pe *flow.ProviderError
	if errors.As(err, &pe) && pe.Code == "invalid_client" {
		return loginFailedError{err}
	}
	return err
}

// loginFailedError is an error that is flow.ErrLoginFailed, with the text
// of the error it wraps.
type loginFailedError struct{ error }

func (e loginFailedError) Unwrap() error        { return e.error }
func (e loginFailedError) Is(target error) bool { return target == flow.ErrLoginFailed }
