package oidcagent

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"time"
)

// maxMessage bounds every message a client sends, encrypted or not (and so
// the plaintext of an encrypted one). A request is a few hundred bytes.
const maxMessage = 64 << 10

// pieceGap is how long the rest of a message that arrived in part may take.
// A client writes each message with one write(2), so the rest of it is
// already on its way: a pause is the end of what the client sent.
const pieceGap = 250 * time.Millisecond

// errTooLarge is a message over maxMessage.
var errTooLarge = fmt.Errorf("message too long (more than %d bytes)", maxMessage)

// readMessage reads one message. oidc-agent's IPC has no framing: a message
// is what one write(2) put on the socket, and the reader takes whatever is
// there when it becomes readable (ipc_read: select, then FIONREAD). Here a
// message that the kernel hands over in pieces is joined while whole says
// it is not whole yet and the pieces keep coming; what has come when they
// stop is the message, for the decoder to judge. c's read deadline bounds
// the whole read.
func readMessage(c net.Conn, deadline time.Time, whole func([]byte) bool) ([]byte, error) {
	buf := make([]byte, 0, 1024)
	for {
		if len(buf) == cap(buf) {
			if len(buf) >= maxMessage {
				return nil, errTooLarge
			}
			grown := make([]byte, len(buf), min(2*cap(buf), maxMessage))
			copy(grown, buf)
			buf = grown
		}
		n, err := c.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if len(buf) > 0 && whole(buf) {
			return buf, nil
		}
		var ne net.Error
		if err != nil {
			if len(buf) > 0 && errors.As(err, &ne) && ne.Timeout() && time.Now().Before(deadline) {
				return buf, nil
			}
			return nil, err
		}
		if n > 0 {
			if err := c.SetReadDeadline(earlier(deadline, time.Now().Add(pieceGap))); err != nil {
				return nil, err
			}
		}
	}
}

func earlier(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}

// wholeFirst reports whether a client's first message is complete: a JSON
// object (a request in the clear, which oidc-agent accepts too), or
// a base64 public key.
func wholeFirst(b []byte) bool {
	if t := bytes.TrimLeft(b, " \t\r\n"); len(t) > 0 && t[0] == '{' {
		return json.Valid(b)
	}
	return len(b) >= publicKeyLen
}

// wholeSealed reports whether an encrypted message is complete: its sealed
// part is as long as its length field says, or the message is malformed
// already.
func wholeSealed(b []byte) bool {
	lenField, rest, ok := bytes.Cut(b, []byte(":"))
	if !ok {
		return len(b) > 7 // longer than any length field
	}
	n, err := parseLength(lenField)
	if err != nil {
		return true
	}
	_, sealed, ok := bytes.Cut(rest, []byte(":"))
	if !ok {
		return len(rest) > b64.EncodedLen(nonceSize)
	}
	return len(sealed) >= b64.EncodedLen(n+tagSize)
}

// isJSONObject reports whether b is one JSON object, as oidc-agent tells a
// request in the clear from a public key, and an answer in the clear from
// an encrypted one.
func isJSONObject(b []byte) bool {
	b = bytes.TrimLeft(b, " \t\r\n")
	return len(b) > 0 && b[0] == '{' && json.Valid(b)
}
