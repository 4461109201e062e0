// Package server answers the authd.v1.Broker gRPC API on a Unix socket with
// a [broker.Broker]. It is the daemon's only transport code: the broker
// knows nothing of gRPC, and this package decides nothing about tokens.
//
// # Serving
//
// [Serve] (or [ServeLimits]) serves a listener until it is closed or the
// context ends. Then it stops accepting connections and calls (the
// connections already waiting in the listener's queue are accepted and
// served, not reset: they may be the last ones of a daemon whose socket
// 'authd run --replace' has taken over), drains the broker (the logins in
// flight end, and their clients hear that authd is shutting down:
// SHUTTING_DOWN), and gives the calls in flight
// [Limits.DrainTimeout] to be answered. Once no call has been in flight
// for 100 ms, the connections left are closed: they are idle clients'
// (the client package pools its connections and reads only during a call,
// so it never answers the GOAWAY's ping that a graceful stop waits for).
// A request that crosses the close is sent again, once, on a new
// connection by the client package (authc and Go programs); another
// client sees its connection closed unanswered.
//
// Every answer, an error included, carries the daemon's version in the
// header api.VersionHeader: clients compare it with theirs at no cost.
//
// # Peers
//
// Every connection's peer uid is read from the kernel (SO_PEERCRED and its
// equivalents) at accept time, and a connection of any other user than the
// daemon's own is closed before it gets a byte, whatever the socket's file
// mode. Every call checks the uid again. The pid names the process that
// started a login, for the clients that join it.
//
// # Limits
//
// [Limits] caps the connections open at once and closes idle ones; each
// connection has a bounded number of calls in flight, and every request
// field and list is bounded before it reaches the broker, so that no
// client, nor any number of them, takes the daemon's file descriptors or
// memory from the others.
//
// # Errors
//
// Every error is a gRPC status whose google.rpc.ErrorInfo detail carries
// the reason [broker.ReasonOf] gives (an authd.v1.ErrorReason name) in the
// domain [ErrorDomain], and the status code that package api's table gives
// the reason (api.Reasons), for clients that know no reasons. A context that
// ended is the caller's CANCELLED or DEADLINE_EXCEEDED, with no reason.
//
// Refresh tokens and client secrets never leave the daemon: no answer
// carries one.
package server
