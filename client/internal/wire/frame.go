package wire

import (
	"encoding/binary"
	"errors"
	"io"
)

// HTTP/2 (RFC 9113) frame types, flags, settings and error codes.
const (
	frameData         = 0x0
	frameHeaders      = 0x1
	framePriority     = 0x2
	frameRSTStream    = 0x3
	frameSettings     = 0x4
	framePushPromise  = 0x5
	framePing         = 0x6
	frameGoAway       = 0x7
	frameWindowUpdate = 0x8
	frameContinuation = 0x9

	flagEndStream  = 0x1
	flagACK        = 0x1
	flagEndHeaders = 0x4
	flagPadded     = 0x8
	flagPriority   = 0x20

	settingHeaderTableSize   = 0x1
	settingEnablePush        = 0x2
	settingInitialWindowSize = 0x4
	settingMaxFrameSize      = 0x5

	errCodeNo                 = 0x0
	errCodeProtocol           = 0x1
	errCodeRefusedStream      = 0x7
	errCodeCancel             = 0x8
	errCodeEnhanceYourCalm    = 0xb
	errCodeInadequateSecurity = 0xc

	frameHeaderLen      = 9
	defaultMaxFrameSize = 16384 // the largest frame either side accepts unless told
	defaultWindowSize   = 65535
	maxWindowSize       = 1<<31 - 1
)

// clientPreface opens every HTTP/2 connection.
const clientPreface = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"

// errProtocol is an HTTP/2 protocol violation by the server.
var errProtocol = errors.New("http/2 protocol error")

func appendFrameHeader(b []byte, length int, typ, flags byte, stream uint32) []byte {
	return append(b, byte(length>>16), byte(length>>8), byte(length), typ, flags,
		byte(stream>>24)&0x7f, byte(stream>>16), byte(stream>>8), byte(stream))
}

func appendWindowUpdate(b []byte, stream uint32, increment uint32) []byte {
	b = appendFrameHeader(b, 4, frameWindowUpdate, 0, stream)
	return binary.BigEndian.AppendUint32(b, increment&0x7fffffff)
}

func appendRSTStream(b []byte, stream uint32, code uint32) []byte {
	b = appendFrameHeader(b, 4, frameRSTStream, 0, stream)
	return binary.BigEndian.AppendUint32(b, code)
}

func appendSetting(b []byte, id uint16, v uint32) []byte {
	b = binary.BigEndian.AppendUint16(b, id)
	return binary.BigEndian.AppendUint32(b, v)
}

// frame is one frame read from the server; payload is only valid until the
// next read.
type frame struct {
	typ     byte
	flags   byte
	stream  uint32
	payload []byte
}

// frameReader reads frames no larger than defaultMaxFrameSize, which is all
// the client announces, through a buffer that starts small: most responses
// are a few hundred bytes.
type frameReader struct {
	r    io.Reader
	buf  []byte
	head int // buf[head:tail] is read and not yet consumed
	tail int
}

func newFrameReader(r io.Reader) frameReader {
	return frameReader{r: r, buf: make([]byte, 4096)}
}

// buffered reports whether a read can return without waiting.
func (fr *frameReader) buffered() int { return fr.tail - fr.head }

// fill reads until n bytes are buffered.
func (fr *frameReader) fill(n int) error {
	if fr.tail-fr.head >= n {
		return nil
	}
	if len(fr.buf)-fr.head < n {
		// Move what is left to the front, in a larger buffer if need be.
		buf := fr.buf
		if len(buf) < n {
			buf = make([]byte, max(n, 2*len(buf)))
		}
		fr.tail = copy(buf, fr.buf[fr.head:fr.tail])
		fr.head, fr.buf = 0, buf
	}
	for fr.tail-fr.head < n {
		m, err := fr.r.Read(fr.buf[fr.tail:])
		fr.tail += m
		if err != nil && fr.tail-fr.head < n {
			if err == io.EOF && fr.tail > fr.head {
				err = io.ErrUnexpectedEOF
			}
			return err
		}
	}
	return nil
}

// read returns the next frame; its payload is valid until the next read.
func (fr *frameReader) read() (frame, error) {
	if err := fr.fill(frameHeaderLen); err != nil {
		return frame{}, err
	}
	h := fr.buf[fr.head : fr.head+frameHeaderLen]
	length := int(h[0])<<16 | int(h[1])<<8 | int(h[2])
	if length > defaultMaxFrameSize {
		return frame{}, errProtocol // FRAME_SIZE_ERROR
	}
	if err := fr.fill(frameHeaderLen + length); err != nil {
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return frame{}, err
	}
	h = fr.buf[fr.head : fr.head+frameHeaderLen]
	f := frame{typ: h[3], flags: h[4], stream: binary.BigEndian.Uint32(h[5:]) & 0x7fffffff}
	f.payload = fr.buf[fr.head+frameHeaderLen : fr.head+frameHeaderLen+length]
	fr.head += frameHeaderLen + length
	if fr.head == fr.tail {
		fr.head, fr.tail = 0, 0
	}
	return f, nil
}

// unpad removes the padding of a DATA or HEADERS frame, and for HEADERS its
// priority fields.
func (f *frame) unpad() error {
	p := f.payload
	pad := 0
	if f.flags&flagPadded != 0 {
		if len(p) < 1 {
			return errProtocol
		}
		pad = int(p[0])
		p = p[1:]
	}
	if f.typ == frameHeaders && f.flags&flagPriority != 0 {
		if len(p) < 5 {
			return errProtocol
		}
		p = p[5:]
	}
	if pad > len(p) {
		return errProtocol
	}
	f.payload = p[:len(p)-pad]
	return nil
}
