package wire_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"authd.dev/authd/client/internal/wire"
	"authd.dev/authd/internal/otheruser"
)

func TestMain(m *testing.M) {
	otheruser.Main()
	os.Exit(m.Run())
}

// Dial refuses a socket served by another uid, before a byte is sent: what
// keeps 'authc login --client-secret-stdin' from handing a secret to a
// squatter of the socket path.
func TestDialRefusesOtherUsersServer(t *testing.T) {
	t.Parallel()
	srv := otheruser.Serve(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := wire.Dial(ctx, srv.Path)
	if err == nil {
		// What the old Dial let through: the first call's bytes.
		cctx, ccancel := context.WithTimeout(ctx, time.Second)
		_, _ = conn.Unary(cctx, "SetCredential", []byte("client-secret"))
		ccancel()
		conn.Close()
		t.Fatalf("Dial accepted another user's server; it received %d bytes", srv.Received(t))
	}
	if !errors.Is(err, wire.ErrWrongServer) {
		t.Fatalf("Dial: %v, want ErrWrongServer", err)
	}
	if errors.Is(err, wire.ErrUnavailable) {
		t.Errorf("Dial: %v also wraps ErrUnavailable: authc would retry or autostart", err)
	}
	if want := fmt.Sprintf("belongs to uid %d, not you", otheruser.UID); !strings.Contains(err.Error(), want) {
		t.Errorf("Dial: %q does not say %q", err, want)
	}
	if n := srv.Received(t); n != 0 {
		t.Errorf("the other user's server received %d bytes", n)
	}
}
