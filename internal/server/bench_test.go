package server_test

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"authd.dev/authd/client"
	"authd.dev/authd/internal/broker"
	"authd.dev/authd/internal/idptest"
	"authd.dev/authd/internal/server"
	"authd.dev/authd/internal/socket"
)

// benchBroker serves a broker on a Unix socket with one profile "work" on a
// test provider, logs it in through the API, and returns a client of it.
// (The test harness's daemon takes a *testing.T; benchmarks have a B.)
func benchBroker(b *testing.B) *client.Client {
	b.Helper()
	idp := idptest.New(b, idptest.Options{AccessTokenLifetime: time.Hour})
	dir := b.TempDir()
	pass := filepath.Join(dir, "passphrase")
	if err := os.WriteFile(pass, []byte("bench-passphrase\n"), 0o600); err != nil {
		b.Fatal(err)
	}
	cfg := filepath.Join(dir, "config.toml")
	body := fmt.Sprintf("default_profile = \"work\"\n[keyring]\nbackend = \"file\"\nfile_dir = %q\npassphrase_file = %q\n\n[profiles.work]\nissuer = %q\nclient_id = %q\n",
		filepath.Join(dir, "keyring"), pass, idp.Issuer(), idptest.PublicClientID)
	if err := os.WriteFile(cfg, []byte(body), 0o600); err != nil {
		b.Fatal(err)
	}
	sock := filepath.Join(dir, "run", "authd.sock")
	ln, err := socket.Listen(sock)
	if err != nil {
		b.Fatal(err)
	}
	br := broker.New(broker.Options{ConfigPath: cfg, Version: "bench", KeyringService: "authd-bench"})
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- server.Serve(ctx, br, ln) }()
	b.Cleanup(func() {
		cancel()
		<-served
		br.Close()
	})
	c, err := client.New(client.WithSocket(sock))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { c.Close() })

	lctx, lcancel := context.WithTimeout(context.Background(), time.Minute)
	defer lcancel()
	var formErr error
	err = c.Login(lctx, client.LoginOptions{Profile: "work"}, func(ev client.LoginEvent) {
		if ev.OpenURL != nil {
			status, _, err := idptest.CompleteLogin(lctx, ev.OpenURL.URL, idptest.DefaultUsername, idptest.DefaultPassword)
			if err == nil && status != http.StatusOK {
				err = fmt.Errorf("status %d", status)
			}
			formErr = err
		}
	})
	if err != nil || formErr != nil {
		b.Fatalf("login: %v (login form: %v)", err, formErr)
	}
	return c
}

// BenchmarkGetToken asks a logged-in broker for its cached token through the
// real gRPC socket, one caller at a time and then GOMAXPROCS callers (-cpu
// changes it) sharing one client connection. The echo sub-benchmarks are
// its floor: a plain grpc-go unary service on another Unix socket, a short
// string in and a token-sized string out, dialled with the client
// package's settings.
func BenchmarkGetToken(b *testing.B) {
	c := benchBroker(b)
	ctx := context.Background()
	authd := func(b *testing.B) {
		tok, err := c.Token(ctx, client.TokenOptions{Profile: "work"})
		if err != nil || tok.AccessToken == "" {
			b.Errorf("Token: %v", err)
		}
	}
	echo := benchEcho(b)
	for _, bb := range []struct {
		name string
		call func(*testing.B)
	}{{"authd", authd}, {"echo", echo}} {
		b.Run(bb.name+"/serial", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				bb.call(b)
			}
		})
		b.Run(bb.name+"/parallel", func(b *testing.B) {
			b.ReportAllocs()
			b.RunParallel(func(p *testing.PB) {
				for p.Next() {
					bb.call(b)
				}
			})
		})
	}
}

// benchEcho serves a one-method gRPC echo service, registered by hand, on
// a Unix socket and returns a call to it.
func benchEcho(b *testing.B) func(*testing.B) {
	b.Helper()
	answer := wrapperspb.String(strings.Repeat("e", 700))
	desc := grpc.ServiceDesc{
		ServiceName: "bench.Echo",
		HandlerType: (*any)(nil),
		Methods: []grpc.MethodDesc{{
			MethodName: "Echo",
			Handler: func(_ any, _ context.Context, dec func(any) error, _ grpc.UnaryServerInterceptor) (any, error) {
				in := new(wrapperspb.StringValue)
				if err := dec(in); err != nil {
					return nil, err
				}
				return answer, nil
			},
		}},
	}
	sock := filepath.Join(b.TempDir(), "echo.sock")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		b.Fatal(err)
	}
	srv := grpc.NewServer()
	srv.RegisterService(&desc, struct{}{})
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	b.Cleanup(func() {
		srv.Stop()
		<-served
	})
	conn, err := grpc.NewClient("passthrough:///echo",
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) {
			return socket.Dial(ctx, sock)
		}),
	)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { conn.Close() })
	req := wrapperspb.String("work")
	return func(b *testing.B) {
		out := new(wrapperspb.StringValue)
		if err := conn.Invoke(context.Background(), "/bench.Echo/Echo", req, out); err != nil {
			b.Errorf("echo: %v", err)
		}
	}
}
