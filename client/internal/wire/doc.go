// Package wire is the transport of package client: a minimal gRPC client
// for the authd daemon, light enough for programs that must start fast
// (authc). It speaks HTTP/2 without TLS (h2c, prior
// knowledge) over the daemon's Unix socket, with HPACK from
// golang.org/x/net/http2/hpack, and encodes authd's messages by hand (the
// protobuf wire format is a hundred lines; protowire would bring the
// protobuf runtime's internal/detrand, whose init reads the executable at
// every start). It links neither google.golang.org/grpc nor the protobuf
// runtime, whose package initialisation costs a short-lived command more
// than the call itself. A test checks that it stays so.
//
// # Calls
//
//	conn, err := wire.Dial(ctx, socketPath)
//	if err != nil { ... } // errors.Is(err, wire.ErrUnavailable): the daemon is not running
//	defer conn.Close()
//	tok, err := conn.GetToken(ctx, &wire.GetTokenRequest{Profile: "work"})
//
// [Conn.GetToken], [Conn.Login], [Conn.Logout], [Conn.Status],
// [Conn.SetCredential] and [Conn.Reload] are the Broker service;
// [Conn.Unary] and [Conn.Stream] take and return encoded messages.
// [Conn.ServerVersion] is the daemon's version, which every answer carries
// in a header. A Conn runs one call at a
// time (concurrent calls wait); the context's deadline is sent as
// grpc-timeout, and a call its context ends closes the Conn.
//
// # Messages
//
// [GetTokenRequest], [Token] and the others mirror proto/authd/v1/broker.proto
// as plain structs: google.protobuf.Timestamp is a time.Time (zero when
// absent) and Duration a time.Duration. Requests have Marshal, responses
// Unmarshal; unknown fields are skipped. Tests compare them with the
// generated code, field by field, so a field added to the proto and not here
// fails them.
//
// # Errors
//
// A call the server answered with an error returns a [*Status]: its Code,
// Message, and the Reason and Domain of its google.rpc.ErrorInfo detail.
// [ErrUnavailable] means the daemon could not be reached or the connection
// was lost; [ErrClosed], a Conn already closed. A deadline, on either side,
// matches context.DeadlineExceeded.
package wire
