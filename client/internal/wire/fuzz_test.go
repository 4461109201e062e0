package wire

import (
	"bytes"
	"encoding/base64"
	"errors"
	"io"
	"runtime"
	"testing"
	"time"
)

// allocated is the bytes f allocates. The fuzz targets bound it by the size
// of their input: a length field must not make a decoder allocate what the
// input does not hold.
func allocated(f func()) uint64 {
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	f()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

// allocBound is what decoding n bytes may allocate: a constant for buffers
// and tables (the frame reader's largest buffer is two frames), and a
// bounded amplification of the input.
func allocBound(n int) uint64 { return 128<<10 + 64*uint64(n) }

func checkAllocs(t *testing.T, what string, n int, f func()) {
	t.Helper()
	if got := allocated(f); got > allocBound(n) {
		t.Fatalf("%s of %d bytes allocated %d bytes, more than %d", what, n, got, allocBound(n))
	}
}

// FuzzFrameReader reads frames, and unpads DATA and HEADERS ones, from any
// byte stream.
func FuzzFrameReader(f *testing.F) {
	var b []byte
	b = appendFrameHeader(b, 0, frameSettings, 0, 0)
	b = appendWindowUpdate(b, 1, 1<<20)
	b = appendRSTStream(b, 3, 8)
	f.Add(b)
	f.Add(appendFrameHeader(nil, 5, frameData, flagPadded, 1))
	f.Add(append(appendFrameHeader(nil, 4, frameData, flagPadded, 1), 3, 'a', 'b', 'c'))
	f.Add(append(appendFrameHeader(nil, 7, frameHeaders, flagPadded|flagPriority, 1), 1, 0, 0, 0, 0, 0, 0))
	f.Add([]byte{0xff, 0xff, 0xff, frameData, 0, 0, 0, 0, 1})                      // a length beyond the limit
	f.Add(append(appendFrameHeader(nil, defaultMaxFrameSize, frameData, 0, 1), 1)) // cut short
	f.Fuzz(func(t *testing.T, stream []byte) {
		checkAllocs(t, "frames", len(stream), func() {
			fr := newFrameReader(iotestOneByte(stream))
			for {
				fr2, err := fr.read()
				if err != nil {
					return
				}
				if len(fr2.payload) > defaultMaxFrameSize {
					t.Fatalf("frame of %d bytes", len(fr2.payload))
				}
				if fr2.typ == frameData || fr2.typ == frameHeaders {
					before := len(fr2.payload)
					if fr2.unpad() == nil && len(fr2.payload) > before {
						t.Fatalf("unpad grew the payload")
					}
				}
			}
		})
	})
}

// oneByteReader returns one byte per Read, so that the frame reader's
// buffering is exercised at every boundary.
type oneByteReader struct{ b []byte }

func iotestOneByte(b []byte) *oneByteReader { return &oneByteReader{b} }

func (r *oneByteReader) Read(p []byte) (int, error) {
	if len(r.b) == 0 {
		return 0, io.EOF
	}
	if len(p) == 0 {
		return 0, nil
	}
	p[0] = r.b[0]
	r.b = r.b[1:]
	return 1, nil
}

// FuzzHPACK decodes any header block as a server would send it, twice on
// one decoder, as the blocks of a connection share its dynamic table.
func FuzzHPACK(f *testing.F) {
	f.Add(newHeaderEncoder().appendRequest(nil, "/authd.v1.Broker/GetToken", "10S"))
	f.Add([]byte{0x82, 0x86, 0x84})                                     // indexed
	f.Add([]byte{0x40, 0x03, 'f', 'o', 'o', 0x03, 'b', 'a', 'r', 0xbe}) // incremental indexing, then its index
	f.Add([]byte{0x3f, 0xe1, 0x1f})                                     // size update
	f.Add([]byte{0x20, 0x3f, 0xe1, 0x1f, 0x88})                         // size updates, then a field
	f.Add([]byte{0x40, 0x01, 'a', 0x01, 'b', 0x20})                     // size update after a field
	f.Add([]byte{0x00, 0x83, 0xff, 0xff, 0xff, 0x00})                   // bad huffman
	f.Add([]byte{0x7f, 0xff, 0xff, 0xff, 0xff, 0x0f})                   // huge index
	f.Add([]byte{0x00, 0x7f, 0xff, 0xff, 0xff, 0xff, 0x0f})             // huge length
	f.Add([]byte{0x00, 0x01, 'a', 0xff, 0x80, 0x80, 0x40, 0x00})        // huge Huffman literal, not there
	many := append([]byte{0x40, 0x01, 'x', 0x7f, 0xa1, 0x1e}, bytes.Repeat([]byte{'v'}, 4000)...)
	f.Add(append(many, bytes.Repeat([]byte{0xbe}, 2000)...)) // many references to a large entry
	f.Fuzz(func(t *testing.T, block []byte) {
		d := newHeaderDecoder()
		for range 2 {
			listSize := 0
			var err error
			checkAllocs(t, "header block", len(block), func() {
				err = d.decode(block, func(name, value string) {
					if len(name) > maxHeaderStringLen || len(value) > maxHeaderStringLen {
						t.Fatalf("header field of %d+%d bytes", len(name), len(value))
					}
					listSize += len(name) + len(value) + 32
				})
			})
			if listSize > maxHeaderListSize {
				t.Fatalf("header list of %d bytes", listSize)
			}
			if err != nil && !errors.Is(err, errHPACK) {
				t.Fatalf("decode: %v, want an hpack error", err)
			}
		}
	})
}

// FuzzStatus reads the status of a call from any grpc-status,
// grpc-message and grpc-status-details-bin; raw is the details before
// base64, as a sender would encode them.
func FuzzStatus(f *testing.F) {
	errorInfo := appendString(appendString(nil, 1, "LOGIN_REQUIRED"), 2, "authd.dev")
	errorInfo = appendMessage(errorInfo, 3, appendString(appendString(nil, 1, "profile"), 2, "work"))
	anyMsg := appendMessage(appendString(nil, 1, "type.googleapis.com/google.rpc.ErrorInfo"), 2, errorInfo)
	details := appendMessage(appendString(appendInt64(nil, 1, 16), 2, "login required"), 3, anyMsg)
	f.Add("16", "login%20required", details, false)
	f.Add("16", "x", details, true)
	f.Add("2", "%zz%", []byte{0x1a, 0xff, 0xff, 0xff, 0xff, 0x0f}, false)
	f.Add("-1", "", []byte{0x1b, 0x1c}, false)
	f.Add("99999999999999999999", "", []byte{}, false)
	f.Fuzz(func(t *testing.T, code, msg string, raw []byte, padded bool) {
		enc := base64.RawStdEncoding.EncodeToString(raw)
		if padded {
			enc = base64.StdEncoding.EncodeToString(raw)
		}
		var st *Status
		checkAllocs(t, "status", len(code)+len(msg)+len(enc), func() {
			st = statusFromTrailers(&trailers{httpStatus: 200, hasGRPCStatus: true, grpcStatus: code, grpcMessage: msg, details: enc})
		})
		if st != nil {
			_ = st.Error()
			if len(st.Message) > len(msg)+4*len(code)+64 || len(st.Reason)+len(st.Domain) > len(raw) {
				t.Fatalf("status %+v larger than its input", st)
			}
		}
		// The details as a sender may mangle them.
		var s Status
		checkAllocs(t, "details", len(raw), func() { s.decodeDetails(string(raw)) })
		got, err := decodeBase64(enc)
		if err != nil || !bytes.Equal(got, raw) {
			t.Fatalf("decodeBase64(%q) = %x, %v; want %x", enc, got, err, raw)
		}
	})
}

// FuzzMessages decodes any bytes as every response message.
func FuzzMessages(f *testing.F) {
	ts := func(t time.Time) []byte {
		return appendInt64(appendInt64(nil, 1, t.Unix()), 2, int64(t.Nanosecond()))
	}
	now := time.Unix(1700000000, 5)
	tok := appendString(appendString(nil, 1, "at"), 2, "Bearer")
	tok = appendMessage(tok, 3, ts(now))
	tok = appendString(appendString(appendString(tok, 4, "openid"), 5, "idt"), 6, "work")
	f.Add(tok)
	f.Add(appendMessage(nil, 1, appendString(appendString(nil, 1, "https://idp/auth"), 2, "http://127.0.0.1/cb")))
	f.Add(appendMessage(nil, 2, appendMessage(appendString(nil, 2, "ABCD"), 4, ts(now))))
	f.Add(appendMessage(nil, 4, appendMessage(appendString(nil, 2, "alice"), 1, ts(now))))
	f.Add(appendMessage(nil, 5, appendString(appendString(nil, 1, "ACCESS_DENIED"), 2, "no")))
	prof := appendString(appendString(nil, 1, "work"), 2, "https://idp")
	prof = appendMessage(appendBool(prof, 9, true), 5, ts(now))
	f.Add(appendInt64(appendMessage(appendString(nil, 1, "v1"), 5, prof), 6, 42))
	f.Add([]byte{0x0b, 0x0b, 0x0c, 0x0c})                   // nested groups
	f.Add([]byte{0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f})       // length past the end
	f.Add([]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}) // bad tag
	f.Add(bytes.Repeat([]byte{0x2a, 0x00}, 64))             // empty repeated messages
	f.Fuzz(func(t *testing.T, b []byte) {
		for _, m := range []struct {
			name string
			msg  interface{ Unmarshal([]byte) error }
		}{
			{"Token", &Token{}},
			{"LoginEvent", &LoginEvent{}},
			{"LogoutResponse", &LogoutResponse{}},
			{"StatusResponse", &StatusResponse{}},
			{"SetCredentialResponse", &SetCredentialResponse{}},
		} {
			checkAllocs(t, m.name, len(b), func() { _ = m.msg.Unmarshal(b) })
		}
	})
}
