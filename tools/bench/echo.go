//go:build linux

package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

// answerSize is the size of both echo servers' answers: about an access
// token's.
const answerSize = 1024

// serveRawEcho answers every connection on ln with answerSize bytes once it
// has read one request line, then closes it: the floor's server.
func serveRawEcho(ln net.Listener) {
	answer := []byte(strings.Repeat("r", answerSize-1) + "\n")
	for {
		conn, err := ln.Accept()
		if err != nil {
			return
		}
		go func() {
			defer conn.Close()
			_ = conn.SetDeadline(time.Now().Add(5 * time.Second))
			if _, err := bufio.NewReaderSize(conn, 256).ReadSlice('\n'); err != nil {
				return
			}
			_, _ = conn.Write(answer)
		}()
	}
}

// The gRPC echo service: one unary method, a short string in, a
// answerSize string out, no interceptors, registered by hand so that it
// needs no generated code.
const echoMethod = "/bench.Echo/Echo"

var echoService = grpc.ServiceDesc{
	ServiceName: "bench.Echo",
	HandlerType: (*any)(nil),
	Methods: []grpc.MethodDesc{{
		MethodName: "Echo",
		Handler: func(_ any, ctx context.Context, dec func(any) error, _ grpc.UnaryServerInterceptor) (any, error) {
			in := new(wrapperspb.StringValue)
			if err := dec(in); err != nil {
				return nil, err
			}
			return echoAnswer, nil
		},
	}},
	Metadata: "bench",
}

var echoAnswer = wrapperspb.String(strings.Repeat("e", answerSize))

// serveEcho is the `bench serve-echo SOCKET` subcommand: the gRPC echo
// server runs in its own process, as authd does, until SIGTERM.
func serveEcho(sock string) error {
	_ = os.Remove(sock)
	ln, err := net.Listen("unix", sock)
	if err != nil {
		return err
	}
	srv := grpc.NewServer()
	srv.RegisterService(&echoService, struct{}{})
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, os.Interrupt)
	go func() {
		<-sig
		srv.Stop()
	}()
	return srv.Serve(ln)
}

// echoServer is the gRPC echo server subprocess.
type echoServer struct {
	sock string
	cmd  *exec.Cmd
}

func startEchoServer(ctx context.Context, sock string) (*echoServer, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(self, "serve-echo", sock)
	cmd.Stderr = os.Stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start echo server: %w", err)
	}
	e := &echoServer{sock: sock, cmd: cmd}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	for {
		if c, err := (&net.Dialer{}).DialContext(ctx, "unix", sock); err == nil {
			c.Close()
			return e, nil
		}
		select {
		case <-ctx.Done():
			e.stop()
			return nil, errors.New("echo server did not listen within 10s")
		case <-time.After(5 * time.Millisecond):
		}
	}
}

func (e *echoServer) stop() {
	_ = e.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan struct{})
	go func() { _ = e.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		_ = e.cmd.Process.Kill()
		<-done
	}
}

// dialEcho connects to the echo server with grpc-go, as a Go program would.
func dialEcho(sock string) (*grpc.ClientConn, error) {
	return grpc.NewClient("passthrough:///echo",
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", sock)
		}),
	)
}

// echoCall is one echo request, the size of a GetTokenRequest for a profile.
func echoCall(conn *grpc.ClientConn) func(context.Context) error {
	req := wrapperspb.String("work")
	return func(ctx context.Context) error {
		out := new(wrapperspb.StringValue)
		if err := conn.Invoke(ctx, echoMethod, req, out); err != nil {
			return err
		}
		if len(out.GetValue()) != answerSize {
			return fmt.Errorf("echo answered %d bytes", len(out.GetValue()))
		}
		return nil
	}
}
