package client_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"authd.dev/authd/client"
	"authd.dev/authd/internal/otheruser"
)

// The client refuses a socket served by another uid before a byte is sent:
// a squatter of the socket path never sees a request, let alone a secret.
func TestRefusesOtherUsersServer(t *testing.T) {
	t.Parallel()
	srv := otheruser.Serve(t)
	c, err := client.New(client.WithSocket(srv.Path))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, err = c.SetClientSecret(ctx, "work", "client-secret")
	c.Close()
	if !errors.Is(err, client.ErrWrongServer) {
		t.Errorf("SetClientSecret: %v, want ErrWrongServer", err)
	}
	if want := fmt.Sprintf("belongs to uid %d, not you", otheruser.UID); err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("SetClientSecret: %v does not say %q", err, want)
	}
	if n := srv.Received(t); n != 0 {
		t.Errorf("the other user's server received %d bytes", n)
	}
}
