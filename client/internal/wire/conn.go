package wire

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"authd.dev/authd/api"
	"authd.dev/authd/internal/socket"
)

// Errors a caller branches on, matched with errors.Is.
var (
	// ErrUnavailable is a daemon that cannot be reached: its socket is
	// missing or refuses connections, or the connection was lost or shut
	// down (GOAWAY) before the call was answered. Dialing again may help.
	ErrUnavailable = errors.New("authd unavailable")
	// ErrClosed is a call on a Conn that was closed, or that an earlier
	// call's context interrupted.
	ErrClosed = errors.New("connection closed")
	// ErrWrongServer is a socket served by a process of another uid (root
	// included) than the caller's: a squatted path, or an AUTHD_SOCKET that
	// names someone else's socket. The error's text names the uid.
	ErrWrongServer = socket.ErrWrongServer
)

// servicePath prefixes a method name given without a leading slash.
const servicePath = "/authd.v1.Broker/"

// maxMessageSize bounds a response message, as grpc-go's default does.
const maxMessageSize = 4 << 20

// receiveWindow is the flow-control window the client gives the server,
// for each stream and for the connection.
const receiveWindow = 1 << 20

// maxHeaderBlockSize bounds a header block split over CONTINUATION frames.
const maxHeaderBlockSize = 1 << 20

// maxPathLen keeps a request's header block in one frame.
const maxPathLen = 8 << 10

// Conn is one HTTP/2 connection to the daemon. Calls on it are safe from
// several goroutines but run one at a time; Close may be called at any time
// and interrupts a call in progress.
type Conn struct {
	nc        net.Conn
	closed    atomic.Bool
	closeOnce sync.Once
	closeErr  error
	version   atomic.Pointer[string] // the server's, from api.VersionHeader; read during a call

	mu         sync.Mutex // held for the whole of a call; guards what follows
	frames     frameReader
	wbuf       []byte
	started    bool  // the preface and SETTINGS were sent
	broken     error // why no further call can use the connection
	nextStream uint32
	hdec       *headerDecoder
	henc       *headerEncoder

	peerMaxFrame      int   // SETTINGS_MAX_FRAME_SIZE of the server
	peerInitialWindow int64 // SETTINGS_INITIAL_WINDOW_SIZE of the server
	sendWindow        int64 // connection-level window for DATA we send
	unacked           int64 // DATA bytes received and not yet returned by WINDOW_UPDATE

	continuing    bool // a header block continues in CONTINUATION frames
	contStream    uint32
	contEndStream bool
	contBlock     []byte
}

// Dial connects to the daemon's Unix socket. It does not wait for the
// server: the HTTP/2 handshake goes out with the first call. A socket that
// is missing or refuses the connection is an error wrapping ErrUnavailable;
// one served by a process of another user, an error wrapping
// ErrWrongServer: Dial closes it before sending a byte.
func Dial(ctx context.Context, socketPath string) (*Conn, error) {
	nc, err := socket.Dial(ctx, socketPath)
	switch {
	case err == nil:
		return newConn(nc), nil
	case errors.Is(err, ErrWrongServer):
		return nil, err
	case ctx.Err() != nil:
		return nil, fmt.Errorf("dial %s: %w", socketPath, ctx.Err())
	}
	return nil, fmt.Errorf("%w: %w", ErrUnavailable, err)
}

func newConn(nc net.Conn) *Conn {
	return &Conn{
		nc:                nc,
		frames:            newFrameReader(nc),
		nextStream:        1,
		hdec:              newHeaderDecoder(),
		henc:              newHeaderEncoder(),
		peerMaxFrame:      defaultMaxFrameSize,
		peerInitialWindow: defaultWindowSize,
		sendWindow:        defaultWindowSize,
	}
}

// Close closes the connection; a call in progress fails with ErrClosed.
func (c *Conn) Close() error {
	c.closeOnce.Do(func() {
		c.closed.Store(true)
		if err := c.nc.Close(); err != nil && !errors.Is(err, net.ErrClosed) {
			c.closeErr = fmt.Errorf("close: %w", err)
		}
	})
	return c.closeErr
}

// maxVersionLen bounds the version kept from api.VersionHeader: a longer
// one is no version of authd's.
const maxVersionLen = 256

// ServerVersion returns the daemon's version as the last answer on the
// Conn gave it in the header api.VersionHeader: "" before the first
// answer, and from a daemon that does not send it. It may be called at any
// time, from a Stream's recv too.
func (c *Conn) ServerVersion() string {
	if v := c.version.Load(); v != nil {
		return *v
	}
	return ""
}

// Usable reports whether a further call may use the Conn: it is not
// closed, and no call broke it. It waits for a call in progress.
func (c *Conn) Usable() bool {
	if c.closed.Load() {
		return false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.broken == nil && !c.closed.Load()
}

// Unary makes a unary call and returns the response message. method is a
// Broker method name ("GetToken") or a full path ("/pkg.Service/Method").
// An error the server answered is a [*Status]; one from ctx wraps ctx.Err().
func (c *Conn) Unary(ctx context.Context, method string, req []byte) ([]byte, error) {
	var resp []byte
	err := c.call(ctx, method, req, false, func(msg []byte) error {
		resp = msg
		return nil
	})
	if err != nil {
		return nil, err
	}
	return resp, nil
}

// Stream makes a server-streaming call, and calls recv with each message
// (recv may keep it) until the server ends the stream. An error from recv
// cancels the call and is returned as it is; the connection stays usable.
// recv runs while the call holds the Conn: it must not call the Conn.
func (c *Conn) Stream(ctx context.Context, method string, req []byte, recv func(msg []byte) error) error {
	return c.call(ctx, method, req, true, recv)
}

// call is the state of one call: one HTTP/2 stream.
type call struct {
	c         *Conn
	ctx       context.Context
	path      string
	id        uint32
	streaming bool
	recv      func([]byte) error

	pending    []byte // the framed request, what of it is not sent yet
	sendWindow int64
	unacked    int64 // DATA bytes received on the stream and not yet returned

	gotHeaders bool
	trailers   trailers
	msgHeader  [5]byte // the gRPC prefix of the message being read
	headerN    int
	msg        []byte // the message being read, once its prefix is complete
	msgSize    int    // the length its prefix gives
	inMessage  bool
	messages   int

	done   bool
	err    error // the result, once done
	urgent bool  // a frame to send cannot wait for the next call
}

// trailers is what ends a call: the status fields of the response headers
// and trailers.
type trailers struct {
	httpStatus    int
	hasGRPCStatus bool
	grpcStatus    string
	grpcMessage   string
	details       string
}

func (c *Conn) call(ctx context.Context, method string, req []byte, streaming bool, recv func([]byte) error) error {
	path := method
	if !strings.HasPrefix(path, "/") {
		path = servicePath + method
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	if len(path) > maxPathLen {
		return fmt.Errorf("%s: method name too long", path[:64])
	}

	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed.Load() {
		return fmt.Errorf("%s: %w", path, ErrClosed)
	}
	if c.broken != nil {
		return fmt.Errorf("%s: %w", path, c.broken)
	}
	if c.nextStream > 1<<31-1 {
		c.broken = fmt.Errorf("%w: stream identifiers exhausted", ErrUnavailable)
		return fmt.Errorf("%s: %w", path, c.broken)
	}
	timeout := ""
	if deadline, ok := ctx.Deadline(); ok {
		left := time.Until(deadline) // after waiting for the Conn
		if left <= 0 {
			return fmt.Errorf("%s: %w", path, context.DeadlineExceeded)
		}
		timeout = encodeTimeout(left)
	}

	// When the context ends (its deadline included), the connection's
	// deadline moves to the past: a blocked read or write returns. (Setting
	// the deadline at the start of each call would cost a runtime timer
	// and a wake-up of the network poller; the context has its timer.)
	if ctx.Done() != nil {
		fired := make(chan struct{})
		stop := context.AfterFunc(ctx, func() {
			_ = c.nc.SetDeadline(time.Unix(1, 0))
			close(fired)
		})
		defer func() {
			if !stop() {
				<-fired
				_ = c.nc.SetDeadline(time.Time{}) // the call ended first
			}
		}()
	}

	cl := &call{
		c:          c,
		ctx:        ctx,
		path:       path,
		id:         c.nextStream,
		streaming:  streaming,
		recv:       recv,
		sendWindow: c.peerInitialWindow,
	}
	c.nextStream += 2
	cl.pending = make([]byte, 5, 5+len(req))
	binary.BigEndian.PutUint32(cl.pending[1:], uint32(len(req)))
	cl.pending = append(cl.pending, req...)

	b := c.wbuf
	if !c.started {
		b = append(b, clientPreface...)
		b = appendFrameHeader(b, 12, frameSettings, 0, 0)
		b = appendSetting(b, settingEnablePush, 0)
		b = appendSetting(b, settingInitialWindowSize, receiveWindow)
		b = appendWindowUpdate(b, 0, receiveWindow-defaultWindowSize)
		c.started = true
	}
	start := len(b)
	b = appendFrameHeader(b, 0, frameHeaders, flagEndHeaders, cl.id)
	b = c.henc.appendRequest(b, path, timeout)
	blockLen := len(b) - start - frameHeaderLen // < defaultMaxFrameSize, by maxPathLen
	b[start], b[start+1], b[start+2] = byte(blockLen>>16), byte(blockLen>>8), byte(blockLen)
	c.wbuf = cl.appendData(b)
	if err := c.flush(); err != nil {
		return cl.ioError(err, true)
	}

	for !cl.done {
		f, err := c.frames.read()
		if errors.Is(err, errProtocol) {
			return cl.fail(err)
		}
		if err != nil {
			return cl.ioError(err, false)
		}
		if err := cl.handle(f); err != nil {
			return cl.fail(err)
		}
		if len(cl.pending) > 0 && !cl.done {
			c.wbuf = cl.appendData(c.wbuf)
		}
		// Frames to send wait while more frames are already buffered. Once
		// the call is done, acknowledgements (SETTINGS, PING) wait for the
		// next call, or are dropped with the connection: a command that
		// makes one call saves a write. A stream reset goes at once.
		if !cl.done && c.frames.buffered() == 0 || cl.urgent {
			if err := c.flush(); err != nil {
				if cl.done {
					_ = cl.ioError(err, true) // the call has its answer; the connection is done
					break
				}
				return cl.ioError(err, true)
			}
		}
	}
	return cl.err
}

func (c *Conn) flush() error {
	if len(c.wbuf) == 0 {
		return nil
	}
	_, err := c.nc.Write(c.wbuf)
	c.wbuf = c.wbuf[:0]
	return err
}

// breakConn closes the connection for good: the framing state is lost.
func (c *Conn) breakConn(why error) {
	if c.broken == nil {
		c.broken = why
	}
	_ = c.nc.Close()
}

// ioError turns a failed read or write into the call's error, and closes
// the connection, whose framing is lost.
func (cl *call) ioError(err error, writing bool) error {
	c := cl.c
	if c.closed.Load() {
		return fmt.Errorf("%s: %w", cl.path, ErrClosed)
	}
	ctxErr := cl.ctx.Err()
	if ctxErr == nil && errors.Is(err, os.ErrDeadlineExceeded) {
		ctxErr = context.DeadlineExceeded // only the context sets deadlines
	}
	if ctxErr != nil {
		// Tell the server at once, unless a frame may be half written;
		// closing the connection cancels the call on the server as well.
		if !writing {
			_ = c.nc.SetWriteDeadline(time.Now().Add(10 * time.Millisecond))
			_, _ = c.nc.Write(appendRSTStream(nil, cl.id, errCodeCancel))
		}
		c.breakConn(fmt.Errorf("%w after a call was interrupted", ErrClosed))
		return fmt.Errorf("%s: %w", cl.path, ctxErr)
	}
	lost := fmt.Errorf("%w: connection lost: %w", ErrUnavailable, err)
	c.breakConn(lost)
	return fmt.Errorf("%s: %w", cl.path, lost)
}

// fail ends the call with a connection error found while handling a frame
// (a protocol violation, or GOAWAY) and closes the connection. RFC 9113
// asks for a GOAWAY first: a courtesy the server can live without.
func (cl *call) fail(err error) error {
	if errors.Is(err, ErrUnavailable) {
		cl.c.breakConn(err)
	} else {
		cl.c.breakConn(fmt.Errorf("%w after a protocol error", ErrClosed))
	}
	return fmt.Errorf("%s: %w", cl.path, err)
}

// appendData appends as much of the request as the flow-control windows
// allow, ending the stream with its last frame.
func (cl *call) appendData(b []byte) []byte {
	c := cl.c
	for len(cl.pending) > 0 {
		n := min(int64(len(cl.pending)), int64(c.peerMaxFrame), c.sendWindow, cl.sendWindow)
		if n <= 0 {
			break
		}
		var flags byte
		if n == int64(len(cl.pending)) {
			flags = flagEndStream
		}
		b = appendFrameHeader(b, int(n), frameData, flags, cl.id)
		b = append(b, cl.pending[:n]...)
		cl.pending = cl.pending[n:]
		c.sendWindow -= n
		cl.sendWindow -= n
	}
	return b
}

// handle handles one frame from the server. Frames of other streams (an
// earlier call given up) only count against the connection's window.
func (cl *call) handle(f frame) error {
	c := cl.c
	if c.continuing && f.typ != frameContinuation {
		return errProtocol
	}
	switch f.typ {
	case frameData:
		if f.stream == 0 {
			return errProtocol
		}
		size := int64(len(f.payload)) // padding included
		c.unacked += size
		if err := f.unpad(); err != nil {
			return err
		}
		if f.stream == cl.id && !cl.done {
			if !cl.gotHeaders {
				return errProtocol
			}
			cl.unacked += size
			if err := cl.onData(f.payload); err != nil {
				return err
			}
			if f.flags&flagEndStream != 0 {
				cl.finish()
			} else if cl.unacked >= receiveWindow/2 && !cl.done {
				c.wbuf = appendWindowUpdate(c.wbuf, cl.id, uint32(cl.unacked))
				cl.unacked = 0
			}
		}
		if c.unacked >= receiveWindow/2 {
			c.wbuf = appendWindowUpdate(c.wbuf, 0, uint32(c.unacked))
			c.unacked = 0
		}
	case frameHeaders:
		if f.stream == 0 {
			return errProtocol
		}
		if err := f.unpad(); err != nil {
			return err
		}
		endStream := f.flags&flagEndStream != 0
		if f.flags&flagEndHeaders != 0 {
			return cl.onHeaderBlock(f.stream, f.payload, endStream)
		}
		c.continuing, c.contStream, c.contEndStream = true, f.stream, endStream
		c.contBlock = append(c.contBlock[:0], f.payload...)
	case frameContinuation:
		if !c.continuing || f.stream != c.contStream {
			return errProtocol
		}
		c.contBlock = append(c.contBlock, f.payload...)
		if len(c.contBlock) > maxHeaderBlockSize {
			return errProtocol
		}
		if f.flags&flagEndHeaders != 0 {
			c.continuing = false
			return cl.onHeaderBlock(c.contStream, c.contBlock, c.contEndStream)
		}
	case frameRSTStream:
		if f.stream == 0 || len(f.payload) != 4 {
			return errProtocol
		}
		if f.stream == cl.id && !cl.done {
			cl.done = true
			st := resetStatus(binary.BigEndian.Uint32(f.payload))
			if d, ok := cl.ctx.Deadline(); ok && st.Code == CodeCanceled && !time.Now().Before(d) {
				// grpc-go cancels a call at its deadline with a bare
				// RST_STREAM, no status.
				st.Code = CodeDeadlineExceeded
			}
			cl.err = st
		}
	case frameSettings:
		return cl.onSettings(f)
	case framePing:
		if f.stream != 0 || len(f.payload) != 8 {
			return errProtocol
		}
		if f.flags&flagACK == 0 {
			c.wbuf = appendFrameHeader(c.wbuf, 8, framePing, flagACK, 0)
			c.wbuf = append(c.wbuf, f.payload...)
		}
	case frameGoAway:
		if f.stream != 0 || len(f.payload) < 8 {
			return errProtocol
		}
		last := binary.BigEndian.Uint32(f.payload) & 0x7fffffff
		code := binary.BigEndian.Uint32(f.payload[4:])
		shutdown := fmt.Errorf("%w: server is shutting down the connection (GOAWAY, code %d)", ErrUnavailable, code)
		if c.broken == nil {
			c.broken = shutdown // no new call; this one may still finish
		}
		if cl.id > last && !cl.done {
			return shutdown // the server never saw this call: safe to retry
		}
	case frameWindowUpdate:
		if len(f.payload) != 4 {
			return errProtocol
		}
		inc := int64(binary.BigEndian.Uint32(f.payload) & 0x7fffffff)
		if inc == 0 {
			return errProtocol
		}
		switch f.stream {
		case 0:
			c.sendWindow += inc
			if c.sendWindow > maxWindowSize {
				return errProtocol
			}
		case cl.id:
			cl.sendWindow += inc
		}
	case framePushPromise:
		return errProtocol // the client disabled push
	}
	return nil
}

func (cl *call) onSettings(f frame) error {
	c := cl.c
	if f.stream != 0 {
		return errProtocol
	}
	if f.flags&flagACK != 0 {
		if len(f.payload) != 0 {
			return errProtocol
		}
		return nil
	}
	if len(f.payload)%6 != 0 {
		return errProtocol
	}
	for p := f.payload; len(p) > 0; p = p[6:] {
		id, v := binary.BigEndian.Uint16(p), binary.BigEndian.Uint32(p[2:])
		switch id {
		case settingInitialWindowSize:
			if v > maxWindowSize {
				return errProtocol
			}
			cl.sendWindow += int64(v) - c.peerInitialWindow
			c.peerInitialWindow = int64(v)
		case settingMaxFrameSize:
			if v < defaultMaxFrameSize || v > 1<<24-1 {
				return errProtocol
			}
			c.peerMaxFrame = int(v)
		}
	}
	c.wbuf = appendFrameHeader(c.wbuf, 0, frameSettings, flagACK, 0)
	return nil
}

// onHeaderBlock decodes every header block, to keep the HPACK table in
// step, and keeps the fields of the call's own.
func (cl *call) onHeaderBlock(stream uint32, block []byte, endStream bool) error {
	mine := stream == cl.id && !cl.done
	t := &cl.trailers
	err := cl.c.hdec.decode(block, func(name, value string) {
		if !mine {
			return
		}
		switch name {
		case ":status":
			t.httpStatus, _ = strconv.Atoi(value)
		case "grpc-status":
			t.hasGRPCStatus, t.grpcStatus = true, value
		case "grpc-message":
			t.grpcMessage = value
		case "grpc-status-details-bin":
			t.details = value
		case api.VersionHeader:
			if len(value) <= maxVersionLen {
				if old := cl.c.version.Load(); old == nil || *old != value {
					cl.c.version.Store(&value)
				}
			}
		}
	})
	if err != nil || !mine {
		return err
	}
	if cl.gotHeaders && !endStream {
		return errProtocol // trailers must end the stream
	}
	cl.gotHeaders = true
	if endStream {
		cl.finish()
	}
	return nil
}

// onData reads gRPC messages (a 1-byte compressed flag, a 4-byte length, the
// message) out of the stream's DATA.
func (cl *call) onData(p []byte) error {
	for len(p) > 0 && !cl.done {
		if !cl.inMessage {
			n := copy(cl.msgHeader[cl.headerN:], p)
			cl.headerN += n
			p = p[n:]
			if cl.headerN < len(cl.msgHeader) {
				return nil
			}
			if cl.msgHeader[0] != 0 {
				cl.abort(&Status{Code: CodeInternal, Message: "compressed response message, but no compression was negotiated"})
				return nil
			}
			size := binary.BigEndian.Uint32(cl.msgHeader[1:])
			if size > maxMessageSize {
				cl.abort(&Status{Code: CodeResourceExhausted, Message: fmt.Sprintf("response message of %d bytes is larger than %d", size, maxMessageSize)})
				return nil
			}
			// The buffer grows with the bytes that arrive: a length
			// alone, which a server may send without the message, must
			// not make the client allocate it.
			cl.msgSize = int(size)
			cl.msg = make([]byte, 0, min(cl.msgSize, len(p)))
			cl.inMessage = true
		}
		n := min(cl.msgSize-len(cl.msg), len(p))
		cl.msg = append(cl.msg, p[:n]...)
		p = p[n:]
		if len(cl.msg) == cl.msgSize {
			msg := cl.msg
			cl.msg, cl.inMessage, cl.headerN = nil, false, 0
			cl.messages++
			if !cl.streaming && cl.messages > 1 {
				cl.abort(&Status{Code: CodeInternal, Message: "more than one response message to a unary call"})
				return nil
			}
			if err := cl.recv(msg); err != nil {
				cl.abort(err)
				return nil
			}
		}
	}
	return nil
}

// abort ends the call on the client's side and cancels the stream.
func (cl *call) abort(err error) {
	cl.done, cl.err, cl.urgent = true, err, true
	cl.c.wbuf = appendRSTStream(cl.c.wbuf, cl.id, errCodeCancel)
}

// finish ends the call when the server ended the stream.
func (cl *call) finish() {
	cl.done = true
	if len(cl.pending) > 0 {
		// The server answered before reading the whole request: the
		// stream is still open on our side.
		cl.c.wbuf = appendRSTStream(cl.c.wbuf, cl.id, errCodeNo)
		cl.pending, cl.urgent = nil, true
	}
	if st := statusFromTrailers(&cl.trailers); st != nil {
		cl.err = st
		return
	}
	switch {
	case cl.inMessage || cl.headerN > 0:
		cl.err = &Status{Code: CodeInternal, Message: "response ended in the middle of a message"}
	case !cl.streaming && cl.messages == 0:
		cl.err = &Status{Code: CodeInternal, Message: "no response message to a unary call"}
	}
}

// resetStatus is the status of a stream the server reset, as grpc-go maps
// HTTP/2 error codes.
func resetStatus(code uint32) *Status {
	st := &Status{Code: CodeInternal, Message: fmt.Sprintf("stream reset by the server (HTTP/2 error code %d)", code)}
	switch code {
	case errCodeRefusedStream:
		st.Code = CodeUnavailable
	case errCodeCancel:
		st.Code = CodeCanceled
	case errCodeEnhanceYourCalm:
		st.Code = CodeResourceExhausted
	case errCodeInadequateSecurity:
		st.Code = CodePermissionDenied
	}
	return st
}
