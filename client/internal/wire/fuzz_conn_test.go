package wire

import (
	"bytes"
	"context"
	"encoding/binary"
	"io"
	"net"
	"testing"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
)

// FuzzConn runs whole calls against a hostile server: whatever bytes it
// answers a GetToken and a Login with, the client must return (a token, an
// event or an error), never panic, and allocate no more than the answer
// justifies. The seeds are the server behaviours of the scripted tests
// (h2_test.go): a valid answer, fragmented, trailers only, GOAWAY, reset,
// and each protocol error.
func FuzzConn(f *testing.F) {
	for _, seed := range hostileServerSeeds(f) {
		f.Add(seed, false)
		f.Add(seed, true)
	}
	f.Fuzz(func(t *testing.T, reply []byte, stream bool) {
		checkAllocs(t, "a call", len(reply), func() {
			cli, srv := net.Pipe()
			served := make(chan struct{})
			go func() {
				defer close(served)
				go func() { _, _ = io.Copy(io.Discard, srv) }()
				_, _ = srv.Write(reply)
				_ = srv.Close() // the answer ends: the call ends with it
			}()
			c := newConn(cli)
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			if stream {
				_ = c.Login(ctx, &LoginRequest{Profile: "p"}, func(*LoginEvent) error { return nil })
			} else {
				tok, err := c.GetToken(ctx, &GetTokenRequest{Profile: "p"})
				if err == nil && tok == nil {
					t.Fatal("no token and no error")
				}
			}
			if ctx.Err() != nil {
				t.Fatal("the call outlived the server's answer")
			}
			_ = c.Close()
			<-served
		})
	})
}

// hostileServerSeeds are server answers to the first call (stream 1).
func hostileServerSeeds(f *testing.F) [][]byte {
	var hbuf bytes.Buffer
	enc := hpack.NewEncoder(&hbuf)
	block := func(fields ...string) []byte {
		hbuf.Reset()
		for i := 0; i < len(fields); i += 2 {
			if err := enc.WriteField(hpack.HeaderField{Name: fields[i], Value: fields[i+1]}); err != nil {
				f.Fatal(err)
			}
		}
		return bytes.Clone(hbuf.Bytes())
	}
	// message frames a gRPC message: a token with an access token "t".
	message := func(compressed byte) []byte {
		body := []byte{0x0a, 1, 't'}
		return append(binary.BigEndian.AppendUint32([]byte{compressed}, uint32(len(body))), body...)
	}
	headers := block(":status", "200", "content-type", "application/grpc")
	trailers := block("grpc-status", "0")
	answer := func(write func(fr *http2.Framer)) []byte {
		var b bytes.Buffer
		fr := http2.NewFramer(&b, nil)
		fr.AllowIllegalWrites = true
		if err := fr.WriteSettings(); err != nil {
			f.Fatal(err)
		}
		write(fr)
		return b.Bytes()
	}
	check := func(err error) {
		if err != nil {
			f.Fatal(err)
		}
	}
	return [][]byte{
		answer(func(fr *http2.Framer) { // a valid answer
			check(fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, EndHeaders: true, BlockFragment: headers}))
			check(fr.WriteData(1, false, message(0)))
			check(fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, EndHeaders: true, EndStream: true, BlockFragment: trailers}))
		}),
		answer(func(fr *http2.Framer) { // fragmented: CONTINUATION, the message split over frames
			check(fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: headers[:2]}))
			check(fr.WriteContinuation(1, true, headers[2:]))
			m := message(0)
			check(fr.WriteData(1, false, m[:3]))
			check(fr.WriteData(1, false, m[3:]))
			check(fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, EndHeaders: true, EndStream: true, BlockFragment: trailers}))
		}),
		answer(func(fr *http2.Framer) { // trailers only, with an error
			check(fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, EndHeaders: true, EndStream: true,
				BlockFragment: block(":status", "200", "content-type", "application/grpc", "grpc-status", "16", "grpc-message", "login%20required")}))
		}),
		answer(func(fr *http2.Framer) { // a compressed message, which the client never asked for
			check(fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, EndHeaders: true, BlockFragment: headers}))
			check(fr.WriteData(1, true, message(1)))
		}),
		answer(func(fr *http2.Framer) { check(fr.WriteGoAway(0, http2.ErrCodeNo, nil)) }),
		answer(func(fr *http2.Framer) { check(fr.WriteRSTStream(1, http2.ErrCodeRefusedStream)) }),
		answer(func(fr *http2.Framer) { check(fr.WriteData(1, true, message(0))) }), // DATA before HEADERS
		answer(func(fr *http2.Framer) { // HTTP error without a gRPC status
			check(fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, EndHeaders: true, EndStream: true, BlockFragment: block(":status", "502")}))
		}),
		answer(func(fr *http2.Framer) { // bad HPACK
			check(fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, EndHeaders: true, BlockFragment: []byte{0x80}}))
		}),
		answer(func(fr *http2.Framer) { // another frame inside a header block
			check(fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: headers}))
			check(fr.WritePing(false, [8]byte{}))
		}),
		answer(func(fr *http2.Framer) { // PUSH_PROMISE
			check(fr.WritePushPromise(http2.PushPromiseParam{StreamID: 1, PromiseID: 2, EndHeaders: true, BlockFragment: headers}))
		}),
		answer(func(fr *http2.Framer) { // a frame beyond the size limit
			check(fr.WriteRawFrame(http2.FrameData, 0, 1, make([]byte, 16385)))
		}),
		answer(func(fr *http2.Framer) { // a message length beyond any limit
			check(fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, EndHeaders: true, BlockFragment: headers}))
			check(fr.WriteData(1, false, []byte{0, 0xff, 0xff, 0xff, 0xff}))
		}),
		answer(func(fr *http2.Framer) { // window updates and settings storms
			check(fr.WriteWindowUpdate(0, 1<<30))
			check(fr.WriteSettings(http2.Setting{ID: http2.SettingMaxFrameSize, Val: 1 << 24}, http2.Setting{ID: http2.SettingInitialWindowSize, Val: 0}))
			check(fr.WritePing(false, [8]byte{1}))
		}),
		nil, // the server closes at once
	}
}
