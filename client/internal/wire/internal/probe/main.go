// Command probe asks the daemon for a token with package wire and prints
// its length: the least an authc command can do. It is for measuring
// start-up (GODEBUG=inittrace=1, hyperfine), not for users.
//
//	go build -o /tmp/probe ./client/internal/wire/internal/probe
//	hyperfine -N --warmup 20 --runs 200 '/tmp/probe /run/user/1000/authd/authd.sock'
package main

import (
	"context"
	"fmt"
	"os"
	"time"

	"authd.dev/authd/client/internal/wire"
)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: probe SOCKET")
		os.Exit(2)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := wire.Dial(ctx, os.Args[1])
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	defer conn.Close()
	tok, err := conn.GetToken(ctx, &wire.GetTokenRequest{})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fmt.Println(len(tok.AccessToken))
}
