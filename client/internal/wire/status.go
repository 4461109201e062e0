package wire

import (
	"context"
	"encoding/base64"
	"strconv"
	"strings"

	"authd.dev/authd/api"
)

// The gRPC status codes (google.rpc.Code).
const (
	CodeOK                 = 0
	CodeCanceled           = 1
	CodeUnknown            = 2
	CodeInvalidArgument    = 3
	CodeDeadlineExceeded   = 4
	CodeNotFound           = 5
	CodeAlreadyExists      = 6
	CodePermissionDenied   = 7
	CodeResourceExhausted  = 8
	CodeFailedPrecondition = 9
	CodeAborted            = 10
	CodeOutOfRange         = 11
	CodeUnimplemented      = 12
	CodeInternal           = 13
	CodeUnavailable        = 14
	CodeDataLoss           = 15
	CodeUnauthenticated    = 16
)

var codeNames = [...]string{
	"ok", "canceled", "unknown", "invalid argument", "deadline exceeded",
	"not found", "already exists", "permission denied", "resource exhausted",
	"failed precondition", "aborted", "out of range", "unimplemented",
	"internal", "unavailable", "data loss", "unauthenticated",
}

// Status is a gRPC status other than OK, as the server (or the HTTP/2
// stream) ended the call with it. Reason, Domain and Metadata come from the
// first google.rpc.ErrorInfo among the status details: the
// daemon's reasons, in the domain [api.ErrorDomain].
type Status struct {
	Code     int
	Message  string
	Reason   api.Reason
	Domain   string
	Metadata map[string]string
}

func (s *Status) Error() string {
	msg := "rpc error: " + codeName(s.Code)
	if s.Message != "" {
		msg += ": " + s.Message
	}
	if s.Reason != "" {
		msg += " (" + string(s.Reason) + ")"
	}
	return msg
}

// Is reports a DEADLINE_EXCEEDED status as [context.DeadlineExceeded] and a
// CANCELLED one as [context.Canceled], so one errors.Is covers a deadline
// that ran out on either side.
func (s *Status) Is(target error) bool {
	switch target {
	case context.DeadlineExceeded:
		return s.Code == CodeDeadlineExceeded
	case context.Canceled:
		return s.Code == CodeCanceled
	}
	return false
}

func codeName(code int) string {
	if code >= 0 && code < len(codeNames) {
		return codeNames[code]
	}
	return "code " + strconv.Itoa(code)
}

// statusFromTrailers builds the status of a call from its trailers, or of a
// response with no grpc-status from its HTTP status. It returns nil for OK.
func statusFromTrailers(t *trailers) *Status {
	if !t.hasGRPCStatus {
		if t.httpStatus != 200 {
			return &Status{Code: codeFromHTTP(t.httpStatus), Message: "unexpected HTTP status " + strconv.Itoa(t.httpStatus)}
		}
		return &Status{Code: CodeInternal, Message: "server ended the call without a grpc-status"}
	}
	code, err := strconv.Atoi(t.grpcStatus)
	if err != nil || code < 0 {
		return &Status{Code: CodeInternal, Message: "malformed grpc-status " + strconv.Quote(t.grpcStatus)}
	}
	if code == CodeOK {
		return nil
	}
	st := &Status{Code: code, Message: decodeGRPCMessage(t.grpcMessage)}
	if t.details != "" {
		st.decodeDetails(t.details)
	}
	return st
}

// codeFromHTTP maps an HTTP status to a gRPC code as the gRPC spec asks
// (doc/http-grpc-status-mapping.md).
func codeFromHTTP(status int) int {
	switch status {
	case 400:
		return CodeInternal
	case 401:
		return CodeUnauthenticated
	case 403:
		return CodePermissionDenied
	case 404:
		return CodeUnimplemented
	case 429, 502, 503, 504:
		return CodeUnavailable
	}
	return CodeUnknown
}

// decodeGRPCMessage undoes the percent-encoding of grpc-message; a
// malformed escape is kept as it is, as grpc-go does.
func decodeGRPCMessage(s string) string {
	if !strings.Contains(s, "%") {
		return s
	}
	var b strings.Builder
	b.Grow(len(s))
	for i := 0; i < len(s); i++ {
		if s[i] == '%' && i+2 < len(s) {
			if v, err := strconv.ParseUint(s[i+1:i+3], 16, 8); err == nil {
				b.WriteByte(byte(v))
				i += 2
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// decodeDetails reads grpc-status-details-bin (a base64 google.rpc.Status)
// for its first google.rpc.ErrorInfo. Details that do not decode are
// ignored: the code and message already say what happened.
func (s *Status) decodeDetails(v string) {
	raw, err := decodeBase64(v)
	if err != nil {
		return
	}
	// google.rpc.Status: code = 1, message = 2, repeated Any details = 3;
	// Any: type_url = 1, value = 2.
	_ = decodeFields(raw, func(f field) error {
		if !f.is(3, wireBytes) || s.Reason != "" {
			return nil
		}
		var typeURL string
		var value []byte
		if err := decodeFields(f.data, func(a field) error {
			switch {
			case a.is(1, wireBytes):
				typeURL = string(a.data)
			case a.is(2, wireBytes):
				value = a.data
			}
			return nil
		}); err != nil {
			return nil
		}
		if strings.HasSuffix(typeURL, "/google.rpc.ErrorInfo") || typeURL == "google.rpc.ErrorInfo" {
			s.decodeErrorInfo(value)
		}
		return nil
	})
}

// decodeErrorInfo reads google.rpc.ErrorInfo: reason = 1, domain = 2,
// map<string, string> metadata = 3.
func (s *Status) decodeErrorInfo(b []byte) {
	var reason, domain string
	var metadata map[string]string
	err := decodeFields(b, func(f field) error {
		switch {
		case f.is(1, wireBytes):
			reason = string(f.data)
		case f.is(2, wireBytes):
			domain = string(f.data)
		case f.is(3, wireBytes):
			var k, v string
			if err := decodeFields(f.data, func(e field) error {
				switch {
				case e.is(1, wireBytes):
					k = string(e.data)
				case e.is(2, wireBytes):
					v = string(e.data)
				}
				return nil
			}); err != nil {
				return err
			}
			if metadata == nil {
				metadata = make(map[string]string)
			}
			metadata[k] = v
		}
		return nil
	})
	if err == nil {
		s.Reason, s.Domain, s.Metadata = api.Reason(reason), domain, metadata
	}
}

// decodeBase64 decodes a binary header value as grpc-go does: standard
// base64, padded or not (grpc-go leaves the padding out, the gRPC spec lets
// a sender put it in).
func decodeBase64(s string) ([]byte, error) {
	if len(s)%4 == 0 {
		return base64.StdEncoding.DecodeString(s)
	}
	return base64.RawStdEncoding.DecodeString(s)
}
