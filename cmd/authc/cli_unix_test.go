//go:build unix

package main

import (
	"context"
	"os"
	"syscall"
	"testing"

	pb "authd.dev/authd/proto/authd/v1"
)

// Ctrl-C during a call exits 130 with one line; SIGTERM 143.
func TestSignalExitCodes(t *testing.T) {
	for _, tt := range []struct {
		sig  syscall.Signal
		code int
	}{{syscall.SIGINT, 130}, {syscall.SIGTERM, 143}} {
		t.Run(tt.sig.String(), func(t *testing.T) {
			arrived := make(chan struct{}, 1)
			serve(t, &fakeDaemon{token: func(ctx context.Context) (*pb.Token, error) {
				arrived <- struct{}{}
				<-ctx.Done()
				return nil, ctx.Err()
			}})
			go func() {
				// authc handles the signals once it calls authd.
				<-arrived
				syscall.Kill(os.Getpid(), tt.sig)
			}()
			r := runAuthc(t, "token", "--no-login")
			if r.code != tt.code || r.stderr != "authc: interrupted\n" || r.stdout != "" {
				t.Errorf("authc token, %v during the call: exit %d, stderr %q; want exit %d and \"authc: interrupted\"", tt.sig, r.code, r.stderr, tt.code)
			}
		})
	}
}
