package client_test

import (
	"context"
	"net"
	"path/filepath"
	"strings"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/protobuf/types/known/timestamppb"

	"authd.dev/authd/client"
	pb "authd.dev/authd/proto/authd/v1"
)

// fakeBroker answers GetToken with a fixed token the size of a real one,
// so that the benchmark measures the client and the transport alone.
type fakeBroker struct {
	pb.UnimplementedBrokerServer
	tok *pb.Token
}

func (f *fakeBroker) GetToken(context.Context, *pb.GetTokenRequest) (*pb.Token, error) {
	return f.tok, nil
}

// BenchmarkClientToken measures Client.Token against a fake Broker server
// on a Unix socket, callers in parallel on one client.
func BenchmarkClientToken(b *testing.B) {
	sock := filepath.Join(b.TempDir(), "broker.sock")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		b.Fatal(err)
	}
	srv := grpc.NewServer()
	pb.RegisterBrokerServer(srv, &fakeBroker{tok: &pb.Token{
		AccessToken: strings.Repeat("a", 1000),
		TokenType:   "Bearer",
		Expiry:      timestamppb.Now(),
		Scopes:      []string{"openid", "profile", "email", "offline_access"},
		Profile:     "work",
	}})
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	b.Cleanup(func() {
		srv.Stop()
		<-served
	})
	c, err := client.New(client.WithSocket(sock))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { c.Close() })
	ctx := context.Background()
	if _, err := c.Token(ctx, client.TokenOptions{Profile: "work"}); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(p *testing.PB) {
		for p.Next() {
			tok, err := c.Token(ctx, client.TokenOptions{Profile: "work"})
			if err != nil || len(tok.AccessToken) != 1000 {
				b.Errorf("Token: %v", err)
				return
			}
		}
	})
}
