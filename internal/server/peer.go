package server

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

	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"

	"authd.dev/authd/api"
	"authd.dev/authd/internal/socket"
)

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
	// Stopping: see backlog.go.
	stopping bool
	queued   []net.Conn // taken from the kernel's queue at the stop, not yet handed out
	unshaken int        // connections handed out whose handshake has not begun
	ended    bool       // Accept has returned its last error
	settled  chan struct{}
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
			if c = l.dequeue(); c == nil {
				return nil, l.acceptError(err)
			}
		}
		uid, pid, err := peerOf(c, l.uid)
		if err != nil {
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
		pc.handshaking = l.handshaking
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
	l.unshaken++
	if l.full {
		l.full = false
		l.log.Info("accepting connections again", "closed", l.overflow)
		l.overflow = 0
	}
}

// closeAll closes every connection still open, and says how many.
func (l *guardedListener) closeAll() int {
	l.mu.Lock()
	conns := make([]*peerConn, 0, len(l.conns))
	for pc := range l.conns {
		conns = append(conns, pc)
	}
	l.mu.Unlock()
	for _, pc := range conns {
		pc.Close()
	}
	return len(conns)
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
	// handshaking is called once, when the server begins the connection's
	// handshake or closes it, whichever comes first.
	handshaking func()
	shook       sync.Once
}

func (c *peerConn) Close() error {
	c.shook.Do(c.handshaking)
	c.once.Do(c.release)
	return c.Conn.Close()
}

// peerCredentials records each connection's peer uid and pid, as the
// guarded listener read them from the kernel (or reads them itself for a
// connection that did not come through one). The listener has already
// closed other users' connections; every RPC checks again, so that a
// change to how connections are accepted cannot open the daemon to them.
type peerCredentials struct{ uid int }

type peerInfo struct {
	credentials.CommonAuthInfo
	uid, pid int
}

func (peerInfo) AuthType() string { return "unix-peercred" }

func (c peerCredentials) ServerHandshake(conn net.Conn) (net.Conn, credentials.AuthInfo, error) {
	info := peerInfo{CommonAuthInfo: credentials.CommonAuthInfo{SecurityLevel: credentials.PrivacyAndIntegrity}}
	if pc, ok := conn.(*peerConn); ok {
		pc.shook.Do(pc.handshaking)
		info.uid, info.pid = pc.uid, pc.pid
		return conn, info, nil
	}
	uid, pid, err := peerOf(conn, c.uid)
	if err != nil {
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
		st := status.New(reasonCode(api.PermissionDenied),
			fmt.Sprintf("this authd serves uid %d only; the caller is uid %d", want, uid))
		return withReason(st, api.PermissionDenied).Err()
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

// peerOf reads the uid and pid of the process at the other end of c. Where
// the platform has no peer credentials, the socket directory's mode (0700)
// is the only guard, as for ssh-agent: the peer is taken to be self.
func peerOf(c net.Conn, self int) (uid, pid int, err error) {
	uid, pid, err = socket.Peer(c)
	if errors.Is(err, errors.ErrUnsupported) {
		return self, -1, nil
	}
	return uid, pid, err
}
