package wire_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"path/filepath"
	"testing"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	spb "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"

	"authd.dev/authd/api"
	"authd.dev/authd/client/internal/wire"
	pb "authd.dev/authd/proto/authd/v1"
)

// The tests in this file script the server frame by frame, for what grpc-go
// does not do on demand: headers split over CONTINUATION frames, padding,
// one-byte DATA frames, GOAWAY, protocol errors.

// h2Peer is the server side of one scripted connection.
type h2Peer struct {
	t    *testing.T
	conn net.Conn
	fr   *http2.Framer
	enc  *hpack.Encoder
	ebuf bytes.Buffer
	dec  *hpack.Decoder

	settingsAcks int
	pingAcks     [][8]byte
}

// request is a request the scripted server read.
type request struct {
	stream uint32
	fields map[string]string
	body   []byte
}

// scriptServer runs script on the first connection to a new socket, after
// the client preface, and returns the socket's path and a channel closed
// when the script returns.
func scriptServer(t *testing.T, script func(p *h2Peer)) (string, <-chan struct{}) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "s")
	ln, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer ln.Close()
		conn, err := ln.Accept()
		if err != nil {
			t.Error(err)
			return
		}
		defer conn.Close()
		_ = conn.SetDeadline(time.Now().Add(20 * time.Second)) // a hung test fails, not hangs
		preface := make([]byte, len(http2.ClientPreface))
		if _, err := io.ReadFull(conn, preface); err != nil || string(preface) != http2.ClientPreface {
			t.Errorf("client preface %q, %v", preface, err)
			return
		}
		p := &h2Peer{t: t, conn: conn, fr: http2.NewFramer(conn, conn)}
		p.enc = hpack.NewEncoder(&p.ebuf)
		p.dec = hpack.NewDecoder(4096, nil)
		p.fr.AllowIllegalWrites = true
		script(p)
	}()
	t.Cleanup(func() { <-done })
	return path, done
}

// block encodes header fields, given as name, value pairs.
func (p *h2Peer) block(fields ...string) []byte {
	p.ebuf.Reset()
	for i := 0; i < len(fields); i += 2 {
		if err := p.enc.WriteField(hpack.HeaderField{Name: fields[i], Value: fields[i+1]}); err != nil {
			p.t.Error(err)
		}
	}
	return bytes.Clone(p.ebuf.Bytes())
}

// readRequest reads frames up to the end of a request stream.
func (p *h2Peer) readRequest() request {
	req := request{fields: map[string]string{}}
	for {
		f, err := p.fr.ReadFrame()
		if err != nil {
			p.t.Errorf("reading a request: %v", err)
			return req
		}
		switch f := f.(type) {
		case *http2.SettingsFrame:
			if f.IsAck() {
				p.settingsAcks++
			}
		case *http2.PingFrame:
			if f.IsAck() {
				p.pingAcks = append(p.pingAcks, f.Data)
			}
		case *http2.HeadersFrame:
			req.stream = f.StreamID
			fields, err := p.dec.DecodeFull(f.HeaderBlockFragment())
			if err != nil {
				p.t.Error(err)
			}
			for _, hf := range fields {
				req.fields[hf.Name] = hf.Value
			}
		case *http2.DataFrame:
			req.body = append(req.body, f.Data()...)
			if f.StreamEnded() {
				return req
			}
		}
	}
}

// expect reads frames until match returns true for one.
func (p *h2Peer) expect(what string, match func(http2.Frame) bool) {
	for {
		f, err := p.fr.ReadFrame()
		if err != nil {
			p.t.Errorf("waiting for %s: %v", what, err)
			return
		}
		if match(f) {
			return
		}
	}
}

func (p *h2Peer) check(err error) {
	if err != nil {
		p.t.Error(err)
	}
}

// grpcMessage frames a message as gRPC does.
func grpcMessage(m proto.Message, compressed byte) []byte {
	b, err := proto.Marshal(m)
	if err != nil {
		panic(err)
	}
	return append(binary.BigEndian.AppendUint32([]byte{compressed}, uint32(len(b))), b...)
}

func TestFragmentedResponse(t *testing.T) {
	t.Parallel()
	want := &pb.Token{AccessToken: "fragmented", TokenType: "Bearer", Profile: "p"}
	var req request
	path, done := scriptServer(t, func(p *h2Peer) {
		p.check(p.fr.WriteSettings(http2.Setting{ID: http2.SettingMaxFrameSize, Val: 1 << 20}, http2.Setting{ID: http2.SettingHeaderTableSize, Val: 100}))
		p.check(p.fr.WritePing(false, [8]byte{1, 2, 3, 4, 5, 6, 7, 8}))
		req = p.readRequest()
		p.check(p.fr.WriteHeaders(http2.HeadersFrameParam{
			StreamID: req.stream, EndHeaders: true, PadLength: 7,
			Priority:      http2.PriorityParam{StreamDep: 0, Weight: 9},
			BlockFragment: p.block(":status", "200", "content-type", "application/grpc", "x-long", string(bytes.Repeat([]byte("h"), 3000))),
		}))
		for i, c := range grpcMessage(want, 0) {
			if i%2 == 0 {
				p.check(p.fr.WriteDataPadded(req.stream, false, []byte{c}, make([]byte, 3)))
			} else {
				p.check(p.fr.WriteData(req.stream, false, []byte{c}))
			}
		}
		p.check(p.fr.WriteData(req.stream, false, nil)) // empty DATA is legal
		trailers := p.block("grpc-status", "0", "grpc-message", "")
		p.check(p.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: req.stream, EndStream: true, BlockFragment: trailers[:1]}))
		p.check(p.fr.WriteContinuation(req.stream, false, trailers[1:2]))
		p.check(p.fr.WriteContinuation(req.stream, true, trailers[2:]))
		// The acknowledgements come at the latest with the next call.
		next := p.readRequest()
		if p.settingsAcks != 1 || len(p.pingAcks) != 1 || p.pingAcks[0] != [8]byte{1, 2, 3, 4, 5, 6, 7, 8} {
			t.Errorf("got %d SETTINGS acknowledgements and PING acknowledgements %v, want one of each", p.settingsAcks, p.pingAcks)
		}
		p.check(p.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: next.stream, EndStream: true, EndHeaders: true, BlockFragment: p.block(":status", "200", "grpc-status", "5")}))
	})
	conn := dial(t, path)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	got, err := conn.GetToken(ctx, &wire.GetTokenRequest{Profile: "p", Audience: "api"})
	if err != nil {
		t.Fatal(err)
	}
	if got.AccessToken != want.AccessToken || got.TokenType != want.TokenType || got.Profile != want.Profile {
		t.Errorf("GetToken = %+v", got)
	}
	var st *wire.Status
	if _, err := conn.GetToken(ctx, &wire.GetTokenRequest{}); !errors.As(err, &st) || st.Code != wire.CodeNotFound {
		t.Errorf("second GetToken = %v, want NotFound", err)
	}
	await(t, done, "the script")
	wantFields := map[string]string{
		":method": "POST", ":scheme": "http", ":path": "/authd.v1.Broker/GetToken", ":authority": "localhost",
		"content-type": "application/grpc", "te": "trailers",
	}
	for k, v := range wantFields {
		if req.fields[k] != v {
			t.Errorf("request header %s = %q, want %q", k, req.fields[k], v)
		}
	}
	if timeout := req.fields["grpc-timeout"]; len(timeout) < 2 || timeout[len(timeout)-1] != 'm' && timeout[len(timeout)-1] != 'u' {
		t.Errorf("grpc-timeout = %q, want about a minute in m or u", timeout)
	}
	var sent pb.GetTokenRequest
	if len(req.body) < 5 || proto.Unmarshal(req.body[5:], &sent) != nil || sent.Profile != "p" || sent.Audience != "api" ||
		int(binary.BigEndian.Uint32(req.body[1:])) != len(req.body)-5 || req.body[0] != 0 {
		t.Errorf("request body %x", req.body)
	}
}

// TestServerWindowSettings: a request larger than the default windows goes
// through once the server's SETTINGS and WINDOW_UPDATE enlarge them, with no
// stream WINDOW_UPDATE.
func TestServerWindowSettings(t *testing.T) {
	t.Parallel()
	var got int
	path, done := scriptServer(t, func(p *h2Peer) {
		p.check(p.fr.WriteSettings(http2.Setting{ID: http2.SettingInitialWindowSize, Val: 1 << 20}))
		p.check(p.fr.WriteWindowUpdate(0, 1<<20))
		req := p.readRequest()
		got = len(req.body)
		p.check(p.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: req.stream, EndHeaders: true, BlockFragment: p.block(":status", "200")}))
		p.check(p.fr.WriteData(req.stream, false, grpcMessage(&pb.SetCredentialResponse{Profile: "p"}, 0)))
		p.check(p.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: req.stream, EndStream: true, EndHeaders: true, BlockFragment: p.block("grpc-status", "0")}))
	})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute) // a stall fails here
	defer cancel()
	out, err := dial(t, path).SetCredential(ctx, &wire.SetCredentialRequest{AccessToken: string(make([]byte, 200<<10))})
	if err != nil || out.Profile != "p" {
		t.Errorf("SetCredential = %+v, %v", out, err)
	}
	await(t, done, "the script")
	if got < 200<<10 {
		t.Errorf("server read %d bytes of request", got)
	}
}

func TestTrailersOnlyOverContinuation(t *testing.T) {
	t.Parallel()
	details, err := anypb.New(&errdetails.ErrorInfo{Reason: "PROFILE_NOT_FOUND", Domain: "authd.dev"})
	if err != nil {
		t.Fatal(err)
	}
	otherDetail, err := anypb.New(&spb.Status{Code: 1})
	if err != nil {
		t.Fatal(err)
	}
	laterInfo, err := anypb.New(&errdetails.ErrorInfo{Reason: "LATER", Domain: "authd.dev"})
	if err != nil {
		t.Fatal(err)
	}
	// A message whose base64 needs padding, which grpc-go leaves out.
	var raw []byte
	for msg := "ignored"; len(raw)%3 == 0; msg += "." {
		if raw, err = proto.Marshal(&spb.Status{Code: 5, Message: msg, Details: []*anypb.Any{otherDetail, details, laterInfo}}); err != nil {
			t.Fatal(err)
		}
	}
	path, done := scriptServer(t, func(p *h2Peer) {
		p.check(p.fr.WriteSettings())
		req := p.readRequest()
		block := p.block(":status", "200", "content-type", "application/grpc", "grpc-status", "5",
			"grpc-message", "no profile %22x%22", "grpc-status-details-bin", base64.StdEncoding.EncodeToString(raw)) // padded
		p.check(p.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: req.stream, EndStream: true, BlockFragment: block[:10]}))
		p.check(p.fr.WriteContinuation(req.stream, true, block[10:]))
	})
	_, err = dial(t, path).GetToken(context.Background(), &wire.GetTokenRequest{})
	var st *wire.Status
	if !errors.As(err, &st) || st.Code != wire.CodeNotFound || st.Message != `no profile "x"` || st.Reason != api.ProfileNotFound || st.Domain != "authd.dev" {
		t.Errorf("GetToken = %#v", err)
	}
	await(t, done, "the script")
}

func TestHTTPErrorWithoutGRPCStatus(t *testing.T) {
	t.Parallel()
	path, done := scriptServer(t, func(p *h2Peer) {
		p.check(p.fr.WriteSettings())
		req := p.readRequest()
		p.check(p.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: req.stream, EndStream: true, EndHeaders: true, BlockFragment: p.block(":status", "503")}))
	})
	_, err := dial(t, path).GetToken(context.Background(), &wire.GetTokenRequest{})
	var st *wire.Status
	if !errors.As(err, &st) || st.Code != wire.CodeUnavailable {
		t.Errorf("GetToken = %v, want an Unavailable status", err)
	}
	await(t, done, "the script")
}

func TestGoAwayBeforeTheCall(t *testing.T) {
	t.Parallel()
	path, done := scriptServer(t, func(p *h2Peer) {
		p.check(p.fr.WriteSettings())
		p.readRequest()
		p.check(p.fr.WriteGoAway(0, http2.ErrCodeNo, nil))
	})
	conn := dial(t, path)
	if _, err := conn.GetToken(context.Background(), &wire.GetTokenRequest{}); !errors.Is(err, wire.ErrUnavailable) {
		t.Errorf("GetToken = %v, want ErrUnavailable", err)
	}
	if _, err := conn.GetToken(context.Background(), &wire.GetTokenRequest{}); !errors.Is(err, wire.ErrUnavailable) {
		t.Errorf("second GetToken = %v, want ErrUnavailable", err)
	}
	await(t, done, "the script")
}

func TestCancelSendsRSTStream(t *testing.T) {
	t.Parallel()
	requested := make(chan struct{})
	var reset *http2.RSTStreamFrame
	path, done := scriptServer(t, func(p *h2Peer) {
		p.check(p.fr.WriteSettings())
		req := p.readRequest()
		if p.settingsAcks == 0 {
			// Cancelled while writing the acknowledgement, the client
			// could not tell a half-written frame and would close the
			// connection instead: cancel it while it waits for the answer.
			p.expect("SETTINGS ACK", func(f http2.Frame) bool {
				f2, ok := f.(*http2.SettingsFrame)
				return ok && f2.IsAck()
			})
		}
		close(requested)
		p.expect("RST_STREAM", func(f http2.Frame) bool {
			if f, ok := f.(*http2.RSTStreamFrame); ok && f.StreamID == req.stream {
				reset = f
				return true
			}
			return false
		})
	})
	conn := dial(t, path)
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		<-requested
		cancel()
	}()
	if _, err := conn.GetToken(ctx, &wire.GetTokenRequest{}); !errors.Is(err, context.Canceled) {
		t.Errorf("GetToken = %v, want context.Canceled", err)
	}
	await(t, done, "the script")
	if reset == nil || reset.ErrCode != http2.ErrCodeCancel {
		t.Errorf("RST_STREAM = %v, want CANCEL", reset)
	}
}

// TestAbandonedStream: the client gives up a stream (a compressed message
// it cannot read), the server still answers it, and the next call on the
// connection works, its HPACK table in step.
func TestAbandonedStream(t *testing.T) {
	t.Parallel()
	path, done := scriptServer(t, func(p *h2Peer) {
		p.check(p.fr.WriteSettings())
		req := p.readRequest()
		ok := p.block(":status", "200", "content-type", "application/grpc", "x-table-entry", "kept")
		p.check(p.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: req.stream, EndHeaders: true, BlockFragment: ok}))
		p.check(p.fr.WriteData(req.stream, false, grpcMessage(&pb.Token{AccessToken: "zipped"}, 1)))
		p.expect("RST_STREAM", func(f http2.Frame) bool {
			f2, isReset := f.(*http2.RSTStreamFrame)
			return isReset && f2.StreamID == req.stream && f2.ErrCode == http2.ErrCodeCancel
		})
		// Late frames of the abandoned stream, then the next call.
		p.check(p.fr.WriteData(req.stream, false, make([]byte, 1000)))
		p.check(p.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: req.stream, EndStream: true, EndHeaders: true, BlockFragment: p.block("grpc-status", "0", "x-late", "entry")}))
		next := p.readRequest()
		p.check(p.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: next.stream, EndHeaders: true, BlockFragment: p.block(":status", "200", "content-type", "application/grpc", "x-table-entry", "kept", "x-late", "entry")}))
		p.check(p.fr.WriteData(next.stream, false, grpcMessage(&pb.Token{AccessToken: "plain"}, 0)))
		p.check(p.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: next.stream, EndStream: true, EndHeaders: true, BlockFragment: p.block("grpc-status", "0")}))
	})
	conn := dial(t, path)
	_, err := conn.GetToken(context.Background(), &wire.GetTokenRequest{})
	var st *wire.Status
	if !errors.As(err, &st) || st.Code != wire.CodeInternal {
		t.Errorf("GetToken of a compressed message = %v, want Internal", err)
	}
	tok, err := conn.GetToken(context.Background(), &wire.GetTokenRequest{})
	if err != nil || tok.AccessToken != "plain" {
		t.Errorf("next GetToken = %+v, %v", tok, err)
	}
	await(t, done, "the script")
}

func TestProtocolErrorClosesTheConn(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		frame func(p *h2Peer, stream uint32)
	}{
		{"DATA before HEADERS", func(p *h2Peer, stream uint32) {
			p.check(p.fr.WriteData(stream, true, grpcMessage(&pb.Token{}, 0)))
		}},
		{"bad HPACK", func(p *h2Peer, stream uint32) {
			p.check(p.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: stream, EndHeaders: true, BlockFragment: []byte{0x80}}))
		}},
		{"another frame inside a header block", func(p *h2Peer, stream uint32) {
			p.check(p.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: stream, BlockFragment: []byte{0x88}}))
			p.check(p.fr.WritePing(false, [8]byte{}))
			_ = p.fr.WriteContinuation(stream, true, []byte{0x88}) // the client may have closed
		}},
		{"CONTINUATION of nothing", func(p *h2Peer, stream uint32) {
			p.check(p.fr.WriteContinuation(stream, true, []byte{0x88}))
		}},
		{"PUSH_PROMISE", func(p *h2Peer, stream uint32) {
			p.check(p.fr.WritePushPromise(http2.PushPromiseParam{StreamID: stream, PromiseID: 2, EndHeaders: true, BlockFragment: []byte{0x88}}))
		}},
		{"frame too large", func(p *h2Peer, stream uint32) {
			p.check(p.fr.WriteRawFrame(http2.FrameData, 0, stream, make([]byte, 16385)))
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			path, done := scriptServer(t, func(p *h2Peer) {
				p.check(p.fr.WriteSettings())
				req := p.readRequest()
				tt.frame(p, req.stream)
				_, _ = io.Copy(io.Discard, p.conn) // until the client closes
			})
			conn := dial(t, path)
			_, err := conn.GetToken(context.Background(), &wire.GetTokenRequest{})
			var st *wire.Status
			if err == nil || errors.As(err, &st) || errors.Is(err, wire.ErrUnavailable) {
				t.Errorf("GetToken = %v, want a protocol error", err)
			}
			if _, err := conn.GetToken(context.Background(), &wire.GetTokenRequest{}); !errors.Is(err, wire.ErrClosed) {
				t.Errorf("GetToken after a protocol error = %v, want ErrClosed", err)
			}
			await(t, done, "the script")
		})
	}
}
